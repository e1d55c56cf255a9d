"""Check that a pattern belongs to the aperture it is about to be used with.

A POS TARG is a move in one aperture's ideal frame (HST Phase II Proposal Instructions
§6.3.3: POS TARG axes are tied to the aperture), so a table worked out for WFC3/IR moves
ACS/WFC by entirely different pixel steps, and an ACS convenience pattern is meaningless
on WFC3 (the Phase II Proposal Instructions, ch. 7, define the named patterns per
instrument and say not to mix instrument-specific patterns).  A pattern carries where it
came from in its ``meta``: ``"instrument"`` (``"ACS/WFC"``) for the named STScI patterns,
``"aperture"`` (``"IIRFIX"``) for a table written with an aperture.
"""

from __future__ import annotations

import warnings
from typing import Any

from ditherlab.errors import (
    ApertureNotFoundError,
    DitherlabTypeError,
    DitherlabValueError,
    DitherlabWarning,
)
from ditherlab.planner.patterns import Pattern

__all__ = ["check_pattern_aperture", "pattern_camera"]


def _camera_of_aperture(ap: Any) -> str:
    return f"{ap.instrument}/{ap.detector}"


def pattern_camera(pattern: Pattern) -> str | None:
    """The camera a pattern was made for (``"ACS/WFC"``, ``"WFC3/IR"``, …), if recorded.

    From ``meta["instrument"]`` of a named pattern (also when read back from ECSV/JSON),
    else from the built-in aperture named in ``meta["aperture"]``, else from the pattern's
    name if it is a catalog name (an APT text file keeps only that).  ``None`` when
    nothing is recorded or known.

    Examples
    --------
    >>> from ditherlab.planner import standard_pattern
    >>> pattern_camera(standard_pattern("WFC3-IR-DITHER-LINE"))
    'WFC3/IR'
    """
    nested = pattern.meta.get("pattern_meta")
    inst = pattern.meta.get("instrument")
    if not inst and hasattr(nested, "get"):
        inst = nested.get("instrument")  # a named pattern read back from ECSV/JSON
    if isinstance(inst, str) and inst:
        return inst
    name = pattern.meta.get("aperture")
    if not name and pattern.name:  # e.g. an APT text file that kept only the name
        from ditherlab.errors import PatternNotFoundError
        from ditherlab.planner.apt import standard_pattern_info

        try:
            return standard_pattern_info(pattern.name).instrument
        except PatternNotFoundError:
            return None
    if isinstance(name, str) and name:
        from ditherlab.planner.apertures import get_aperture

        try:
            return _camera_of_aperture(get_aperture(name))
        except ApertureNotFoundError:
            return None
    return None


def _same_camera(made_for: str, ap: Any) -> bool:
    inst, _, det = made_for.upper().partition("/")
    return inst == ap.instrument.upper() and (not det or det == ap.detector.upper())


def check_pattern_aperture(pattern: Pattern, aperture: Any, allow_mismatch: bool = False):
    """Refuse a POS TARG pattern made for another camera; warn for another aperture.

    Parameters
    ----------
    pattern : Pattern
        Only ``"postarg"`` patterns are checked (pixel patterns hold no frame).
    aperture : Aperture or str
        The aperture the pattern is about to be used with.
    allow_mismatch : bool, optional
        Use the pattern anyway (a :class:`DitherlabWarning` is still issued).

    Returns
    -------
    Pattern
        ``pattern`` unchanged.

    Raises
    ------
    DitherlabValueError
        If the pattern records a different camera (instrument/detector) than
        ``aperture`` and ``allow_mismatch`` is False.

    Warns
    -----
    DitherlabWarning
        If the recorded aperture differs but is on the same camera (the POS TARG frames of
        e.g. ``JWFC1FIX`` and ``JWFC`` differ by a small rotation and a different origin).
    """
    from ditherlab.planner.apertures import get_aperture

    if not isinstance(pattern, Pattern):
        raise DitherlabTypeError(f"pattern must be a Pattern, got {type(pattern).__name__}")
    if pattern.frame != "postarg":
        return pattern
    ap = get_aperture(aperture)
    made_for = pattern_camera(pattern)
    recorded = pattern.meta.get("aperture")
    label = f"pattern {pattern.name!r}" if pattern.name else "the pattern"
    if made_for is not None and not _same_camera(made_for, ap):
        source = f"{recorded} ({made_for})" if isinstance(recorded, str) else made_for
        msg = (
            f"{label} was made for {source}, not {ap.name} ({_camera_of_aperture(ap)}): "
            "its POS TARGs would give other pixel steps than intended"
        )
        if not allow_mismatch:
            raise DitherlabValueError(
                msg + "; pass allow_mismatch=True (--allow-mismatch) to use it anyway"
            )
        warnings.warn(msg, DitherlabWarning, stacklevel=2)
    elif isinstance(recorded, str) and recorded and recorded.upper() != ap.name.upper():
        warnings.warn(
            f"{label} was written for aperture {recorded}, used here with {ap.name}: same "
            "camera, but the POS TARG frames differ slightly",
            DitherlabWarning,
            stacklevel=2,
        )
    return pattern
