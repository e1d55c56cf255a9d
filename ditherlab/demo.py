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

The demo is a composition of the public API: the planner (:func:`~ditherlab.planner.subpixel`,
:func:`~ditherlab.planner.write_postargs`), the geometry scores
(:func:`~ditherlab.score.phase_metrics`, :func:`~ditherlab.score.phase_coverage`) and
:func:`ditherlab.score.evaluate`, which simulates the exposures, drizzles them with
:func:`ditherlab.drizzle.run_pipeline` (AstroDrizzle's steps, with the sky and the cosmic rays
found from the data) and measures the product against the simulator's truth; the
misregistration check is :func:`ditherlab.drizzle.pipeline.diagnostics.diagnose_misregistration`.
Nothing is computed here: this module writes files and words.
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

_DEMO_FILES = ("report.md", "report.json", "postargs.txt", "pattern.png", "drizzled.png",
               "drz_sci.fits", "exposures")  # fmt: skip


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
        Side of the simulated sub-array, pixels, centred on the reference pixel (≤ 2048).
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
        as_int("size", self.size, minimum=32, maximum=2048)
        as_float("sky", self.sky, minimum=0)
        as_float("final_scale", self.final_scale, minimum=0.1, maximum=4)
        as_float("final_pixfrac", self.final_pixfrac, minimum=0.01, maximum=1)
        as_int("final_bits", self.final_bits, minimum=0)
        as_int("seed", self.seed, minimum=0)


#: Star cores for the CR-mask score: source above 20σ (a 400 s demo has few pixels above the
#: 100σ of :func:`ditherlab.score.score_cr_mask`'s default).
_CORE_SIGMA = 20.0


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
    existing = [n for n in _DEMO_FILES if (out / n).exists()]
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
    from ditherlab.drizzle.pipeline.diagnostics import diagnose_misregistration
    from ditherlab.planner import get_aperture, subpixel, write_postargs
    from ditherlab.score import evaluate, phase_coverage, phase_metrics

    ap = get_aperture(cfg.aperture)
    ny, nx = ap.shape
    if cfg.size > min(ny, nx):
        raise DitherlabValueError(f"size={cfg.size} is larger than the {ap.name} chip "
                                  f"({nx} × {ny} px)")  # fmt: skip
    say(f"plan: {cfg.npoints}-point pattern, steps {cfg.step} px, on {ap.name}")
    pix = subpixel(cfg.npoints, step=cfg.step)
    posts = ap.postarg_offsets(pix)
    table = write_postargs(posts, work / "postargs.txt", aperture=ap)
    ph_ref = phase_metrics(pix, oversample=2)  # η is capped: fewer than 4 frames
    pmap = phase_coverage(posts, ap, grid=(5, 3), field="chip")
    say(f"simulate, drizzle (run_pipeline) and measure: {len(pix)} × {cfg.exptime:g} s, "
        f"{cfg.size} × {cfg.size} px, {cfg.n_stars} stars")  # fmt: skip
    scores = evaluate(posts, ap, scene=_scene(cfg, ap), exptime=cfg.exptime,
                      pipeline=_pipeline_config(cfg, ap), rng=cfg.seed, size=cfg.size,
                      core_sigma=_CORE_SIGMA)  # fmt: skip
    misreg = diagnose_misregistration(scores.products)
    report = _report(cfg, ap, pix, posts, table, ph_ref, pmap, scores, misreg)
    _write_outputs(work, report, scores, posts, ap)
    return report


def _scene(cfg: DemoConfig, ap):
    """The demo's star field: ``n_stars`` of 20–25.5 mag (26.5 mag = 1 e⁻/s) over the cut-out."""
    from ditherlab.simulate import Scene

    side = cfg.size * float(np.mean(ap.pixel_scale)) * 1.6
    return Scene.random_field(cfg.n_stars, size=side, sky=cfg.sky, mag_range=(20.0, 25.5),
                              zeropoint=26.5, rng=cfg.seed)  # fmt: skip


def _pipeline_config(cfg: DemoConfig, ap):
    """The HST pipeline's parameters for the camera, with the demo's final drizzle."""
    from ditherlab.drizzle import PipelineConfig

    return PipelineConfig.for_instrument(ap.instrument, ap.detector).replace(
        driz_sep_bits=cfg.final_bits,
        final_bits=cfg.final_bits,
        final_scale=cfg.final_scale * float(np.mean(ap.pixel_scale)),
        final_pixfrac=cfg.final_pixfrac,
        clean=False,  # keep the single drizzles and the median for the misregistration check
    )


