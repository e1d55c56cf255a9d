r"""Product scores: what a pattern gives after simulation and drizzling, against the truth.

:func:`evaluate` plans → simulates (:func:`ditherlab.simulate.observe`) → drizzles with the
AstroDrizzle-style pipeline (:func:`ditherlab.drizzle.pipeline.run_pipeline`, which finds
cosmic rays from the data alone) → measures the product against what the simulator
knows: holes and weight uniformity, cosmic rays lost (beside the planner's analytic
p^N), missed and falsely flagged, hot-pixel residue, stars (FWHM, ellipticity,
photometric and centroid errors, with photutils) and the correlated-noise ratio.

:func:`measure_noise_ratio` measures the correlated-noise ratio R of a drizzled noise
image, to set beside the formula R(p, s) of :func:`ditherlab.score.correlated_noise_ratio`.

References
----------
Casertano, S. et al. 2000, AJ 120, 2747 (the noise-correlation ratio of drizzled images);
Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144; DrizzlePac Handbook §6.3 (weight-map
rule, holes); §2.2 (cosmic-ray loss p^N).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from ditherlab._validation import as_array, as_float, as_int, as_rng
from ditherlab.errors import DitherlabValueError
from ditherlab.score._specs import as_postarg_pattern, native_scale

__all__ = ["ProductScores", "evaluate", "measure_noise_ratio"]

#: Scores measured per realisation (see :class:`ProductScores`).
SCORES: tuple[str, ...] = (
    "holes",
    "weight_rms_over_median",
    "cr_hit_fraction",
    "cr_lost_measured",
    "cr_lost_pipeline",
    "cr_lost_analytic",
    "cr_charge_left",
    "cr_flagged",
    "false_rejections",
    "cr_core_flagged",
    "cr_core_pixels",
    "hot_residue",
    "n_stars",
    "fwhm",
    "ellipticity",
    "phot_error",
    "phot_bias",
    "centroid_error",
    "noise_ratio",
    "noise_ratio_formula",
)


def measure_noise_ratio(image: Any, max_lag: int) -> float:
    r"""Measured ratio R of the true noise of a large aperture to the per-pixel estimate.

    For a noise image with pixel covariance :math:`C(\Delta)` (averaged over the image),
    the variance of a sum over a large aperture of :math:`N_{pix}` pixels is
    :math:`N_{pix}\sum_\Delta C(\Delta)`, while the naive estimate is
    :math:`N_{pix}\,C(0)`; so

    .. math:: R^2 = \sum_{|\Delta_x|, |\Delta_y| \le L} C(\Delta) / C(0).

    The covariance is estimated with FFTs (zero-padded, divided by the number of pixel
    pairs at each lag) and summed over lags up to ``max_lag``, the reach of the
    correlation: drizzled pixels correlate only when one drop overlaps both, so
    ``ceil(pixfrac / scale)`` output pixels suffices for undistorted data.  Summing the
    covariance instead of taking block sums avoids the bias of finite blocks.

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        Finite noise image (a drizzled science image of noise-only inputs, cut to the
        area every input covers).
    max_lag : int
        Largest lag L (pixels) summed, ≥ 0.

    Returns
    -------
    float
        R ≥ 0 (1 for uncorrelated noise).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> white = rng.standard_normal((200, 200))
    >>> round(measure_noise_ratio(white, 2), 1)
    1.0
    >>> smooth = white + np.roll(white, 1, axis=1)  # neighbours share half their noise
    >>> round(measure_noise_ratio(smooth, 2), 1)  # R² = (2 + 1 + 1) / 2
    1.4
    """
    a = as_array("image", image, ndim=2)
    L = as_int("max_lag", max_lag, minimum=0)
    ny, nx = a.shape
    if min(ny, nx) // 2 <= L:
        raise DitherlabValueError(
            f"max_lag={max_lag!r} must be below half the image size {a.shape}"
        )
    a = a - a.mean()
    shape = (2 * ny, 2 * nx)
    acf = np.fft.irfft2(np.abs(np.fft.rfft2(a, s=shape)) ** 2, s=shape)
    # number of pixel pairs at each lag (ny - |dy|)(nx - |dx|), in FFT order
    py = ny - np.abs(np.fft.fftfreq(shape[0], 1.0 / shape[0]))
    px = nx - np.abs(np.fft.fftfreq(shape[1], 1.0 / shape[1]))
    lags_y = np.r_[0 : L + 1, shape[0] - L : shape[0]]
    lags_x = np.r_[0 : L + 1, shape[1] - L : shape[1]]
    cov = acf[np.ix_(lags_y, lags_x)] / np.outer(py[lags_y], px[lags_x])
    c0 = acf[0, 0] / (ny * nx)
    if c0 <= 0:
        raise DitherlabValueError("image has no variance: R is undefined")
    return float(np.sqrt(max(cov.sum() / c0, 0.0)))


@dataclasses.dataclass(frozen=True, eq=False)
class ProductScores:
    """Scores of one pattern's drizzled product, per realisation and summarised.

    Attributes
    ----------
    pattern, aperture : str
        Names.
    n_exposures : int
    exptime : float
        Seconds per exposure.
    final_scale, final_pixfrac : float
        Output pixel (arcsec) and drop size used.
    per_realisation : astropy.table.Table
        One row per realisation, one column per score:

        ``holes``
            fraction of output pixels in the area every exposure covers with no good input;
        ``weight_rms_over_median``
            of the final weight image there (DrizzlePac rule: ≲ 0.2);
        ``cr_hit_fraction``
            measured fraction of pixels hit per exposure (truth masks);
        ``cr_lost_measured``
            fraction of sky points hit in every exposure (truth masks, through the
            geometry: ideal rejection), beside ``cr_lost_pipeline``, the same with the
            masks the pipeline found, and ``cr_lost_analytic``, the planner's p^N;
        ``cr_flagged``, ``false_rejections``, ``cr_core_flagged``, ``cr_charge_left``
            the pipeline's masks scored by :func:`ditherlab.score.crmask.score_exposures`
            over the input pixels that land in the common area: fraction of the CR pixels
            above 5σ of the local noise flagged; fraction of defect-free, CR-free pixels
            flagged; fraction of star-core pixels (source > ``core_sigma``) flagged; of
            the charge of the CR pixels above 5σ left unflagged;
        ``cr_core_pixels``
            how many star-core pixels ``cr_core_flagged`` counts over (stars near a
            saturated pixel in any exposure are left out): on a small cut-out one flagged
            star peak is several per cent;
        ``hot_residue``
            fraction of the excess charge of unflagged hot pixels that entered the
            drizzle after outlier rejection (1 would be none rejected);
        ``n_stars``, ``fwhm`` (arcsec), ``ellipticity``
            isolated stars measured (photutils ``data_properties``), median FWHM and
            ellipticity ``1 - b/a``;
        ``phot_error``, ``phot_bias``
            RMS and median relative aperture-flux error against the noiseless drizzle of
            the truth;
        ``centroid_error``
            RMS centroid error (arcsec) against the true positions;
        ``noise_ratio``
            measured R of the residual (product − noiseless truth), beside
            ``noise_ratio_formula`` = R(p, s).
    sci, wht : ndarray
        The last realisation's final image (e⁻/s) and weight.
    stars : astropy.table.Table
        The measured stars of the last realisation (output pixels ``x``, ``y``).
    truth : ndarray or None
        The last realisation's noiseless scene (sky removed) drizzled like the product
        (e⁻/s, same grid).
    products : PipelineProducts or None
        The last realisation's :func:`~ditherlab.drizzle.run_pipeline` result (its
        ``wcs``, ``cr_masks``, ``sky``, ``.write()``...).
    exposures : tuple of Exposure
        The last realisation's simulated exposures, with their truth
        (:func:`ditherlab.simulate.write_exposure` writes them as ``_flt.fits``).
    """

    pattern: str
    aperture: str
    n_exposures: int
    exptime: float
    final_scale: float
    final_pixfrac: float
    per_realisation: Any
    sci: np.ndarray
    wht: np.ndarray
    stars: Any
    truth: np.ndarray | None = None
    products: Any = None
    exposures: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Means over the realisations (``<score>``) and their spread (``<score>_std``)."""
        out: dict[str, Any] = {
            "pattern": self.pattern,
            "aperture": self.aperture,
            "n_exposures": self.n_exposures,
            "exptime": self.exptime,
            "final_scale": self.final_scale,
            "final_pixfrac": self.final_pixfrac,
            "realisations": len(self.per_realisation),
        }
        for name in SCORES:
            v = np.asarray(self.per_realisation[name], float)
            out[name] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            out[f"{name}_std"] = float(np.nanstd(v)) if np.isfinite(v).sum() > 1 else 0.0
        return out

    def to_table(self):
        """One row per score: ``score``, ``mean``, ``std`` over the realisations."""
        from astropy.table import Table

        d = self.to_dict()
        t = Table(
            {
                "score": list(SCORES),
                "mean": [d[k] for k in SCORES],
                "std": [d[f"{k}_std"] for k in SCORES],
            }
        )
        t["mean"].format = t["std"].format = ".4g"
        t.meta.update({k: d[k] for k in ("pattern", "aperture", "n_exposures", "realisations")})
        return t


