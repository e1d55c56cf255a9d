"""Plan dither patterns: sub-pixel families, APT patterns, apertures and POS TARG tables."""

from ditherlab.planner.apertures import (
    Aperture,
    aperture_provenance,
    available_apertures,
    from_pysiaf,
    get_aperture,
    parallel_offsets,
)
from ditherlab.planner.apt import (
    StandardPattern,
    apt_box,
    apt_line,
    standard_pattern,
    standard_pattern_info,
    standard_patterns,
)
from ditherlab.planner.exposure import (
    SEED_WFPC2_CR_RATE,
    ccd_snr,
    cr_loss_fraction,
    move_overhead,
    pattern_overhead,
    split_table,
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
from ditherlab.planner.postargs import (
    POSTARG_FORMATS,
    format_apt,
    postarg_table,
    read_postargs,
    write_postargs,
)

__all__ = [
    "FRAMES",
    "POSTARG_FORMATS",
    "SEED_WFPC2_CR_RATE",
    "SUBPIXEL_NPOINTS",
    "Aperture",
    "Pattern",
    "StandardPattern",
    "aperture_provenance",
    "apt_box",
    "apt_line",
    "available_apertures",
    "ccd_snr",
    "cr_loss_fraction",
    "cross",
    "format_apt",
    "from_pysiaf",
    "get_aperture",
    "hot_pixel",
    "line",
    "move_overhead",
    "parallel_offsets",
    "pattern_overhead",
    "postarg_table",
    "read_postargs",
    "split_table",
    "standard_pattern",
    "standard_pattern_info",
    "standard_patterns",
    "subpixel",
    "write_postargs",
]
