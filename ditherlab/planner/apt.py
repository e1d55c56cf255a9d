"""APT pattern containers (LINE, BOX) and STScI's named convenience patterns.

APT describes a pattern by parameters in the aperture's POS TARG frame (arcsec):
``Number_Of_Points``, ``Point_Spacing``, ``Line_Spacing``, ``Pattern_Orient`` (the angle of
the first side, measured from +X towards +Y), ``Angle_Between_Sides`` and
``Center_Pattern``.  The construction below reproduces every published "POS TARG
equivalent" list of the ACS and WFPC2 dither pages to ≤ 0.0012″:

* LINE: ``P_i = i · PS · u(θ)``, i = 0 … N−1, with ``u(θ) = (cos θ, sin θ)``;
* BOX (a parallelogram): ``a = PS · u(θ)``, ``b = LS · u(θ + 180° − ABS)``, points
  ``0, a, a + b, b`` (ABS is the interior angle at the second and fourth points);
* ``Center_Pattern = YES`` subtracts the mean of the points.

References
----------
HST Phase II Proposal Instructions, ch. 7 "Pointings and Patterns" (ACS §7.2, WFC3 §7.3);
STScI ACS dither-strategy pages (one per pattern); WFPC2 dither page.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from astropy import units as u

from ditherlab._validation import as_float, as_int
from ditherlab.errors import DitherlabTypeError, DitherlabValueError, PatternNotFoundError
from ditherlab.planner.patterns import Pattern

__all__ = [
    "StandardPattern",
    "apt_box",
    "apt_line",
    "standard_pattern",
    "standard_pattern_info",
    "standard_patterns",
]


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise DitherlabTypeError(f"{name}={value!r} must be True or False")


def _unit_vector(angle_deg: float) -> np.ndarray:
    t = np.deg2rad(angle_deg)
    return np.array([np.cos(t), np.sin(t)])


def apt_line(
    n_points: int,
    point_spacing: float | u.Quantity,
    pattern_orient: float | u.Quantity,
    center: bool = False,
    name: str = "LINE",
) -> Pattern:
    """An APT ``LINE`` pattern as POS TARG offsets.

    Parameters
    ----------
    n_points : int
        ``Number_Of_Points`` (1 to 100).
    point_spacing : float or Quantity
        ``Point_Spacing`` in arcsec (> 0).
    pattern_orient : float or Quantity
        ``Pattern_Orient`` in degrees, from +X towards +Y of the POS TARG frame.
    center : bool, optional
        ``Center_Pattern``: if True the mean of the points is put on the fiducial.
    name : str, optional
        Label of the returned pattern.

    Returns
    -------
    Pattern
        Frame ``"postarg"``, arcsec.

    Examples
    --------
    The ACS/WFC line that spans the inter-chip gap (pre-Cycle 25 values, 3 points):

    >>> apt_line(3, 2.994, 85.27).offsets.round(3).tolist()
    [[0.0, 0.0], [0.247, 2.984], [0.494, 5.968]]
    """
    n = as_int("n_points", n_points, minimum=1, maximum=100)
    ps = as_float("point_spacing", point_spacing, unit=u.arcsec, minimum=0, min_inclusive=False)
    th = as_float("pattern_orient", pattern_orient, unit=u.deg)
    center = _as_bool("center", center)
    offs = np.arange(n, dtype=float)[:, None] * (ps * _unit_vector(th))
    params = {
        "Pattern_Type": "LINE",
        "Number_Of_Points": n,
        "Point_Spacing": ps,
        "Pattern_Orient": th,
        "Center_Pattern": "YES" if center else "NO",
    }
    pat = Pattern(offs, frame="postarg", name=name, meta={"apt": params})
    return pat.centered() if center else pat


def apt_box(
    point_spacing: float | u.Quantity,
    line_spacing: float | u.Quantity,
    pattern_orient: float | u.Quantity,
    angle_between_sides: float | u.Quantity,
    center: bool = False,
    name: str = "BOX",
) -> Pattern:
    """An APT four-point ``BOX`` (parallelogram) pattern as POS TARG offsets.

    Parameters
    ----------
    point_spacing, line_spacing : float or Quantity
        ``Point_Spacing`` and ``Line_Spacing`` in arcsec (> 0): the lengths of the first
        side and of the second side.
    pattern_orient : float or Quantity
        ``Pattern_Orient`` in degrees: direction of the first side.
    angle_between_sides : float or Quantity
        ``Angle_Between_Sides`` in degrees (the interior angle at the second point).
    center : bool, optional
        ``Center_Pattern``.
    name : str, optional
        Label of the returned pattern.

    Returns
    -------
    Pattern
        Four points ``0, a, a + b, b`` with ``a = PS·u(θ)`` and ``b = LS·u(θ + 180° − ABS)``.

    Examples
    --------
    ACS-WFC-DITHER-BOX (pixel steps (0,0), (5,1.5), (2.5,4.5), (−2.5,3) on WFC):

    >>> apt_box(0.264, 0.185, 20.86, 69.07).offsets.round(3).tolist()
    [[0.0, 0.0], [0.247, 0.094], [0.123, 0.232], [-0.123, 0.138]]
    """
    ps = as_float("point_spacing", point_spacing, unit=u.arcsec, minimum=0, min_inclusive=False)
    ls = as_float("line_spacing", line_spacing, unit=u.arcsec, minimum=0, min_inclusive=False)
    th = as_float("pattern_orient", pattern_orient, unit=u.deg)
    abs_ = as_float("angle_between_sides", angle_between_sides, unit=u.deg)
    center = _as_bool("center", center)
    if abs(np.sin(np.deg2rad(abs_))) < 1e-6:
        raise DitherlabValueError(
            f"angle_between_sides={angle_between_sides!r} makes the box degenerate "
            "(both sides on one line); use apt_line for a line"
        )
    a = ps * _unit_vector(th)
    b = ls * _unit_vector(th + 180.0 - abs_)
    offs = np.array([[0.0, 0.0], a, a + b, b])
    params = {
        "Pattern_Type": "BOX",
        "Number_Of_Points": 4,
        "Point_Spacing": ps,
        "Line_Spacing": ls,
        "Pattern_Orient": th,
        "Angle_Between_Sides": abs_,
        "Center_Pattern": "YES" if center else "NO",
    }
    pat = Pattern(offs, frame="postarg", name=name, meta={"apt": params})
    return pat.centered() if center else pat


@dataclasses.dataclass(frozen=True)
class StandardPattern:
    """A named STScI convenience pattern: its APT parameters, provenance and status.

    Attributes
    ----------
    name : str
        APT name, e.g. ``"ACS-WFC-DITHER-BOX"``.
    instrument : str
        Camera it was designed for (``"ACS/WFC"``, ``"WFC3/IR"``, ...).
    shape : {"LINE", "BOX"}
        APT pattern type.
    n_points : int
        Default number of points.
    point_spacing, line_spacing : float
        Arcsec (``line_spacing`` is 0 for a LINE).
    pattern_orient, angle_between_sides : float
        Degrees (``angle_between_sides`` is 0 for a LINE).
    center : bool
        ``Center_Pattern``.
    purpose : str
        What it is for, in a few words (pixel steps at the reference pixel, ...).
    source : str
        Where the parameters are published.
    published_postargs : tuple of (x, y), optional
        The POS TARG list printed in the source, when there is one (used by the tests).
    status : {"published", "partly published", "unconfirmed"}
        ``"published"``: every parameter quoted from an STScI page.  ``"partly
        published"``: some parameters quoted, the rest carried over (see ``note``).
        ``"unconfirmed"``: geometry-consistent values (they give the documented pixel steps
        through the SIAF at the detector centre) that could **not** be checked against
        the published table; override them with keyword arguments to
        :func:`standard_pattern`.
    note : str
        Caveats (inconsistencies in the source, unverified parameters).
    epoch : str
        Which APT cycles the values belong to (e.g. ``"Cycle 25+ (current default)"``,
        ``"before Cycle 25"``).
    """

    name: str
    instrument: str
    shape: str
    n_points: int
    point_spacing: float
    line_spacing: float
    pattern_orient: float
    angle_between_sides: float
    center: bool
    purpose: str
    source: str
    published_postargs: tuple[tuple[float, float], ...] = ()
    status: str = "published"
    note: str = ""
    epoch: str = ""

    def pattern(self, **overrides: Any) -> Pattern:
        """Build the pattern, optionally overriding APT parameters.

        Keyword names are the lower-case APT parameter names: ``n_points``,
        ``point_spacing``, ``line_spacing``, ``pattern_orient``, ``angle_between_sides``,
        ``center``.
        """
        allowed = {
            "n_points",
            "point_spacing",
            "line_spacing",
            "pattern_orient",
            "angle_between_sides",
            "center",
        }
        unknown = set(overrides) - allowed
        if self.shape == "LINE":
            allowed -= {"line_spacing", "angle_between_sides"}
            unknown = set(overrides) - allowed
        if unknown:
            raise DitherlabValueError(
                f"unknown parameter(s) {sorted(unknown)} for {self.name} "
                f"(a {self.shape}); allowed: {sorted(allowed)}"
            )
        _check_apt_ranges(self, overrides)
        p = {
            "n_points": self.n_points,
            "point_spacing": self.point_spacing,
            "line_spacing": self.line_spacing,
            "pattern_orient": self.pattern_orient,
            "angle_between_sides": self.angle_between_sides,
            "center": self.center,
            **overrides,
        }
        if self.shape == "LINE":
            pat = apt_line(
                p["n_points"], p["point_spacing"], p["pattern_orient"], p["center"], self.name
            )
        else:
            if "n_points" in overrides and overrides["n_points"] != 4:
                raise DitherlabValueError(
                    f"n_points={overrides['n_points']!r}: {self.name} is a BOX with 4 points"
                )
            pat = apt_box(
                p["point_spacing"],
                p["line_spacing"],
                p["pattern_orient"],
                p["angle_between_sides"],
                p["center"],
                self.name,
            )
        meta = dict(pat.meta)
        meta.update(
            instrument=self.instrument,
            source=self.source,
            status=self.status,
            epoch=self.epoch,
            overridden=sorted(overrides),
        )
        if self.note:
            meta["note"] = self.note
        return pat.replace(meta=meta)


#: APT's allowed ranges for the ACS dither patterns' parameters, as the STScI ACS pattern
#: pages list them ("allowable parameter ranges": Number_Of_Points 2-9, Point_Spacing and
#: Line_Spacing 0.01-10.0 arcsec).  The mosaic and WFC3 ranges are not checked (not found).
_ACS_DITHER_RANGES = {"n_points": (2, 9), "point_spacing": (0.01, 10.0),
                      "line_spacing": (0.01, 10.0)}


def _check_apt_ranges(info: StandardPattern, overrides: dict[str, Any]) -> None:
    """Refuse an override APT would refuse for an ACS dither pattern."""
    if not (info.instrument.startswith("ACS") and "-DITHER-" in info.name):
        return
    for key, (lo, hi) in _ACS_DITHER_RANGES.items():
        value = overrides.get(key)
        if isinstance(value, int | float) and not lo <= value <= hi:
            raise DitherlabValueError(
                f"{key}={value!r} is outside APT's allowed {lo:g}–{hi:g} for {info.name}"
            )


_ACS_DITH = "https://www.stsci.edu/hst/instrumentation/acs/proposing/dither-strategies"
_WFPC2 = "WFPC2 dither page (stsci.edu/hst/wfpc2/analysis/wfpc2_dithers.html); P2PI 2006 §8.4.1"
_P2PI_72 = "https://hst-docs.stsci.edu/hpiom/chapter-7-pointings-and-patterns/7-2-acs-patterns"
_P2PI_73 = "https://hst-docs.stsci.edu/hpiom/chapter-7-pointings-and-patterns/7-3-wfc3-patterns"
_UNCONFIRMED = (
    "Unconfirmed: the pattern name is in P2PI §7.3 (12 WFC3 patterns) and WFC3 IHB App. C.2, "
    "but their parameter table could not be read (searched Dec 2026); these values are "
    "geometry-consistent (they give the listed pixel steps through the SIAF at the "
    "detector centre). Override with keyword arguments."
)
_C25 = "Cycle 25+ (current APT default)"
_PRE_C25 = "before Cycle 25"
_ACS_PAGE = "current STScI ACS pattern page"
_WFC3 = "WFC3 (2009+)"

# fmt: off
_CATALOG: tuple[StandardPattern, ...] = (
    StandardPattern(
        "ACS-WFC-DITHER-LINE", "ACS/WFC", "LINE", 2, 3.034, 0.0, 85.27, 0.0, False,
        "~5 × 60 px steps to span the WFC inter-chip gap (current APT default)",
        f"{_P2PI_72} (Point_Spacing 3.034″ after the Cycle 25 WFC distortion revision)",
        status="partly published", epoch=_C25,
        note="Point_Spacing 3.034″ is the current APT default (P2PI §7.2, Cycle 25 "
        "revision for the new WFC distortion solution). Its Pattern_Orient was not found "
        "in a reachable source; the pre-Cycle 25 85.27° is kept. The pre-Cycle 25 "
        "pattern is ACS-WFC-DITHER-LINE-PRE-C25.",
    ),
    StandardPattern(
        "ACS-WFC-DITHER-LINE-PRE-C25", "ACS/WFC", "LINE", 2, 2.994, 0.0, 85.27, 0.0, False,
        "~5 × 60 px steps to span the WFC inter-chip gap (pre-Cycle 25 default; #11)",
        f"{_ACS_DITH}/acs-wfc-dither-line (archived ACS-WFC-DITHER-LINE.html, pattern #11)",
        ((0.0, 0.0), (0.247, 2.984), (0.494, 5.968)),
        epoch=_PRE_C25,
        note="The published list is for 3 points (the third rejects cosmic rays in the gap).",
    ),
    StandardPattern(
        "ACS-WFC-DITHER-BOX", "ACS/WFC", "BOX", 4, 0.264, 0.185, 20.86, 69.07, False,
        "pixel steps (0,0) (5,1.5) (2.5,4.5) (−2.5,3): half-pixel sampling in x and y (#16)",
        f"{_ACS_DITH}/acs-wfc-dither-box (pattern #16)",
        ((0.0, 0.0), (0.247, 0.094), (0.124, 0.232), (-0.124, 0.138)),
        epoch=_PRE_C25,
        note="P2PI §7.2 says Cycle 25 also revised this pattern's defaults for the new WFC "
        "distortion; the revised values were not found, so the published #16 values are "
        "given.",
    ),
    StandardPattern(
        "ACS-WFC-DITHER-BOX-UDF", "ACS/WFC", "BOX", 4, 0.171, 0.171, 30.16, 145.82, False,
        "Hubble Ultra Deep Field box: pixel steps (0,0) (3,1.5) (4.5,4.5) (1.5,3)",
        f"{_ACS_DITH}/acs-wfc-dither-box; HUDF Table 4 (stsci.edu/~svwb/HUDF/Table4.txt)",
        ((0.0, 0.0), (0.148, 0.086), (0.222, 0.240), (0.074, 0.154)),
        epoch="HUDF (Cycle 12), before Cycle 25",
    ),
    StandardPattern(
        "ACS-WFC-MOSAIC-LINE", "ACS/WFC", "LINE", 2, 96.816, 0.0, 90.0, 0.0, True,
        "two-pointing mosaic (~200 × 300″) on the same guide stars, covering the gap",
        f"{_ACS_DITH}/acs-wfc-mosaic-line", epoch=_ACS_PAGE,
        note="The source page lists POS TARGs (0, ±48.116)″, which would need "
        "Point_Spacing 96.232″, inconsistent with its Point_Spacing of 96.816″; "
        "ditherlab follows the parameters, giving (0, ±48.408)″.",
    ),
    StandardPattern(
        "ACS-HRC-DITHER-BOX", "ACS/HRC", "BOX", 4, 0.151, 0.098, 20.07, 63.58, False,
        "pixel steps (0,0) (5,1.5) (2.5,4.5) (−2.5,3) on HRC (#26)",
        f"{_ACS_DITH}/acs-hrc-dither-box (pattern #26)",
        ((0.0, 0.0), (0.142, 0.052), (0.071, 0.119), (-0.071, 0.067)),
        epoch="HRC era (2002–2007; HRC unavailable since 2007)",
    ),
    StandardPattern(
        "ACS-HRC-MOSAIC-BOX", "ACS/HRC", "BOX", 4, 24.130, 27.680, 90.0, 264.0, True,
        "four-pointing HRC mosaic (#27)",
        f"{_ACS_DITH}/acs-hrc-mosaic-box (pattern #27)",
        ((-13.768, -13.476), (-13.768, 10.654), (13.768, 13.476), (13.768, -10.654)),
        epoch="HRC era (2002–2007; HRC unavailable since 2007)",
        note="The page recommends Angle_Between_Sides 96° and mentions an APT sign error; "
        "its POS TARG list is reproduced (to 0.036″) only with the APT default 264°, "
        "which is used here.",
    ),
    StandardPattern(
        "ACS-SBC-DITHER-LINE", "ACS/SBC", "LINE", 2, 0.472, 0.0, 44.40, 0.0, False,
        "10 × 10 px step across the SBC bad-anode strip (default, #31)",
        f"{_ACS_DITH}/acs-sbc-dither-line (pattern #31)",
        ((0.0, 0.0), (0.336, 0.333)), epoch=_ACS_PAGE,
        note="The page's POS TARG list (0.336, 0.333)″ corresponds to 0.473″ at 44.74° "
        "(the orient of pattern #30, and a 10 × 10 px step through the SIAF), not to the "
        "44.40° it prints; the parameters are followed, which differs by 0.003″.",
    ),
    StandardPattern(
        "ACS-SBC-DITHER-LINE-HOTPIX", "ACS/SBC", "LINE", 2, 0.095, 0.0, 44.74, 0.0, False,
        "2 × 2 px integer step against hot pixels (#30)",
        f"{_ACS_DITH}/acs-sbc-dither-line (pattern #30)",
        ((0.0, 0.0), (0.067, 0.067)), epoch=_ACS_PAGE,
    ),
    StandardPattern(
        "ACS-SBC-DITHER-LINE-2PT", "ACS/SBC", "LINE", 2, 0.099, 0.0, 32.37, 0.0, False,
        "two-point sub-pixel line (#32)",
        f"{_ACS_DITH}/acs-sbc-dither-line (pattern #32)",
        ((0.0, 0.0), (0.084, 0.053)), epoch=_ACS_PAGE,
    ),
    StandardPattern(
        "ACS-SBC-DITHER-LINE-3PT", "ACS/SBC", "LINE", 3, 0.110, 0.0, 44.71, 0.0, False,
        "three-point sub-pixel line (#33)",
        f"{_ACS_DITH}/acs-sbc-dither-line (pattern #33)",
        ((0.0, 0.0), (0.078, 0.078), (0.157, 0.156)), epoch=_ACS_PAGE,
    ),
    StandardPattern(
        "WFPC2-LINE", "WFPC2", "LINE", 2, 0.3535, 0.0, 45.0, 0.0, False,
        "(2.5, 2.5) WF px = (5.5, 5.5) PC px: half-pixel in both cameras (default, #10)",
        _WFPC2, ((0.0, 0.0), (0.249, 0.249)),
        epoch="WFPC2 era (to Cycle 16; WFPC2 removed 2009)",
    ),
    StandardPattern(
        "WFPC2-LINE-5PX", "WFPC2", "LINE", 2, 0.704, 0.0, 45.0, 0.0, False,
        "(5, 5) WF px = (11, 11) PC px integer step (#11/#12)",
        _WFPC2, ((0.0, 0.0), (0.498, 0.498)),
        epoch="WFPC2 era (to Cycle 16; WFPC2 removed 2009)",
    ),
    StandardPattern(
        "WFC3-UVIS-DITHER-LINE", "WFC3/UVIS", "LINE", 2, 0.145, 0.0, 46.8, 0.0, False,
        "(2.5, 2.5) px at the UVIS centre", _P2PI_73,
        status="unconfirmed", note=_UNCONFIRMED, epoch=_WFC3,
    ),
    StandardPattern(
        "WFC3-UVIS-DITHER-LINE-3PT", "WFC3/UVIS", "LINE", 3, 0.135, 0.0, 46.8, 0.0, False,
        "(2.33, 2.33) px steps at the UVIS centre", _P2PI_73,
        status="unconfirmed", note=_UNCONFIRMED, epoch=_WFC3,
    ),
    StandardPattern(
        "WFC3-UVIS-DITHER-BOX", "WFC3/UVIS", "BOX", 4, 0.173, 0.112, 23.884, 81.785, False,
        "(0,0) (4,1.5) (2.5,4) (−1.5,2.5) px at the UVIS centre", _P2PI_73,
        status="unconfirmed", note=_UNCONFIRMED, epoch=_WFC3,
    ),
    StandardPattern(
        "WFC3-IR-DITHER-LINE", "WFC3/IR", "LINE", 2, 0.636, 0.0, 41.8, 0.0, False,
        "(3.5, 3.5) px at the IR centre", _P2PI_73,
        status="unconfirmed", note=_UNCONFIRMED, epoch=_WFC3,
    ),
    StandardPattern(
        "WFC3-IR-DITHER-LINE-3PT", "WFC3/IR", "LINE", 3, 0.606, 0.0, 41.9, 0.0, False,
        "(3.33, 3.33) px steps at the IR centre", _P2PI_73,
        status="unconfirmed", note=_UNCONFIRMED, epoch=_WFC3,
    ),
    StandardPattern(
        "WFC3-IR-DITHER-BOX-MIN", "WFC3/IR", "BOX", 4, 0.572, 0.365, 18.528, 74.72, False,
        "(0,0) (4,1.5) (2.5,4) (−1.5,2.5) px at the IR centre", _P2PI_73,
        status="unconfirmed", epoch=_WFC3,
        note=_UNCONFIRMED + " Angle_Between_Sides 74.72° is derived from the SIAF geometry; "
        "a remembered 48.992° does not reproduce the documented pixel steps.",
    ),
)
# fmt: on

_BY_NAME: Mapping[str, StandardPattern] = {p.name.upper(): p for p in _CATALOG}


def standard_pattern(name: str, **overrides: Any) -> Pattern:
    """One of STScI's named convenience patterns, as POS TARG offsets.

    Parameters
    ----------
    name : str
        APT pattern name (case-insensitive), e.g. ``"ACS-WFC-DITHER-BOX"``; see
        :func:`standard_patterns` for the list.
    **overrides
        APT parameters to change (``n_points``, ``point_spacing``, ``line_spacing``,
        ``pattern_orient``, ``angle_between_sides``, ``center``), e.g. ``n_points=3`` for
        a three-point ACS-WFC-DITHER-LINE.

    Returns
    -------
    Pattern
        Frame ``"postarg"``; ``meta`` records the source, status and any override.

    Raises
    ------
    PatternNotFoundError
        (a ``LookupError``) for an unknown name, suggesting close names.

    Examples
    --------
    >>> standard_pattern("acs-wfc-dither-box").offsets.round(3)[1].tolist()
    [0.247, 0.094]
    """
    entry = standard_pattern_info(name)
    return entry.pattern(**overrides)


def standard_pattern_info(name: str) -> StandardPattern:
    """The catalog entry of a named pattern (parameters, source, status)."""
    import difflib

    if not isinstance(name, str):
        raise DitherlabValueError(f"name={name!r} must be a pattern name string")
    try:
        return _BY_NAME[name.strip().upper()]
    except KeyError:
        close = difflib.get_close_matches(name.strip().upper(), list(_BY_NAME), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise PatternNotFoundError(
            f"name={name!r} is not a known standard pattern{hint} "
            "(ditherlab patterns lists them)"
        ) from None


def standard_patterns():
    """All named patterns as an :class:`astropy.table.Table`, one row each.

    Columns: name, instrument, type, points, point spacing and line spacing (arcsec),
    orient and angle between sides (deg), centre, epoch (which APT cycles the values
    belong to), status (published / partly published / unconfirmed), purpose and source.
    """
    from astropy.table import Table

    rows = [
        (
            p.name,
            p.instrument,
            p.shape,
            p.n_points,
            p.point_spacing,
            p.line_spacing,
            p.pattern_orient,
            p.angle_between_sides,
            "YES" if p.center else "NO",
            p.epoch,
            p.status,
            p.purpose,
            p.source,
        )
        for p in _CATALOG
    ]
    t = Table(
        rows=rows,
        names=(
            "name",
            "instrument",
            "type",
            "n_points",
            "point_spacing",
            "line_spacing",
            "pattern_orient",
            "angle_between_sides",
            "center",
            "epoch",
            "status",
            "purpose",
            "source",
        ),
    )
    t["point_spacing"].unit = u.arcsec
    t["line_spacing"].unit = u.arcsec
    t["pattern_orient"].unit = u.deg
    t["angle_between_sides"].unit = u.deg
    return t