def default_scene(aperture: Any, size: int, rng: Any = None):
    """A field of 40 stars (19–24 mag at 26 mag = 1 e⁻/s) over a cut-out of ``size`` pixels.

    Sky 40 e⁻ s⁻¹ arcsec⁻² (as the simulator's examples); stars bright enough for
    centroids and photometry, faint enough not to saturate a few-hundred-second exposure.
    """
    from ditherlab.simulate import Scene

    side = 0.9 * size * native_scale(aperture)
    return Scene.random_field(
        40, size=side, sky=40.0, mag_range=(19.0, 24.0), zeropoint=26.0, rng=rng
    )


def evaluate(
    pattern: Any,
    aperture: Any,
    *,
    scene: Any = None,
    exptime: float,
    pipeline: Any = None,
    realisations: int = 1,
    rng: Any = None,
    size: int = 160,
    core_sigma: float = 100.0,
    progress: Callable[[str], None] | None = None,
) -> ProductScores:
    """Simulate a pattern, drizzle it with the pipeline and score the product against truth.

    Parameters
    ----------
    pattern : int, str, path or Pattern
        As in :func:`ditherlab.score.compare`.
    aperture : Aperture or str
        Prime aperture; its reference chip is simulated on a ``size × size`` cut-out
        around the reference pixel.
    scene : Scene, optional
        Default :func:`default_scene` (40 stars, sky 40 e⁻ s⁻¹ arcsec⁻²).
    exptime : float
        Seconds per exposure.
    pipeline : PipelineConfig, optional
        Default: the HST pipeline's parameters for the camera
        (:meth:`~ditherlab.drizzle.pipeline.PipelineConfig.for_instrument`, 2024 tables)
        with ``final_scale``/``final_pixfrac`` from :func:`~ditherlab.score.recommend_drizzle`.
    realisations : int, optional
        Independent noise, cosmic-ray and defect draws of the same geometry (the drizzle
        geometry is built once and reused).
    rng : Generator, int or None
        Random state: the same seed gives the same scores.
    size : int, optional
        Side of the simulated cut-out, pixels.
    core_sigma : float, optional
        Source signal (in σ of the pixel noise) above which a pixel counts as a star core
        in ``cr_core_flagged`` (default 100σ, as :func:`ditherlab.score.score_cr_mask`).
    progress : callable, optional
        Called with a short message per realisation.

    Returns
    -------
    ProductScores
        The scores, and the last realisation's exposures, pipeline products and
        drizzled truth (to write or plot them).
    """
    from ditherlab.planner import get_aperture

    ap = get_aperture(aperture)
    post = as_postarg_pattern(pattern, ap)
    t = as_float("exptime", exptime, minimum=0, min_inclusive=False)
    nreal = as_int("realisations", realisations, minimum=1, maximum=1000)
    size = as_int("size", size, minimum=32, maximum=2048)
    core_sigma = as_float("core_sigma", core_sigma, minimum=0)
    gen = as_rng(rng)
    scene = default_scene(ap, size, gen) if scene is None else scene
    cfg = _config(pipeline, post, ap)
    sub = _subarray(ap, size)
    rows, geometry, last = [], None, None
    for r in range(nreal):
        if progress is not None:
            progress(f"{post.name}: realisation {r + 1}/{nreal}")
        row, geometry, last = _one_realisation(scene, post, ap, t, cfg, sub, geometry, gen,
                                               core_sigma)  # fmt: skip
        rows.append(row)
    from astropy.table import Table

    table = Table(rows=rows, names=SCORES)
    prod, truth_img, stars, exps = last
    return ProductScores(
        pattern=post.name,
        aperture=ap.name,
        n_exposures=len(post),
        exptime=t,
        final_scale=float(cfg.final_scale),
        final_pixfrac=float(cfg.final_pixfrac),
        per_realisation=table,
        sci=np.asarray(prod.sci),
        wht=np.asarray(prod.wht),
        stars=stars,
        truth=truth_img,
        products=prod,
        exposures=exps,
    )


