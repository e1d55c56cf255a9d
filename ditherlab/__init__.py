"""ditherlab: plan, simulate, drizzle and score dither patterns for space-telescope imaging.

Stages (each a subpackage, imports flow one way)::

    planner  -> simulate -> drizzle -> score

Importing ditherlab does no I/O, no network access and does not import matplotlib.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ditherlab import errors

try:
    __version__ = version("ditherlab")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "errors"]
