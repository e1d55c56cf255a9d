"""The ``ditherlab compare`` sub-command."""

from __future__ import annotations

import argparse
import sys

from ditherlab.errors import DitherlabValueError

__all__ = ["register"]


def _cmd_compare(args: argparse.Namespace) -> int:
    from ditherlab.score.compare import compare
    from ditherlab.score.report import _prepare_dir, write_report

    _check_numbers(args)
    patterns = _check_apertures_and_patterns(args)
    if args.report is not None:  # refuse an existing page before any work
        _prepare_dir(args.report, args.overwrite)

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"ditherlab compare: {msg}", file=sys.stderr, flush=True)

    kwargs = {
        "total_exptime": args.exptime,
        "parallel": args.parallel,
        "grid": args.grid,
        "source_rate": args.source_rate,
        "sky": args.sky,
        "exposure_overhead": args.exposure_overhead,
        "products": args.products,
        "progress": progress,
    }
    if args.products:
        kwargs["evaluate_kwargs"] = {
            "rng": args.seed,
            "realisations": args.realisations,
            "size": args.size,
        }
    elif args.seed is not None or args.realisations != 1 or args.size != 160:
        raise DitherlabValueError(
            "--seed, --realisations and --size set the simulation: use them with --products"
        )
    if args.report is None:
        table = compare(patterns, args.aperture, **kwargs)
    else:
        page = write_report(
            args.report, patterns, args.aperture, overwrite=args.overwrite, **kwargs
        )
        table = None
        print(f"report: {page}")
    if table is not None:
        shown = table.copy(copy_data=False)
        shown.meta = {}
        shown.pprint_all()
        m = table.meta
        print(
            f"snr: a {m['source_rate']:g} e-/s source over {m['n_pix']:g} pixels, sky "
            f"{m['sky']:g} e-/s/pixel, dark {m['dark']:g} e-/s/pixel, read noise "
            f"{m['read_noise']:g} e- (set --source-rate and --sky from the ETC)"
        )
    return 0


def _check_numbers(args: argparse.Namespace) -> None:
    """One-line errors that name the flag and its value."""
    from ditherlab._validation import as_float, as_int

    as_float("--exptime", args.exptime, minimum=0, min_inclusive=False)
    for flag, value in (("--source-rate", args.source_rate), ("--sky", args.sky),
                        ("--exposure-overhead", args.exposure_overhead)):  # fmt: skip
        as_float(flag, value, minimum=0)
    as_int("--grid", args.grid, minimum=1, maximum=256)
    as_int("--realisations", args.realisations, minimum=1, maximum=1000)
    as_int("--size", args.size, minimum=32, maximum=2048)


def _check_apertures_and_patterns(args: argparse.Namespace) -> list:
    """Name the flag when an aperture or a pattern is unknown; the resolved patterns."""
    from ditherlab.errors import ApertureNotFoundError
    from ditherlab.planner import get_aperture
    from ditherlab.score._specs import as_postarg_pattern

    for flag, names in (("--aperture", [args.aperture]), ("--parallel", args.parallel or [])):
        for name in names:
            try:
                get_aperture(name)
            except ApertureNotFoundError as exc:
                raise ApertureNotFoundError(f"{flag} {name!r}: {exc}") from None
    from ditherlab.score.compare import refuse_repeats

    ap = get_aperture(args.aperture)
    posts = [as_postarg_pattern(p, ap, name="--patterns") for p in args.patterns]
    refuse_repeats(posts, [f"--patterns {p}" for p in args.patterns])
    return posts


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command to ``sub``."""
    p = sub.add_parser(
        "compare",
        help="compare dither patterns side by side (table, or an HTML report)",
        description="Score dither patterns for one program: exposure time each, S/N, "
        "move overhead, cosmic-ray loss, sub-pixel sampling over the chip (and in "
        "parallel cameras); with --report also drizzle recommendations, figures and the "
        "POS TARG lines of each pattern on one self-contained HTML page.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  ditherlab compare --patterns 2 3 4 ACS-WFC-DITHER-BOX --aperture acs-wfc \\\n"
        "      --exptime 2200 --parallel wfc3-uvis --report cmp\n"
        "  ditherlab compare --patterns 4 6 WFC3-IR-DITHER-BOX-MIN --aperture wfc3-ir "
        "--exptime 2400",
    )
    p.add_argument(
        "--patterns",
        nargs="+",
        default=["2", "3", "4", "ACS-WFC-DITHER-BOX"],
        metavar="P",
        help="sub-pixel families (2 3 4 6 8 9), named STScI patterns or POS TARG files "
        "(default: 2 3 4 ACS-WFC-DITHER-BOX)",
    )
    p.add_argument(
        "--aperture", default="acs-wfc", metavar="NAME", help="prime aperture (default acs-wfc)"
    )
    p.add_argument(
        "--exptime",
        type=float,
        default=2200.0,
        metavar="S",
        help="total science time (s; default 2200, about one ACS/WFC orbit)",
    )
    p.add_argument("--parallel", nargs="+", metavar="NAME", help="parallel aperture(s)")
    p.add_argument("--report", metavar="DIR", help="write DIR/report.html")
    p.add_argument(
        "--grid", type=int, default=8, metavar="N", help="field positions per axis (default 8)"
    )
    p.add_argument(
        "--source-rate",
        type=float,
        default=1.0,
        metavar="E/S",
        help="source count rate for the S/N column (default 1 e-/s)",
    )
    p.add_argument(
        "--sky", type=float, default=0.0, metavar="E/S/PIX", help="sky for the S/N (default 0)"
    )
    p.add_argument(
        "--exposure-overhead",
        type=float,
        default=0.0,
        metavar="S",
        help="instrument overhead per exposure (s), added to the moves",
    )
    p.add_argument(
        "--products",
        action="store_true",
        help="also simulate, drizzle and measure each pattern (slow)",
    )
    p.add_argument("--seed", type=int, help="random seed of the simulation (same seed, same page)")
    p.add_argument(
        "--realisations", type=int, default=1, metavar="N", help="simulations per pattern"
    )
    p.add_argument(
        "--size", type=int, default=160, metavar="PX", help="simulated cut-out side (pixels)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_cmd_compare)
