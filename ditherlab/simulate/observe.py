"""``observe``: turn a scene and a dither pattern into simulated exposures.

For each pattern step the telescope is pointed (POS TARG through the aperture's
distortion, plus an optional pointing error), the scene is rendered on every chip of the
camera (pixel-integrated through the local Jacobian of the distortion), and the detector
adds dark current, hot pixels, cosmic rays, Poisson and read noise and saturation.
Defects are fixed in detector coordinates for the whole call (one visit's worth of
exposures), while the sky moves under them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from astropy import units as u

from ditherlab._io import check_stem
from ditherlab._resources import check_memory
from ditherlab._validation import as_array, as_float, as_int, as_rng
from ditherlab.errors import DitherlabTypeError, DitherlabValueError
from ditherlab.planner.patterns import Pattern
from ditherlab.simulate import _kernels
from ditherlab.simulate._geometry import ChipMap, attitude, linear_part
from ditherlab.simulate.detector import (
    DetectorModel,
    atod_saturate,
    cosmic_rays,
    dark_rate,
    detector_model,
    make_defects,
    saturate,
)
from ditherlab.simulate.exposure import ChipExposure, ChipTruth, Exposure, Truth
from ditherlab.simulate.filters import check_filter, default_filter, pivot_wavelength
from ditherlab.simulate.psf import HSTPSF, PSF, ImagePSF, pixel_kernel
from ditherlab.simulate.scene import Scene, sersic_profile

__all__ = ["Pointing", "iter_observe", "observe", "pattern_postargs", "resolve_aperture"]

#: Seconds between exposure starts beyond the exposure time (readout + small slew).
_OVERHEAD_S = 150.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Pointing:
    """How the telescope is pointed, and how wrong it is.

    Parameters
    ----------
    ra, dec : float, optional
        Target (deg) placed at the prime aperture's reference point at POS TARG (0, 0);
        default the scene centre.
    pa_v3 : float
        Position angle of the V3 axis (deg east of north).
    jitter : float
        Exposure-to-exposure pointing error within a visit, mas RMS per axis (HST: 2–5).
    visit_jitter : float
        Additional error common to all exposures of a visit, mas RMS per axis (HST:
        10–15 between visits).
    large_error_rate : float
        Probability per exposure of a large error (failed guide-star re-acquisition).
    large_error : (float, float)
        Range of its size (arcsec; DrizzlePac handbook: 0.1–0.2″).
    large_roll : float
        Largest roll error (deg) that comes with it (handbook: up to 0.1°).
    errors : array_like (N, 2), optional
        Explicit extra POS TARG errors (arcsec) per exposure — to make "misaligned
        frames" on purpose.
    rolls : array_like (N,), optional
        Explicit roll errors (deg) per exposure.
    visits : sequence of int, optional
        Visit number of each exposure (default all 1).

    The WCS written to each exposure is the *commanded* pointing; the pixels are
    rendered at the true one, so pointing errors show up as misaligned frames.
    """

    ra: float | None = None
    dec: float | None = None
    pa_v3: float = 0.0
    jitter: float = 0.0
    visit_jitter: float = 0.0
    large_error_rate: float = 0.0
    large_error: tuple[float, float] = (0.1, 0.2)
    large_roll: float = 0.1
    errors: Any = None
    rolls: Any = None
    visits: Sequence[int] | None = None

    def __post_init__(self) -> None:
        if (self.ra is None) != (self.dec is None):
            raise DitherlabValueError(
                f"ra={self.ra!r}, dec={self.dec!r}: give both target coordinates or neither "
                "(neither: the scene centre)"
            )
        if self.ra is not None:
            as_float("ra", self.ra)
        if self.dec is not None:
            as_float("dec", self.dec, minimum=-90.0, maximum=90.0)
        try:
            lo, hi = (float(v) for v in self.large_error)
        except (TypeError, ValueError):
            raise DitherlabTypeError(
                f"large_error={self.large_error!r} must be a (smallest, largest) pair (arcsec)"
            ) from None
        if not (np.isfinite(lo) and np.isfinite(hi) and 0.0 <= lo <= hi):
            raise DitherlabValueError(
                f"large_error={self.large_error!r} must be (smallest, largest) arcsec with "
                "0 <= smallest <= largest"
            )
        as_float("pa_v3", self.pa_v3)
        as_float("jitter", self.jitter, minimum=0.0)
        as_float("visit_jitter", self.visit_jitter, minimum=0.0)
        as_float("large_error_rate", self.large_error_rate, minimum=0.0, maximum=1.0)
        as_float("large_roll", self.large_roll, minimum=0.0)

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pointing errors ``(offsets (n, 2) arcsec, rolls (n,) deg, visits (n,))``."""
        visits = np.ones(n, int) if self.visits is None else np.asarray(self.visits, int)
        if visits.shape != (n,):
            raise DitherlabValueError(f"visits has {visits.size} entries for {n} exposures")
        off = np.zeros((n, 2))
        roll = np.zeros(n)
        for v in np.unique(visits):
            off[visits == v] += rng.normal(0.0, self.visit_jitter / 1000.0, 2)
        off += rng.normal(0.0, self.jitter / 1000.0, (n, 2))
        big = rng.random(n) < self.large_error_rate
        size = rng.uniform(*self.large_error, n)
        ang = rng.uniform(0.0, 2 * np.pi, n)
        off[big] += (size * np.array([np.cos(ang), np.sin(ang)])).T[big]
        roll[big] += rng.uniform(-self.large_roll, self.large_roll, n)[big]
        if self.errors is not None:
            off += as_array("errors", self.errors, shape=(n, 2))
        if self.rolls is not None:
            roll += as_array("rolls", self.rolls, shape=(n,))
        return off, roll, visits


