"""The end-to-end demo: plan → simulate → drizzle → score → report.

``ditherlab demo`` (or :func:`run_demo`) plans a sub-pixel dither on an HST chip, simulates
the exposures it produces on a sub-array around the reference pixel, drizzles them onto
a finer grid, scores what the pattern bought, and writes a small report::

    ditherlab-demo/
      report.md            the numbers, in words
      report.json          the same numbers, machine readable
      postargs.txt         the POS TARG lines for APT
      pattern.png          pixel steps and sub-pixel phases
      drizzled.png         drizzled image and weight map next to one raw exposure
      drz_sci.fits         drizzled science (e⁻/s) and weight images
      exposures/*_flt.fits the simulated exposures (AstroDrizzle-ready) and their truth

The drizzle is :func:`ditherlab.drizzle.run_pipeline` (AstroDrizzle's steps, with the sky
and the cosmic rays found from the data).  The simulator's truth is used only to score: the
CR loss with the truth masks ("ideal rejection") is reported beside the pipeline's, and the
pipeline's CR masks are scored against the truth.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ditherlab._validation import as_float, as_int, as_pair
from ditherlab.errors import DitherlabValueError, OutputExistsError

__all__ = ["DemoConfig", "register", "run_demo"]

_DEMO_FILES = ("report.md", "report.json", "postargs.txt", "pattern.png", "drizzled.png")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """Parameters of the demo run (all have working defaults).

    Attributes
    ----------
    npoints : int
        Sub-pixel pattern family (2, 3, 4, 6, 8 or 9 points).
    step : (float, float)
        Whole-pixel steps of the pattern.
    aperture : str
        Aperture (default ``"acs-wfc1"``).
    exptime : float
        Seconds per exposure.
    n_stars : int
        Stars in the simulated field.
    size : int
        Side of the simulated sub-array, pixels, centred on the reference pixel.
    sky : float
        Sky, e⁻ s⁻¹ arcsec⁻².
    final_scale : float
        Output pixel size in input pixels (AstroDrizzle ``final_scale`` / native scale).
    final_pixfrac : float
        Drop size (AstroDrizzle ``final_pixfrac``).
    final_bits : int
        DQ bits treated as good (AstroDrizzle ``final_bits``; 336 = 16 + 64 + 256, the ACS
        and WFC3 pipeline value).
    seed : int
        Random seed: the same seed gives the same report.
    """

    npoints: int = 4
    step: tuple[float, float] = (3.0, 3.0)
    aperture: str = "acs-wfc1"
    exptime: float = 400.0
    n_stars: int = 60
    size: int = 200
    sky: float = 40.0
    final_scale: float = 0.5
    final_pixfrac: float = 0.8
    final_bits: int = 336
    seed: int = 1

    def __post_init__(self) -> None:
        as_int("npoints", self.npoints, choices=(2, 3, 4, 6, 8, 9))
        object.__setattr__(self, "step", as_pair("step", self.step))
        as_float("exptime", self.exptime, minimum=0, min_inclusive=False)
        as_int("n_stars", self.n_stars, minimum=1, maximum=100000)
        as_int("size", self.size, minimum=32, maximum=4096)
        as_float("sky", self.sky, minimum=0)
        as_float("final_scale", self.final_scale, minimum=0.1, maximum=4)
        as_float("final_pixfrac", self.final_pixfrac, minimum=0.01, maximum=1)
        as_int("final_bits", self.final_bits, minimum=0)
        as_int("seed", self.seed, minimum=0)


# -- geometry helpers ----------------------------------------------------------------------
def _output_wcs(exposures, final_scale: float):
    """A distortion-free TAN WCS aligned with the first chip, covering every chip."""
    from astropy.wcs import WCS

    first = exposures[0].chips[0]
    w0 = first.wcs
    ny, nx = first.sci.shape
    cx, cy = (nx - 1) / 2.0, (ny - 1) / 2.0
    ra0, dec0 = w0.pixel_to_world_values(cx, cy)
    # local linear map of the first chip at its centre (includes SIP), made a similarity
    eps = 0.5
    r1 = np.array(w0.pixel_to_world_values([cx - eps, cx + eps], [cy, cy]))
    r2 = np.array(w0.pixel_to_world_values([cx, cx], [cy - eps, cy + eps]))
    cosd = np.cos(np.deg2rad(dec0))
    jx = np.array([(r1[0, 1] - r1[0, 0]) * cosd, r1[1, 1] - r1[1, 0]])
    jy = np.array([(r2[0, 1] - r2[0, 0]) * cosd, r2[1, 1] - r2[1, 0]])
    scale = np.sqrt(abs(jx[0] * jy[1] - jx[1] * jy[0]))  # deg per input pixel (by area)
    theta = np.arctan2(jy[0], jy[1])  # angle of the chip's +y from north, towards east
    out_scale = scale * final_scale
    c, s = np.cos(theta), np.sin(theta)
    cd = out_scale * np.array([[-c, s], [s, c]])
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [float(ra0), float(dec0)]
    w.wcs.cd = cd
    w.wcs.crpix = [1.0, 1.0]
    xs, ys = [], []
    for exp in exposures:
        for chip in exp.chips:
            h, v = chip.sci.shape
            ex = np.r_[np.linspace(-0.5, v - 0.5, 9), np.full(9, v - 0.5)]
            ey = np.r_[np.full(9, -0.5), np.linspace(-0.5, h - 0.5, 9)]
            ex = np.r_[ex, np.linspace(-0.5, v - 0.5, 9), np.full(9, -0.5)]
            ey = np.r_[ey, np.full(9, h - 0.5), np.linspace(-0.5, h - 0.5, 9)]
            ra, dec = chip.wcs.pixel_to_world_values(ex, ey)
            ox, oy = w.world_to_pixel_values(ra, dec)
            xs.append(ox)
            ys.append(oy)
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    x0, y0 = np.floor(xs.min()) - 2, np.floor(ys.min()) - 2
    shape = (int(np.ceil(ys.max() - y0)) + 3, int(np.ceil(xs.max() - x0)) + 3)
    w.wcs.crpix = [1.0 - x0, 1.0 - y0]
    w.pixel_shape = (shape[1], shape[0])
    return w, shape, float(scale * 3600.0)


def _drizzle_stack(exposures, images, weights, out_wcs, out_shape, cfg):
    """Drizzle per-chip images (e⁻, counts) with per-chip weights; return (sci, wht, ctx)."""
    from ditherlab.drizzle import Drizzle, pixmap_from_wcs

    d = Drizzle(kernel="square", out_shape=out_shape)
    s = cfg.final_scale
    for exp, ims, whts in zip(exposures, images, weights, strict=True):
        for chip, im, wt in zip(exp.chips, ims, whts, strict=True):
            pixmap = pixmap_from_wcs(chip.wcs, out_wcs, chip.sci.shape)
            d.add_image(
                im,
                exp.exptime,
                pixmap,
                weight_map=wt,
                pixfrac=cfg.final_pixfrac,
                in_units="counts",
                iscale=s**2,
                pixel_scale_ratio=s,
            )
    return d.out_img, d.out_wht, d.out_ctx


def _full_depth(ctx: np.ndarray, n_images: int) -> np.ndarray:
    """Output pixels to which every one of the first ``n_images`` drizzled images contributed.

    Examples
    --------
    >>> ctx = np.array([[[0b111, 0b011, 0b100]]], dtype=np.int32)
    >>> _full_depth(ctx, 3).tolist()
    [[True, False, False]]
    """
    full = np.ones(ctx.shape[1:], bool)
    for k in range(n_images):
        plane, bit = divmod(k, 32)
        full &= (ctx[plane].astype(np.int64) >> bit) & 1 == 1
    return full


def _aperture_sums(img, xs, ys, radius):
    """Sum of ``img`` within ``radius`` pixels of each (x, y) (whole pixels by centre)."""
    ny, nx = img.shape
    r = int(np.ceil(radius))
    out = np.full(len(xs), np.nan)
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    inside = ox**2 + oy**2 <= radius**2
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        ix, iy = round(x), round(y)
        if r <= ix < nx - r and r <= iy < ny - r:
            out[i] = float(img[iy - r : iy + r + 1, ix - r : ix + r + 1][inside].sum())
    return out


def _fit_fwhm(img, xs, ys, half: int) -> float:
    """Median FWHM (pixels) of the best-fitting circular 2-D Gaussian at each source.

    :func:`photutils.psf.fit_fwhm` on ``(2·half + 1)²`` boxes of a background-free image.
    """
    import warnings

    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.psf import fit_fwhm

    ny, nx = img.shape
    keep = [
        (x, y) for x, y in zip(xs, ys, strict=True)
        if half <= round(x) < nx - half and half <= round(y) < ny - half
    ]
    if not keep:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)  # a poor fit is just a poor fit
        vals = fit_fwhm(img, xypos=keep, fit_shape=2 * half + 1)
    vals = np.asarray(vals, float)
    vals = vals[np.isfinite(vals) & (vals > 0)]
    return float(np.median(vals)) if vals.size else float("nan")


def _fwhm(img, xs, ys, radius):
    """Median second-moment width (pixels) of isolated sources: 2.355·sqrt(σx σy).

    Equal to the FWHM for a Gaussian; for an Airy core with its rings it is larger.
    """
    ny, nx = img.shape
    r = int(np.ceil(radius))
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    vals = []
    for x, y in zip(xs, ys, strict=True):
        ix, iy = round(x), round(y)
        if not (r <= ix < nx - r and r <= iy < ny - r):
            continue
        cut = np.clip(img[iy - r : iy + r + 1, ix - r : ix + r + 1], 0, None)
        tot = cut.sum()
        if tot <= 0:
            continue
        mx, my = (cut * ox).sum() / tot, (cut * oy).sum() / tot
        vx = (cut * (ox - mx) ** 2).sum() / tot
        vy = (cut * (oy - my) ** 2).sum() / tot
        vals.append(2.3548 * (vx * vy) ** 0.25)
    return float(np.median(vals)) if vals else float("nan")


# -- the run ---------------------------------------------------------------------------------
def run_demo(
    outdir: str | Path = "ditherlab-demo",
    config: DemoConfig | None = None,
    overwrite: bool = False,
    progress: Any = None,
) -> dict[str, Any]:
    """Plan, simulate, drizzle and score one dither pattern; write a small report.

    Parameters
    ----------
    outdir : str or Path
        Output directory (created).  If it already holds a demo report, ``overwrite``
        must be True.
    config : DemoConfig, optional
        What to run (defaults: 4-point box, ACS/WFC1, 4 × 400 s, 200 × 200 px).
    overwrite : bool, optional
        Replace an earlier report in ``outdir``.
    progress : callable, optional
        ``progress(message)`` for status lines.

    Returns
    -------
    dict
        The report (also written to ``report.json``).

    Notes
    -----
    Everything is written to a temporary directory first and moved into ``outdir`` at the
    end, so a failed run leaves no half-written report.
    """
    cfg = config or DemoConfig()
    say = progress or (lambda msg: None)
    out = Path(outdir)
    from ditherlab._io import check_output_dir
    check_output_dir(out, "outdir")  # before the work: a writable folder, named as given
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"outdir={str(out)!r} exists and is not a directory")
    existing = [n for n in (*_DEMO_FILES, "exposures", "drz_sci.fits") if (out / n).exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"outdir={str(out)!r} already holds a demo report ({', '.join(existing)}); "
            "pass overwrite=True (--overwrite) to replace it"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".ditherlab-demo-", dir=out.parent))
    try:
        report = _run(work, cfg, say)
        out.mkdir(exist_ok=True)
        for item in work.iterdir():
            target = out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            shutil.move(str(item), str(target))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


def _run(work: Path, cfg: DemoConfig, say) -> dict[str, Any]:
    import matplotlib.pyplot as plt

    from ditherlab.planner import get_aperture, subpixel, write_postargs
    from ditherlab.planner.plotting import plot_pattern
    from ditherlab.score import phase_coverage, phase_metrics
    from ditherlab.simulate import Scene, detector_model, observe, write_exposure

    # -- plan ------------------------------------------------------------------------------
    ap = get_aperture(cfg.aperture)
    say(f"plan: {cfg.npoints}-point pattern, steps {cfg.step} px, on {ap.name}")
    pix = subpixel(cfg.npoints, step=cfg.step)
    posts = ap.postarg_offsets(pix)
    table = write_postargs(posts, work / "postargs.txt", aperture=ap)
    fig = plot_pattern(posts, ap)
    fig.savefig(work / "pattern.png", dpi=100)
    plt.close(fig)
    ph_ref = phase_metrics(pix, oversample=2)  # η is capped at 10: fewer than 4 frames
    pmap = phase_coverage(posts, ap, grid=(5, 3), field="chip")

    # -- simulate --------------------------------------------------------------------------
    model = detector_model(ap.instrument, ap.detector)
    xr, yr = ap.reference_pixel
    ny_full, nx_full = ap.shape
    if cfg.size > min(ny_full, nx_full):
        raise DitherlabValueError(
            f"size={cfg.size} is larger than the {ap.name} chip ({nx_full} × {ny_full} px)"
        )
    x0 = int(min(max(round(xr) - cfg.size // 2, 0), nx_full - cfg.size))
    y0 = int(min(max(round(yr) - cfg.size // 2, 0), ny_full - cfg.size))
    field = cfg.size * float(np.mean(ap.pixel_scale)) * 1.6
    scene = Scene.random_field(
        cfg.n_stars,
        size=field,
        sky=cfg.sky,
        mag_range=(20.0, 25.5),
        zeropoint=26.5,
        rng=cfg.seed,
    )
    say(
        f"simulate: {len(pix)} × {cfg.exptime:g} s, {cfg.size} × {cfg.size} px sub-array, "
        f"{cfg.n_stars} stars"
    )
    exposures = observe(
        scene,
        posts,
        ap,
        cfg.exptime,
        chips=[ap.chip],
        subarray=(x0, y0, cfg.size, cfg.size),
        rng=cfg.seed,
    )
    (work / "exposures").mkdir()
    for exp in exposures:
        write_exposure(exp, work / "exposures" / f"{exp.rootname}_flt.fits")

    # -- drizzle: the AstroDrizzle-style pipeline, and the truth drizzled alike ------------
    out_wcs, out_shape, native = _output_wcs(exposures, cfg.final_scale)
    products = _pipeline(exposures, out_wcs, cfg, say)
    d = _drizzles(exposures, products, out_wcs, out_shape, cfg, model)

    # -- score -----------------------------------------------------------------------------
    say("score")
    score = _score(exposures, products, d, scene, out_wcs, native, cfg, ap)
    report = {
        "config": {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(cfg).items()
        },
        "plan": {
            "aperture": ap.name,
            "pattern": pix.name,
            "pixel_offsets": pix.offsets.tolist(),
            "postargs_arcsec": posts.offsets.tolist(),
            "apt_rounding_px": table.meta.get("rounding_px"),
            "eta_2x2_at_reference": _finite(ph_ref["eta"]),
            "covering_radius_at_reference_px": ph_ref["covering_radius"],
            "eta_2x2_worst_on_chip": _finite(pmap.eta_worst),
            "covering_radius_worst_on_chip_px": float(pmap.covering_radius_worst),
        },
        "simulation": {
            "exposures": len(exposures),
            "exptime_s": cfg.exptime,
            "subarray": [x0, y0, cfg.size, cfg.size],
            "stars": cfg.n_stars,
            "cr_pixel_fraction_per_exposure": score.pop("cr_frac"),
            "sky_e_per_pixel": float(exposures[0].sky),
        },
        "drizzle": {
            "final_scale": cfg.final_scale,
            "final_pixfrac": cfg.final_pixfrac,
            "final_bits": cfg.final_bits,
            "output_shape": list(out_shape),
            "output_pixel_arcsec": native * cfg.final_scale,
            "pipeline": "ditherlab.drizzle.run_pipeline (AstroDrizzle's steps: static mask, "
            "sky, separate drizzle, median, blot, driz_cr, final drizzle)",
            "sky_found_e_per_pixel": [float(v) for row in products.sky for v in row],
            "sky_method": products.sky_method,
            "driz_cr_snr": list(products.config.driz_cr_snr),
            "driz_cr_scale": list(products.config.driz_cr_scale),
        },
        "score": score,
    }
    _write_outputs(work, report, exposures, products, d["sci_nocr"], out_wcs)
    return report


def _pipeline(exposures, out_wcs, cfg: DemoConfig, say):
    """Run the AstroDrizzle-style pipeline on the simulated exposures, onto ``out_wcs``."""
    from ditherlab.drizzle import PipelineConfig, run_pipeline

    e0 = exposures[0]
    pcfg = PipelineConfig.for_instrument(e0.instrument, e0.detector).replace(
        driz_sep_bits=cfg.final_bits,
        final_bits=cfg.final_bits,
        final_pixfrac=cfg.final_pixfrac,
        final_refimage=out_wcs,
        clean=False,
    )
    say(
        f"drizzle: run_pipeline (sky, separate drizzle, median, blot, driz_cr), final_scale "
        f"{cfg.final_scale}, final_pixfrac {cfg.final_pixfrac}"
    )
    # the pipeline reads what an observer has: sci/err/dq and the header, not the truth
    return run_pipeline([e.replace(truth=None) for e in exposures], pcfg)


def _drizzles(exposures, products, out_wcs, out_shape, cfg: DemoConfig, model) -> dict:
    """Drizzles that need the truth, through the same geometry as the pipeline's final.

    ``sci_ideal``/``wht_ideal``: the data with truth CR masks and the known sky (ideal
    rejection); ``sci_nocr``: no CR masking; ``truth``: the noiseless scene (geometric
    weights; ``cov_ctx`` its context); ``stack_pf1``/``one_pf1``: noiseless stack and first
    frame at pixfrac 1; ``hot_none``/``hot_pipe``: charge of defects missing from the DQ,
    drizzled with DQ-only weights and with the pipeline's final masks.
    """
    from astropy.nddata import bitfield_to_boolean_mask

    names = ("d", "t", "l", "wi", "wn", "wf", "wg", "wp")
    per = {name: [] for name in names}
    for k, exp in enumerate(exposures):
        row = {name: [] for name in names}
        for j, (chip, truth) in enumerate(zip(exp.chips, exp.truth.chips, strict=True)):
            good = bitfield_to_boolean_mask(
                chip.dq, ignore_flags=cfg.final_bits, good_mask_value=True
            ).astype(np.float64)
            # defects the calibration does not know about (no DQ bit): they leak
            unflagged = (truth.defects != 0) & (chip.dq == 0)
            row["d"].append(np.asarray(chip.sci, float) - exp.sky)
            row["t"].append(np.asarray(truth.noiseless, float) - exp.sky)
            row["l"].append((np.asarray(truth.dark, float) - model.dark) * exp.exptime * unflagged)
            row["wi"].append(good * ~truth.cr_mask * exp.exptime)
            row["wn"].append(good * exp.exptime)
            row["wf"].append(good * exp.exptime * (k == 0))
            row["wg"].append(np.full(chip.sci.shape, exp.exptime))  # geometry only
            row["wp"].append(good * ~products.cr_masks[k][j] * exp.exptime)
        for name in names:
            per[name].append(row[name])
    out = {}

    def driz(images, weights, c=cfg):
        return _drizzle_stack(exposures, per[images], per[weights], out_wcs, out_shape, c)

    out["sci_ideal"], out["wht_ideal"], _ = driz("d", "wi")
    out["sci_nocr"], _, _ = driz("d", "wn")
    out["truth"], _, out["cov_ctx"] = driz("t", "wg")
    # resolution: the noiseless stack and one frame through the same kernel (pixfrac 1,
    # so a single frame leaves no holes), so only the dithering differs
    pf1 = dataclasses.replace(cfg, final_pixfrac=1.0)
    out["stack_pf1"], _, _ = driz("t", "wn", pf1)
    out["one_pf1"], _, _ = driz("t", "wf", pf1)
    out["hot_none"], _, _ = driz("l", "wn")
    out["hot_pipe"], _, _ = driz("l", "wp")
    out["leak"] = per["l"]
    return out


def _cr_scores(exposures, products, d, interior, cfg: DemoConfig) -> dict:
    """CR loss (pipeline masks, truth masks, analytic) and the pipeline's masks vs truth."""
    from ditherlab.planner import cr_loss_fraction
    from ditherlab.score import score_exposures

    n = len(exposures)
    cr_frac = float(np.mean([t.cr_mask.mean() for e in exposures for t in e.truth.chips]))
    n_int = float(np.sum(interior))
    lost = int(np.sum((products.wht <= 0) & interior))
    lost_ideal = int(np.sum((d["wht_ideal"] <= 0) & interior))
    # star cores: source signal above 20σ (a 400 s demo has few pixels above 100σ)
    masks = score_exposures(products.cr_masks, exposures, core_sigma=20.0)
    return {
        "cr_frac": cr_frac,
        "cr_loss_analytic": float(cr_loss_fraction(n * cfg.exptime, n, rate=cr_frac / cfg.exptime)),
        "cr_loss_measured": lost / n_int,
        "cr_lost_output_pixels": lost,
        "cr_loss_ideal_measured": lost_ideal / n_int,
        "cr_lost_output_pixels_ideal": lost_ideal,
        "interior_output_pixels": int(n_int),
        "cr_mask_recall_above_5sigma": _finite(masks.recall_significant),
        "cr_mask_recall_all": _finite(masks.recall),
        "cr_mask_false_flag_fraction": _finite(masks.false_flag_fraction),
        "cr_mask_star_core_flag_fraction": _finite(masks.core_flag_fraction),
        "cr_mask_star_core_pixels": masks.n_core,
        "cr_charge_left_fraction": _finite(masks.charge_left_fraction),
    }