def _config(pipeline: Any, post, ap):
    from ditherlab.drizzle.pipeline import PipelineConfig
    from ditherlab.score.recommend import recommend_drizzle

    if pipeline is not None:
        if not isinstance(pipeline, PipelineConfig):
            raise DitherlabValueError(
                f"pipeline={pipeline!r} must be a PipelineConfig (or None for the defaults)"
            )
        cfg = pipeline
    else:
        cfg = PipelineConfig.for_instrument(ap.instrument, ap.detector, "2024-01-01")
    if pipeline is None or cfg.final_scale is None:
        rec = recommend_drizzle(post, ap, size=32)
        cfg = cfg.replace(final_scale=rec.final_scale, final_pixfrac=rec.final_pixfrac)
    return cfg


def _subarray(ap, size: int) -> tuple[int, int, int, int]:
    ny, nx = ap.shape
    x0 = int(np.clip(round(ap.reference_pixel[0] - size / 2), 0, max(nx - size, 0)))
    y0 = int(np.clip(round(ap.reference_pixel[1] - size / 2), 0, max(ny - size, 0)))
    return x0, y0, min(size, nx), min(size, ny)


def _one_realisation(scene, post, ap, t, cfg, sub, geometry, gen, core_sigma):
    from ditherlab.drizzle.pipeline import run_pipeline
    from ditherlab.simulate import observe

    exps = observe(scene, post, ap, t, chips=[ap.chip], subarray=sub, rng=gen)
    prod = run_pipeline(exps, cfg, geometry=geometry)
    geo = prod.geometry
    truth_img, covered = _truth_drizzle(exps, geo, cfg)
    # scored pixels: in the area every exposure covers, with some good input (an INDEF
    # fill gives zero-weight pixels a value, so the weight decides, not the value)
    inside = covered & (prod.wht > 0) & np.isfinite(prod.sci)
    if not inside.any():
        raise DitherlabValueError(
            f"pattern {post.name!r}: no output pixel is seen by every exposure on a "
            f"{sub[2]} x {sub[3]} cut-out; use a larger size"
        )
    zones = [[_input_inside(geo.final_pixmaps[i][0], inside)] for i in range(len(exps))]
    row = {}
    row.update(_weight_scores(prod.wht, covered))  # holes: covered, yet no good input
    row.update(_cr_scores(exps, prod, geo, inside, zones, ap, t, core_sigma))
    row["hot_residue"] = _hot_residue(exps, prod, cfg, zones, ap)
    stars, star_scores = _star_scores(prod, truth_img, inside, scene, cfg, ap)
    row.update(star_scores)
    row.update(_noise_scores(prod.sci, truth_img, inside, cfg, geo))
    return row, geo, (prod, truth_img, stars, tuple(exps))


