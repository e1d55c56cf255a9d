"""The ``ditherlab`` command line.

Each stage registers its own sub-commands from a private ``_cli`` module, so this file
only assembles them and turns ditherlab's exceptions into one clear line and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ditherlab import __version__
from ditherlab.errors import DitherlabError

__all__ = ["build_parser", "main"]

#: Modules exposing ``register(subparsers)``; each adds one or more sub-commands.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "ditherlab.planner._cli",
    "ditherlab.simulate._cli",
    "ditherlab.drizzle._cli",
    "ditherlab.demo",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level argument parser with every stage's sub-commands."""
    parser = argparse.ArgumentParser(
        prog="ditherlab",
        description=(
            "Plan HST dither patterns, simulate the exposures, drizzle them and score "
            "what the pattern buys."
        ),
    )
    parser.add_argument("--version", action="version", version=f"ditherlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for modname in SUBCOMMAND_MODULES:
        importlib.import_module(modname).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # e.g. `ditherlab apertures | head`: not an error
        sys.stderr.close()
        return 0
    except (DitherlabError, OSError) as exc:
        print(f"ditherlab {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
