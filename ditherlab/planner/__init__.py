"""Plan dither patterns: sub-pixel families, APT patterns, apertures and POS TARG tables."""

from ditherlab.planner.patterns import (
    FRAMES,
    SUBPIXEL_NPOINTS,
    Pattern,
    cross,
    hot_pixel,
    line,
    subpixel,
)

__all__ = [
    "FRAMES",
    "SUBPIXEL_NPOINTS",
    "Pattern",
    "cross",
    "hot_pixel",
    "line",
    "subpixel",
]