def _truth_drizzle(exps, geo, cfg):
    """Noiseless truth drizzled like the product; the area every exposure covers."""
    from scipy import ndimage

    from ditherlab.drizzle import Drizzle

    d = Drizzle(kernel=cfg.final_kernel, out_shape=geo.final_shape, fillval=0.0,
                disable_ctx=True)  # fmt: skip
    covered = np.ones(geo.final_shape, bool)
    for i, e in enumerate(exps):
        c, tr = e.chips[0], e.truth.chips[0]
        s = geo.final_ratio[i][0]
        pm = geo.final_pixmaps[i][0]
        d.add_image(tr.noiseless - np.float32(e.sky), e.exptime, pm, pixfrac=cfg.final_pixfrac,
                    in_units="counts", iscale=s * s, pixel_scale_ratio=s)  # fmt: skip
        one = Drizzle(kernel="square", out_shape=geo.final_shape, fillval=0.0, disable_ctx=True)
        one.add_image(np.ones(c.sci.shape, np.float32), 1.0, pm, pixfrac=1.0)
        grow = int(np.ceil(2.0 / s))  # two input pixels in from the footprint edge
        covered &= ndimage.binary_erosion(one.out_wht > 0, iterations=grow)
    return np.asarray(d.out_img, float), covered


def _weight_scores(wht, inside) -> dict[str, float]:
    w = np.asarray(wht, float)[inside]
    med = float(np.median(w))
    return {
        "holes": float(np.mean(w <= 0)),
        "weight_rms_over_median": float(np.std(w) / med) if med > 0 else float("inf"),
    }


