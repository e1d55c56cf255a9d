"""ditherlab's AstroDrizzle-style pipeline beside drizzlepac's AstroDrizzle, on the same files.

Run from the repository root::

    python benchmarks/pipeline_vs_astrodrizzle.py                  # 512² cut-outs per chip
    python benchmarks/pipeline_vs_astrodrizzle.py --full           # + 2 × 2048 × 4096 speed run
    python benchmarks/pipeline_vs_astrodrizzle.py --shift 0.3      # one exposure off by 0.3 px

It simulates 4-exposure stacks (ACS/WFC and WFC3/UVIS, both chips, ``subpixel(4, step=(3, 3))``
as POS TARGs, 4 × 500 s, 20,000 stars + 1,000 galaxies in 290″, sky 50 e⁻/px) with
:mod:`ditherlab.simulate`, writes ``*_flt.fits``, and runs on copies of them

* drizzlepac's AstroDrizzle, in its own interpreter (``$DITHERLAB_ASTRODRIZZLE_PYTHON``, else
  ``/work/venv-adz/bin/python`` or ``../venv-adz`` beside the repository), with the settings of
  reference §7: ``updatewcs=False``, ``driz_sep_bits = final_bits = 336``,
  ``combine_type='minmed'``, the rest default;
* ditherlab's :func:`~ditherlab.drizzle.run_pipeline` with the same parameters, onto
  AstroDrizzle's output WCS (so the final images compare pixel by pixel).

Each CR mask (AstroDrizzle's is the CR bit 4096 it writes into the input DQ) is scored
against the simulator's truth with :mod:`ditherlab.score.crmask`.  Both pipelines run in a
fresh process each, so their wall time and peak memory (largest process, and the whole process
tree sampled every 0.05 s) are measured alike.

The PSF is the simulator's default HST PSF (issue 10: optics, halo and the detector's charge
diffusion); ``--psf airy-blur`` uses reference §7's stand-in instead (an Airy disc convolved
with a σ = 0.6 px Gaussian, 19 % of a centred star's flux in its pixel).  Not part of the
test suite
(tests/drizzle/pipeline/test_vs_astrodrizzle.py imports the helpers below).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

#: AstroDrizzle settings of reference §7 (the rest are AstroDrizzle's defaults).
ADZ_SETTINGS = {
    "updatewcs": False,
    "driz_sep_bits": 336,
    "final_bits": 336,
    "combine_type": "minmed",
}


# -- finding drizzlepac -------------------------------------------------------------------------
def astrodrizzle_python() -> str | None:
    """An interpreter that imports drizzlepac, or None.

    ``$DITHERLAB_ASTRODRIZZLE_PYTHON`` when it is set (only it: set it to an empty string or
    a non-existent path to turn the comparison off), else ``/work/venv-adz/bin/python``,
    ``venv-adz/bin/python`` next to the repository, then the running interpreter.
    """
    env = os.environ.get("DITHERLAB_ASTRODRIZZLE_PYTHON")
    if env is not None:
        cands = [env]
    else:
        cands = ["/work/venv-adz/bin/python", str(ROOT.parent / "venv-adz" / "bin" / "python")]
        cands.append(sys.executable)
    for c in cands:
        if not c or not Path(c).is_file():
            continue
        try:
            r = subprocess.run(
                [c, "-c", "import drizzlepac.astrodrizzle"],
                capture_output=True,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return c
    return None


# -- the simulated stacks -----------------------------------------------------------------------
def realistic_psf(instrument: str = "ACS", detector: str = "WFC", sigma_px: float = 0.6):
    """The default Airy PSF convolved with a Gaussian of ``sigma_px`` detector pixels.

    An :class:`~ditherlab.simulate.ImagePSF` in the detector frame, 9× oversampled.  With
    σ = 0.6 px, 19 % of a centred ACS/WFC star's flux falls in its pixel (46 % for the pure
    Airy disc), as in reference §7.
    """
    from scipy.ndimage import gaussian_filter

    from ditherlab.simulate import ImagePSF, default_psf, detector_model

    model = detector_model(instrument, detector)
    airy = default_psf(model)
    os_ = 9
    scale = model.idcscale / os_
    half = int(np.ceil(airy.radius / scale)) + int(np.ceil(4 * sigma_px * os_))
    g = np.arange(-half, half + 1) * scale
    xx, yy = np.meshgrid(g, g)
    img = gaussian_filter(airy.profile(xx, yy), sigma_px * os_, mode="constant")
    return ImagePSF(img, oversampling=os_, pixel_scale=scale)


def _cutouts(ap, size: int | None) -> dict[int, tuple[int, int, int, int]] | None:
    if size is None:
        return None
    out = {}
    for c in ap.chips:
        ny, nx = (int(v) for v in c.shape)
        out[int(c.chip)] = ((nx - size) // 2, (ny - size) // 2, size, size)
    return out


def simulate_stack(
    outdir: str | os.PathLike[str],
    aperture: str = "acs-wfc",
    *,
    size: int | None = 512,
    shift: tuple[int, float, float] | None = None,
    n_stars: int = 20000,
    n_galaxies: int = 1000,
    exptime: float = 500.0,
    sky_per_pixel: float = 50.0,
    psf=None,
    chips=None,
    seed: int = 7,
) -> list[Path]:
    """Simulate a 4-exposure stack into ``outdir``; return the flt paths (truth beside them).

    Parameters
    ----------
    aperture : str
        A two-chip camera (``"acs-wfc"`` or ``"wfc3-uvis"``).
    size : int or None
        Side of the centred cut-out of each chip (None: full chips).
    shift : (int, float, float), optional
        ``(exposure index, dx, dy)``: that exposure's true pointing is off by (dx, dy)
        detector pixels while its header keeps the commanded one.
    chips : sequence of int, optional
        CCDCHIP numbers to simulate (default all).
    psf : PSF or "airy-blur", optional
        Default: the simulator's default HST PSF (optics, halo and the detector's charge
        diffusion kernel, issue 10).  ``"airy-blur"``: an Airy disc convolved with a
        σ = 0.6 px Gaussian, the stand-in reference §7 measured AstroDrizzle with.
    """
    from ditherlab.planner import Pattern, get_aperture, subpixel
    from ditherlab.simulate import Pointing, Scene, iter_observe, write_exposure

    ap = get_aperture(aperture)
    model_scale = float(np.mean(ap.pixel_scale))
    pix = subpixel(4, step=(3, 3))
    posts = ap.postarg_offsets(pix)
    errors = np.zeros((len(pix), 2))
    if shift is not None:
        k, dx, dy = shift
        err = ap.postarg_offsets(Pattern([[0.0, 0.0], [dx, dy]], frame="pixel"))
        errors[int(k)] = err.offsets[1] - err.offsets[0]
    scene = Scene.random_field(
        n_stars,
        n_galaxies=n_galaxies,
        size=290.0,
        sky=sky_per_pixel / (model_scale**2 * exptime),
        mag_range=(18.0, 26.0),
        rng=seed,
    )
    if psf == "airy-blur":  # reference §7's stand-in for a realistic PSF
        psf = realistic_psf(ap.instrument, ap.detector)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for exp in iter_observe(
        scene,
        posts,
        ap,
        exptime,
        psf=psf,
        pointing=Pointing(errors=errors),
        chips=chips,
        subarray=_cutouts(ap, size),
        rootname="adzsim",
        rng=seed,
    ):
        paths.append(write_exposure(exp, out / f"{exp.rootname}_flt.fits", overwrite=True))
    return paths


# -- running a pipeline in a fresh process ------------------------------------------------------
def _tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return sorted(out)


def _tree_rss(pid: int) -> tuple[int, int] | None:
    """Memory of ``pid`` and its descendants (Linux /proc): summed PSS, and the largest RSS.

    PSS (proportional set size) splits pages shared between forked workers among them, so
    the sum is the tree's real footprint; a sum of RSS would count shared pages once per
    process.  None when the tree changed while it was read: a parent read just before it
    forks and its new worker read just after count the shared pages twice (a sample of
    this kind once showed 4.6 GB for a tree of 2.9 GB).
    """
    pids = _tree_pids(pid)
    total = largest = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Rss:"):
                        largest = max(largest, int(line.split()[1]) * 1024)
                    elif line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return None
    if _tree_pids(pid) != pids:
        return None
    return total, largest


def run_measured(cmd: list[str], cwd: Path, env: dict | None = None) -> dict:
    """Run ``cmd``; return its wall time, peak RSS (tree, sampled) and stdout/stderr."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    peak = largest = 0
    out_chunks: list[str] = []
    import threading

    def drain(stream, sink):
        sink.append(stream.read())

    err_chunks: list[str] = []
    th = [
        threading.Thread(target=drain, args=(proc.stdout, out_chunks)),
        threading.Thread(target=drain, args=(proc.stderr, err_chunks)),
    ]
    for t in th:
        t.start()
    while proc.poll() is None:
        sample = _tree_rss(proc.pid)
        if sample is not None:
            peak, largest = max(peak, sample[0]), max(largest, sample[1])
        time.sleep(0.05)
    for t in th:
        t.join()
    wall = time.perf_counter() - t0
    return {
        "returncode": proc.returncode,
        "wall_s": wall,
        "peak_tree_mb": peak / 2**20,
        "peak_largest_mb": largest / 2**20,
        "stdout": "".join(out_chunks),
        "stderr": "".join(err_chunks),
    }