def _report(cfg, ap, pix, posts, table, ph_ref, pmap, scores, misreg) -> dict[str, Any]:
    """The report's numbers, all from the planner, the scores and the pipeline."""
    prod, exps = scores.products, scores.exposures
    sc = {k: _finite(v) if isinstance(v, float) else v for k, v in scores.to_dict().items()}
    sc["cr_core_sigma"] = _CORE_SIGMA
    sc["misregistration"] = {**misreg.to_dict(), "verdict": str(misreg).splitlines()[0]}
    config = {k: (list(v) if isinstance(v, tuple) else v)
              for k, v in dataclasses.asdict(cfg).items()}  # fmt: skip
    return {
        "config": config,
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
            "exposures": len(exps),
            "exptime_s": cfg.exptime,
            "subarray": [*exps[0].chips[0].origin, *exps[0].chips[0].sci.shape[::-1]],
            "stars": cfg.n_stars,
            "sky_e_per_pixel": float(exps[0].sky),
        },
        "drizzle": {
            "final_scale": cfg.final_scale,
            "final_pixfrac": cfg.final_pixfrac,
            "final_bits": cfg.final_bits,
            "output_shape": list(prod.sci.shape),
            "output_pixel_arcsec": float(scores.final_scale),
            "pipeline": "ditherlab.drizzle.run_pipeline (AstroDrizzle's steps: static mask, "
            "sky, separate drizzle, median, blot, driz_cr, final drizzle)",
            "sky_found_e_per_pixel": [float(v) for row in prod.sky for v in row],
            "sky_method": prod.sky_method,
            "driz_cr_snr": list(prod.config.driz_cr_snr),
            "driz_cr_scale": list(prod.config.driz_cr_scale),
            "driz_cr_peak": float(prod.config.driz_cr_peak),
            "combine_minweight": float(prod.config.combine_minweight),
        },
        "score": sc,
    }