def _score(exposures, products, d, scene, out_wcs, native, cfg: DemoConfig, ap) -> dict:
    """Every number of the report's score section."""
    from ditherlab.drizzle.pipeline.diagnostics import diagnose_misregistration
    from ditherlab.score import correlated_noise_ratio, weight_uniformity

    # uncovered output pixels are NaN (fillval=None, as in the C drizzle); measure on zeros
    sci_m, truth_m, one_m, stack_m, ideal_m = (
        np.nan_to_num(a)
        for a in (products.sci, d["truth"], d["one_pf1"], d["stack_pf1"], d["sci_ideal"])
    )
    # CR loss is p**N only where all N frames overlap: output pixels every frame's drops
    # reach (the context image of a drizzle with geometric weights has all N bits set)
    interior = _full_depth(d["cov_ctx"], sum(len(e.chips) for e in exposures))
    out = _cr_scores(exposures, products, d, interior, cfg)
    wu = weight_uniformity(products.wht)

    ra, dec = scene.radec()
    sx, sy = out_wcs.world_to_pixel_values(ra, dec)
    rad = 3.0 / cfg.final_scale  # 3 native pixels
    meas = _aperture_sums(sci_m, sx, sy, rad)
    ref = _aperture_sums(truth_m, sx, sy, rad)
    sky_px = cfg.sky * float(np.prod(ap.pixel_scale))  # e⁻/s per native pixel
    ok = np.isfinite(meas) & np.isfinite(ref) & (ref > 50 * np.sqrt(sky_px / cfg.exptime))
    ratio = meas[ok] / ref[ok]
    ratio_ideal = _aperture_sums(ideal_m, sx, sy, rad)[ok] / ref[ok]
    bright = ok & (ref >= (np.median(ref[ok]) if ok.any() else np.inf))
    half = int(np.ceil(1.5 / cfg.final_scale))  # a 3-native-pixel box
    to_arcsec = native * cfg.final_scale

    raw_peak = max(float(np.max(lk[0])) / e.exptime for lk, e in zip(d["leak"], exposures,
                                                                     strict=True))
    raw_peak *= cfg.final_scale**2  # the same charge per output-pixel area
    # where every frame overlaps (full depth), a hot pixel is diluted by the number of frames
    full = interior & (products.wht > 0)

    def hot(img):
        peak = float(np.max(np.abs(np.nan_to_num(img)[full]))) if full.any() else 0.0
        return peak / raw_peak if raw_peak > 0 else None  # None: no unflagged hot pixel

    quiet = interior & (truth_m < 0.01 * truth_m.max())
    misreg = diagnose_misregistration(products)
    finite_off = np.isfinite(misreg.offset_size)
    out.update(
        {
            "weight_rms_over_median": wu["rms_over_median"],
            "weight_holes": wu["holes"],
            "correlated_noise_R": correlated_noise_ratio(cfg.final_pixfrac, cfg.final_scale),
            "photometry_median_ratio": float(np.median(ratio)) if ratio.size else None,
            "photometry_scatter": float(np.std(ratio)) if ratio.size else None,
            "photometry_stars": int(ratio.size),
            "photometry_median_ratio_ideal": float(np.median(ratio_ideal))
            if ratio.size
            else None,
            "fwhm_stack_arcsec": _fit_fwhm(stack_m, sx[bright], sy[bright], half) * to_arcsec,
            "fwhm_single_arcsec": _fit_fwhm(one_m, sx[bright], sy[bright], half) * to_arcsec,
            "second_moment_width_stack_arcsec": _fwhm(stack_m, sx[bright], sy[bright], rad)
            * to_arcsec,
            "second_moment_width_single_arcsec": _fwhm(one_m, sx[bright], sy[bright], rad)
            * to_arcsec,
            "hot_pixel_residue_peak_over_raw": hot(d["hot_none"]),
            "hot_pixel_residue_after_rejection_peak_over_raw": hot(d["hot_pipe"]),
            "sky_noise_drizzled_cps": float(np.std(sci_m[quiet])),
            "cr_residue_without_masks_peak_cps": float(
                np.max(np.abs(np.nan_to_num(d["sci_nocr"]) - sci_m)[interior])
            ),
            "misregistration_found": misreg.fired,
            "misregistration_largest_offset_px": _finite(
                float(np.max(misreg.offset_size, initial=-np.inf, where=finite_off))
            ),
        }
    )
    return out