_ADZ_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    from drizzlepac import astrodrizzle
    inputs, settings = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    t0 = time.perf_counter()
    astrodrizzle.AstroDrizzle(inputs, output="final", **settings)
    print("DITHERLAB_CALL_S", time.perf_counter() - t0)
    """
)


def _adz_steps(log: str) -> dict[str, float]:
    """AstroDrizzle's own step timings from its summary table."""
    import re

    steps = {}
    pat = r"^(?:\[\w+\s*\])?\s*([A-Z][A-Za-z_ ]*?)\s+([0-9.]+)\s+sec\.?\s*$"
    for m in re.finditer(pat, log, re.M):
        steps[m.group(1).strip()] = float(m.group(2))
    return steps


def run_astrodrizzle(
    flt_paths: list[Path], workdir: Path, python: str, **settings
) -> dict:
    """AstroDrizzle on copies of ``flt_paths`` in ``workdir``.

    Returns a dict with ``sci``, ``wht``, ``wcs`` (the final drizzle), ``cr_masks[i][j]``
    (DQ & 4096 of each input chip after the run), the timings and the peak memory.
    """
    from astropy.io import fits
    from astropy.wcs import WCS

    workdir.mkdir(parents=True, exist_ok=True)
    names = []
    for p in flt_paths:
        shutil.copy(p, workdir / p.name)  # AstroDrizzle edits its inputs in place
        names.append(p.name)
    params = {**ADZ_SETTINGS, **settings}
    run = run_measured(
        [python, "-c", _ADZ_SCRIPT, json.dumps(names), json.dumps(params)], cwd=workdir
    )
    if run["returncode"] != 0:
        raise RuntimeError(f"AstroDrizzle failed:\n{run['stderr'][-3000:]}")
    call = [ln for ln in run["stdout"].splitlines() if ln.startswith("DITHERLAB_CALL_S")]
    run["call_s"] = float(call[-1].split()[1]) if call else None
    log = workdir / "astrodrizzle.log"
    run["steps"] = _adz_steps(log.read_text() if log.is_file() else run["stdout"])
    masks = []
    for n in names:
        with fits.open(workdir / n) as hdul:
            masks.append(
                [(np.asarray(h.data) & 4096) != 0 for h in hdul if h.name == "DQ"]
            )
    (sci,) = workdir.glob("final_dr?_sci.fits")
    with fits.open(sci) as hdul:
        run["sci"] = np.asarray(hdul[0].data, float)
        run["wcs"] = WCS(hdul[0].header)
        run["header"] = hdul[0].header.copy()
    with fits.open(str(sci).replace("_sci.fits", "_wht.fits")) as hdul:
        run["wht"] = np.asarray(hdul[0].data, float)
    run["cr_masks"] = masks
    for k in ("stdout", "stderr"):
        run[k] = run[k][-20000:]
    return run


