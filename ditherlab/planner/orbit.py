"""Per-detector numbers for exposure splitting, and packing N exposures into an HST orbit.

An orbit gives a target ``visibility`` minutes of unocculted time (HST Primer, "The
Orbital Visibility Period", Table 6.1).  Out of it come a guide-star acquisition (or a
re-acquisition in later orbits of a visit), one instrument overhead per exposure (set-up,
read-out, data transfer) and a telescope move between dithered exposures; what is left is
shared by the N exposures.  :func:`pack_orbit` does that sum for N = 1 … 9.

Every number below is cited where it is defined.  They are the planning (Phase I) values
of the handbooks, which say that APT's own overheads are the final word.

Detector numbers are kept here, in the planner, rather than imported from
:mod:`ditherlab.simulate` (imports flow planner → simulate); they agree with the
simulator's ``detector_model`` defaults, which a test checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from astropy import units as u

from ditherlab._validation import as_float, as_int
from ditherlab.errors import DitherlabTypeError, DitherlabValueError

__all__ = [
    "DETECTOR_PRESETS",
    "GUIDE_STAR_ACQUISITION",
    "GUIDE_STAR_REACQUISITION",
    "DetectorPreset",
    "detector_preset",
    "orbit_visibility",
    "pack_orbit",
]

#: Guide-star acquisition at the start of a visit, s: 6.5 min (ACS Instrument Handbook
#: §8.2, "Generic (Observatory Level) Overheads"; WFC3 Instrument Handbook §10.2).
GUIDE_STAR_ACQUISITION: float = 6.5 * 60.0
#: Guide-star re-acquisition at the start of each later orbit of a visit, s: 6.5 min
#: (same sources; older handbooks and the COS IHB Table 9.2 give 5 or 4 min).
GUIDE_STAR_REACQUISITION: float = 6.5 * 60.0

_CR_ACS = "ACS IHB (Cycle 14): 1.5–3 % of pixels per 1000 s, the middle value 2 % used"


@dataclasses.dataclass(frozen=True)
class DetectorPreset:
    """The numbers :func:`~ditherlab.planner.split_table` needs for one HST detector.

    Attributes
    ----------
    camera : str
        ``"ACS/WFC"``, ``"WFC3/IR"``, ...
    cr_rate : float
        Fraction of pixels hit by cosmic rays per second (0 where the pipeline removes
        them or the detector does not see them).
    read_noise : float
        Electrons per read.
    dark : float
        Dark current, e⁻/s/pixel.
    n_pixels_chip : int
        Pixels per chip (one CCD of a mosaic).
    first_exposure_overhead, exposure_overhead : float
        Instrument overhead (s) of the first exposure of a series and of each later one.
    buffer_dump : float
        Extra overhead (s) per exposure shorter than ``buffer_dump_below`` (ACS/WFC's
        serial buffer dump); 0 if none.
    buffer_dump_below : float
        Exposure time (s) under which ``buffer_dump`` is paid.
    sources : str
        Where each number comes from.
    """

    camera: str
    cr_rate: float
    read_noise: float
    dark: float
    n_pixels_chip: int
    first_exposure_overhead: float
    exposure_overhead: float
    buffer_dump: float = 0.0
    buffer_dump_below: float = 0.0
    sources: str = ""


# fmt: off
#: Presets by (instrument, detector).  Read noise, dark and CR rates match the simulator's
#: ``detector_model`` defaults (whose sources are the instrument handbooks named there).
DETECTOR_PRESETS: dict[tuple[str, str], DetectorPreset] = {
    # the seed's WFPC2 example (DrizzlePac Handbook Table 2.1, reproduced exactly):
    # 3.2 %/1000 s, PC1 read noise 5.24 e- at gain 7, dark 0.005 e-/s, 800 x 800 chips.
    # No per-exposure overhead is counted, as in that example.
    ("WFPC2", "PC"): DetectorPreset(
        "WFPC2", 0.0960625 / 3000.0, 5.24, 0.005, 800 * 800, 0.0, 0.0,
        sources="DrizzlePac Handbook Table 2.1 (WFPC2 ETC); drizzlepac WFPC2_GAINS",
    ),
    # ACS IHB (Cycle 16) Table 8.2, WFC ACCUM: 4.0 min for the first exposure, 2.5 min for
    # each later one; 5.8 min more per serial buffer dump, paid when WFC exposures are
    # shorter than 339 s (ACS IHB §8.2: the buffer holds one full WFC frame)
    ("ACS", "WFC"): DetectorPreset(
        "ACS/WFC", 0.02 / 1000.0, 4.2, 0.02, 4096 * 2048, 240.0, 150.0, 348.0, 339.0,
        sources=f"{_CR_ACS}; ACS IHB Table 8.2 (overheads) and §8.2 (buffer dumps)",
    ),
    # HRC: 2.5 min first, 1.0 min later exposures (ACS IHB Table 8.2); the same CR
    # census as WFC (ACS IHB: dominated by charge diffusion)
    ("ACS", "HRC"): DetectorPreset(
        "ACS/HRC", 0.02 / 1000.0, 4.7, 0.006, 1024 * 1024, 150.0, 60.0,
        sources=f"{_CR_ACS}; ACS IHB Table 8.2",
    ),
    # SBC: MAMA photon counter, no read noise and no cosmic rays in the image;
    # 1.7 min first, 0.7 min later exposures (ACS IHB Table 8.2)
    ("ACS", "SBC"): DetectorPreset(
        "ACS/SBC", 0.0, 0.0, 1.2e-5, 1024 * 1024, 102.0, 42.0,
        sources="ACS IHB Table 8.2",
    ),
    # UVIS: CR flux "comparable to ... ACS" (WFC3 IHB §6.10.2); 2.6 min for the first
    # full-frame exposure (filter, set-up, read-out) and 2.1 min for each later one, WFC3
    # IHB ch. 10 (§10.3, exposure overheads; used in the §10.4 orbit example 1, Table
    # 10.4).  The 2.1 min agrees with the HST Primer's WFC3 example (App. A.5 Table A.17,
    # "2 × 2.1"); the 2.6 min could not be re-checked in a reachable source during the
    # issue-9 review, so it is the less certain of the two.
    # UVIS buffer dumps for many short exposures (WFC3 IHB §10.4 example 2) are not modelled.
    ("WFC3", "UVIS"): DetectorPreset(
        "WFC3/UVIS", 0.02 / 1000.0, 3.1, 0.003, 4096 * 2051, 156.0, 126.0,
        sources="WFC3 IHB §6.10.2 (CRs) and §10.3 (2.6 min first, 2.1 min later exposures)",
    ),
    # IR: cosmic rays are removed by up-the-ramp fitting in calwf3 (none lost);
    # 1.0 min per exposure (HST Primer App. A.5 Table A.16)
    ("WFC3", "IR"): DetectorPreset(
        "WFC3/IR", 0.0, 12.0, 0.05, 1014 * 1014, 60.0, 60.0,
        sources="WFC3 IHB §7.7 (up-the-ramp CR rejection); HST Primer App. A.5 Table A.16",
    ),
}
DETECTOR_PRESETS[("WFPC2", "WF")] = DETECTOR_PRESETS[("WFPC2", "PC")]
# fmt: on

# HST Primer (Cycle 17) Table 6.1, orbital visibility of fixed targets, three-gyro mode:
# (upper |declination| limit in degrees, minutes)
_VISIBILITY = ((30, 54), (40, 55), (50, 57), (60, 58), (70, 59), (80, 60), (90, 61))


def orbit_visibility(declination: float | u.Quantity) -> float:
    """Usable visibility per orbit (s) of a fixed target at ``declination``.

    HST Primer (Cycle 17) Table 6.1: 54 min for |dec| ≤ 30°, rising to 61 min at the
    poles (outside the continuous viewing zone; 96 min in it).

    Examples
    --------
    >>> orbit_visibility(0) / 60, orbit_visibility(-45) / 60, orbit_visibility(85) / 60
    (54.0, 57.0, 61.0)
    """
    d = abs(as_float("declination", declination, unit=u.deg, minimum=-90, maximum=90))
    for limit, minutes in _VISIBILITY:
        if d <= limit:
            return minutes * 60.0
    raise AssertionError("unreachable")  # pragma: no cover


def detector_preset(name: Any) -> DetectorPreset:
    """The preset of a detector, by aperture name (``"acs-wfc"``, ``"IIRFIX"``, ...).

    ``"wfpc2"`` gives the seed's WFPC2 numbers.

    Examples
    --------
    >>> detector_preset("acs-wfc1").camera, detector_preset("wfpc2").read_noise
    ('ACS/WFC', 5.24)
    """
    from ditherlab.planner.apertures import get_aperture

    if isinstance(name, DetectorPreset):
        return name
    if hasattr(name, "instrument") and hasattr(name, "detector"):  # an Aperture
        name = name.name
    if not isinstance(name, str):
        raise DitherlabTypeError(f"preset={name!r} must be an aperture name (a string)")
    if name.strip().lower() == "wfpc2":
        return DETECTOR_PRESETS[("WFPC2", "PC")]
    ap = get_aperture(name)
    key = (ap.instrument, ap.detector)
    if key not in DETECTOR_PRESETS:
        raise DitherlabValueError(
            f"preset={name!r}: no exposure-splitting numbers for {ap.instrument}/{ap.detector}"
        )
    return DETECTOR_PRESETS[key]


def _overheads(n: int, preset: DetectorPreset, move: float, acquisition: float, vis: float):
    """(instrument, moves, buffer dumps, exposure time) for n exposures in one orbit."""
    inst = preset.first_exposure_overhead + (n - 1) * preset.exposure_overhead
    moves = (n - 1) * move
    dumps = 0.0
    exptime = (vis - acquisition - inst - moves) / n
    if preset.buffer_dump and n > 1 and exptime < preset.buffer_dump_below:
        dumps = (n - 1) * preset.buffer_dump  # the last dump can happen in occultation
        exptime = (vis - acquisition - inst - moves - dumps) / n
    return inst, moves, dumps, exptime


def pack_orbit(
    preset: Any = "wfpc2",
    n_exposures: Sequence[int] = range(1, 10),
    visibility: float | u.Quantity | None = None,
    step: float | u.Quantity = 0.3,
    first_orbit: bool = True,
):
    """Time per exposure when N dithered exposures fill one orbit, N = 1 … 9.

    ``exptime = (visibility − acquisition − instrument − moves − buffer dumps) / N``:
    a guide-star acquisition (:data:`GUIDE_STAR_ACQUISITION`, or
    :data:`GUIDE_STAR_REACQUISITION` when ``first_orbit`` is False), the detector's
    overhead for the first and each later exposure, one telescope move of ``step`` between
    exposures (:func:`~ditherlab.planner.move_overhead`) and, for ACS/WFC exposures
    shorter than 339 s, a serial buffer dump after each but the last.

    Parameters
    ----------
    preset : DetectorPreset or str, optional
        Detector (an aperture name, or ``"wfpc2"``), see :func:`detector_preset`.
    n_exposures : sequence of int, optional
        Exposure counts (default 1 … 9).
    visibility : float or Quantity, optional
        Usable time per orbit, s (default 54 min, :func:`orbit_visibility` at
        |dec| ≤ 30°).
    step : float or Quantity, optional
        Size of each dither move, arcsec (0 for CR-SPLITs without a move).
    first_orbit : bool, optional
        True: the orbit starts with a full guide-star acquisition.

    Returns
    -------
    astropy.table.Table
        Columns ``n_exposures``, ``acquisition``, ``instrument_overhead``,
        ``move_overhead``, ``buffer_dumps``, ``science_time`` (N × exptime) and
        ``exptime`` (s).  N that do not fit get ``exptime`` 0 and are listed in
        ``meta["do_not_fit"]``.

    References
    ----------
    HST Primer Table 6.1 (visibility); ACS IHB §8.2 and Table 8.2; WFC3 IHB §10.2–10.3;
    HST Primer App. A.5; moves as in :func:`~ditherlab.planner.move_overhead` (ACS IHB
    Table 8.1, COS IHB Table 9.2).

    Examples
    --------
    Four exposures of ACS/WFC in a first orbit at 54 min with 0.3″ steps:
    3240 − 390 − 240 − 3 × 150 − 3 × 20 = 2100 s, 525 s each.

    >>> float(pack_orbit("acs-wfc", [4])["exptime"][0])
    525.0
    """
    from astropy.table import Table

    from ditherlab.planner.exposure import move_overhead

    p = detector_preset(preset)
    vis = 54 * 60.0 if visibility is None else visibility
    vis = as_float("visibility", vis, unit=u.s, minimum=0, min_inclusive=False)
    move = float(move_overhead(as_float("step", step, unit=u.arcsec, minimum=0)))
    if not isinstance(first_orbit, bool | np.bool_):
        raise DitherlabTypeError(f"first_orbit={first_orbit!r} must be True or False")
    acq = GUIDE_STAR_ACQUISITION if first_orbit else GUIDE_STAR_REACQUISITION
    ns = [as_int("n_exposures", k, minimum=1) for k in n_exposures]
    if not ns:
        raise DitherlabValueError("n_exposures must hold at least one count")
    rows = [(n, acq, *_overheads(n, p, move, acq, vis)) for n in ns]
    t = Table(
        rows=rows,
        names=("n_exposures", "acquisition", "instrument_overhead", "move_overhead",
               "buffer_dumps", "exptime"),
    )
    short = t["exptime"] <= 0
    t["exptime"][short] = 0.0
    t["science_time"] = t["n_exposures"] * t["exptime"]
    for c in t.colnames[1:]:
        t[c].unit = u.s
        t[c].format = ".1f"
    t.meta.update(camera=p.camera, visibility=vis, sources=p.sources,
                  do_not_fit=[int(n) for n in t["n_exposures"][short]])
    return t
