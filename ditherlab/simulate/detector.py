"""Detector models and detector effects as standalone functions.

A :class:`DetectorModel` is a frozen bundle of one camera's parameters (gain, read noise,
dark current, full well, cosmic-ray rate and morphology, defect fractions, DQ bit values).
:func:`detector_model` returns the defaults for an HST instrument/detector; change any
field with :meth:`DetectorModel.replace`.

Each effect is a function ``effect(image_or_shape, model, ..., rng) -> array`` so that it
can be used, tested and replaced on its own:

* :func:`cosmic_rays` — charge deposited by cosmic rays during an exposure;
* :func:`make_defects` — hot, warm, unstable and unflagged variable pixels, bad columns,
  fixed in detector coordinates for a whole visit;
* :func:`dark_rate` — the dark current of one exposure (unstable pixels flicker);
* :func:`add_noise` — Poisson noise on the expected electrons plus Gaussian read noise;
* :func:`saturate` — bleed (or clip) at the full well and flag;
* :func:`atod_saturate` — clip at the A/D converter's limit and flag.

Sources of the default numbers: ``/work/shared/reference/detector_and_astrodrizzle.md``
§1–2 (ACS and WFC3 instrument handbooks, ACS ISR 2002-07, drizzlepac ``wfpc2Data.py``).
Defect fractions are illustrative, not calibrated to an epoch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from ditherlab._validation import as_float, as_int, as_rng
from ditherlab.errors import DitherlabTypeError, DitherlabValueError
from ditherlab.simulate import _kernels

__all__ = [
    "ACS_DQ",
    "DEFECT_BAD_COLUMN",
    "DEFECT_HOT",
    "DEFECT_UNSTABLE",
    "DEFECT_VARIABLE",
    "DEFECT_WARM",
    "WFC3_DQ",
    "WFPC2_DQ",
    "Defects",
    "DetectorModel",
    "add_noise",
    "atod_saturate",
    "cosmic_rays",
    "cr_rate_from_flux",
    "cr_rate_from_percent",
    "dark_rate",
    "detector_model",
    "make_defects",
    "saturate",
]

#: ACS DQ bits (hstcal ``acsdq.h``).
ACS_DQ: Mapping[str, int] = MappingProxyType(
    {
        "bad_pixel": 4,
        "hot": 16,
        "unstable": 32,
        "warm": 64,
        "bad_column": 4,
        "saturated": 256,
        "atod_saturated": 2048,
        "cosmic_ray": 4096,
    }
)
#: WFC3 DQ bits (hstcal ``wf3dq.h``).  32 is "unstable" on IR but "CTE tail" on UVIS, so
#: the UVIS default model flags unstable pixels 16 (hot) instead.
WFC3_DQ: Mapping[str, int] = MappingProxyType(
    {
        "bad_pixel": 4,
        "hot": 16,
        "unstable": 32,
        "warm": 64,
        "bad_column": 4,
        "saturated": 256,
        "atod_saturated": 2048,
        "cosmic_ray": 4096,
    }
)
#: WFPC2 DQ bits (WFPC2 DHB table 3.4).  WFPC2 has no "hot" bit: hot pixels are flagged
#: "unrepaired warm" (512), warm ones "repaired warm" (1024), unstable "other bad" (32).
WFPC2_DQ: Mapping[str, int] = MappingProxyType(
    {
        "bad_pixel": 4,
        "hot": 512,
        "unstable": 32,
        "warm": 1024,
        "bad_column": 4,
        "saturated": 8,
        "atod_saturated": 8,
        "cosmic_ray": 4096,
    }
)

#: Codes of the truth defect map (a bit field, independent of any instrument's DQ).
DEFECT_HOT = 1
DEFECT_WARM = 2
DEFECT_UNSTABLE = 4
DEFECT_VARIABLE = 8  #: hot pixel that flickers on short time scales and is *not* flagged
DEFECT_BAD_COLUMN = 16

_CM2_PER_UM2 = 1e-8


@dataclasses.dataclass(frozen=True, kw_only=True)
class DetectorModel:
    """Parameters of one detector (all electrons, seconds, pixels).

    Parameters
    ----------
    instrument, detector : str
        e.g. ``"ACS"``, ``"WFC"``.
    gain : float
        e⁻/DN (header ``CCDGAIN``/``ATODGN*``; the simulated data are in electrons).
    read_noise : float
        e⁻ RMS per read.
    dark : float
        Mean dark current, e⁻/s/pixel (subtracted by the calibration, its noise remains).
    full_well : float
        Physical full well in e⁻; charge above it bleeds along the column and the pixels
        it fills are flagged ``dq["saturated"]``.
    atod_max : int or None
        Largest DN of the analog-to-digital converter (65535 for ACS and WFC3/UVIS, 4095
        for WFPC2; None: no A/D limit modelled).  Read-out values at or above
        ``atod_max × gain`` electrons are clipped there, without bleeding, and flagged
        ``dq["atod_saturated"] | dq["saturated"]`` (calacs/calwf3 set both).
    bleed : bool
        Whether saturated charge bleeds along columns (CCDs: yes; WFC3/IR, SBC: clipped).
    pixel_size : float
        Physical pixel size in µm (converts CR fluxes per cm² to per pixel).
    idcscale : float
        Nominal pixel scale (arcsec), the header ``IDCSCALE``; flt pixels hold surface
        brightness × ``idcscale²`` (see the simulator docs on the pixel-area effect).
    cr_rate : float
        Fraction of pixels affected by cosmic rays per second (1.5–3 %/1000 s ACS).
    cr_thickness, cr_diffusion : float
        Sensitive thickness and charge-diffusion sigma, in pixels (CR track length and width).
    cr_charge_loc, cr_charge_scale : float
        Location and scale (e⁻) of the Moyal (Landau-like) charge per thickness of silicon.
    cr_floor : float
        Least charge (e⁻) counted as part of an event's footprint.
    cr_max_length : float
        Longest projected track (pixels).
    hot_fraction, warm_fraction, unstable_fraction, variable_fraction : float
        Fractions of pixels that are hot (flagged), warm (flagged), unstable (flagged) and
        hot-but-flickering (not flagged; removed only by dithering).
    hot_rate, warm_rate : (float, float)
        Ranges of dark current (e⁻/s) of hot and warm pixels (drawn log-uniformly).
    variable_duty : float
        Probability that an unflagged variable pixel is "on" in a given exposure.
    n_bad_columns : int
        Bad columns per chip (flagged ``dq["bad_column"]``, with excess charge).
    dq : mapping
        DQ bit values by meaning (``ACS_DQ``, ``WFC3_DQ`` or ``WFPC2_DQ``).
    psf_wavelength : float
        Wavelength (µm) of the Airy PSF that was the default before issue 10; kept for
        compatibility (the default PSF now uses the filter's pivot wavelength).

    Examples
    --------
    >>> m = detector_model("ACS", "WFC")
    >>> m.gain, m.read_noise, m.dq["saturated"]
    (2.0, 4.2, 256)
    >>> round(m.cr_rate * 1000, 3)
    0.02
    >>> m.replace(read_noise=3.0).read_noise
    3.0
    """

    instrument: str
    detector: str
    gain: float
    read_noise: float
    dark: float
    full_well: float
    pixel_size: float
    idcscale: float
    cr_rate: float
    bleed: bool = True
    atod_max: int | None = None
    cr_thickness: float = 0.9
    cr_diffusion: float = 0.3
    cr_charge_loc: float = 620.0
    cr_charge_scale: float = 80.0
    cr_floor: float = 20.0
    cr_max_length: float = 60.0
    hot_fraction: float = 0.01
    warm_fraction: float = 0.02
    unstable_fraction: float = 0.002
    variable_fraction: float = 0.0005
    hot_rate: tuple[float, float] = (0.14, 2.0)
    warm_rate: tuple[float, float] = (0.06, 0.14)
    variable_duty: float = 0.5
    n_bad_columns: int = 2
    dq: Mapping[str, int] = dataclasses.field(default_factory=lambda: ACS_DQ)
    psf_wavelength: float = 0.6

    def __post_init__(self) -> None:
        for name in ("gain", "full_well", "pixel_size", "idcscale", "cr_thickness"):
            as_float(name, getattr(self, name), minimum=0.0, min_inclusive=False)
        for name in (
            "read_noise",
            "dark",
            "cr_rate",
            "cr_diffusion",
            "cr_floor",
            "cr_max_length",
            "cr_charge_loc",
            "cr_charge_scale",
        ):
            as_float(name, getattr(self, name), minimum=0.0)
        for name in ("hot_fraction", "warm_fraction", "unstable_fraction", "variable_fraction"):
            as_float(name, getattr(self, name), minimum=0.0, maximum=0.5)
        as_float("variable_duty", self.variable_duty, minimum=0.0, maximum=1.0)
        for name in ("hot_rate", "warm_rate"):
            rng_ = getattr(self, name)
            try:
                lo, hi = (float(v) for v in rng_)
            except (TypeError, ValueError):
                raise DitherlabTypeError(
                    f"{name}={rng_!r} must be a (low, high) pair of dark rates (e-/s)"
                ) from None
            if not (np.isfinite(lo) and np.isfinite(hi) and 0.0 < lo <= hi):
                raise DitherlabValueError(
                    f"{name}={rng_!r} must be (low, high) with 0 < low <= high (e-/s; "
                    "drawn log-uniformly)"
                )
        as_int("n_bad_columns", self.n_bad_columns, minimum=0)
        if self.atod_max is not None:
            as_int("atod_max", self.atod_max, minimum=1)
        if self.cr_diffusion <= 0 and self.cr_rate > 0:
            raise DitherlabValueError(f"cr_diffusion={self.cr_diffusion!r} must be > 0")
        object.__setattr__(self, "dq", MappingProxyType(dict(self.dq)))

    @property
    def atod_limit(self) -> float:
        """Electrons at which the A/D converter saturates (``atod_max × gain``; inf: none)."""
        return np.inf if self.atod_max is None else float(self.atod_max) * self.gain

    def replace(self, **changes: Any) -> DetectorModel:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def cr_percent_per_1000s(self) -> float:
        """The CR rate as per cent of pixels per 1000 s."""
        return self.cr_rate * 1000.0 * 100.0

    def cr_fraction(self, exptime: float) -> float:
        """Expected fraction of pixels hit in one exposure: ``cr_rate * exptime`` (≤ 1).

        This is the linear law that reproduces the WFPC2 ETC table of the DrizzlePac
        handbook (p_single = r t; a pixel is lost in N exposures with probability p**N).
        """
        return min(self.cr_rate * exptime, 1.0)

    @property
    def mean_pixels_per_event(self) -> float:
        """Mean number of pixels one cosmic ray affects under this model's morphology."""
        return _kernels.mean_pixels_per_event(
            float(self.cr_thickness),
            float(self.cr_diffusion),
            float(self.cr_charge_loc),
            float(self.cr_charge_scale),
            float(self.cr_floor),
            float(self.cr_max_length),
        )

    @property
    def cr_event_flux(self) -> float:
        """CR events per cm² per s implied by ``cr_rate`` (low-rate limit)."""
        pix_cm2 = (self.pixel_size**2) * _CM2_PER_UM2
        return self.cr_rate / self.mean_pixels_per_event / pix_cm2


def cr_rate_from_percent(percent_per_1000s: float) -> float:
    """Convert "per cent of pixels per 1000 s" to ``cr_rate`` (fraction per second).

    Examples
    --------
    >>> cr_rate_from_percent(3.2)
    3.2e-05
    >>> detector_model("ACS", "WFC", cr_rate=cr_rate_from_percent(1.5)).cr_percent_per_1000s
    1.5
    """
    p = as_float("percent_per_1000s", percent_per_1000s, minimum=0.0, maximum=100.0)
    return p / 100.0 / 1000.0


def cr_rate_from_flux(flux: float, model: DetectorModel) -> float:
    """Convert a CR flux (events cm⁻² s⁻¹) to ``cr_rate`` (fraction of pixels per second).

    Examples
    --------
    >>> m = detector_model("ACS", "WFC")
    >>> rate = cr_rate_from_flux(m.cr_event_flux, m)
    >>> bool(np.isclose(rate, m.cr_rate))
    True
    """
    flux = as_float("flux", flux, minimum=0.0)
    pix_cm2 = (model.pixel_size**2) * _CM2_PER_UM2
    return flux * pix_cm2 * model.mean_pixels_per_event


_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    # ACS IHB: WFC gain 2, RN ~4.2, saturation ~77,400 e- (72k-82k); 1.5-3 %/1000 s CRs
    ("ACS", "WFC"): {
        "gain": 2.0,
        "read_noise": 4.2,
        "dark": 0.02,
        "full_well": 77400.0,
        "atod_max": 65535,
        "pixel_size": 15.0,
        "idcscale": 0.05,
        "cr_rate": 0.02 / 1000.0,
        "dq": ACS_DQ,
        "psf_wavelength": 0.6,
    },
    # HRC: the full well (155 ke-) exceeds the A/D limit (65535 DN x 2.2 = 144 ke-)
    ("ACS", "HRC"): {
        "gain": 2.2,
        "read_noise": 4.7,
        "dark": 0.006,
        "full_well": 155000.0,
        "atod_max": 65535,
        "pixel_size": 21.0,
        "idcscale": 0.025,
        "cr_rate": 0.02 / 1000.0,
        "dq": ACS_DQ,
        "psf_wavelength": 0.5,
        "n_bad_columns": 1,
    },
    ("ACS", "SBC"): {
        "gain": 1.0,
        "read_noise": 0.0,
        "dark": 1.2e-5,
        "full_well": 1e9,
        "bleed": False,
        "pixel_size": 25.0,
        "idcscale": 0.025,
        "cr_rate": 0.0,
        "dq": ACS_DQ,
        "psf_wavelength": 0.15,
        "hot_fraction": 0.0,
        "warm_fraction": 0.0,
        "unstable_fraction": 0.0,
        "variable_fraction": 0.0,
        "n_bad_columns": 0,
    },
    # WFC3 IHB / DHB: UVIS gain 1.5, RN 3.1, full well 63-72 ke-, dark ~11 e-/hr
    ("WFC3", "UVIS"): {
        "gain": 1.5,
        "read_noise": 3.1,
        "dark": 0.003,
        "full_well": 63000.0,
        "atod_max": 65535,
        "pixel_size": 15.0,
        "idcscale": 0.0396,
        "cr_rate": 0.02 / 1000.0,
        # UVIS bit 32 means "CTE tail": unstable (RTS) pixels are flagged hot instead
        "dq": {**WFC3_DQ, "unstable": 16},
        "psf_wavelength": 0.6,
        "hot_rate": (0.015, 1.0),
        "warm_rate": (0.005, 0.015),
    },
    # IR: CRs are removed by up-the-ramp fitting in calwf3, so none by default
    ("WFC3", "IR"): {
        "gain": 2.5,
        "read_noise": 12.0,
        "dark": 0.05,
        "full_well": 78000.0,
        "bleed": False,
        "pixel_size": 18.0,
        "idcscale": 0.1283,
        "cr_rate": 0.0,
        "dq": WFC3_DQ,
        "psf_wavelength": 1.4,
        "hot_fraction": 0.002,
        "warm_fraction": 0.005,
        "n_bad_columns": 0,
    },
    # WFPC2: gain 7 (drizzlepac WFPC2_GAINS WF3 6.90 / 5.22); the 12-bit A/D saturates at
    # 4095 DN (~28 ke-), well below the physical full well (~53 ke-), so bright stars clip
    # (DQ 8) before they bleed; the seed's ETC table implies 3.2 % of pixels per 1000 s
    ("WFPC2", "WF"): {
        "gain": 6.90,
        "read_noise": 5.22,
        "dark": 0.005,
        "full_well": 53000.0,
        "atod_max": 4095,
        "pixel_size": 15.0,
        "idcscale": 0.0996,
        "cr_rate": 0.0960625 / 3000.0,
        "dq": WFPC2_DQ,
        "psf_wavelength": 0.6,
    },
    ("WFPC2", "PC"): {
        "gain": 7.12,
        "read_noise": 5.24,
        "dark": 0.005,
        "full_well": 53000.0,
        "atod_max": 4095,
        "pixel_size": 15.0,
        "idcscale": 0.0455,
        "cr_rate": 0.0960625 / 3000.0,
        "dq": WFPC2_DQ,
        "psf_wavelength": 0.6,
    },
}


