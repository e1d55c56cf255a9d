"""Parameters of the AstroDrizzle-style pipeline, with AstroDrizzle's names and defaults.

:class:`PipelineConfig` holds every parameter of the seven AstroDrizzle steps under the
names of ``drizzlepac/pars/astrodrizzle.cfgspc`` (drizzlepac @ 389caf4, 2026-05); built
with no arguments it has AstroDrizzle's *offline* defaults (``driz_sep_bits = final_bits
= 0``: every flagged pixel is bad).  :meth:`PipelineConfig.for_instrument` gives what the
pipeline's MDRIZTAB reference tables set instead.

References
----------
DrizzlePac Handbook §6.3 "Running AstroDrizzle" (the project's seed 000): bit masks,
MDRIZTAB values, scale and pixfrac; drizzlepac ``astrodrizzle.cfgspc`` for the defaults.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import math
import numbers
from collections.abc import Mapping
from typing import Any

from ditherlab._validation import as_choice, as_float, as_int
from ditherlab.drizzle.pipeline.masks import interpret_bits
from ditherlab.errors import DitherlabTypeError, DitherlabValueError

__all__ = [
    "ACS_WFC_NEW_DQ_DATE",
    "MDRIZTAB_NEW_BITS",
    "WFC3_UVIS_NEW_DQ_DATE",
    "WFC3_UVIS_NEW_DQ_TIME",
    "PipelineConfig",
    "native_scale",
]

#: The bits of the 2017+ ACS MDRIZTAB and the 2018+ WFC3/UVIS one: 16 + 64 + 256 (stable hot,
#: warm and full-well saturated pixels are good), "now set to a value of 336 (the sum of
#: 16+64+256)" (DrizzlePac Handbook §6.3, "Controlling the Bit Mask").
MDRIZTAB_NEW_BITS = 16 + 64 + 256

#: Earliest ACS/WFC observation date known to be drizzled with the 336 table.  The handbook's
#: "June 2017" is when the MDRIZTAB ``16r12191j_mdz.fits`` was *delivered* (DrizzlePac
#: Handbook §6.3; ACS ISR 2017-05), not an observation-date boundary: exposure
#: ``jczgx1ppq`` (ACS/WFC, DATE-OBS 2016-10-16) carried ``MDRIZTAB = jref$ub21537aj_mdz.fits``
#: when calibrated on 2016-10-16 and ``jref$16r12191j_mdz.fits`` when recalibrated on
#: 2017-12-03 (CRDS context hst_0592.pmap) — the two header dumps in STScI's
#: ``spacetelescope/stak-notebooks``, ``docs/source/stsdas.toolbox.headers.rst`` (hdiff).
#: How much earlier the table reaches (its CRDS USEAFTER) and the bits of ``ub21537aj`` were
#: not found; earlier dates keep AstroDrizzle's offline 0.
ACS_WFC_NEW_DQ_DATE = _dt.date(2016, 10, 16)
#: Observation date from which WFC3/UVIS data take 336: "These new flags are valid for UVIS
#: observations obtained after Nov 08 2012, when the dark calibration program began using
#: post-flash" (DrizzlePac Handbook §6.3), MDRIZTAB ``2ck18260i_mdz.fits`` (WFC3 ISR 2018-15).
WFC3_UVIS_NEW_DQ_DATE = _dt.date(2012, 11, 8)
#: The same boundary to the second, UTC, as STScI's own code draws it: drizzlepac 3.11.0
#: ``haputils/config_utils.py`` (``HapConfig._determine_conditions``) switches its WFC3/UVIS
#: drizzle parameters from the pre-2012 to the post-2012 set at
#: ``Time("2012-11-08T02:59:15")`` with ``mjdutc >= thresh_time``.
WFC3_UVIS_NEW_DQ_TIME = _dt.datetime(2012, 11, 8, 2, 59, 15, tzinfo=_dt.UTC)

#: Nominal (``IDCSCALE``) pixel scales, arcsec, the scale of the pipeline's drizzled
#: products ("the pipeline drizzles both the intermediate images and the final image onto
#: an output frame with pixels that are the same size as the input pixels", Handbook
#: §6.3).  Values as in :func:`ditherlab.simulate.detector_model` (ACS IHB §3, WFC3 IHB
#: §6/§7, WFPC2 IHB: WF chips).
_NATIVE_SCALE = {
    ("ACS", "WFC"): 0.05,
    ("ACS", "HRC"): 0.025,
    ("ACS", "SBC"): 0.025,
    ("WFC3", "UVIS"): 0.0396,
    ("WFC3", "IR"): 0.1283,
    ("WFPC2", "WFPC2"): 0.0996,
}

_COMBINE_TYPES = ("minmed", "iminmed", "median", "imedian", "mean", "imean")
_KERNELS = ("square", "point", "turbo", "gaussian", "lanczos3", "tophat")
_NOISE = ("astrodrizzle", "poisson")


def native_scale(instrument: str, detector: str) -> float:
    """The nominal pixel scale (arcsec) of an HST camera, e.g. 0.05 for ACS/WFC.

    Examples
    --------
    >>> native_scale("ACS", "WFC")
    0.05
    """
    key = (str(instrument).upper(), str(detector).upper())
    if key[0] == "WFPC2":
        key = ("WFPC2", "WFPC2")
    if key not in _NATIVE_SCALE:
        raise DitherlabValueError(
            f"instrument/detector={key[0]}/{key[1]} is not one of "
            f"{sorted('/'.join(k) for k in _NATIVE_SCALE)}"
        )
    return _NATIVE_SCALE[key]


def _pair(name: str, value: Any) -> tuple[float, float]:
    """``"3.5 3.0"`` (AstroDrizzle's string form), ``(3.5, 3.0)`` or one number."""
    if isinstance(value, str):
        parts = value.replace(",", " ").split()
    elif isinstance(value, int | float):
        parts = [value, value]
    else:
        try:
            parts = list(value)
        except TypeError:
            raise DitherlabTypeError(f"{name}={value!r} must be two numbers") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise DitherlabValueError(f"{name}={value!r} must be two numbers, e.g. '3.5 3.0'")
    try:
        out = tuple(as_float(name, float(p), minimum=0.0) for p in parts)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, DitherlabValueError):
            raise
        raise DitherlabValueError(f"{name}={value!r} must be two numbers") from None
    return out  # type: ignore[return-value]