def _write_outputs(work: Path, report, scores, posts, ap) -> None:
    import matplotlib.pyplot as plt

    from ditherlab.planner.plotting import plot_pattern
    from ditherlab.score.plotting import plot_product
    from ditherlab.simulate import write_exposure

    (work / "exposures").mkdir()
    for exp in scores.exposures:
        write_exposure(exp, work / "exposures" / f"{exp.rootname}_flt.fits")
    scores.products.write(work / "drz_sci.fits")
    for name, fig in (("pattern.png", plot_pattern(posts, ap)),
                      ("drizzled.png", plot_product(scores))):  # fmt: skip
        fig.savefig(work / name, dpi=90, metadata={"Software": None})
        plt.close(fig)
    (work / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    (work / "report.md").write_text(_markdown(report))


def _markdown(r: dict[str, Any]) -> str:
    p, s, d, sc, c = r["plan"], r["simulation"], r["drizzle"], r["score"], r["config"]
    n = s["exposures"]
    lines = [
        "# ditherlab demo report",
        "",
        (f"**Pattern**: {p['pattern']} with whole-pixel steps {tuple(c['step'])} on "
        f"{p['aperture']}; {n} × {s['exptime_s']:g} s; seed {c['seed']}."),
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
        (f"* Sub-pixel sampling at the reference pixel: covering radius "
        f"{p['covering_radius_at_reference_px']:.3f} px, noise amplification η for a "
        f"2 × 2 finer grid {_eta_text(p['eta_2x2_at_reference'])} (1 is ideal)."),
        (f"* Worst over the chip (the same POS TARGs through the distortion): covering "
        f"radius {p['covering_radius_worst_on_chip_px']:.3f} px, η "
        f"{_eta_text(p['eta_2x2_worst_on_chip'])}."),
        f"* APT rounding of the POS TARGs costs at most {p['apt_rounding_px']:.4f} px.",
        "",
        "## Simulation and drizzle",
        "",
        (f"* Sub-array {s['subarray'][2]} × {s['subarray'][3]} px at ({s['subarray'][0]}, "
        f"{s['subarray'][1]}), {s['stars']} stars; cosmic rays hit "
        f"{_pct(sc['cr_hit_fraction'], 2)} of pixels per exposure."),
        (f"* Drizzled with final_scale = {d['output_pixel_arcsec']:.4f}″ "
        f"({d['final_scale']} input pixel), final_pixfrac = {d['final_pixfrac']}, onto "
        f"{d['output_shape'][1]} × {d['output_shape'][0]} px."),
        (f"* Pipeline: {d['pipeline']}. Sky found ({d['sky_method']}): "
        f"{', '.join(f'{v:.2f}' for v in d['sky_found_e_per_pixel'])} e⁻/px (true "
        f"{s['sky_e_per_pixel']:.2f}). Cosmic rays found from the data by driz_cr "
        f"(driz_cr_snr {d['driz_cr_snr']}, driz_cr_scale {d['driz_cr_scale']}; ditherlab's "
        f"star-core protection driz_cr_peak {d['driz_cr_peak']:g}, combine_minweight "
        f"{d['combine_minweight']:g}, both 0 for AstroDrizzle's masks)."),
        "",
        "## Score",
        "",
        ("Measured by `ditherlab.score.evaluate` against the simulator's truth, over the "
        "output area every exposure covers."),
        "",
        "| metric | value |",
        "|---|---|",
        (f"| sky lost to cosmic rays (hit in all {n} frames): analytic p^N; measured with the "
        f"masks the pipeline found; measured with the truth masks (ideal rejection) | "
        f"{_fmt(sc['cr_lost_analytic'], '.2e')}; {_fmt(sc['cr_lost_pipeline'], '.2e')}; "
        f"{_fmt(sc['cr_lost_measured'], '.2e')} |"),
        (f"| pipeline CR masks vs truth: CR pixels above 5σ found; CR-free pixels flagged; "
        f"star-core pixels (source > {sc['cr_core_sigma']:g}σ) flagged | {_pct(sc['cr_flagged'])}; "
        f"{_pct(sc['false_rejections'], 3)}; "
        f"{_pct(sc['cr_core_flagged'], 2, 'n/a (no star core)')} "
        f"of {_fmt(sc['cr_core_pixels'], '.0f')} |"),
        f"| charge of the CR pixels above 5σ left unflagged | {_pct(sc['cr_charge_left'], 2)} |",
        (f"| unflagged hot pixels: share of their excess charge in the final image after the "
        f"pipeline's outlier rejection (100 % without it, diluted over the {n} frames) | "
        f"{_pct(sc['hot_residue'], 2, 'n/a (no unflagged hot pixel in the field)')} |"),
        (f"| weight map RMS/median (≲ 0.2 is good); holes | "
        f"{_fmt(sc['weight_rms_over_median'], '.3f')}; {_pct(sc['holes'], 3)} |"),
        (f"| noise-correlation ratio R: measured on (drizzle − truth); formula R(p, s) | "
        f"{_fmt(sc['noise_ratio'], '.3f')}; {_fmt(sc['noise_ratio_formula'], '.3f')} |"),
        f"| isolated stars measured | {sc['n_stars']:.0f} |",
        (f"| aperture photometry (r = 3 input px) against the noiseless truth drizzled alike: "
        f"median error; RMS error | {_pct(sc['phot_bias'], 2)}; {_pct(sc['phot_error'], 2)} |"),
        (f"| centroid error (RMS, photutils `centroid_2dg`) | "
        f"{_fmt(sc['centroid_error'], '.4f')}″ |"),
        (f"| PSF FWHM from second moments (photutils `data_properties`; the PSF's wings make "
         f"it wider than a Gaussian fit's); ellipticity 1 − b/a (medians) | "
        f"{_fmt(sc['fwhm'], '.4f')}″; {_fmt(sc['ellipticity'], '.3f')} |"),
        (f"| misregistration check (residual dipoles at stars; offset (x, y) of each "
         f"exposure from the others, input px) | {_offsets(sc['misregistration'])} |"),
        "",
    ]
    if (sc["cr_lost_pipeline"] or 0) < (sc["cr_lost_measured"] or 0):
        lines += [
            ("The pipeline loses less sky than ideal rejection would: where every frame was "
             "hit, the median is hit too and driz_cr cannot see the cosmic ray, so those "
             "pixels stay in the image with the cosmic-ray charge in them."),
            "",
        ]
    if (sc["cr_core_flagged"] or 0) > 0.01:
        lines += [
            ("More than 1 % of the star-core pixels were flagged as cosmic rays: the PSF is "
            "sharper than the rejection follows, which costs photometry (the median error "
            "above). Raise driz_cr_scale or use a finer driz_sep_scale (DrizzlePac Handbook "
            "§6.3)."),
            "",
        ]
    lines += [
        ("Dithering does not narrow the PSF by itself (each frame is still convolved with "
        "its pixel); what it buys is sampling, free of aliasing, which η and the covering "
        "radius measure."),
        "",
        ("Files: `postargs.txt` (for APT), `pattern.png`, `drizzled.png`, `drz_sci.fits` (the "
        "pipeline's drizzle: SCI, WHT, CTX and its parameters), `exposures/` "
        "(AstroDrizzle-ready `_flt.fits` and their truth)."),
        "",
    ]
    return "\n".join(lines)


def _offsets(m: dict[str, Any]) -> str:
    """The misregistration verdict and each exposure's offset, as text."""
    pairs = ", ".join("n/a" if None in xy else f"({xy[0]:+.3f}, {xy[1]:+.3f})"
                      for xy in m["offsets_px"])  # fmt: skip
    return f"{m['verdict']}: {pairs}"


def _eta_text(eta: float | None) -> str:
    """η for the report; at its cap it says what the cap means."""
    from ditherlab.score import ETA_CAP

    if eta is None or eta >= ETA_CAP:
        return f"{ETA_CAP:g} (the cap: these frames cannot rebuild a 2 × 2 finer grid)"
    return f"{eta:.3f}"


def _finite(v: float) -> float | None:
    """JSON has no infinity or NaN: a non-finite metric is reported as None."""
    return float(v) if np.isfinite(v) else None


def _pct(v: float | None, digits: int = 1, missing: str = "n/a") -> str:
    return missing if v is None else f"{100 * v:.{digits}f} %"


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