def _inverse_map(pm: np.ndarray):
    """Quadratic least-squares map output (x, y) → input (x, y) from a pixmap."""
    ny, nx = pm.shape[:2]
    step = max(1, min(ny, nx) // 24)
    yy, xx = np.mgrid[0:ny:step, 0:nx:step]
    X, Y = pm[::step, ::step, 0].ravel(), pm[::step, ::step, 1].ravel()

    def design(u, v):
        return np.column_stack([np.ones_like(u), u, v, u * u, u * v, v * v])

    ok = np.isfinite(X) & np.isfinite(Y)
    A = design(X[ok], Y[ok])
    cx = np.linalg.lstsq(A, xx.ravel()[ok].astype(float), rcond=None)[0]
    cy = np.linalg.lstsq(A, yy.ravel()[ok].astype(float), rcond=None)[0]
    return lambda u, v: (design(u, v) @ cx, design(u, v) @ cy)


def _input_inside(pm: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Input pixels whose centre lands in the common output area."""
    ox = np.rint(pm[..., 0]).astype(int)
    oy = np.rint(pm[..., 1]).astype(int)
    ok = (ox >= 0) & (oy >= 0) & (ox < inside.shape[1]) & (oy < inside.shape[0])
    out = np.zeros(pm.shape[:2], bool)
    out[ok] = inside[oy[ok], ox[ok]]
    return out


def _cr_lost_measured(masks, geo, inside) -> float:
    """Fraction of common-area output pixels whose sky is masked in every exposure.

    ``masks[i][0]`` is exposure i's cosmic-ray mask (truth or found); each output pixel
    centre is mapped back to the nearest input pixel of every exposure.
    """
    oy, ox = np.nonzero(inside)
    lost = np.ones(ox.size, bool)
    for i, m in enumerate(masks):
        cr = np.asarray(m[0], bool)
        ix, iy = _inverse_map(geo.final_pixmaps[i][0])(ox.astype(float), oy.astype(float))
        ix, iy = np.rint(ix).astype(int), np.rint(iy).astype(int)
        ok = (ix >= 0) & (iy >= 0) & (ix < cr.shape[1]) & (iy < cr.shape[0])
        hit = np.zeros(ox.size, bool)
        hit[ok] = cr[iy[ok], ix[ok]]
        lost &= hit
    return float(np.mean(lost))


def _cr_scores(exps, prod, geo, inside, zones, ap, t, core_sigma) -> dict[str, float]:
    """Cosmic rays: hits, sky lost (truth and pipeline masks), and the masks against truth.

    The masks are scored by :func:`ditherlab.score.crmask.score_exposures` (the one
    definition ditherlab uses, also in the AstroDrizzle benchmark) over the input pixels
    that land in the common area.
    """
    from ditherlab.planner import cr_loss_fraction
    from ditherlab.score.crmask import score_exposures
    from ditherlab.simulate import detector_model

    model = detector_model(ap.instrument, ap.detector)
    masks = score_exposures(prod.cr_masks, exps, regions=zones, core_sigma=core_sigma)
    truth = [[e.truth.chips[0].cr_mask] for e in exps]
    return {
        "cr_hit_fraction": float(np.mean([m[0].mean() for m in truth])),
        "cr_lost_measured": _cr_lost_measured(truth, geo, inside),
        "cr_lost_pipeline": _cr_lost_measured(prod.cr_masks, geo, inside),
        "cr_lost_analytic": float(cr_loss_fraction(len(exps) * t, len(exps), model.cr_rate)),
        "cr_charge_left": masks.charge_left_fraction,
        "cr_flagged": masks.recall_significant,
        "false_rejections": masks.false_flag_fraction,
        "cr_core_flagged": masks.core_flag_fraction,
        "cr_core_pixels": float(masks.n_core),
    }


def _hot_residue(exps, prod, cfg, zones, ap) -> float:
    """Fraction of the excess charge of unflagged, flickering hot pixels that was drizzled."""
    from ditherlab.drizzle.pipeline import dq_good_mask, interpret_bits
    from ditherlab.simulate import detector_model

    model = detector_model(ap.instrument, ap.detector)
    bits = interpret_bits(cfg.final_bits, "final_bits")
    total = kept_total = 0.0
    for i, e in enumerate(exps):
        c, tr, zone = e.chips[0], e.truth.chips[0], zones[i][0]
        kept = dq_good_mask(c.dq, bits) & ~np.asarray(prod.cr_masks[i][0], bool) & zone
        variable = (tr.defects & 8) != 0  # DEFECT_VARIABLE: hot, flickering, not flagged
        excess = np.clip((np.asarray(tr.dark, float) - model.dark) * e.exptime, 0.0, None)
        excess = np.where(variable, excess, 0.0)  # a hot pixel's charge above the mean dark
        total += excess[zone].sum()
        kept_total += excess[kept].sum()
    return float(kept_total / total) if total > 0 else float("nan")


def _isolated_stars(prod, scene, inside, s: float):
    """Output positions of point sources in the common area with no neighbour within 8 px."""
    ra, dec = scene.radec()
    x, y = prod.wcs.world_to_pixel_values(ra, dec)
    x, y = np.asarray(x, float), np.asarray(y, float)
    point = np.asarray(scene.kind) == "point"
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    np.fill_diagonal(d, np.inf)
    lonely = d.min(axis=1) * s > 8.0 if x.size > 1 else np.ones(x.size, bool)
    r = int(np.ceil(4.0 / s))
    ny, nx = inside.shape
    ix, iy = np.rint(x).astype(int), np.rint(y).astype(int)
    within = (ix >= r) & (iy >= r) & (ix < nx - r) & (iy < ny - r)
    keep = point & lonely & within
    keep[keep] = [bool(inside[b - r : b + r + 1, a - r : a + r + 1].all())
                  for a, b in zip(ix[keep], iy[keep], strict=True)]  # fmt: skip
    return x[keep], y[keep], np.asarray(scene.flux, float)[keep]


def _star_scores(prod, truth_img, inside, scene, cfg, ap):
    """FWHM, ellipticity, photometric and centroid errors of isolated stars (photutils)."""
    import warnings

    from astropy.table import Table
    from photutils.aperture import CircularAperture, aperture_photometry
    from photutils.centroids import centroid_2dg, centroid_sources
    from photutils.morphology import data_properties

    scale = float(cfg.final_scale)
    s = scale / native_scale(ap)
    x, y, _ = _isolated_stars(prod, scene, inside, s)
    empty = {"n_stars": 0.0, "fwhm": np.nan, "ellipticity": np.nan, "phot_error": np.nan,
             "phot_bias": np.nan, "centroid_error": np.nan}  # fmt: skip
    if x.size == 0:
        return Table(names=("x", "y", "xc", "yc", "flux", "flux_true")), empty
    sci = np.nan_to_num(np.asarray(prod.sci, float))
    ap_ = CircularAperture(np.column_stack([x, y]), r=3.0 / s)
    f_sci = np.asarray(aperture_photometry(sci, ap_)["aperture_sum"], float)
    f_true = np.asarray(aperture_photometry(truth_img, ap_)["aperture_sum"], float)
    box = 2 * int(np.ceil(1.5 / s)) + 1
    with warnings.catch_warnings():  # noisy faint stars: fits may not converge
        warnings.simplefilter("ignore")
        xc, yc = centroid_sources(sci, x, y, box_size=box, centroid_func=centroid_2dg)
    r = int(np.ceil(3.0 / s))
    fw, el = [], []
    for a, b in zip(np.rint(x).astype(int), np.rint(y).astype(int), strict=True):
        cut = sci[b - r : b + r + 1, a - r : a + r + 1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            props = data_properties(np.clip(cut, 0, None))
        fw.append(float(props.fwhm.value) * scale)
        el.append(float(props.ellipticity.value))
    bright = f_true > 0
    rel = (f_sci[bright] - f_true[bright]) / f_true[bright]
    err = np.hypot(xc - x, yc - y) * scale
    stars = Table({"x": x, "y": y, "xc": xc, "yc": yc, "flux": f_sci, "flux_true": f_true,
                   "fwhm": fw, "ellipticity": el})  # fmt: skip
    return stars, {
        "n_stars": float(x.size),
        "fwhm": float(np.nanmedian(fw)),
        "ellipticity": float(np.nanmedian(el)),
        "phot_error": float(np.sqrt(np.mean(rel**2))) if rel.size else np.nan,
        "phot_bias": float(np.median(rel)) if rel.size else np.nan,
        "centroid_error": float(np.sqrt(np.nanmean(err**2))),
    }


def _largest_box(inside: np.ndarray) -> tuple[slice, slice]:
    """A rectangle of the common area: its bounding box, shrunk until every pixel is in."""
    ys, xs = np.nonzero(inside)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    while y1 - y0 > 8 and x1 - x0 > 8 and not inside[y0:y1, x0:x1].all():
        y0, y1, x0, x1 = y0 + 1, y1 - 1, x0 + 1, x1 - 1
    return slice(y0, y1), slice(x0, x1)


def _noise_scores(sci, truth_img, inside, cfg, geo) -> dict[str, float]:
    from ditherlab.score.products import correlated_noise_ratio

    s = float(geo.final_ratio[0][0])
    p = float(cfg.final_pixfrac)
    ys, xs = _largest_box(inside)
    res = (np.asarray(sci, float) - truth_img)[ys, xs]
    res = np.nan_to_num(res)
    mad = 1.4826 * np.median(np.abs(res - np.median(res)))
    res = np.where(np.abs(res - np.median(res)) > 6 * mad, np.median(res), res)  # missed CRs
    lag = int(np.ceil(p / s)) + 1  # the drop's reach, plus one for distortion
    measured = (
        measure_noise_ratio(res, lag) if min(res.shape) > 2 * lag + 2 and mad > 0 else np.nan
    )
    return {"noise_ratio": float(measured), "noise_ratio_formula": correlated_noise_ratio(p, s)}