def _optional_float(name: str, value: Any, **bounds: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().upper() in ("", "INDEF", "NONE")):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise DitherlabValueError(f"{name}={value!r} must be a number or None") from None
    return as_float(name, value, **bounds)


def _wt_scl(name: str, value: Any) -> str | float:
    if isinstance(value, str) and value.strip().lower() in ("exptime", "expsq"):
        return value.strip().lower()
    try:
        return as_float(name, float(value), minimum=0.0, min_inclusive=False)
    except (TypeError, ValueError):
        raise DitherlabValueError(
            f"{name}={value!r} must be 'exptime', 'expsq' or a positive number"
        ) from None


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("yes", "true", "y", "t", "1"):
            return True
        if v in ("no", "false", "n", "f", "0"):
            return False
    if isinstance(value, bool | int) and value in (0, 1):
        return bool(value)
    raise DitherlabValueError(f"{name}={value!r} must be True or False")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Every AstroDrizzle parameter the pipeline uses, with AstroDrizzle's offline defaults.

    Names, meanings and defaults follow ``drizzlepac/pars/astrodrizzle.cfgspc``; strings
    in AstroDrizzle's forms are accepted and normalised (``driz_cr_snr="3.5 3.0"`` →
    ``(3.5, 3.0)``, ``final_fillval="INDEF"`` → None, bits ``"16,64,256"`` → 336).  The
    few additions are marked *ditherlab*.

    Parameters
    ----------
    crbit : int
        DQ bit given to cosmic rays in the copies of the DQ (:attr:`update_dq`).  4096.
    resetbits : int, str or None
        DQ bits cleared in the working copy of every input DQ before any step (previous
        CR flags).  ``"4096"``.
    context : bool
        Keep the context image.
    num_cores : int or None
        Workers for the drizzle kernels and the ``poly5`` blot (None: the core's choice,
        up to 2).
    clean : bool
        Drop the single drizzles and the median from the products (AstroDrizzle: delete
        the intermediate files).  False.
    update_dq : bool
        *ditherlab*: return copies of the input DQ arrays with ``crbit`` set on the
        cosmic rays (AstroDrizzle edits its inputs; ours are never changed).  False.
    gain, rdnoise, exptime : float or None
        Override the header's gain (e⁻/DN: converts files in DN, ``BUNIT = COUNTS``, to
        electrons; data in electrons need none), read noise (e⁻) and exposure time (s).
    static, static_sig
        Static mask of over-subtracted pixels: value < mode − static_sig·rms.  True, 4.0.
    skysub, skymethod, skystat, skywidth, skylower, skyupper, skyclip, skylsigma, skyusigma
        Sky: method ``localmin`` | ``globalmin`` | ``match`` | ``globalmin+match``,
        statistic ``median`` | ``mode`` | ``mean``, histogram bin 0.1σ, no hard limits,
        5 clipping updates at −4σ/+4σ.
    use_static, sky_bits
        Exclude static-mask pixels / DQ pixels (``sky_bits`` are good) from the sky.
        True, 0.
    skyfile : str
        File of user sky values, one line per input ``name sky_chip1 [sky_chip2 ...]``; a
        comment line ``# applied = yes`` says they were already subtracted from the data.
    skyuser : str
        SCI header keyword holding a sky the user already subtracted: recorded as
        MDRIZSKY and used for cosmic-ray detection, not subtracted when drizzling.
    driz_separate, driz_sep_kernel, driz_sep_wt_scl, driz_sep_pixfrac, driz_sep_fillval,
    driz_sep_bits, driz_sep_scale, driz_sep_rot
        Single drizzles: ``turbo``, ``exptime``, 1.0, None, 0, native scale (arcsec),
        the first chip's orientation (None) or a position angle of +y (deg E of N).
    median, median_newmasks, combine_maskpt, combine_type, combine_nsigma, combine_nlow,
    combine_nhigh, combine_lthresh, combine_hthresh, combine_grow
        Median: new masks where a single's weight < 0.3 × its mean; ``minmed``;
        ``(4, 3)``; 0; 0; None; None; 1.
    combine_minweight : float
        *ditherlab*: a single's pixel whose weight is below this fraction of the
        single's mean weight (0.7) is left out of the median, on top of
        ``combine_maskpt``, where at least 3 other singles pass the cut (so 2- and
        3-exposure stacks keep AstroDrizzle's masks; ``median.combine_masks``).
        A pixel that a masked input pixel left partly empty holds only its neighbours'
        light; at a star's peak that is far too little, ``minmed`` takes it as the
        minimum, and the star's peak in the *other* exposures is flagged as a cosmic ray.
        ``0`` gives AstroDrizzle's masks.  See ``driz_cr_peak``.
    blot, blot_interp, blot_sinscl, blot_addsky, blot_skyval
        Blot: ``poly5``, 1.0, add the chip's sky back (True), else add ``blot_skyval``.
    driz_cr, driz_cr_corr, driz_cr_snr, driz_cr_grow, driz_cr_ctegrow, driz_cr_scale
        Cosmic-ray test: ``(3.5, 3.0)``, 1, 0, ``(1.2, 0.7)``; ``driz_cr_corr`` keeps
        CR-cleaned copies of the inputs.
    driz_cr_noise : {"astrodrizzle", "poisson"}
        *ditherlab*: the noise of the test.  ``"astrodrizzle"`` (default) is drizzlepac's
        ``sqrt(|B + sky| + RN²)``: the blotted median B already holds the sky, so the sky
        counts twice and the thresholds sit ~√2 higher on a sky-dominated background, as
        in every AstroDrizzle product.  ``"poisson"`` counts it once, ``sqrt(|B| + RN²)``
        (plus any sky the user removed beforehand), the Poisson variance of the pixel
        alone, without the blotted median's own noise.  On the 4 × 500 s ACS/WFC test
        stack (sky 62.5 e⁻) "astrodrizzle" finds 98.4 % of the cosmic-ray pixels above
        5σ and flags 0.001 % of clean pixels, "poisson" 98.9 % and 0.033 % (~30× the
        false flags); neither flags a star core (docs/pipeline.md).
    driz_cr_peak : float
        *ditherlab*: at each significant local maximum of the blotted median both tests
        allow ``driz_cr_peak × D`` more (``crdetect.peak_allowance``), so the
        undersampled peaks of stars are not taken for cosmic rays.  ``0`` is
        AstroDrizzle's test exactly.  With the defaults of both ditherlab additions
        (0.5 and ``combine_minweight=0.7``) the star-core pixels flagged on four full
        ACS/WFC frames fall from 164 (AstroDrizzle: 156) to 5 of 38,155, with the
        recall of the cosmic-ray pixels above 5σ within 0.02 % (docs/pipeline.md,
        "Star cores").  ``driz_cr_peak=0, combine_minweight=0`` reproduce AstroDrizzle.
    driz_combine, final_wht_type, final_kernel, final_wt_scl, final_pixfrac,
    final_fillval, final_bits, final_units
        Final drizzle: ``EXP``, ``square``, ``exptime``, 1.0, None (INDEF: empty pixels
        are NaN with zero weight), 0, ``cps``.
    final_scale, final_rot, final_outnx, final_outny, final_ra, final_dec
        Output grid (arcsec per pixel, deg, pixels, deg): by default the native scale in
        the first chip's orientation, just covering all inputs.
    final_refimage : str or WCS
        A FITS file (with a celestial WCS and its size) or an astropy WCS with
        ``pixel_shape``: use its grid for the final drizzle.

    Examples
    --------
    >>> c = PipelineConfig(final_bits="16,64,256", driz_cr_snr="4 3")
    >>> c.final_bits, c.driz_cr_snr, c.combine_type
    (336, (4.0, 3.0), 'minmed')
    >>> c.replace(final_pixfrac=0.8).final_pixfrac
    0.8
    """

    crbit: int = 4096
    resetbits: Any = 4096
    context: bool = True
    num_cores: int | None = None
    clean: bool = False
    update_dq: bool = False
    gain: float | None = None
    rdnoise: float | None = None
    exptime: float | None = None
    # step 1: static mask
    static: bool = True
    static_sig: float = 4.0
    # step 2: sky
    skysub: bool = True
    skymethod: str = "localmin"
    skystat: str = "median"
    skywidth: float = 0.1
    skylower: float | None = None
    skyupper: float | None = None
    skyclip: int = 5
    skylsigma: float = 4.0
    skyusigma: float = 4.0
    use_static: bool = True
    sky_bits: Any = 0
    skyfile: str = ""
    skyuser: str = ""
    # step 3: separate drizzle
    driz_separate: bool = True
    driz_sep_kernel: str = "turbo"
    driz_sep_wt_scl: Any = "exptime"
    driz_sep_pixfrac: float = 1.0
    driz_sep_fillval: float | None = None
    driz_sep_bits: Any = 0
    driz_sep_scale: float | None = None
    driz_sep_rot: float | None = None
    # step 4: median
    median: bool = True
    median_newmasks: bool = True
    combine_maskpt: float = 0.3
    combine_minweight: float = 0.7
    combine_type: str = "minmed"
    combine_nsigma: Any = (4.0, 3.0)
    combine_nlow: int = 0
    combine_nhigh: int = 0
    combine_lthresh: float | None = None
    combine_hthresh: float | None = None
    combine_grow: int = 1
    # step 5: blot
    blot: bool = True
    blot_interp: str = "poly5"
    blot_sinscl: float = 1.0
    blot_addsky: bool = True
    blot_skyval: float = 0.0
    # step 6: cosmic rays
    driz_cr: bool = True
    driz_cr_corr: bool = False
    driz_cr_snr: Any = (3.5, 3.0)
    driz_cr_grow: int = 1
    driz_cr_ctegrow: int = 0
    driz_cr_scale: Any = (1.2, 0.7)
    driz_cr_noise: str = "astrodrizzle"
    driz_cr_peak: float = 0.5
    # step 7: final drizzle
    driz_combine: bool = True
    final_wht_type: str = "EXP"
    final_kernel: str = "square"
    final_wt_scl: Any = "exptime"
    final_pixfrac: float = 1.0
    final_fillval: float | None = None
    final_bits: Any = 0
    final_units: str = "cps"
    final_scale: float | None = None
    final_rot: float | None = None
    final_outnx: int | None = None
    final_outny: int | None = None
    final_ra: float | None = None
    final_dec: float | None = None
    final_refimage: Any = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _normalise(f.name, getattr(self, f.name)))
        if (self.final_ra is None) != (self.final_dec is None):
            raise DitherlabValueError(
                f"final_ra={self.final_ra!r} and final_dec={self.final_dec!r}: give both or neither"
            )
        if (self.final_outnx is None) != (self.final_outny is None):
            raise DitherlabValueError(
                f"final_outnx={self.final_outnx!r} and final_outny={self.final_outny!r}: "
                "give both or neither"
            )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: PipelineConfig | None = None):
        """A config from ``{name: value}`` (strings allowed), unknown names refused.

        Raises
        ------
        DitherlabValueError
            For an unknown parameter name (with the closest known names) or a bad value.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise DitherlabValueError(f"unknown parameter name {key!r}{hint}")
        base = cls() if base is None else base
        return dataclasses.replace(base, **dict(values))

    def replace(self, **changes: Any) -> PipelineConfig:
        """A copy with some parameters changed (unknown names are refused)."""
        return type(self).from_mapping(changes, base=self)

    @classmethod
    def for_instrument(
        cls, instrument: str, detector: str, date: Any = None, **changes: Any
    ) -> PipelineConfig:
        """The parameters the HST pipeline's MDRIZTAB sets for a camera and date.

        Parameters
        ----------
        instrument, detector : str
            ``INSTRUME`` and ``DETECTOR`` (``"ACS"``, ``"WFC"``; ``"WFC3"``, ``"UVIS"`` ...).
        date : str, datetime.date, datetime.datetime, astropy Time or float (MJD), optional
            Observation date (default: now, i.e. the current tables).  A date with a time
            of day (ISO text with a time, a datetime — naive ones are UTC —, a Time or an
            MJD) is compared with the boundaries to the second; a calendar date alone is
            compared by day, the boundary day counting as the new side.
        **changes
            Further parameters to change.

        Notes
        -----
        * ``driz_sep_bits = final_bits = 336`` (16 hot + 64 warm + 256 full-well
          saturated treated as good; DrizzlePac Handbook §6.3):

          - WFC3/UVIS observed from 2012-11-08T02:59:15 UTC (:data:`WFC3_UVIS_NEW_DQ_TIME`,
            the handbook's "after Nov 08 2012" as drizzlepac's code dates it);
          - ACS/WFC observed from 2016-10-16 (:data:`ACS_WFC_NEW_DQ_DATE`): the earliest
            observation known to carry the June-2017 table; "June 2017" is the table's
            delivery, not an observation-date boundary (see the constant).
        * Before those dates, and for WFC3/IR, ACS/HRC, ACS/SBC and WFPC2, the bits are
          **not known** here (the older tables' rows were not found) and the result is
          AstroDrizzle's offline 0 — every flagged pixel bad, "This assumes that all
          pixels flagged in the DQ array are 'bad'" (Handbook §6.3) — a placeholder, not
          the old tables' value.  docs/pipeline.md lists what was searched.
        * MDRIZTAB rows are chosen by filter and by number of images
          (drizzlepac ``mdzhandler.getMdriztabParameters``); 336 is the several-exposure
          row.  The one-exposure rows are not modelled.
        * ``final_scale = driz_sep_scale =`` the native scale (:func:`native_scale`) and
          ``final_pixfrac = driz_sep_pixfrac = 1.0``: "the pipeline drizzles both the
          intermediate images and the final image onto an output frame with pixels that
          are the same size as the input pixels" (Handbook §6.3), with AstroDrizzle's
          pixfrac default 1.0.

        Examples
        --------
        >>> PipelineConfig.for_instrument("ACS", "WFC", "2020-01-01").final_bits
        336
        >>> PipelineConfig.for_instrument("ACS", "WFC", "2016-01-01").final_bits
        0
        >>> PipelineConfig.for_instrument("WFC3", "UVIS", "2012-11-08").driz_sep_bits
        336
        >>> PipelineConfig.for_instrument("WFC3", "UVIS", "2012-11-08T02:59:14").final_bits
        0
        """
        inst, det = str(instrument).upper(), str(detector).upper()
        scale = native_scale(inst, det)
        bits = _mdriztab_bits(inst, det, *_as_epoch(date))
        preset = {
            "driz_sep_bits": bits,
            "final_bits": bits,
            "driz_sep_scale": scale,
            "final_scale": scale,
            "driz_sep_pixfrac": 1.0,
            "final_pixfrac": 1.0,
        }
        preset.update(changes)
        return cls.from_mapping(preset)

    def as_header_cards(self) -> list[tuple[str, Any]]:
        """``(NAME, value)`` pairs for a FITS header (None → ``"INDEF"``, pairs as text)."""
        cards = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None:
                v = "INDEF"
            elif isinstance(v, tuple):
                v = " ".join(f"{x:g}" for x in v)
            elif not isinstance(v, bool | int | float | str):
                v = type(v).__name__
            cards.append((f.name.upper(), v))
        return cards


_PAIRS = ("combine_nsigma", "driz_cr_snr", "driz_cr_scale")
_BITS = ("resetbits", "sky_bits", "driz_sep_bits", "final_bits")
_BOOLS = (
    "context", "clean", "update_dq", "static", "skysub", "use_static", "driz_separate",
    "median", "median_newmasks", "blot", "blot_addsky", "driz_cr", "driz_cr_corr",
    "driz_combine",
)  # fmt: skip
_CHOICES = {
    "skymethod": ("localmin", "globalmin", "match", "globalmin+match"),
    "skystat": ("median", "mode", "mean"),
    "driz_sep_kernel": _KERNELS,
    "final_kernel": _KERNELS,
    "combine_type": _COMBINE_TYPES,
    "blot_interp": ("nearest", "linear", "poly3", "poly5", "sinc", "lanczos3"),
    "driz_cr_noise": _NOISE,
    "final_units": ("cps", "counts"),
}
_NONNEG = ("driz_cr_peak",)
_POSITIVE = ("static_sig", "skywidth", "skylsigma", "skyusigma", "blot_sinscl")
_FRACTION = ("driz_sep_pixfrac", "final_pixfrac")
_OPT_POS = ("gain", "exptime", "driz_sep_scale", "final_scale")
_OPT = (
    "rdnoise", "skylower", "skyupper", "driz_sep_fillval", "driz_sep_rot", "combine_lthresh",
    "combine_hthresh", "final_fillval", "final_rot", "final_ra", "final_dec",
)  # fmt: skip
_INTS = {"skyclip": 0, "combine_nlow": 0, "combine_nhigh": 0, "combine_grow": 0,
         "driz_cr_grow": 1, "driz_cr_ctegrow": 0, "crbit": 1}  # fmt: skip


def _normalise(name: str, value: Any) -> Any:
    """Validate one parameter and return it in its canonical form."""
    if name in _PAIRS:
        return _pair(name, value)
    if name in _BITS:
        return interpret_bits(value, name)
    if name in _BOOLS:
        return _bool(name, value)
    if name in _CHOICES:
        v = value.lower() if isinstance(value, str) else value
        return as_choice(name, v, _CHOICES[name])
    if name == "final_wht_type":
        v = value.upper() if isinstance(value, str) else value
        return as_choice(name, v, ("EXP", "ERR", "IVM"))
    if name in ("driz_sep_wt_scl", "final_wt_scl"):
        return _wt_scl(name, value)
    if name in _NONNEG:
        return as_float(name, _num(name, value), minimum=0.0)
    if name in _POSITIVE:
        return as_float(name, _num(name, value), minimum=0.0, min_inclusive=False)
    if name in _FRACTION:
        return as_float(name, _num(name, value), minimum=0.0, min_inclusive=False)
    if name in ("combine_maskpt", "combine_minweight"):
        return as_float(name, _num(name, value), minimum=0.0, maximum=1.0)
    if name in _OPT_POS:
        return _optional_float(name, value, minimum=0.0, min_inclusive=False)
    if name in _OPT or name == "blot_skyval":
        v = _optional_float(name, value)
        return 0.0 if (name == "blot_skyval" and v is None) else v
    if name in _INTS:
        return as_int(name, _num(name, value, int), minimum=_INTS[name])
    if name in ("num_cores", "final_outnx", "final_outny"):
        if value is None or (isinstance(value, str) and value.upper() in ("", "INDEF", "NONE")):
            return None
        return as_int(name, _num(name, value, int), minimum=1)
    if name in ("skyfile", "skyuser"):
        if not isinstance(value, str):
            raise DitherlabTypeError(f"{name}={value!r} must be a string")
        return value.strip()
    if name == "final_refimage":
        if isinstance(value, str):
            return value.strip()
        if not hasattr(value, "world_to_pixel_values"):
            raise DitherlabTypeError(f"final_refimage={value!r} must be a file name or a WCS")
        return value
    raise AssertionError(name)  # pragma: no cover - every field is listed above


def _num(name: str, value: Any, kind=float) -> Any:
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            raise DitherlabValueError(f"{name}={value!r} must be a number") from None
    return value


def _mdriztab_bits(inst: str, det: str, day: _dt.date, instant: _dt.datetime | None) -> int:
    """``driz_sep_bits``/``final_bits`` of the MDRIZTAB for a camera and epoch (0: unknown)."""
    if (inst, det) == ("WFC3", "UVIS"):
        new = day >= WFC3_UVIS_NEW_DQ_DATE if instant is None else instant >= WFC3_UVIS_NEW_DQ_TIME
        return MDRIZTAB_NEW_BITS if new else 0
    if (inst, det) == ("ACS", "WFC"):
        return MDRIZTAB_NEW_BITS if day >= ACS_WFC_NEW_DQ_DATE else 0
    return 0


def _as_epoch(date: Any) -> tuple[_dt.date, _dt.datetime | None]:
    """(UTC calendar date, UTC instant) of an observation date.

    From None (now), ISO text, a date, a datetime (naive: UTC), an astropy Time or an MJD;
    the instant is None for a calendar date alone.
    """
    utc = _dt.UTC
    bad = DitherlabValueError(f"date={date!r} must be an ISO date, a datetime, a Time or an MJD")
    try:
        if isinstance(date, str):
            text = date.strip()
            try:  # a calendar date alone (also "20121108") is compared by day
                date = _dt.date.fromisoformat(text)
            except ValueError:
                date = _dt.datetime.fromisoformat(text)
        if date is None:
            instant = _dt.datetime.now(utc)
        elif isinstance(date, _dt.datetime):
            instant = date.replace(tzinfo=utc) if date.tzinfo is None else date.astimezone(utc)
        elif isinstance(date, _dt.date):
            return date, None
        elif isinstance(date, numbers.Real) and not isinstance(date, bool) and math.isfinite(date):
            instant = _dt.datetime(1858, 11, 17, tzinfo=utc) + _dt.timedelta(days=float(date))
        elif hasattr(date, "utc") and hasattr(date, "to_datetime"):
            instant = date.utc.to_datetime().replace(tzinfo=utc)
        else:
            raise bad
    except (ValueError, TypeError, AttributeError, OverflowError):
        raise bad from None
    return instant.date(), instant