def _write_outputs(work, report, exposures, products, sci_nocr, out_wcs) -> None:
    import matplotlib.pyplot as plt
    from astropy.io import fits

    sci, wht, ctx = products.sci, products.wht, products.ctx

    hdr = out_wcs.to_header()
    hdus = fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(sci.astype(np.float32), hdr, name="SCI"),
            fits.ImageHDU(wht.astype(np.float32), hdr, name="WHT"),
            fits.ImageHDU(ctx.astype(np.int32), hdr, name="CTX"),
        ]
    )
    hdus[1].header["BUNIT"] = "ELECTRONS/S"
    hdus[1].header["DL_PIPE"] = (True, "CR masks and sky found by run_pipeline")
    hdus.writeto(work / "drz_sci.fits")

    raw = exposures[0].chips[0]
    lo, hi = np.percentile(sci[wht > 0], [5, 99.5])
    panels = [
        (raw.sci, raw.wcs, f"one raw exposure ({exposures[0].rootname})", "e⁻ per pixel",
         "gray", tuple(np.percentile(raw.sci, [5, 99.5]))),
        (sci_nocr, out_wcs, "drizzled, no CR masking", "e⁻ s⁻¹ per output pixel", "gray",
         (lo, hi)),
        (sci, out_wcs, "drizzled, CRs found by the pipeline", "e⁻ s⁻¹ per output pixel",
         "gray", (lo, hi)),
        (wht, out_wcs, "pipeline weight", "weight: Σ exptime × drop-area fraction (s)", "viridis",
         (0.0, float(np.max(wht)))),
    ]
    fig = _plot_panels(panels)
    fig.savefig(work / "drizzled.png", dpi=90, metadata={"Software": None})
    plt.close(fig)

    (work / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    (work / "report.md").write_text(_markdown(report))


def _compass(ax, wcs, shape, length_px: float) -> None:
    """North and East arrows from ``wcs`` at the upper right of an image panel."""
    ny, nx = shape
    x0, y0 = 0.82 * nx, 0.75 * ny
    ra, dec = wcs.pixel_to_world_values(x0, y0)
    eps = 1.0 / 3600.0
    xn, yn = wcs.world_to_pixel_values(ra, dec + eps)
    xe, ye = wcs.world_to_pixel_values(ra + eps / np.cos(np.deg2rad(dec)), dec)
    for (x1, y1), label in (((xn, yn), "N"), ((xe, ye), "E")):
        d = np.array([float(x1) - x0, float(y1) - y0])
        d *= length_px / np.hypot(*d)
        ax.annotate(
            "", xy=(x0 + d[0], y0 + d[1]), xytext=(x0, y0),
            arrowprops={"arrowstyle": "->", "color": "red", "lw": 1.5},
        )
        ax.text(x0 + 1.3 * d[0], y0 + 1.3 * d[1], label, color="red", ha="center",
                va="center", fontsize=9, fontweight="bold")


def _scale_bar(ax, wcs, shape) -> None:
    """A bar of a round number of arcsec at the lower left of an image panel."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    ny, nx = shape
    arcsec_per_px = float(np.sqrt(np.prod(proj_plane_pixel_scales(wcs.celestial)))) * 3600.0
    width = nx * arcsec_per_px
    length = next(v for v in (10.0, 5.0, 2.0, 1.0, 0.5, 0.2, 0.1) if v <= width / 4)
    n = length / arcsec_per_px
    x0, y0 = 0.06 * nx, 0.07 * ny
    ax.plot([x0, x0 + n], [y0, y0], color="red", lw=3, solid_capstyle="butt")
    ax.text(x0 + n / 2, y0 + 0.03 * ny, f"{length:g}″", color="red", ha="center",
            va="bottom", fontsize=9, fontweight="bold")


def _plot_panels(panels):
    """Image panels side by side, with pixel axes, unit colour bars, scale bars and compasses.

    Each panel gets axes in pixels, a colour bar with its unit, an arcsec scale bar and a
    North/East compass from its WCS.  ``panels`` is a sequence of
    ``(image, wcs, title, colour-bar label, cmap, (vmin, vmax))``; returns the figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.6 * len(panels), 4.8), layout="constrained"
    )
    for ax, (img, wcs, title, unit, cmap, (lo, hi)) in zip(
        np.atleast_1d(axes), panels, strict=True
    ):
        im = ax.imshow(img, origin="lower", cmap=cmap, vmin=lo, vmax=hi,
                       interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x (pixel)")
        ax.set_ylabel("y (pixel)")
        ax.tick_params(labelsize=8)
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, location="bottom")
        cb.set_label(unit, fontsize=9)
        cb.ax.tick_params(labelsize=8)
        _scale_bar(ax, wcs, img.shape)
        _compass(ax, wcs, img.shape, 0.1 * min(img.shape))
        ax.set_xlim(-0.5, img.shape[1] - 0.5)
        ax.set_ylim(-0.5, img.shape[0] - 0.5)
    return fig


