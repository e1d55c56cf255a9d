"""Benchmark: drizzlepac's AstroDrizzle on a simulated 4-point ACS/WFC stack, per PSF.

Run with an interpreter that has drizzlepac (it is never a ditherlab dependency)::

    PYTHONPATH=. /work/venv-adz/bin/python benchmarks/psf_astrodrizzle.py [--size 512]
        [--psf default|airy] [--residual-blur MAS] [--json out.json]

The set-up of the measurement in the project's reference notes (§7): 20,000 stars and 1,000
galaxies (mag 18-26) in 290", sky 50 e-/px per exposure, ``subpixel(4, step=(3, 3))`` as
POS TARGs on ACS/WFC, 4 x 500 s, both chips (here ``--size``-square cut-outs around each
chip's reference pixel); exact headers, so AstroDrizzle runs with ``updatewcs=False``,
``driz_sep_bits = final_bits = 336`` and ``combine_type='minmed'``, defaults otherwise.

Prints one line per PSF: the fraction of star-core pixels (noiseless signal above 100 sigma
of the background, no cosmic ray or defect there, away from saturated stars: the one
definition of ``ditherlab.score.crmask``) that driz_cr flags (DQ 4096), and
the median error of bright unsaturated stars' 1"-radius aperture flux in the drizzled image
against the true flux times the PSF's encircled energy in 1".  ``--psf airy`` is the
simulator's default before issue 10 (a 0.6 um Airy pattern, no charge diffusion).
``--residual-blur MAS`` replaces the default PSF's 15 mas residual blur (0: the bare
optics-and-kernel model), for the sensitivity table in docs/simulate.md.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np


def simulate(workdir, size, psf_name, seed, residual_blur=None):
    """Write the flt files; return (file names, exposures, scene, encircled energy in 1")."""
    from ditherlab.planner import get_aperture, subpixel
    from ditherlab.simulate import HSTPSF, AiryPSF, Scene, observe, write_exposure

    ap = get_aperture("acs-wfc")
    scene = Scene.random_field(20000, n_galaxies=1000, size=290.0, mag_range=(18.0, 26.0),
                               ra=150.1, dec=2.2, sky=50.0 / 0.05**2 / 500.0, rng=seed)
    subarray = {}
    for chip in ap.chips:
        xr, yr = chip.reference_pixel
        subarray[int(chip.chip)] = (int(xr) - size // 2, int(yr) - size // 2, size, size)
    if psf_name == "airy":
        psf, kernel, ee = AiryPSF(0.6), False, 1.0  # truncated and renormalised: all in 1"
    else:
        kernel = True
        chosen = HSTPSF("ACS", "WFC", "F606W", residual_blur=residual_blur)
        psf = None if residual_blur is None else chosen
        ee = chosen.encircled_energy(1.0)
    pattern = subpixel(4, step=(3, 3))
    exps = observe(scene, pattern, ap, 500.0, psf=psf, detector_kernel=kernel,
                   subarray=subarray, rng=seed)
    names = []
    for e in exps:
        path = write_exposure(e, os.path.join(workdir, f"{e.rootname}_flt.fits"))
        names.append(os.path.basename(path))
    return names, exps, scene, ee


def run_astrodrizzle(workdir, names):
    from drizzlepac import astrodrizzle

    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            astrodrizzle.AstroDrizzle(
                names, output="final", updatewcs=False, build=False, clean=True,
                num_cores=1, in_memory=True, runfile="", combine_type="minmed",
                driz_sep_bits="336", final_bits="336",
            )
    finally:
        os.chdir(cwd)


def core_flags(workdir, names, exps):
    """Fraction of star-core pixels (> 100 sigma of the background) that driz_cr flagged.

    ditherlab's one definition (:func:`ditherlab.score.crmask.score_exposures`) over the
    pixels AstroDrizzle uses (DQ within 336): no cosmic ray or defect there, away from
    stars that saturate in any exposure.
    """
    from astropy.io import fits

    from ditherlab.score.crmask import score_exposures

    masks, good = [], []
    for name, e in zip(names, exps, strict=True):
        with fits.open(os.path.join(workdir, name)) as hdul:
            masks.append([(hdul["DQ", ci + 1].data & 4096) != 0 for ci in range(len(e.chips))])
        good.append([(c.dq.astype(np.int64) & ~(336 | 4096)) == 0 for c in e.chips])
    s = score_exposures(masks, exps, regions=good)
    return s.core_flags / max(s.n_core, 1), s.n_core


def bright_star_flux_error(workdir, scene, ee):
    """Median of (aperture flux in 1" / (true flux x EE(1")) - 1) over bright stars."""
    from astropy.io import fits
    from astropy.wcs import WCS
    from photutils.aperture import CircularAperture, aperture_photometry

    with fits.open(os.path.join(workdir, "final_drz_sci.fits")) as hdul:
        data = np.nan_to_num(hdul[0].data.astype(float))
        wcs = WCS(hdul[0].header)
    scale = abs(wcs.proj_plane_pixel_scales()[0].to_value("arcsec"))
    ra, dec = scene.radec()
    x, y = wcs.all_world2pix(ra, dec, 0)
    mag = 26.0 - 2.5 * np.log10(np.maximum(scene.flux, 1e-30))
    ny, nx = data.shape
    r = 1.0 / scale
    inside = (x > r + 5) & (x < nx - r - 6) & (y > r + 5) & (y < ny - r - 6)
    # bright but unsaturated (peak < ~60 % of the full well in 500 s), isolated stars
    bright = inside & (scene.kind == "point") & (mag > 19.6) & (mag < 22.0)
    pick = []
    for i in np.flatnonzero(bright):
        # isolated: no other source within 1.5" brighter than 3 % of this star
        d = np.hypot(x - x[i], y - y[i])
        near = (d < 1.5 * r) & (scene.flux > 0.03 * scene.flux[i])
        cut = data[int(y[i]) - 3 : int(y[i]) + 4, int(x[i]) - 3 : int(x[i]) + 4]
        if near.sum() == 1 and np.all(cut != 0):
            pick.append(i)
    pick = np.array(pick, int)
    if pick.size == 0:
        return float("nan"), 0
    sky = np.median(data[data != 0])
    phot = aperture_photometry(data - sky, CircularAperture(np.c_[x[pick], y[pick]], r))
    err = phot["aperture_sum"].data / (scene.flux[pick] * ee) - 1.0
    return float(np.median(err)), int(pick.size)


def measure(size=512, psf_name="default", seed=7, workdir=None, residual_blur=None):
    """Simulate, run AstroDrizzle, and return the two numbers (and the counts) as a dict."""
    own = workdir is None
    workdir = tempfile.mkdtemp(prefix="dl_adz_") if own else workdir
    try:
        t0 = time.perf_counter()
        names, exps, scene, ee = simulate(workdir, size, psf_name, seed, residual_blur)
        t1 = time.perf_counter()
        run_astrodrizzle(workdir, names)
        t2 = time.perf_counter()
        frac, n_core = core_flags(workdir, names, exps)
        err, n_stars = bright_star_flux_error(workdir, scene, ee)
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    return {"psf": psf_name, "residual_blur": residual_blur, "size": size,
            "core_flag_fraction": frac, "core_pixels": n_core,
            "flux_error_median": err, "bright_stars": n_stars,
            "simulate_s": t1 - t0, "astrodrizzle_s": t2 - t1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512, help="cut-out size per chip (pixels)")
    ap.add_argument("--psf", choices=["default", "airy", "both"], default="both")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--residual-blur", type=float, default=None,
                    help="mas RMS; replaces the default PSF's residual blur (0: bare model)")
    ap.add_argument("--json", help="also write the numbers to this JSON file")
    args = ap.parse_args()
    out = []
    for name in (["airy", "default"] if args.psf == "both" else [args.psf]):
        m = measure(args.size, name, args.seed, residual_blur=args.residual_blur)
        out.append(m)
        print(
            f"{name:8s} {args.size}^2 x 2 chips: star-core pixels flagged as CR "
            f"{100 * m['core_flag_fraction']:.2f} % of {m['core_pixels']}; bright-star flux "
            f"error (median of {m['bright_stars']}) {100 * m['flux_error_median']:+.2f} %; "
            f"simulate {m['simulate_s']:.1f} s, AstroDrizzle {m['astrodrizzle_s']:.1f} s",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