_OURS_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, sys.argv[4])
    import numpy as np
    from ditherlab.drizzle import PipelineConfig, run_pipeline
    inputs, settings, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
    t0 = time.perf_counter()
    p = run_pipeline(inputs, PipelineConfig(**settings))
    call = time.perf_counter() - t0
    arrays = {"sci": p.sci, "wht": p.wht}
    for i, ms in enumerate(p.cr_masks):
        for j, m in enumerate(ms):
            arrays[f"cr_{i}_{j}"] = m
    np.savez(out, **arrays)
    res = {"call_s": call, "steps": dict(p.timings), "wcs": p.wcs.to_header_string()}
    if sys.argv[5] == "diagnose":  # after the timed call
        from ditherlab.drizzle.pipeline.diagnostics import diagnose_misregistration
        rep = diagnose_misregistration(p)
        res["misregistration"] = str(rep)
    print("DITHERLAB_RESULT", json.dumps(res))
    """
)

#: ditherlab's names for what ADZ_SETTINGS sets (``updatewcs`` has no counterpart: ditherlab
#: never rewrites a header's WCS).
OURS_SETTINGS = {"driz_sep_bits": 336, "final_bits": 336, "combine_type": "minmed"}


def run_ours(
    flt_paths: list[Path],
    workdir: Path,
    python: str = sys.executable,
    diagnose: bool = False,
    **settings,
) -> dict:
    """ditherlab's run_pipeline on ``flt_paths`` in a fresh process; like run_astrodrizzle.

    With ``diagnose``, the misregistration diagnostic runs after the timed call (its
    report is ``run["misregistration"]``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    params = {**OURS_SETTINGS, **settings}
    out = workdir / "ours.npz"
    run = run_measured(
        [
            python,
            "-c",
            _OURS_SCRIPT,
            json.dumps([str(p) for p in flt_paths]),
            json.dumps(params),
            str(out),
            str(ROOT),
            "diagnose" if diagnose else "-",
        ],
        cwd=workdir,
    )
    if run["returncode"] != 0:
        raise RuntimeError(f"run_pipeline failed:\n{run['stderr'][-3000:]}")
    line = [ln for ln in run["stdout"].splitlines() if ln.startswith("DITHERLAB_RESULT")][-1]
    run.update(json.loads(line.split(" ", 1)[1]))
    with np.load(out) as z:
        run["sci"] = np.asarray(z["sci"], float)
        run["wht"] = np.asarray(z["wht"], float)
        run["cr_masks"] = [
            [z[f"cr_{i}_{j}"] for j in range(len(ms))]
            for i, ms in enumerate(_chip_layout(z.files))
        ]
    return run


def check_same_grid(ours: dict, ref: str, tol: float = 1e-3) -> None:
    """Raise unless ours's output grid is AstroDrizzle's ``ref`` (same size, every corner
    within ``tol`` pixel)."""
    from astropy.io import fits
    from astropy.wcs import WCS

    mine = WCS(fits.Header.fromstring(ours["wcs"]))
    with fits.open(ref) as h:
        theirs, shape = WCS(h[0].header), h[0].data.shape
    if ours["sci"].shape != shape:
        raise RuntimeError(f"output grids differ: ours {ours['sci'].shape}, {ref} {shape}")
    ny, nx = shape
    x, y = np.array([0, nx - 1, 0, nx - 1], float), np.array([0, 0, ny - 1, ny - 1], float)
    u, v = theirs.world_to_pixel_values(*mine.pixel_to_world_values(x, y))
    off = float(np.max(np.hypot(u - x, v - y)))
    if off > tol:
        raise RuntimeError(f"output grids differ by {off:.3g} px at a corner ({ref})")


def _chip_layout(files: list[str]) -> list[list[int]]:
    pairs = sorted(tuple(int(v) for v in f.split("_")[1:]) for f in files if f.startswith("cr_"))
    n = 1 + max(i for i, _ in pairs)
    return [[j for i2, j in pairs if i2 == i] for i in range(n)]


# -- comparing ----------------------------------------------------------------------------------
def image_agreement(ours: np.ndarray, theirs: np.ndarray, w1, w2) -> dict[str, float]:
    """Pixel-by-pixel agreement of two final images on one grid, in units of the sky noise."""
    from ditherlab.drizzle.pipeline.diagnostics import bright_stars

    both = (w1 > 0) & (w2 > 0) & np.isfinite(ours) & np.isfinite(theirs)
    t = theirs[both]
    med = np.median(t)
    noise = 1.4826 * np.median(np.abs(t - med))
    d = (ours - theirs)[both]
    xs, ys = bright_stars(np.where(both, theirs, np.nan), nsigma=50.0, max_stars=200)
    r = 3
    flux = []
    for x, y in zip(xs.astype(int), ys.astype(int), strict=True):
        a = ours[y - r : y + r + 1, x - r : x + r + 1]
        b = theirs[y - r : y + r + 1, x - r : x + r + 1]
        if np.isfinite(a).all() and np.isfinite(b).all() and b.sum() > 0:
            flux.append(a.sum() / b.sum())
    return {
        "pixels_compared": int(both.sum()),
        "sky_noise": float(noise),
        "median_diff_over_noise": float(np.median(d) / noise),
        "rms_diff_over_noise": float(np.sqrt(np.mean(d**2)) / noise),
        "p999_absdiff_over_noise": float(np.percentile(np.abs(d), 99.9) / noise),
        "bright_star_flux_ratio_median": float(np.median(flux)) if flux else float("nan"),
        "bright_stars": len(flux),
    }


def compare(exposures, adz: dict, ours: dict, *, k: float = 5.0, core_sigma: float = 100.0):
    """Scores of both pipelines against the truth, and their agreement."""
    from ditherlab.score.crmask import MaskAgreement, mask_agreement, score_exposures

    agree = MaskAgreement(0, 0, 0, 0)
    for ma, mo in zip(adz["cr_masks"], ours["cr_masks"], strict=True):
        for a, o in zip(ma, mo, strict=True):
            agree = agree + mask_agreement(o, a)
    return {
        "astrodrizzle": score_exposures(adz["cr_masks"], exposures, k=k, core_sigma=core_sigma),
        "ours": score_exposures(ours["cr_masks"], exposures, k=k, core_sigma=core_sigma),
        "mask_agreement": agree,
        "image": image_agreement(ours["sci"], adz["sci"], ours["wht"], adz["wht"]),
    }


def run_case(
    label: str,
    base: Path,
    python: str,
    aperture: str = "acs-wfc",
    *,
    size: int | None = 512,
    shift=None,
    variant: bool = True,
    reuse: bool = False,
    **sim,
) -> dict:
    """Simulate one stack, run both pipelines on it, compare; return everything.

    With ``variant``, ours also runs with ``driz_cr_peak=0, combine_minweight=0``,
    AstroDrizzle's masks exactly (scored as ``res["variant"]``, their agreement with
    AstroDrizzle's as ``res["variant_agreement"]``).  With ``reuse``, flt files left in
    ``base/label/sim`` by an earlier run (``--keep``) are used again.
    """
    from ditherlab.simulate import read_exposure

    t0 = time.perf_counter()
    paths = sorted((base / label / "sim").glob("*_flt.fits")) if reuse else []
    if len(paths) != 4:
        paths = simulate_stack(base / label / "sim", aperture, size=size, shift=shift, **sim)
    sim_s = time.perf_counter() - t0
    for old in ("adz", "ours", "ours_exact"):
        shutil.rmtree(base / label / old, ignore_errors=True)
    adz = run_astrodrizzle(paths, base / label / "adz", python)
    # ours on its default grid, which is AstroDrizzle's (checked), so the final images
    # compare pixel by pixel
    ref = str(next((base / label / "adz").glob("final_dr?_sci.fits")))
    ours = run_ours(paths, base / label / "ours", diagnose=variant and size is not None)
    check_same_grid(ours, ref)
    exposures = [read_exposure(p, truth=True) for p in paths]
    res = compare(exposures, adz, ours)
    res.update(label=label, simulate_s=sim_s, adz=adz, ours_run=ours)
    if variant:  # the same without ditherlab's peak allowance: AstroDrizzle's test exactly
        alt = compare(exposures, adz, run_ours(
            paths, base / label / "ours_exact", driz_cr_peak=0.0, combine_minweight=0.0,
        ))  # fmt: skip
        res["variant"], res["variant_agreement"] = alt["ours"], alt["mask_agreement"]
    return res


def _fmt_case(res: dict) -> str:
    a, o, m, im = res["astrodrizzle"], res["ours"], res["mask_agreement"], res["image"]
    rows = [
        f"== {res['label']} ==",
        f"{'':34s}{'AstroDrizzle':>14s}{'ditherlab':>14s}",
    ]
    for name, fmt in (
        ("recall_significant", "{:.2%}"),
        ("recall", "{:.2%}"),
        ("false_flag_fraction", "{:.4%}"),
        ("core_flag_fraction", "{:.3%}"),
        ("charge_left_fraction", "{:.3%}"),
    ):
        rows.append(
            f"{name:34s}{fmt.format(getattr(a, name)):>14s}{fmt.format(getattr(o, name)):>14s}"
        )
    rows.append(f"{'false flags (pixels)':34s}{a.false_flags:>14d}{o.false_flags:>14d}")
    rows.append(f"{'star-core pixels flagged':34s}{a.core_flags:>14d}{o.core_flags:>14d}")
    v = res.get("variant")
    if v is not None:
        rows.append(
            "ditherlab with driz_cr_peak=0, combine_minweight=0 (AstroDrizzle's masks): "
            f"recall above 5σ {v.recall_significant:.2%}, all {v.recall:.2%}, false flags "
            f"{v.false_flags} ({v.false_flag_fraction:.4%}), star cores {v.core_flags} "
            f"({v.core_flag_fraction:.3%}), charge left {v.charge_left_fraction:.3%}, "
            f"CR-mask Jaccard with AstroDrizzle {res['variant_agreement'].jaccard:.3f}"
        )
    for key, label in (("wall_s", "wall time (s)"), ("call_s", "inside the call (s)"),
                       ("peak_tree_mb", "peak memory, tree PSS (MB)"),
                       ("peak_largest_mb", "peak memory, largest process (MB)")):
        rows.append(f"{label:34s}{res['adz'][key]:>14.1f}{res['ours_run'][key]:>14.1f}")
    rows.append(
        f"CR masks: {m.n_both} pixels in both, {m.a_only} ditherlab only, {m.b_only} "
        f"AstroDrizzle only (Jaccard {m.jaccard:.3f})"
    )
    rows.append(
        f"final images: {im['pixels_compared']} pixels, ditherlab − AstroDrizzle median "
        f"{im['median_diff_over_noise']:+.3f}σ, rms {im['rms_diff_over_noise']:.3f}σ, 99.9 % "
        f"|diff| {im['p999_absdiff_over_noise']:.2f}σ (σ = {im['sky_noise']:.4g} e⁻/s); "
        f"bright-star flux ratio {im['bright_star_flux_ratio_median']:.4f} "
        f"({im['bright_stars']} stars)"
    )
    if "misregistration" in res["ours_run"]:
        rows.append(res["ours_run"]["misregistration"])
    steps_a = ", ".join(f"{k} {v:.2f}" for k, v in res["adz"]["steps"].items())
    steps_o = ", ".join(f"{k} {v:.2f}" for k, v in res["ours_run"]["steps"].items())
    rows.append(f"AstroDrizzle steps (s): {steps_a}")
    rows.append(f"ditherlab steps (s): {steps_o}")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also the 2 × 2048 × 4096 speed run")
    ap.add_argument("--only-full", action="store_true", help="only the speed run")
    ap.add_argument("--shift", type=float, default=0.3, help="misregistration (px) of one case")
    ap.add_argument("--keep", help="work directory to keep (default: a temporary one)")
    ap.add_argument("--reuse", action="store_true",
                    help="with --keep: reuse the flt files simulated by an earlier run")
    ap.add_argument("--exact-full", action="store_true",
                    help="also run ours with both star-core additions off on the full frames")
    ap.add_argument("--psf", choices=["default", "airy-blur"], default="default",
                    help="the simulator's default HST PSF, or reference §7's blurred Airy")
    args = ap.parse_args()
    python = astrodrizzle_python()
    if python is None:
        sys.exit("drizzlepac not found: set DITHERLAB_ASTRODRIZZLE_PYTHON to its interpreter")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="adzbench-"))
    cases = []
    if not args.only_full:
        cases += [
            ("ACS/WFC 512² per chip, accurate pointing", "acs-wfc", 512, None),
            ("WFC3/UVIS 512² per chip, accurate pointing", "wfc3-uvis", 512, None),
            (f"ACS/WFC 512² per chip, exposure 3 off by {args.shift} px", "acs-wfc", 512,
             (2, args.shift, 0.0)),
        ]
    if args.full or args.only_full:
        cases.append(("ACS/WFC full 2 × 2048 × 4096, accurate pointing", "acs-wfc", None, None))
    try:
        for i, (label, aperture, size, shift) in enumerate(cases):
            res = run_case(
                f"case{i}", base, python, aperture, size=size, shift=shift,
                variant=size is not None or args.exact_full, reuse=args.reuse,
                psf=None if args.psf == "default" else args.psf,
            )
            res["label"] = label
            print(_fmt_case(res), flush=True)
            print(f"(simulation {res['simulate_s']:.1f} s, not counted)\n", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