def _markdown(r: dict[str, Any]) -> str:
    p, s, d, sc = r["plan"], r["simulation"], r["drizzle"], r["score"]
    c = r["config"]
    lines = [
        "# ditherlab demo report",
        "",
        (
            f"**Pattern**: {p['pattern']} with whole-pixel steps {tuple(c['step'])} on "
            f"{p['aperture']}; {s['exposures']} × {s['exptime_s']:g} s; seed {c['seed']}."
        ),
        "",
        "## Plan",
        "",
        "| exposure | pixel step (x, y) | POS TARG (X, Y) arcsec |",
        "|---|---|---|",
    ]
    for i, (a, b) in enumerate(zip(p["pixel_offsets"], p["postargs_arcsec"], strict=True)):
        lines.append(f"| {i + 1} | ({a[0]:.3f}, {a[1]:.3f}) | ({b[0]:.4f}, {b[1]:.4f}) |")
    lines += [
        "",
        (
            f"* Sub-pixel sampling at the reference pixel: covering radius "
            f"{p['covering_radius_at_reference_px']:.3f} px, noise amplification η for a "
            f"2 × 2 finer grid {_eta_text(p['eta_2x2_at_reference'])} (1 is ideal)."
        ),
        (
            f"* Worst over the chip (the same POS TARGs through the distortion): covering "
            f"radius {p['covering_radius_worst_on_chip_px']:.3f} px, η "
            f"{_eta_text(p['eta_2x2_worst_on_chip'])}."
        ),
        f"* APT rounding of the POS TARGs costs at most {p['apt_rounding_px']:.4f} px.",
        "",
        "## Simulation and drizzle",
        "",
        (
            f"* Sub-array {s['subarray'][2]} × {s['subarray'][3]} px at ({s['subarray'][0]}, "
            f"{s['subarray'][1]}), {s['stars']} stars; cosmic rays hit "
            f"{100 * s['cr_pixel_fraction_per_exposure']:.2f} % of pixels per exposure."
        ),
        (
            f"* Drizzled with final_scale = {d['final_scale']} (output pixel "
            f"{d['output_pixel_arcsec']:.4f}″), final_pixfrac = {d['final_pixfrac']}, onto "
            f"{d['output_shape'][1]} × {d['output_shape'][0]} px."
        ),
        (
            f"* Pipeline: {d['pipeline']}. Sky found ({d['sky_method']}): "
            f"{', '.join(f'{v:.2f}' for v in d['sky_found_e_per_pixel'])} e⁻/px (true "
            f"{s['sky_e_per_pixel']:.2f}). Cosmic rays found from the data by driz_cr "
            f"(driz_cr_snr {d['driz_cr_snr']}, driz_cr_scale {d['driz_cr_scale']}); the "
            "ideal figures mask them with the simulator's truth instead."
        ),
        "",
        "## Score",
        "",
        "| metric | value |",
        "|---|---|",
        (
            f"| sky lost to cosmic rays (hit in all {s['exposures']} frames), analytic p^N | "
            f"{sc['cr_loss_analytic']:.2e} (≈ "
            f"{sc['cr_loss_analytic'] * sc['interior_output_pixels']:.1f} output pixels) |"
        ),
        (
            f"| sky lost to cosmic rays, measured with the pipeline's CR masks | "
            f"{sc['cr_loss_measured']:.2e} ({sc['cr_lost_output_pixels']} of "
            f"{sc['interior_output_pixels']} output pixels where all frames overlap) |"
        ),
        (
            f"| sky lost to cosmic rays, measured with the truth masks (ideal rejection) | "
            f"{sc['cr_loss_ideal_measured']:.2e} ({sc['cr_lost_output_pixels_ideal']} "
            "output pixels) |"
        ),
        (
            f"| pipeline CR masks vs truth: CR pixels above 5σ found; all CR pixels found; "
            f"clean pixels flagged; star cores flagged | "
            f"{_pct(sc['cr_mask_recall_above_5sigma'])}; {_pct(sc['cr_mask_recall_all'])}; "
            f"{_pct(sc['cr_mask_false_flag_fraction'], 3)}; "
            f"{_pct(sc['cr_mask_star_core_flag_fraction'], 2)} of "
            f"{sc['cr_mask_star_core_pixels']} (source > 20σ) |"
        ),
        f"| weight map RMS/median (≲ 0.2 is good) | {sc['weight_rms_over_median']:.3f} |",
        f"| weight-map holes | {100 * sc['weight_holes']:.3f} % |",
        f"| correlated-noise ratio R | {sc['correlated_noise_R']:.3f} |",
        (
            f"| photometry, pipeline drizzle ÷ noiseless truth drizzled alike (median, "
            f"scatter, stars); the same with truth CR masks | "
            f"{_fmt(sc['photometry_median_ratio'])}, {_fmt(sc['photometry_scatter'])}, "
            f"{sc['photometry_stars']}; {_fmt(sc['photometry_median_ratio_ideal'])} |"
        ),
        (
            f"| PSF FWHM (best-fitting 2-D Gaussian, photutils `fit_fwhm`), pixfrac 1: "
            f"dithered stack vs one frame | "
            f"{sc['fwhm_stack_arcsec']:.4f}″ vs {sc['fwhm_single_arcsec']:.4f}″ |"
        ),
        (
            f"| PSF second-moment width 2.355·√(σx·σy) within 3 px (the FWHM only for a "
            f"Gaussian; Airy rings widen it): stack vs one frame | "
            f"{sc['second_moment_width_stack_arcsec']:.4f}″ vs "
            f"{sc['second_moment_width_single_arcsec']:.4f}″ |"
        ),
        (
            f"| unflagged hot pixels: peak residue where all frames overlap, relative to one "
            f"raw frame: no outlier rejection (dilution by dithering only); after the "
            f"pipeline's outlier rejection | "
            f"{_fmt(sc['hot_pixel_residue_peak_over_raw'], '.3f', 'none in the field')}; "
            f"{_fmt(sc['hot_pixel_residue_after_rejection_peak_over_raw'], '.3f', 'none')} |"
        ),
        (
            "| more than 1 % of star cores flagged as cosmic rays? (the PSF is sharper than "
            "the rejection follows, which costs the photometry above: raise driz_cr_scale or "
            "use a finer driz_sep_scale, DrizzlePac Handbook §6.3) | "
            + ("yes" if (sc["cr_mask_star_core_flag_fraction"] or 0) > 0.01 else "no")
            + " |"
        ),
        (
            f"| misregistration check (residual dipoles at stars): largest offset | "
            f"{_fmt(sc['misregistration_largest_offset_px'], '.3f')} px"
            f"{' — an exposure is misregistered' if sc['misregistration_found'] else ''} |"
        ),
        f"| sky noise in the drizzle | {sc['sky_noise_drizzled_cps']:.4f} e⁻/s/px |",
        "",
        (
            "Dithering does not narrow the PSF by itself (each frame is still convolved with "
            "its pixel); what it buys is sampling, free of aliasing, which η and the "
            "covering radius measure."
        ),
        "",
        (
            "Files: `postargs.txt` (for APT), `pattern.png`, `drizzled.png`, `drz_sci.fits`, "
            "`exposures/` (AstroDrizzle-ready `_flt.fits` and their truth)."
        ),
        "",
    ]
    return "\n".join(lines)


