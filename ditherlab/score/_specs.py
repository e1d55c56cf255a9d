"""Turn what a user types for a pattern into a POS TARG :class:`~ditherlab.planner.Pattern`.

Shared by :func:`~ditherlab.score.compare`, :func:`~ditherlab.score.recommend_drizzle`
and :func:`~ditherlab.score.evaluate`, so that ``4``, ``"ACS-WFC-DITHER-BOX"``,
``"my_postargs.txt"`` and a ``Pattern`` mean the same thing everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ditherlab.errors import DitherlabTypeError, DitherlabValueError, PatternNotFoundError

__all__ = ["as_postarg_pattern", "native_scale"]


def as_postarg_pattern(spec: Any, aperture: Any, name: str = "pattern"):
    """The POS TARG pattern a spec stands for on ``aperture``.

    Parameters
    ----------
    spec : int, str, path or Pattern
        * a sub-pixel family size (2, 3, 4, 6, 8, 9, or its string): :func:`subpixel` with
          its default whole-pixel steps, converted to POS TARG at the reference pixel
          (what one would type into APT for those pixel steps there);
        * a named STScI pattern (``"ACS-WFC-DITHER-BOX"``, case-insensitive);
        * a POS TARG file (APT text, ECSV, CSV or JSON, as written by ``ditherlab plan``);
        * a :class:`Pattern` (a pixel pattern is converted at the reference pixel).
    aperture : Aperture
        The prime aperture.
    name : str
        Argument name for error messages.

    Returns
    -------
    Pattern
        Frame ``"postarg"``, with a name (the spec itself when the pattern has none).
    """
    from ditherlab.planner import (
        SUBPIXEL_NPOINTS,
        Pattern,
        read_postargs,
        standard_pattern,
        subpixel,
    )

    if isinstance(spec, Pattern):
        pat = spec
    elif isinstance(spec, bool):
        raise DitherlabTypeError(f"{name}={spec!r} must be a number of points, a name or a file")
    elif isinstance(spec, int | np.integer) or (isinstance(spec, str) and spec.strip().isdigit()):
        n = int(spec)
        if n not in SUBPIXEL_NPOINTS:
            raise DitherlabValueError(
                f"{name}={spec!r}: sub-pixel families have {SUBPIXEL_NPOINTS} points"
            )
        pat = subpixel(n)
    elif isinstance(spec, str | os.PathLike):
        pat = _named_or_file(spec, name, standard_pattern, read_postargs)
    else:
        raise DitherlabTypeError(
            f"{name}={spec!r} must be a number of points, a pattern name, a POS TARG file or "
            f"a Pattern, got {type(spec).__name__}"
        )
    if pat.frame == "pixel":
        pat = aperture.postarg_offsets(pat)
    if not pat.name:
        pat = pat.replace(name=str(spec) if not isinstance(spec, Pattern) else "pattern")
    return pat


def _named_or_file(spec: Any, name: str, standard_pattern, read_postargs):
    text = os.fspath(spec)
    path = Path(text)
    if path.is_file():
        return read_postargs(path)
    try:
        return standard_pattern(text)
    except PatternNotFoundError as exc:
        raise PatternNotFoundError(
            f"{name}={text!r} is neither a sub-pixel family (2, 3, 4, 6, 8, 9), a named "
            f"pattern nor an existing POS TARG file ({exc})"
        ) from None


def native_scale(aperture: Any) -> float:
    """Mean pixel scale (arcsec/pixel) of an aperture at its reference pixel."""
    return float(np.mean(aperture.pixel_scale))
