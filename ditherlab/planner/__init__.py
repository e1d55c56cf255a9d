"""Plan dither patterns: sub-pixel families, APT patterns, apertures and POS TARG tables."""

from ditherlab.planner.apertures import (
    Aperture,
    aperture_provenance,
    available_apertures,
    from_pysiaf,
    get_aperture,
    parallel_offsets,
)
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
    "Aperture",
    "Pattern",
    "aperture_provenance",
    "available_apertures",
    "cross",
    "from_pysiaf",
    "get_aperture",
    "hot_pixel",
    "line",
    "parallel_offsets",
    "subpixel",
]