def _eta_text(eta: float | None) -> str:
    """η for the report; at its cap it says what the cap means."""
    from ditherlab.score import ETA_CAP

    if eta is None or eta >= ETA_CAP:
        return f"{ETA_CAP:g} (the cap: these frames cannot rebuild a 2 × 2 finer grid)"
    return f"{eta:.3f}"


def _finite(v: float) -> float | None:
    """JSON has no infinity: a non-finite metric is reported as None."""
    return float(v) if np.isfinite(v) else None


def _pct(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{100 * v:.{digits}f} %"


def _fmt(v: float | None, spec: str = ".4f", missing: str = "n/a") -> str:
    return missing if v is None else format(v, spec)


def _cmd_demo(args: argparse.Namespace) -> int:
    if not all(float(v).is_integer() for v in args.step):
        raise DitherlabValueError(
            f"--step {args.step[0]:g} {args.step[1]:g}: the sub-pixel family takes whole, "
            "finite pixel steps (the family fixes the sub-pixel phases)"
        )
    cfg = DemoConfig(
        npoints=args.pattern,
        step=tuple(args.step),
        aperture=args.aperture,
        exptime=args.exptime,
        n_stars=args.stars,
        size=args.size,
        seed=args.seed,
    )
    report = run_demo(
        args.outdir, cfg, overwrite=args.overwrite, progress=lambda m: print(m, file=sys.stderr)
    )
    del report
    print((Path(args.outdir) / "report.md").read_text())
    print(
        f"wrote {args.outdir}/ (report.md, report.json, postargs.txt, pattern.png, "
        "drizzled.png, drz_sci.fits, exposures/)",
        file=sys.stderr,
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command to ``sub``."""
    p = sub.add_parser(
        "demo",
        help="plan, simulate, drizzle and score a dither; write a small report",
        description="Run the whole chain on built-in defaults and write a report.",
    )
    p.add_argument("--outdir", default="ditherlab-demo", help="output directory")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report")
    p.add_argument("--pattern", type=int, default=4, help="points: 2, 3, 4, 6, 8 or 9")
    p.add_argument("--step", type=float, nargs=2, default=(3.0, 3.0), metavar=("N", "M"))
    p.add_argument("--aperture", default="acs-wfc1")
    p.add_argument("--exptime", type=float, default=400.0, help="seconds per exposure")
    p.add_argument("--stars", type=int, default=60)
    p.add_argument("--size", type=int, default=200, help="sub-array side, pixels")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=_cmd_demo)
