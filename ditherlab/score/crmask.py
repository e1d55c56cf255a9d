"""Cosmic-ray masks scored against the simulator's truth.

A pipeline (ditherlab's :func:`~ditherlab.drizzle.run_pipeline`, or AstroDrizzle's
``driz_cr`` step) flags the pixels of each input it believes were hit by a cosmic ray.
The simulator knows the charge each cosmic ray deposited (``ChipTruth.cr_charge``) and
the noiseless image, so a mask can be scored on what matters to an observer:

* **recall** of the CR pixels whose charge stands above ``k`` σ of the local noise
  (σ² = noiseless electrons + dark electrons + read noise², i.e. Poisson plus read noise
  of the pixel without the cosmic ray).  Faint CR pixels below the noise cannot be
  found by any detector and hardly matter; issue 12 asks ≥ 98 % above 5σ;
* **false flags**: flagged pixels among the defect-free pixels no cosmic ray touched;
* **star-core flags**: flagged pixels among those whose source signal (noiseless minus
  sky) exceeds ``core_sigma`` σ of the *background* (σ² = sky + dark electrons + read
  noise², the definition of the AstroDrizzle measurement in the project's reference
  notes §7) — the failure the DrizzlePac Handbook §6.3 ("Cosmic Ray Rejection") names:
  with poor astrometry "pixels in stars may be incorrectly marked as cosmic rays" (issue
  12 asks ≤ 0.1 %).  Pixels near a saturated pixel (within 3 pixels, rows plus columns,
  of a pixel with the saturation DQ bits) in any of the exposures are left out: a
  saturated star's bleeding charge is not its light and differs between exposures;
* **CR charge left**: the charge of the significant CR pixels the mask missed, as a
  fraction of their total (what leaks into the final drizzle unless another frame
  covers it).

All functions are pure: arrays in, numbers out.  :class:`CRMaskScore` instances add up
(``sum(scores, CRMaskScore.empty())``) so a stack is scored chip by chip.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.ndimage import binary_dilation

from ditherlab._validation import as_float
from ditherlab.errors import DitherlabValueError

__all__ = [
    "CRMaskScore",
    "MaskAgreement",
    "mask_agreement",
    "pixel_sigma",
    "score_cr_mask",
    "score_exposures",
]


def pixel_sigma(noiseless: Any, read_noise: float, dark: Any = 0.0) -> np.ndarray:
    """Noise (e⁻, 1σ) of each pixel without its cosmic ray.

    Parameters
    ----------
    noiseless : array_like
        Expected electrons from sources and sky.
    read_noise : float
        Read noise, e⁻ RMS.
    dark : float or array_like, optional
        Dark electrons in the exposure (rate × exposure time).

    Returns
    -------
    ndarray
        ``sqrt(max(noiseless, 0) + max(dark, 0) + read_noise²)``.

    Examples
    --------
    >>> float(pixel_sigma(np.array(16.0), 3.0))
    5.0
    """
    rn = as_float("read_noise", read_noise, minimum=0.0)
    n = np.clip(np.asarray(noiseless, float), 0.0, None)
    d = np.clip(np.asarray(dark, float), 0.0, None)
    return np.sqrt(n + d + rn * rn)


@dataclasses.dataclass(frozen=True)
class CRMaskScore:
    """Counts behind the CR-mask figures of one or more chips (add them to combine).

    Attributes
    ----------
    n_cr, found_cr : int
        Pixels with any cosmic-ray charge, and how many of them the mask flags.
    n_significant, found_significant : int
        CR pixels whose charge exceeds ``k`` σ, and how many are flagged.
    n_clean, false_flags : int
        Defect-free pixels without CR charge, and how many are flagged.
    n_core, core_flags : int
        Defect-free pixels whose source signal exceeds ``core_sigma`` σ (no CR there), and
        how many are flagged.
    charge_significant, charge_left : float
        Total CR charge (e⁻) in the significant CR pixels, and the part in those not
        flagged.
    """

    n_cr: int = 0
    found_cr: int = 0
    n_significant: int = 0
    found_significant: int = 0
    n_clean: int = 0
    false_flags: int = 0
    n_core: int = 0
    core_flags: int = 0
    charge_significant: float = 0.0
    charge_left: float = 0.0

    @classmethod
    def empty(cls) -> CRMaskScore:
        """The zero score (start of a sum)."""
        return cls()

    def __add__(self, other: CRMaskScore) -> CRMaskScore:
        if not isinstance(other, CRMaskScore):
            return NotImplemented
        return CRMaskScore(
            **{
                f.name: getattr(self, f.name) + getattr(other, f.name)
                for f in dataclasses.fields(self)
            }
        )

    @staticmethod
    def _ratio(a: float, b: float) -> float:
        return float(a) / float(b) if b else float("nan")

    @property
    def recall(self) -> float:
        """Fraction of all CR pixels flagged (NaN if none)."""
        return self._ratio(self.found_cr, self.n_cr)

    @property
    def recall_significant(self) -> float:
        """Fraction of the CR pixels above ``k`` σ flagged (NaN if none)."""
        return self._ratio(self.found_significant, self.n_significant)

    @property
    def false_flag_fraction(self) -> float:
        """Fraction of defect-free, CR-free pixels flagged."""
        return self._ratio(self.false_flags, self.n_clean)

    @property
    def core_flag_fraction(self) -> float:
        """Fraction of source-core pixels (above ``core_sigma`` σ) flagged."""
        return self._ratio(self.core_flags, self.n_core)

    @property
    def charge_left_fraction(self) -> float:
        """Fraction of the significant CR charge in pixels the mask missed."""
        return self._ratio(self.charge_left, self.charge_significant)

    def to_dict(self) -> dict[str, float]:
        """Counts and fractions as a flat dict (JSON-friendly)."""
        out: dict[str, float] = dataclasses.asdict(self)
        for name in (
            "recall",
            "recall_significant",
            "false_flag_fraction",
            "core_flag_fraction",
            "charge_left_fraction",
        ):
            out[name] = getattr(self, name)
        return out


def _same_shape(**arrays: np.ndarray) -> tuple[int, ...]:
    shapes = {k: np.shape(v) for k, v in arrays.items() if np.ndim(v) > 0}
    if len(set(shapes.values())) > 1:
        txt = ", ".join(f"{k} {s}" for k, s in shapes.items())
        raise DitherlabValueError(f"arrays must have one shape; got {txt}")
    (shape,) = set(shapes.values())
    return shape


#: How far (pixels) from a saturated pixel a pixel must be to count as a star core.
SATURATION_MARGIN = 3


def _saturated_bits(exposure: Any) -> int:
    """DQ bits of full-well and A/D saturation of the exposure's camera.

    256 | 2048 on ACS and WFC3 (hstcal ``acsdq.h``/``wf3dq.h``), 8 on WFPC2.
    """
    from ditherlab.simulate.detector import detector_model

    dq = detector_model(exposure.instrument, exposure.detector).dq
    return int(dq["saturated"]) | int(dq["atod_saturated"])


def score_cr_mask(
    found: Any,
    cr_charge: Any,
    noiseless: Any,
    read_noise: float,
    *,
    sky: float = 0.0,
    dark: Any = 0.0,
    defects: Any = None,
    k: float = 5.0,
    core_sigma: float = 100.0,
    region: Any = None,
    saturated: Any = None,
) -> CRMaskScore:
    """Score one chip's cosmic-ray mask against the truth.

    Parameters
    ----------
    found : array_like of bool
        The mask to score, True = flagged as a cosmic ray.
    cr_charge : array_like
        True CR charge per pixel (e⁻; ``ChipTruth.cr_charge``).
    noiseless : array_like
        Expected electrons from sources and sky (``ChipTruth.noiseless``).
    read_noise : float
        Read noise, e⁻.
    sky : float, optional
        Sky electrons per pixel in ``noiseless`` (subtracted to get the source signal
        that defines star cores).
    dark : float or array_like, optional
        Dark electrons (adds to the noise).
    defects : array_like, optional
        Non-zero where the pixel has a detector defect (``ChipTruth.defects``); those
        pixels are left out of the false-flag and star-core counts.
    k : float, optional
        Significance of the CR pixels counted in the recall (default 5σ, issue 12).
    core_sigma : float, optional
        Source signal, in σ of the background (sky, dark and read noise), above which a
        pixel is a star core (default 100σ, as in the AstroDrizzle measurement of
        reference §7).
    region : array_like of bool, optional
        Pixels to score (default all): e.g. the pixels that land in the part of the
        output every exposure covers.  Every count is taken over ``region`` only.
    saturated : array_like of bool, optional
        Saturated pixels of this exposure (DQ 256 or 2048).  Pixels within
        ``SATURATION_MARGIN`` (3) pixels of one (rows plus columns: a diamond) are not
        star cores: a saturated star's bleeding charge is not its light and differs from
        exposure to exposure, and with ``bits`` 336 the saturated pixels themselves are
        used as good.

    Returns
    -------
    CRMaskScore

    Examples
    --------
    >>> cr = np.zeros((4, 4)); cr[1, 1] = 500.0; cr[2, 2] = 1.0
    >>> s = score_cr_mask(cr > 100, cr, np.full((4, 4), 50.0), 4.0)
    >>> s.n_cr, s.n_significant, s.recall_significant, s.false_flags
    (2, 1, 1.0, 0)
    >>> score_cr_mask(cr > 100, cr, np.full((4, 4), 50.0), 4.0, region=cr < 100).n_significant
    0
    """
    k = as_float("k", k, minimum=0.0)
    core_sigma = as_float("core_sigma", core_sigma, minimum=0.0)
    sky = as_float("sky", sky)
    f = np.asarray(found, bool)
    q = np.asarray(cr_charge, float)
    n = np.asarray(noiseless, float)
    d = np.zeros(f.shape, bool) if defects is None else np.asarray(defects) != 0
    r = np.ones(f.shape, bool) if region is None else np.asarray(region, bool)
    _same_shape(found=f, cr_charge=q, noiseless=n, defects=d, dark=np.asarray(dark), region=r)
    sigma = pixel_sigma(n, read_noise, dark)
    hit = (q > 0) & r
    sig = (q > k * sigma) & r
    clean = ~(q > 0) & ~d & r
    core = clean & ((n - sky) > core_sigma * pixel_sigma(sky, read_noise, dark))
    if saturated is not None:
        sat = np.asarray(saturated, bool)
        _same_shape(found=f, saturated=sat)
        core &= ~binary_dilation(sat, iterations=SATURATION_MARGIN)
    missed = sig & ~f
    return CRMaskScore(
        n_cr=int(hit.sum()),
        found_cr=int((hit & f).sum()),
        n_significant=int(sig.sum()),
        found_significant=int((sig & f).sum()),
        n_clean=int(clean.sum()),
        false_flags=int((clean & f).sum()),
        n_core=int(core.sum()),
        core_flags=int((core & f).sum()),
        charge_significant=float(q[sig].sum()),
        charge_left=float(q[missed].sum()),
    )


def _saturated_on_sky(exposures: Sequence[Any]) -> np.ndarray:
    """(RA, Dec) of every saturated pixel of every exposure, shape (n, 2), degrees.

    A star that saturates in one exposure spoils the median (its saturated pixels count as
    good with ``bits`` 336) for the exposures where it does not, so its pixels are not
    star cores in any of them.
    """
    radec = [np.empty((0, 2))]
    for exp in exposures:
        bits = _saturated_bits(exp)
        for chip in exp.chips:
            y, x = np.nonzero((np.asarray(chip.dq) & bits) != 0)
            if x.size and chip.wcs is not None:
                radec.append(np.asarray(chip.wcs.all_pix2world(np.c_[x, y], 0)))
    return np.concatenate(radec)


def _mark(chip: Any, radec: np.ndarray) -> np.ndarray:
    """Boolean image of ``chip`` with the pixels at the sky positions ``radec`` set.

    Through the chip's header WCS (``chip.wcs``): the positions the pipeline's median and
    blot work with.
    """
    out = np.zeros(np.shape(chip.dq), bool)
    if radec.size == 0 or chip.wcs is None:
        return out
    # the distortion-free part first: all_world2pix does not converge far off the chip
    # (~1800″ on ACS/WFC), and only positions near it matter
    lx, ly = np.asarray(chip.wcs.wcs_world2pix(radec, 0)).T
    ny, nx = out.shape
    pad = 0.25 * max(nx, ny)
    near = (lx > -pad) & (ly > -pad) & (lx < nx + pad) & (ly < ny + pad)
    if not near.any():
        return out
    x, y = np.rint(np.asarray(chip.wcs.all_world2pix(radec[near], 0))).astype(int).T
    ok = (x >= 0) & (y >= 0) & (x < nx) & (y < ny)
    out[y[ok], x[ok]] = True
    return out


def score_exposures(
    masks: Sequence[Sequence[Any]],
    exposures: Sequence[Any],
    *,
    k: float = 5.0,
    core_sigma: float = 100.0,
    regions: Sequence[Sequence[Any]] | None = None,
) -> CRMaskScore:
    """Score ``masks[i][j]`` (exposure i, chip j) against simulated exposures' truth.

    Parameters
    ----------
    masks : sequence of sequence of array_like of bool
        ``masks[i][j]``: the mask of chip ``j`` of exposure ``i``, True = cosmic ray.
    exposures : sequence of Exposure
        :class:`~ditherlab.simulate.Exposure` objects that carry their truth; the dark
        electrons are the truth's dark rate × exposure time.
    k, core_sigma : float, optional
        As in :func:`score_cr_mask`.
    regions : sequence of sequence of array_like of bool, optional
        ``regions[i][j]`` limits each chip's counts to those pixels, as the ``region`` of
        :func:`score_cr_mask`.

    Returns
    -------
    CRMaskScore
        The sum over every chip of every exposure.  Star cores leave out the pixels near
        a pixel saturated in *any* of the exposures (matched on the sky through the
        chips' WCS): where a star saturates in one exposure, the median of all of them
        is not its light.
    """
    if len(masks) != len(exposures):
        raise DitherlabValueError(
            f"masks has {len(masks)} exposures but exposures has {len(exposures)}"
        )
    if regions is not None and (len(regions) != len(exposures) or any(
            len(r) != len(e.chips) for r, e in zip(regions, exposures, strict=True))):
        raise DitherlabValueError(
            "regions must give one boolean array per chip of every exposure "
            f"({[len(e.chips) for e in exposures]} chips)"
        )
    total = CRMaskScore.empty()
    sat_sky = _saturated_on_sky(exposures)
    for i, (mi, exp) in enumerate(zip(masks, exposures, strict=True)):
        if exp.truth is None:
            raise DitherlabValueError(f"exposures[{i}] ({exp.rootname}) carries no truth")
        if len(mi) != len(exp.chips):
            raise DitherlabValueError(
                f"masks[{i}] has {len(mi)} chips but {exp.rootname} has {len(exp.chips)}"
            )
        ri = [None] * len(mi) if regions is None else regions[i]
        sat_bits = _saturated_bits(exp)  # this exposure's, and (sat_sky) every other's
        for m, chip, t, reg in zip(mi, exp.chips, exp.truth.chips, ri, strict=True):
            sky = exp.sky if chip.sky is None else chip.sky
            total = total + score_cr_mask(
                m,
                t.cr_charge,
                t.noiseless,
                exp.read_noise,
                sky=sky,
                dark=np.asarray(t.dark, float) * exp.exptime,
                defects=t.defects,
                k=k,
                core_sigma=core_sigma,
                region=reg,
                saturated=((np.asarray(chip.dq) & sat_bits) != 0)
                | _mark(chip, sat_sky),
            )
    return total


@dataclasses.dataclass(frozen=True)
class MaskAgreement:
    """How two boolean masks of the same pixels agree.

    Attributes
    ----------
    n_a, n_b : int
        Pixels flagged in each mask.
    n_both : int
        Pixels flagged in both.
    n_pixels : int
        Pixels compared.
    """

    n_a: int
    n_b: int
    n_both: int
    n_pixels: int

    @property
    def jaccard(self) -> float:
        """``|a ∧ b| / |a ∨ b|`` (1 when both are empty)."""
        union = self.n_a + self.n_b - self.n_both
        return self.n_both / union if union else 1.0

    @property
    def a_only(self) -> int:
        """Pixels flagged in ``a`` only."""
        return self.n_a - self.n_both

    @property
    def b_only(self) -> int:
        """Pixels flagged in ``b`` only."""
        return self.n_b - self.n_both

    @property
    def disagreement_fraction(self) -> float:
        """Fraction of all pixels where the masks differ."""
        return (self.a_only + self.b_only) / self.n_pixels if self.n_pixels else 0.0

    def __add__(self, other: MaskAgreement) -> MaskAgreement:
        if not isinstance(other, MaskAgreement):
            return NotImplemented
        return MaskAgreement(
            self.n_a + other.n_a,
            self.n_b + other.n_b,
            self.n_both + other.n_both,
            self.n_pixels + other.n_pixels,
        )


def mask_agreement(a: Any, b: Any) -> MaskAgreement:
    """Compare two boolean masks pixel by pixel.

    Examples
    --------
    >>> m = mask_agreement([True, True, False, False], [True, False, True, False])
    >>> m.n_both, m.jaccard, m.disagreement_fraction
    (1, 0.3333333333333333, 0.5)
    """
    aa = np.asarray(a, bool)
    bb = np.asarray(b, bool)
    _same_shape(a=aa, b=bb)
    return MaskAgreement(int(aa.sum()), int(bb.sum()), int((aa & bb).sum()), int(aa.size))
