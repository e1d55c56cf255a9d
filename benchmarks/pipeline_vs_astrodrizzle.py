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

The PSF is "realistic" in the sense of reference §7: ditherlab's default Airy PSF convolved
with a Gaussian of σ = 0.6 px (charge diffusion; 19 % of a centred star's flux in its pixel),
until the instrument PSF of issue 10 is available.  Not part of the test suite
(tests/drizzle/pipeline/test_vs_astrodrizzle.py imports the helpers below).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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

    Looked for in ``$DITHERLAB_ASTRODRIZZLE_PYTHON``, then ``/work/venv-adz/bin/python`` and
    ``venv-adz/bin/python`` next to the repository, then the running interpreter.
    """
    cands = [os.environ.get("DITHERLAB_ASTRODRIZZLE_PYTHON")]
    cands += ["/work/venv-adz/bin/python", str(ROOT.parent / "venv-adz" / "bin" / "python")]
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
    if psf is None:
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
        subarray=_cutouts(ap, size),
        rootname="adzsim",
        rng=seed,
    ):
        paths.append(write_exposure(exp, out / f"{exp.rootname}_flt.fits", overwrite=True))
    return paths


# -- running a pipeline in a fresh process ------------------------------------------------------
def _tree_rss(pid: int) -> tuple[int, int]:
    """Resident bytes of ``pid`` and all its descendants, and of the largest (Linux /proc)."""
    total = largest = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                        total += rss
                        largest = max(largest, rss)
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
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
        tree, one = _tree_rss(proc.pid)
        peak, largest = max(peak, tree), max(largest, one)
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