def resolve_aperture(aperture: Any) -> Any:
    """An aperture object from a name (via :func:`ditherlab.planner.get_aperture`) or as is."""
    if isinstance(aperture, str):
        from ditherlab.planner import get_aperture  # the geometry lives in the planner

        return get_aperture(aperture)
    for attr in ("sci_to_postarg", "postarg_to_sci", "idl_to_tel", "chips", "poly_x"):
        if not hasattr(aperture, attr):
            raise DitherlabTypeError(
                f"aperture={aperture!r} must be an aperture name or an Aperture (no {attr!r})"
            )
    return aperture


def _linear(ap: Any) -> np.ndarray:
    return linear_part(ap.poly_x, ap.poly_y)


def pattern_postargs(pattern: Pattern, aperture: Any) -> np.ndarray:
    """POS TARG offsets (arcsec, (N, 2)) of a pattern.

    A pixel-frame pattern is converted with the aperture's linear scale at its reference
    point (the ACS dither recipe ``Xpos = x·a11 + y·a10``...): a pixel step is exact at
    the reference and differs by the distortion elsewhere.
    """
    if not isinstance(pattern, Pattern):
        raise DitherlabTypeError(f"pattern={pattern!r} must be a ditherlab Pattern")
    if pattern.frame == "postarg":
        return np.array(pattern.offsets, float)
    return np.asarray(pattern.offsets, float) @ _linear(aperture).T


def _select_chips(ap: Any, chips: Sequence[int] | None) -> list[Any]:
    """The chip apertures of ``ap``'s camera that ``chips`` (CCDCHIP values) selects."""
    chip_aps = list(ap.chips)
    if chips is None:
        return chip_aps
    want = [as_int("chips", c) for c in np.atleast_1d(chips)]
    if not want:
        raise DitherlabValueError(
            f"chips={chips!r} selects no chip; give some of "
            f"{[int(c.chip) for c in chip_aps]} or None for all"
        )
    have = [int(c.chip) for c in chip_aps]
    for c in want:
        if c not in have:
            raise DitherlabValueError(f"chips={list(want)!r}: chip {c} not in {have}")
    return [c for c in chip_aps if int(c.chip) in want]


def _npix(cuts: Sequence[tuple[tuple[int, int], tuple[int, int]]]) -> int:
    return int(sum(sy * sx for _, (sy, sx) in cuts))


def _memory_estimate(scene: Any, chip_aps: Sequence[Any], cuts: Any, held: int) -> float:
    """Peak bytes of a simulation holding ``held`` exposures (see :mod:`.cost`).

    One held exposure is taken to be written before the next (``iter_observe``'s use).
    """
    from ditherlab.simulate.cost import memory_bytes, write_bytes

    full = [int(np.prod(c.shape)) for c in chip_aps]
    cut = [sy * sx for _, (sy, sx) in cuts]
    write = write_bytes(chip_aps, cut) if held == 1 else 0.0
    return memory_bytes(scene, full, cut, held, write)


