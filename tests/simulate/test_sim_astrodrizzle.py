"""AstroDrizzle (drizzlepac, optional) runs end to end on simulated flt files."""


import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from sim_helpers import camera, one_star, run_astrodrizzle

from ditherlab.planner import subpixel
from ditherlab.simulate import Scene, observe


# drizzlepac leaves files open and warns about its own headers: not ours to fix
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_astrodrizzle_end_to_end(tmp_path, monkeypatch):
    pytest.importorskip("drizzlepac")

    ap = camera("acs-wfc1")
    xr, yr = ap.reference_pixel
    star, _ = one_star(ap, xr + 40.3, yr + 30.7, 200.0)
    field = Scene.random_field(5000, size=220, ra=150.0, dec=2.0, sky=60.0, rng=12)
    scene = Scene(
        ra=field.ra,
        dec=field.dec,
        x=np.r_[field.x, star.x],
        y=np.r_[field.y, star.y],
        flux=np.r_[field.flux, star.flux],
        sky=field.sky,
    )
    exps = observe(
        scene,
        subpixel(4),
        ap,
        400.0,
        chips=[ap.chip],
        subarray=(int(xr) - 128, int(yr) - 128, 256, 256),
        rng=12,
    )
    work = run_astrodrizzle(
        exps, tmp_path, monkeypatch, context=True, final_bits="16,64", driz_sep_bits="16,64"
    )
    sci_path = work / "final_drz_sci.fits"
    assert sci_path.is_file()
    with fits.open(sci_path) as hdul:
        data = hdul[0].data.astype(float)
        w = WCS(hdul[0].header)
    assert np.isfinite(data).mean() > 0.9
    # the bright star is where its RA/Dec says, in the drizzled frame
    ra, dec = star.radec()
    px, py = w.all_world2pix(ra, dec, 0)
    ix, iy = round(px[0]), round(py[0])
    cut = data[iy - 6 : iy + 7, ix - 6 : ix + 7]
    cut = np.nan_to_num(cut - np.nanmedian(data))
    yy, xx = np.mgrid[iy - 6 : iy + 7, ix - 6 : ix + 7]
    assert (cut * xx).sum() / cut.sum() == pytest.approx(px[0], abs=0.15)
    assert (cut * yy).sum() / cut.sum() == pytest.approx(py[0], abs=0.15)
    # cosmic rays were found: the inputs' DQ got the CR bit 4096 from driz_cr
    flagged = 0
    for name in (f"{e.rootname}_flt.fits" for e in exps):
        with fits.open(work / name) as hdul:
            flagged += int(((hdul["DQ", 1].data & 4096) != 0).sum())
    cr_pixels = sum(int(e.truth.chips[0].cr_mask.sum()) for e in exps)
    assert flagged > 0.5 * cr_pixels


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    "name", ["acs-wfc1", "acs-hrc", "acs-sbc", "wfc3-uvis1", "wfc3-ir", "wfpc2-wf3", "wfpc2-pc1"]
)
def test_astrodrizzle_runs_on_every_camera(name, tmp_path, monkeypatch):
    """Every camera's flt files go through AstroDrizzle (small sub-arrays), and a star
    lands where its RA/Dec says in the drizzled image."""
    pytest.importorskip("drizzlepac")

    ap = camera(name)
    xr, yr = ap.reference_pixel
    n = 96
    x0, y0 = int(xr) - n // 2, int(yr) - n // 2
    star, _ = one_star(ap, xr + 3.3, yr - 2.6, 50.0)
    scene = Scene(ra=star.ra, dec=star.dec, x=star.x, y=star.y, flux=star.flux, sky=20.0)
    exps = observe(scene, subpixel(2), ap, 300.0, chips=[ap.chip], subarray=(x0, y0, n, n), rng=5)
    work = run_astrodrizzle(exps, tmp_path, monkeypatch)
    (sci_path,) = sorted(work.glob("final_dr?_sci.fits"))  # WFPC2 output is *_drw_*
    with fits.open(sci_path) as hdul:
        data = hdul[0].data.astype(float)
        w = WCS(hdul[0].header)
    assert np.isfinite(data).mean() > 0.5
    ra, dec = star.radec()
    px, py = w.all_world2pix(ra, dec, 0)
    ix, iy = round(px[0]), round(py[0])
    # photutils' 2-D Gaussian centroid: the default PSF's halo is a pedestal in a 9 x 9
    # cut-out that biases a plain first moment towards the cut-out's centre (0.2 px on SBC)
    from photutils.centroids import centroid_2dg

    cut = np.nan_to_num(data[iy - 4 : iy + 5, ix - 4 : ix + 5] - np.nanmedian(data))
    cx, cy = centroid_2dg(cut)
    assert cx + ix - 4 == pytest.approx(px[0], abs=0.2)
    assert cy + iy - 4 == pytest.approx(py[0], abs=0.2)