def detector_model(instrument: str, detector: str, **changes: Any) -> DetectorModel:
    """Default :class:`DetectorModel` of an HST camera, with optional changes.

    Parameters
    ----------
    instrument : {"ACS", "WFC3", "WFPC2"}
    detector : str
        ``"WFC"``, ``"HRC"``, ``"SBC"`` (ACS); ``"UVIS"``, ``"IR"`` (WFC3); ``"WF"``,
        ``"PC"`` (WFPC2).
    **changes
        Fields to override, e.g. ``read_noise=3.0``.

    Raises
    ------
    DitherlabValueError
        For an unknown instrument/detector pair.
    """
    if not isinstance(instrument, str) or not isinstance(detector, str):
        raise DitherlabTypeError(
            f"instrument={instrument!r} and detector={detector!r} must be strings"
        )
    key = (instrument.upper(), detector.upper())
    if key not in _DEFAULTS:
        known = ", ".join(f"{i}/{d}" for i, d in _DEFAULTS)
        raise DitherlabValueError(
            f"no detector model for instrument={instrument!r}, detector={detector!r}; "
            f"known: {known}"
        )
    return DetectorModel(instrument=key[0], detector=key[1], **{**_DEFAULTS[key], **changes})


# -- effects --------------------------------------------------------------------------
def cosmic_rays(
    shape: tuple[int, int], model: DetectorModel, exptime: float, rng: Any = None
) -> np.ndarray:
    """Charge (e⁻, float64) deposited by cosmic rays in one exposure of ``exptime`` s.

    The number of events is Poisson with mean ``mu * npix / mean_pixels_per_event``,
    where ``mu = -ln(1 - cr_rate * exptime)``, so that each pixel is hit with probability
    exactly ``cr_rate * exptime`` (footprints overlapping at random).  Tracks are straight,
    with isotropic directions through a slab ``cr_thickness`` pixels thick (projected length
    ``t·tanθ``: most events cover 4–5 pixels, with a long tail of tracks), a Moyal
    (Landau-like) charge proportional to the path in silicon (median ≈ 1000 e⁻, almost
    none below 500 e⁻ with the defaults), and Gaussian charge diffusion.

    Examples
    --------
    >>> m = detector_model("ACS", "WFC")
    >>> cr = cosmic_rays((200, 200), m, 1000.0, rng=1)
    >>> bool(0.01 < (cr > 0).mean() < 0.03)
    True
    """
    exptime = as_float("exptime", exptime, minimum=0.0)
    gen = as_rng(rng)
    ny, nx = shape
    if model.cr_rate * exptime >= 1.0:
        raise DitherlabValueError(
            f"exptime={exptime!r} s with cr_rate={model.cr_rate!r} /s: every pixel would be "
            f"hit by cosmic rays (cr_rate * exptime = {model.cr_rate * exptime:.3g} >= 1); "
            "split the exposure or lower cr_rate"
        )
    p = model.cr_fraction(exptime)
    if p <= 0.0:
        return np.zeros(shape)
    mu = -np.log1p(-min(p, 1.0 - 1e-12))
    margin = int(np.ceil(model.cr_max_length / 2 + 2))
    npix_ext = (ny + 2 * margin) * (nx + 2 * margin)
    n_events = int(gen.poisson(mu * npix_ext / model.mean_pixels_per_event))
    return _kernels.cosmic_ray_image(
        shape,
        n_events,
        thickness=model.cr_thickness,
        diffusion=model.cr_diffusion,
        charge_loc=model.cr_charge_loc,
        charge_scale=model.cr_charge_scale,
        floor=model.cr_floor,
        max_length=model.cr_max_length,
        margin=margin,
        rng=gen,
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Defects:
    """Fixed defects of one chip for one visit (detector coordinates, full chip).

    Attributes
    ----------
    code : ndarray of uint8
        Bit field of ``DEFECT_*`` codes.
    rate : ndarray of float32
        Stable extra dark current (e⁻/s) of hot/warm/unstable pixels (their mean) and of
        variable pixels when "on".
    column_charge : ndarray of float32
        Excess charge per exposure of bad-column pixels (e⁻).
    """

    code: np.ndarray
    rate: np.ndarray
    column_charge: np.ndarray

    def dq(self, model: DetectorModel) -> np.ndarray:
        """The DQ bits the calibration pipeline knows about (variable pixels are absent)."""
        dq = np.zeros(self.code.shape, np.uint16)
        for code, key in (
            (DEFECT_HOT, "hot"),
            (DEFECT_WARM, "warm"),
            (DEFECT_UNSTABLE, "unstable"),
            (DEFECT_BAD_COLUMN, "bad_column"),
        ):
            dq[(self.code & code) != 0] |= np.uint16(model.dq[key])
        return dq

    def cut(self, origin: tuple[int, int], shape: tuple[int, int]) -> Defects:
        """The part of the chip covered by a sub-array at ``origin`` = (x0, y0)."""
        x0, y0 = origin
        sl = (slice(y0, y0 + shape[0]), slice(x0, x0 + shape[1]))
        return Defects(self.code[sl], self.rate[sl], self.column_charge[sl])


def _pick(n_total: int, fraction: float, taken: np.ndarray, gen: np.random.Generator):
    k = int(gen.binomial(n_total, fraction)) if fraction > 0 else 0
    if k == 0:
        return np.zeros(0, np.int64)
    idx = np.unique(gen.integers(0, n_total, k))
    idx = idx[~taken[idx]]
    taken[idx] = True
    return idx


def make_defects(shape: tuple[int, int], model: DetectorModel, rng: Any = None) -> Defects:
    """Draw the defects of one chip of ``shape`` (full chip) for a visit.

    Hot and warm rates are log-uniform in ``model.hot_rate`` / ``model.warm_rate``;
    unstable pixels have hot rates on average; variable (unflagged) pixels have hot rates
    when "on".  Bad columns span a random segment (at least a quarter) of a column.

    Examples
    --------
    >>> d = make_defects((100, 100), detector_model("ACS", "WFC"), rng=3)
    >>> bool(((d.code & DEFECT_HOT) != 0).mean() > 0.005)
    True
    """
    gen = as_rng(rng)
    ny, nx = shape
    n = ny * nx
    code = np.zeros(n, np.uint8)
    rate = np.zeros(n, np.float32)
    taken = np.zeros(n, bool)

    def loguniform(lo_hi: tuple[float, float], k: int) -> np.ndarray:
        lo, hi = lo_hi
        return np.exp(gen.uniform(np.log(lo), np.log(hi), k))

    for frac, c, rng_range in (
        (model.hot_fraction, DEFECT_HOT, model.hot_rate),
        (model.warm_fraction, DEFECT_WARM, model.warm_rate),
        (model.unstable_fraction, DEFECT_UNSTABLE, model.hot_rate),
        (model.variable_fraction, DEFECT_VARIABLE, model.hot_rate),
    ):
        idx = _pick(n, frac, taken, gen)
        code[idx] |= c
        rate[idx] = loguniform(rng_range, idx.size)
    code = code.reshape(shape)
    rate = rate.reshape(shape)
    column_charge = np.zeros(shape, np.float32)
    for _ in range(model.n_bad_columns):
        x = int(gen.integers(0, nx))
        length = int(gen.integers(max(ny // 4, 1), ny + 1))
        y0 = int(gen.integers(0, ny - length + 1))
        code[y0 : y0 + length, x] |= DEFECT_BAD_COLUMN
        column_charge[y0 : y0 + length, x] = float(gen.uniform(20.0, 200.0))
    return Defects(code, rate, column_charge)


def dark_rate(
    defects: Defects, model: DetectorModel, rng: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Dark current of one exposure: ``(actual, reference)`` maps in e⁻/s/pixel.

    ``actual`` is what the pixels generate in this exposure: the mean dark plus the
    defects' rates, with unstable pixels drawn uniformly in [0, 2] × their mean and
    variable pixels on with probability ``variable_duty``.  ``reference`` is what the
    calibration subtracts (the superdark): mean dark plus the *flagged* defects' means.
    """
    gen = as_rng(rng)
    code = defects.code
    base = np.float32(model.dark)
    reference = base + np.where(
        (code & (DEFECT_HOT | DEFECT_WARM | DEFECT_UNSTABLE)) != 0, defects.rate, np.float32(0.0)
    )
    actual = reference.copy()
    unstable = (code & DEFECT_UNSTABLE) != 0
    if unstable.any():
        f = gen.uniform(0.0, 2.0, int(unstable.sum())).astype(np.float32)
        actual[unstable] = base + defects.rate[unstable] * f
    variable = (code & DEFECT_VARIABLE) != 0
    if variable.any():
        on = gen.random(int(variable.sum())) < model.variable_duty
        actual[variable] = base + np.where(on, defects.rate[variable], np.float32(0.0))
    return actual, reference


def add_noise(expected: np.ndarray, model: DetectorModel, rng: Any = None) -> np.ndarray:
    """Poisson-sample ``expected`` electrons and add Gaussian read noise (float64 copy).

    A standalone effect for quick studies; :func:`~ditherlab.simulate.observe` applies
    the same two steps with cosmic rays and saturation in between.

    Examples
    --------
    >>> m = detector_model("ACS", "WFC")
    >>> img = add_noise(np.full((200, 200), 100.0), m, rng=1)
    >>> bool(abs(img.var() / (100.0 + m.read_noise**2) - 1) < 0.05)
    True
    """
    gen = as_rng(rng)
    counts = gen.poisson(np.clip(expected, 0.0, None)).astype(np.float64)
    if model.read_noise > 0:
        counts += gen.normal(0.0, model.read_noise, expected.shape)
    return counts


def saturate(
    charge: np.ndarray, model: DetectorModel, inplace: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Saturate collected charge at the full well: ``(new_charge, saturated_mask)``.

    With ``model.bleed`` (CCDs), charge above ``full_well`` spills up and down its column,
    conserving charge, and every pixel at the full well or filled by the spill is flagged;
    otherwise pixels are clipped at ``full_well``.  ``inplace`` modifies ``charge``
    (float64) instead of a copy.  The A/D limit is applied after the read noise, by
    :func:`atod_saturate`.

    Examples
    --------
    >>> m = detector_model("ACS", "WFC")
    >>> c = np.zeros((5, 1)); c[2, 0] = 2.5 * m.full_well
    >>> out, sat = saturate(c, m)
    >>> float(out.sum() / m.full_well), sat[:, 0].tolist()
    (2.5, [False, True, True, True, False])
    """
    out = charge if inplace else np.array(charge, dtype=np.float64, copy=True)
    if model.bleed:
        sat = _kernels.bleed_columns(out, model.full_well)
        sat |= out >= model.full_well
    else:
        sat = out >= model.full_well
        np.minimum(out, model.full_well, out=out)
    return out, sat


def atod_saturate(
    values: np.ndarray, model: DetectorModel, inplace: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Clip read-out values (e⁻) at the A/D limit: ``(new_values, atod_mask)``.

    Pixels at or above ``model.atod_limit`` (``atod_max × gain``) are set to it, with no
    bleeding (the charge is in the well; only the converter saturates).

    Examples
    --------
    >>> m = detector_model("WFPC2", "WF")
    >>> out, hit = atod_saturate(np.array([1000.0, 30000.0]), m)
    >>> out.tolist(), hit.tolist()
    ([1000.0, 28255.5], [False, True])
    """
    out = values if inplace else np.array(values, dtype=np.float64, copy=True)
    limit = model.atod_limit
    hit = out >= limit
    if np.isfinite(limit):
        np.minimum(out, limit, out=out)
    return out, hit