def _subarrays(
    chips: Sequence[Any], subarray: Any
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    out = []
    for ap in chips:
        ny, nx = (int(v) for v in ap.shape)
        if subarray is None:
            out.append(((0, 0), (ny, nx)))
            continue
        spec = subarray.get(int(ap.chip)) if isinstance(subarray, Mapping) else subarray
        if spec is None:
            out.append(((0, 0), (ny, nx)))
            continue
        vals = as_array("subarray", spec, shape=(4,))
        x0, y0, sx, sy = (int(v) for v in vals)
        if not np.array_equal(vals, [x0, y0, sx, sy]):
            raise DitherlabValueError(f"subarray={spec!r} must be integers (x0, y0, nx, ny)")
        if sx < 1 or sy < 1 or x0 < 0 or y0 < 0 or x0 + sx > nx or y0 + sy > ny:
            raise DitherlabValueError(
                f"subarray={spec!r} (x0, y0, nx, ny) does not fit chip {ap.chip} of shape "
                f"(ny, nx)=({ny}, {nx})"
            )
        out.append(((x0, y0), (sy, sx)))
    return out


def _oversampling(fwhm_px: float) -> int:
    return int(np.clip(np.ceil(10.0 / max(fwhm_px, 1e-3)), 4, 16))


def _galaxy_oversampling(r_eff_px: float, stamp: int) -> int:
    """Odd sub-sampling of an extended source's convolution grid.

    Compact sources need a finer grid (5 below 8 px half-light radius), large ones are
    smooth (3); the grid never goes below 3 (the PSF would be point-sampled) and is
    coarsened towards 3 for very large stamps to bound the memory.  The source samples of
    the central pixels are averaged over 9 × 9 finer ones by
    :func:`~ditherlab.simulate._kernels.render_convolved`, which is what integrates cuspy
    cores: with it, peaks agree with a 31 × reference to < 0.3 % (r_eff ≥ 0.2 px, n ≤ 4),
    where a plain 9 × grid is still 1.5–2 % off.
    """
    os = 5 if r_eff_px < 8.0 else 3
    while os > 3 and stamp * os > 1600:
        os -= 2
    return os


def _near_half(scene: Scene, i: int, psf: PSF, scale_px: float) -> int:
    """Stamp half-size of an extended source convolved with the PSF's near part."""
    return int(np.ceil((8.0 * scene.r_eff[i] + psf.radius) / scale_px)) + 1


def _psf_profile(psf: PSF, jac: np.ndarray, idcscale: float) -> Callable:
    """The PSF as a function of sky offsets at a source with local Jacobian ``jac``.

    Analytic PSFs are defined on the sky.  An :class:`ImagePSF` is a detector-frame
    image, so the sky offsets are mapped back to detector-pixel offsets through the
    inverse Jacobian (the image then neither turns with the roll nor flips with parity).
    """
    if not isinstance(psf, ImagePSF):
        return psf.profile
    inv = np.linalg.inv(jac)

    def profile(xi: np.ndarray, eta: np.ndarray) -> np.ndarray:
        dx = inv[0, 0] * xi + inv[0, 1] * eta
        dy = inv[1, 0] * xi + inv[1, 1] * eta
        return psf.pixel_profile(dx, dy, idcscale)

    return profile


def _render_chip(
    image: np.ndarray,
    origin: tuple[int, int],
    cmap: ChipMap,
    ra: np.ndarray,
    dec: np.ndarray,
    scene: Scene,
    psf: PSF,
    rate_to_e: float,
    idcscale: float,
    kernel: np.ndarray | None = None,
) -> None:
    """Add the expected electrons of every source into ``image`` (in place).

    Each source's stamp is the PSF's near part integrated over pixels (and convolved with
    the source for galaxies), then the detector ``kernel`` (charge diffusion / IPC), plus
    the PSF's far wing sampled once per pixel (see :func:`_source_stamp`).
    """
    if ra.size == 0:
        return
    x0, y0 = origin
    ny, nx = image.shape
    px, py = cmap.sky_to_pixel(ra, dec)
    # smallest arcsec-per-pixel along any direction (with margin for the field variation),
    # so that stamps hold the whole truncated profile on every chip
    scale_px = 0.9 * float(np.linalg.svd(cmap.jacobian(*cmap.ref), compute_uv=False).min())
    psf_half = int(np.ceil(psf.radius / scale_px)) + 1
    far_fraction = float(getattr(psf, "far_fraction", 0.0))
    far_half = int(np.ceil(psf.far_radius / scale_px)) + 1 if far_fraction > 0 else 0
    ext = scene.kind != "point"
    trunc = 8.0
    half_src = np.where(
        ext, np.ceil((trunc * scene.r_eff + psf.radius) / scale_px).astype(int) + 1, psf_half
    )
    half_src = np.maximum(half_src, far_half)
    wing = None
    if far_fraction > 0:
        # the wing (beyond psf.radius, out to psf.far_radius) is smooth on the pixel scale:
        # one stamp per chip, at the chip's reference Jacobian and centred on a pixel,
        # serves every source (its flux is exact; its shape is off by the pixel-area
        # change across the chip, a few per cent of a few per cent of the light)
        wing = _kernels.render_far(psf.far_profile, cmap.jacobian(*cmap.ref), (0.0, 0.0),
                                   far_half)
        wing /= wing.sum()
    finite = np.isfinite(px) & np.isfinite(py)
    near = (
        finite
        & (px + half_src >= x0 - 0.5)
        & (px - half_src <= x0 + nx - 0.5)
        & (py + half_src >= y0 - 0.5)
        & (py - half_src <= y0 + ny - 0.5)
        & (scene.flux > 0)
    )
    idx = np.flatnonzero(near)
    if idx.size == 0:
        return
    jac = cmap.jacobian(px[idx], py[idx])
    area = np.abs(np.linalg.det(jac))
    for k, i in enumerate(idx):
        j = jac[k]
        psf_profile = _psf_profile(psf, j, idcscale)
        ix = int(np.floor(px[i] + 0.5))
        iy = int(np.floor(py[i] + 0.5))
        frac = (px[i] - ix, py[i] - iy)
        total = scene.flux[i] * rate_to_e * idcscale**2 / area[k]
        if wing is not None:
            # a source whose near stamp misses the cut-out adds only its wing
            nh = 2 + (psf_half if scene.kind[i] == "point" else _near_half(scene, i, psf, scale_px))
            if (ix + nh < x0 or ix - nh >= x0 + nx or iy + nh < y0 or iy - nh >= y0 + ny):
                _kernels.add_stamp(image, wing, ix - far_half - x0, iy - far_half - y0,
                                   total * far_fraction)
                continue
        if scene.kind[i] == "point":
            fwhm_px = psf.fwhm / np.sqrt(area[k])
            stamp = _kernels.render_profile(
                psf_profile,
                j,
                frac,
                psf_half,
                os=_oversampling(fwhm_px),
                core_half=max(3, int(np.ceil(3.0 * fwhm_px))),
                # beyond 3 FWHM the rings of a wide (1") stamp need no 4 x 4 sampling
                os_outer=4 if psf_half <= 16 else 2,
            )
            half = psf_half
        else:
            near = half_src[i] if far_half == 0 else _near_half(scene, i, psf, scale_px)
            half = int(min(near, 600))
            n = 0.5 if scene.kind[i] == "gaussian" else scene.n[i]
            prof = sersic_profile(scene.r_eff[i], n, scene.q[i], scene.pa[i], truncate=trunc)
            os = _galaxy_oversampling(scene.r_eff[i] / np.sqrt(area[k]), 2 * half + 1)
            stamp = _kernels.render_convolved(
                prof, psf_profile, j, frac, half, psf_half, os=os, refine=9, refine_half=2
            )
        if kernel is not None:
            stamp = _kernels.apply_pixel_kernel(stamp, kernel)
            half += kernel.shape[0] // 2
        if wing is not None:  # for a galaxy the wing is laid around its centre
            _kernels.add_stamp(image, stamp, ix - half - x0, iy - half - y0,
                               total * (1.0 - far_fraction))
            _kernels.add_stamp(image, wing, ix - far_half - x0, iy - far_half - y0,
                               total * far_fraction)
            continue
        _kernels.add_stamp(image, stamp, ix - half - x0, iy - half - y0, total)


def _nominal_scale(aperture: Any) -> float:
    """IDCSCALE (arcsec) of an aperture's detector: a property of the chip, not the model."""
    return detector_model(aperture.instrument, aperture.detector).idcscale


def _check_model(model: Any, chip: Any, name: str) -> DetectorModel:
    if not isinstance(model, DetectorModel):
        raise DitherlabTypeError(f"{name}={model!r} must be a DetectorModel")
    have = (model.instrument.upper(), model.detector.upper())
    want = (str(chip.instrument).upper(), str(chip.detector).upper())
    if have != want:
        raise DitherlabValueError(
            f"{name} is a {have[0]}/{have[1]} model but chip {int(chip.chip)} "
            f"({chip.name}) is {want[0]}/{want[1]}; give a model of that detector, or "
            f"detector={{ccdchip: model}} for some chips only"
        )
    return model


def _chip_models(detector: Any, chip_aps: Sequence[Any], ap: Any) -> list[DetectorModel]:
    """The detector model of each chip: defaults, one model for all, or ``{ccdchip: model}``."""
    if detector is None:
        return [detector_model(c.instrument, c.detector) for c in chip_aps]
    if isinstance(detector, Mapping):
        have = sorted(int(c.chip) for c in ap.chips)
        keys = []
        for key in detector:
            k = as_int("detector", key)
            if k not in have:
                raise DitherlabValueError(
                    f"detector={{{key!r}: ...}}: chip {key!r} is not one of {have} of {ap.name}"
                )
            keys.append(k)
        by_chip = dict(zip(keys, detector.values(), strict=True))
        return [
            _check_model(by_chip[int(c.chip)], c, f"detector[{int(c.chip)}]")
            if int(c.chip) in by_chip
            else detector_model(c.instrument, c.detector)
            for c in chip_aps
        ]
    if not isinstance(detector, DetectorModel):
        raise DitherlabTypeError(
            f"detector={detector!r} must be a DetectorModel or a {{ccdchip: model}} mapping"
        )
    return [_check_model(detector, c, "detector") for c in chip_aps]


def _fits_round(value: float) -> float:
    """The value a FITS header card will give back (so round trips are exact)."""
    from astropy.io import fits

    return float(fits.Card.fromstring(str(fits.Card("X", float(value)))).value)


def _wcs_from_cards(cards: dict[str, Any]):
    from astropy.io import fits
    from astropy.wcs import WCS

    hdr = fits.Header()
    for k, v in cards.items():
        hdr[k] = v
    hdr = fits.Header.fromstring(hdr.tostring())  # exactly what a file will hold
    return WCS(hdr)


def _chip_psfs(
    psf: PSF | None,
    models: Sequence[DetectorModel],
    scales: Sequence[float],
    filter: str,
    pa_v3: float,
    detector_kernel: Any,
    psf_jitter: Any,
) -> tuple[list[PSF], list[np.ndarray | None]]:
    """Each chip's PSF and its detector's pixel kernel (None if switched off).

    The default PSF is the chip detector's :class:`HSTPSF` in ``filter``; the kernel is
    taken at the PSF's wavelength (for a user PSF: the filter's pivot).
    """
    if not isinstance(detector_kernel, (bool, np.bool_)):
        raise DitherlabTypeError(f"detector_kernel={detector_kernel!r} must be True or False")
    jitter = as_float("psf_jitter", psf_jitter, minimum=0.0, maximum=1000.0)
    if psf is not None and not isinstance(psf, PSF):
        raise DitherlabTypeError(f"psf={psf!r} must be a PSF")
    if psf is not None and jitter > 0:
        raise DitherlabValueError(
            f"psf_jitter={psf_jitter!r} applies to the default PSF only; give "
            "HSTPSF(..., jitter=...) or build the jitter into your own PSF"
        )
    psfs: list[PSF] = []
    kernels: list[np.ndarray | None] = []
    cache: dict[tuple[str, str], PSF] = {}
    for m, sc in zip(models, scales, strict=True):
        key = (m.instrument, m.detector)
        if psf is None:
            if key not in cache:  # the spiders lie along the V2/V3 diagonals on the sky
                cache[key] = HSTPSF(m.instrument, m.detector, filter, jitter=jitter,
                                    spider_angle=pa_v3 + 45.0,
                                    charge_diffusion=bool(detector_kernel))
            p = cache[key]
        elif isinstance(psf, ImagePSF) and psf.pixel_scale is None:
            p = psf.with_scale(sc / psf.oversampling)  # 1/oversampling of the chip's pixel
        else:
            p = psf
        psfs.append(p)
        if detector_kernel and not getattr(p, "charge_diffusion", False):
            wave = p.wavelength if isinstance(p, HSTPSF) else pivot_wavelength(*key, filter)
            kernels.append(pixel_kernel(m.instrument, m.detector, wave))
        else:
            kernels.append(None)
    return psfs, kernels


def iter_observe(
    scene: Scene,
    pattern: Pattern,
    aperture: Any,
    exptime: float | Sequence[float],
    *,
    psf: PSF | None = None,
    detector: DetectorModel | Mapping[int, DetectorModel] | None = None,
    pointing: Pointing | None = None,
    chips: Sequence[int] | None = None,
    subarray: Any = None,
    filter: str | None = None,
    rootname: str = "dlsim",
    expstart: float = 60000.0,
    cosmic_rays_on: bool = True,
    defects_on: bool = True,
    noise: bool = True,
    progress: Callable[[int, int], None] | None = None,
    rng: Any = None,
    max_memory: Any = None,
    detector_kernel: bool = True,
    psf_jitter: float = 0.0,
) -> Iterator[Exposure]:
    """Like :func:`observe`, but yield each exposure as soon as it is simulated.

    The arguments are validated at the call; the exposures (identical to those of
    :func:`observe` with the same arguments) are simulated one per ``next()``, so that a
    long full-frame pattern can be written exposure by exposure and need not be held in
    memory at once: the peak is one exposure and its working arrays (a full two-chip
    ACS/WFC exposure: ~1.0 GiB), where :func:`observe` holds all of them (~0.37 GiB more
    per exposure).  :func:`~ditherlab.simulate.simulation_cost` gives both in advance.
    ``max_memory`` is checked against the one-exposure peak.

    Examples
    --------
    >>> from ditherlab.planner import subpixel
    >>> scene = Scene.random_field(50, sky=40.0, rng=1)
    >>> it = iter_observe(scene, subpixel(2), "acs-wfc1", 300.0, chips=[1],
    ...                   subarray=(2000, 1000, 16, 16), rng=1)
    >>> [e.rootname for e in it]
    ['dlsim01', 'dlsim02']
    """
    if not isinstance(scene, Scene):
        raise DitherlabTypeError(f"scene={scene!r} must be a Scene")
    ap = resolve_aperture(aperture)
    post = pattern_postargs(pattern, ap)
    nexp = post.shape[0]
    if isinstance(exptime, u.Quantity):
        exptime = exptime.to_value(u.s)
    times = np.atleast_1d(np.asarray(exptime, dtype=object))
    if times.size == 1:
        times = np.repeat(times, nexp)
    if times.shape != (nexp,):
        raise DitherlabValueError(
            f"exptime has {times.size} values for a {nexp}-step pattern; give 1 or {nexp}"
        )
    times = np.array(
        [as_float("exptime", t, minimum=0.0, min_inclusive=False) for t in times], float
    )
    pointing = Pointing() if pointing is None else pointing
    if not isinstance(pointing, Pointing):
        raise DitherlabTypeError(f"pointing={pointing!r} must be a Pointing")
    chip_aps = _select_chips(ap, chips)
    cuts = _subarrays(chip_aps, subarray)
    rootname = check_stem(rootname, "rootname")
    # refuse before any array is allocated: the scene, the defect maps, one exposure
    check_memory(
        _memory_estimate(scene, chip_aps, cuts, held=1),
        max_memory,
        f"simulating {len(scene)} sources on {_npix(cuts)} pixels per exposure",
        "use fewer sources, a sub-array or fewer chips",
    )
    # each chip gets its own detector's model (WFPC2: PC1 differs from WF2-4) and always
    # its own detector's pixel scale, whatever model the caller gave
    models = _chip_models(detector, chip_aps, ap)
    scales = [_nominal_scale(c) for c in chip_aps]
    # the exposure-level header values (gain, read noise, dark) are the prime chip's
    prime = detector_model(ap.instrument, ap.detector)
    for c, m in zip(chip_aps, models, strict=True):
        if int(c.chip) == int(getattr(ap, "chip", -1) or -1) or (
            m.instrument == prime.instrument and m.detector == prime.detector
        ):
            prime = m
            break
    prime_scale = _nominal_scale(ap)
    filter = check_filter(prime.instrument, prime.detector,
                          default_filter(prime.instrument, prime.detector)
                          if filter is None else filter)
    psfs, kernels = _chip_psfs(psf, models, scales, filter, pointing.pa_v3,
                               detector_kernel, psf_jitter)
    if cosmic_rays_on:  # refuse before simulating anything
        for m in models:
            if m.cr_rate * times.max() >= 1.0:
                raise DitherlabValueError(
                    f"exptime={float(times.max())!r} s with cr_rate={m.cr_rate!r} /s: every "
                    f"pixel would be hit by cosmic rays (cr_rate * exptime >= 1); split the "
                    "exposure, lower cr_rate or pass cosmic_rays_on=False"
                )
    gen = as_rng(rng)
    g_point, g_defects, *g_exp = gen.spawn(2 + nexp)
    err_off, err_roll, visits = pointing.draw(nexp, g_point)

    ra_t = scene.ra if pointing.ra is None else float(pointing.ra) % 360.0
    dec_t = scene.dec if pointing.dec is None else float(pointing.dec)
    src_ra, src_dec = scene.radec()
    defect_maps = []
    for cap, cmodel in zip(chip_aps, models, strict=True):
        shape = tuple(int(v) for v in cap.shape)
        if defects_on:
            defect_maps.append(make_defects(shape, cmodel, g_defects))
        else:
            defect_maps.append(
                make_defects(
                    shape,
                    cmodel.replace(
                        hot_fraction=0.0,
                        warm_fraction=0.0,
                        unstable_fraction=0.0,
                        variable_fraction=0.0,
                        n_bad_columns=0,
                    ),
                    g_defects,
                )
            )

    def run() -> Iterator[Exposure]:
        start = float(expstart)
        for k in range(nexp):
            t = float(times[k])
            g = g_exp[k]
            v2n, v3n = ap.idl_to_tel(*post[k])
            att_nom = attitude(float(v2n), float(v3n), ra_t, dec_t, pointing.pa_v3)
            true_post = post[k] + err_off[k]
            v2t, v3t = ap.idl_to_tel(*true_post)
            att_true = attitude(float(v2t), float(v3t), ra_t, dec_t, pointing.pa_v3 + err_roll[k])
            sky_e = _fits_round(scene.sky * prime_scale**2 * t)
            chips_out = []
            truths = []
            for ci, (cap, (origin, shape)) in enumerate(zip(chip_aps, cuts, strict=True)):
                model = models[ci]
                chip_sky = _fits_round(scene.sky * scales[ci] ** 2 * t)
                nmap = ChipMap.from_attitude(cap, att_nom)
                tmap = ChipMap.from_attitude(cap, att_true)
                # one float64 work array, updated in place, keeps the peak memory low
                work = np.zeros(shape)
                _render_chip(
                    work, origin, tmap, src_ra, src_dec, scene, psfs[ci], t, scales[ci],
                    kernels[ci],
                )
                work += chip_sky
                noiseless = work.astype(np.float32)
                dfx = defect_maps[ci].cut(origin, shape)
                actual, reference = dark_rate(dfx, model, g)
                work += actual * np.float32(t)
                if noise:
                    np.clip(work, 0.0, None, out=work)
                    work[...] = g.poisson(work)
                if cosmic_rays_on:
                    cr = cosmic_rays(shape, model, t, g)
                    work += cr
                    cr = cr.astype(np.float32)
                else:
                    cr = np.zeros(shape, np.float32)
                work += dfx.column_charge
                _, sat = saturate(work, model, inplace=True)  # in place: the array is large
                if noise and model.read_noise > 0:
                    work += g.normal(0.0, model.read_noise, shape)
                _, atod = atod_saturate(work, model, inplace=True)
                ref_dark = reference * np.float32(t)
                work -= ref_dark  # the calibration subtracts the superdark
                sci = work.astype(np.float32)
                work += ref_dark
                np.clip(work, 0.0, None, out=work)
                work += model.read_noise**2
                np.sqrt(work, out=work)
                err = work.astype(np.float32)
                del work, ref_dark
                dq = dfx.dq(model)
                dq[sat] |= np.uint16(model.dq["saturated"])
                dq[atod] |= np.uint16(model.dq["atod_saturated"] | model.dq["saturated"])
                nom_cards = nmap.wcs_cards(origin)
                chips_out.append(
                    ChipExposure(
                        sci=sci,
                        err=err,
                        dq=dq,
                        wcs=_wcs_from_cards(nom_cards),
                        ccdchip=int(cap.chip),
                        extver=ci + 1,
                        origin=origin,
                        full_shape=tuple(int(v) for v in cap.shape),
                        aperture=str(cap.name),
                        idcscale=_fits_round(scales[ci]),
                        sky=chip_sky,
                    )
                )
                truths.append(
                    ChipTruth(
                        noiseless=noiseless,
                        cr_charge=cr,
                        defects=dfx.code,
                        dark=actual,
                        wcs=_wcs_from_cards(tmap.wcs_cards(origin)),
                    )
                )
            truth = Truth(
                chips=tuple(truths),
                postarg=(_fits_round(true_post[0]), _fits_round(true_post[1])),
                roll=_fits_round(err_roll[k]),
                visit=int(visits[k]),
            )
            exposure = Exposure(
                chips=tuple(chips_out),
                exptime=_fits_round(t),
                gain=_fits_round(prime.gain),
                read_noise=_fits_round(prime.read_noise),
                sky=sky_e,
                dark=_fits_round(prime.dark),
                instrument=str(ap.instrument),
                detector=str(ap.detector),
                aperture=str(ap.name),
                filter=str(filter),
                rootname=f"{rootname}{k + 1:02d}".lower(),
                expstart=_fits_round(start),
                postarg=(_fits_round(post[k][0]), _fits_round(post[k][1])),
                ra_targ=_fits_round(ra_t),
                dec_targ=_fits_round(dec_t),
                pa_v3=_fits_round(pointing.pa_v3),
                idcscale=_fits_round(prime_scale),
                meta={"pattern": pattern.name, "step": k + 1, "nsteps": nexp},
                truth=truth,
            )
            start += (t + _OVERHEAD_S) / 86400.0
            if progress is not None:
                progress(k + 1, nexp)
            yield exposure
            del exposure, truth, chips_out, truths  # hold one exposure at a time

    return run()


def observe(
    scene: Scene,
    pattern: Pattern,
    aperture: Any,
    exptime: float | Sequence[float],
    *,
    psf: PSF | None = None,
    detector: DetectorModel | Mapping[int, DetectorModel] | None = None,
    pointing: Pointing | None = None,
    chips: Sequence[int] | None = None,
    subarray: Any = None,
    filter: str | None = None,
    rootname: str = "dlsim",
    expstart: float = 60000.0,
    cosmic_rays_on: bool = True,
    defects_on: bool = True,
    noise: bool = True,
    progress: Callable[[int, int], None] | None = None,
    rng: Any = None,
    max_memory: Any = None,
    detector_kernel: bool = True,
    psf_jitter: float = 0.0,
) -> list[Exposure]:
    """Simulate one exposure per step of ``pattern``.

    Parameters
    ----------
    scene : Scene
        Sources and sky.
    pattern : Pattern
        Dither offsets (POS TARG arcsec, or detector pixels converted at the aperture's
        reference point).
    aperture : str or Aperture
        Prime aperture (e.g. ``"acs-wfc"``); its camera's chips are all simulated, in flt
        order, unless ``chips`` selects some.
    exptime : float or sequence of float
        Exposure time(s), s (> 0); one value or one per step.
    psf : PSF, optional
        The optical PSF on the sky.  Default: each chip's :class:`~ditherlab.simulate.psf.
        HSTPSF` in ``filter`` (OTA diffraction at the filter's pivot, scattering halo,
        ``psf_jitter``), with its diffraction spikes turned by ``pointing.pa_v3``.
    detector : DetectorModel or {ccdchip: DetectorModel}, optional
        Default: :func:`~ditherlab.simulate.detector.detector_model` of each chip's
        instrument and detector.  One model applies to every chip and must be of their
        instrument/detector; a mapping gives models for some chips (the others keep their
        defaults).  The pixel scale (``IDCSCALE``) is always the chip's own, whatever the
        model's ``idcscale``.
    pointing : Pointing, optional
        Target, orientation and pointing errors (default: scene centre, PA_V3 = 0, none).
    chips : sequence of int, optional
        ``CCDCHIP`` values to simulate (default all chips of the camera).
    subarray : (x0, y0, nx, ny) or {ccdchip: (x0, y0, nx, ny)}, optional
        Cut-out of each chip, in full-chip 0-based pixels (for speed).
    filter : str, optional
        Filter of the prime detector (checked against its filter list; default F606W,
        F160W on WFC3/IR, F125LP on ACS/SBC).  Sets the default PSF's wavelength, the
        detector kernel's wavelength and the headers.
    rootname : str
        Exposure *k* (1-based) is named ``f"{rootname}{k:02d}"``.
    expstart : float
        MJD of the first exposure.
    cosmic_rays_on, defects_on, noise : bool
        Switch cosmic rays, detector defects, and Poisson/read noise on or off.
    progress : callable, optional
        Called as ``progress(k, n)`` after exposure *k* of *n*.
    rng : Generator, int or None
        Random state; the same seed gives identical exposures.
    max_memory : float or Quantity, optional
        Refuse (before any work) a run whose estimated peak memory (all exposures held,
        see :func:`~ditherlab.simulate.simulation_cost`) exceeds this many bytes (or
        e.g. ``8 * u.GiB``).  Default: half the machine's memory, at most 80 % of what
        is available now; ``float("inf")`` switches the check off.
    detector_kernel : bool
        Convolve each source's pixel stamp with the detector's pixel-response kernel at the
        PSF's wavelength (:func:`~ditherlab.simulate.psf.pixel_kernel`: CCD charge
        diffusion, WFC3/IR interpixel capacitance); default True, for every PSF.  Pass
        False for a PSF that already includes it (e.g. Tiny Tim's detector-sampled
        output with charge diffusion).
    psf_jitter : float
        Extra pointing jitter, mas RMS per axis, added in quadrature to the default PSF's
        residual blur (which stands for typical jitter, focus breathing and the field;
        :class:`HSTPSF`); default 0.

    Returns
    -------
    list of Exposure
        (:func:`iter_observe` yields the same exposures one at a time.)

    Raises
    ------
    ResourceLimitError
        If the run would need more memory than ``max_memory``: use
        :func:`iter_observe` (one exposure in memory at a time), fewer sources, a
        sub-array or fewer chips.
    DitherlabValueError
        For a non-positive exposure time, an unknown chip, a bad sub-array, a
        ``rootname`` that is not a plain file-name stem ...
    DitherlabTypeError
        For arguments of the wrong type.

    Examples
    --------
    >>> from ditherlab.planner import subpixel
    >>> scene = Scene.random_field(200, sky=40.0, rng=1)
    >>> exps = observe(scene, subpixel(2), "acs-wfc1", 300.0, chips=[1],
    ...                subarray=(2000, 1000, 64, 64), rng=1)
    >>> len(exps), exps[1].chips[0].sci.shape, exps[1].chips[0].ccdchip
    (2, (64, 64), 1)
    >>> [round(v, 4) for v in exps[1].postarg]  # (3.5, 3.5) px at the reference
    [0.1718, 0.1857]
    """
    if isinstance(scene, Scene):  # refuse before any work: every exposure is kept
        ap = resolve_aperture(aperture)
        chip_aps = _select_chips(ap, chips)
        cuts = _subarrays(chip_aps, subarray)
        nexp = len(pattern_postargs(pattern, ap))
        check_memory(
            _memory_estimate(scene, chip_aps, cuts, held=nexp),
            max_memory,
            f"observe() keeping {nexp} exposures of {_npix(cuts)} pixels",
            "iter_observe() holds one exposure at a time (write each as it comes); or "
            "use a sub-array, fewer chips or fewer sources",
        )
    return list(
        iter_observe(
            scene,
            pattern,
            aperture,
            exptime,
            psf=psf,
            detector=detector,
            pointing=pointing,
            chips=chips,
            subarray=subarray,
            filter=filter,
            rootname=rootname,
            expstart=expstart,
            cosmic_rays_on=cosmic_rays_on,
            defects_on=defects_on,
            noise=noise,
            progress=progress,
            rng=rng,
            max_memory=max_memory,
            detector_kernel=detector_kernel,
            psf_jitter=psf_jitter,
        )
    )
