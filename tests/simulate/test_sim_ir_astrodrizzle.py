"""WFC3/IR flt files in e-/s go through AstroDrizzle's native count-rate path (optional:
needs drizzlepac) and the drizzled star has the flux rate it was simulated with."""


import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from sim_helpers import camera, one_star, run_astrodrizzle

from ditherlab.planner import subpixel
from ditherlab.simulate import Scene, observe


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_astrodrizzle_reads_ir_rates_and_keeps_the_star_flux(tmp_path, monkeypatch, capfd):
    pytest.importorskip("drizzlepac")

    ap = camera("wfc3-ir")
    xr, yr = ap.reference_pixel
    n = 96
    star, _ = one_star(ap, xr + 3.3, yr - 2.6, 500.0)  # 500 e-/s: the box's noise is 0.1 %
    scene = Scene(ra=star.ra, dec=star.dec, x=star.x, y=star.y, flux=star.flux, sky=20.0)
    sub = (int(xr) - n // 2, int(yr) - n // 2, n, n)
    exps = observe(scene, subpixel(2), ap, 300.0, subarray=sub, rng=5, defects_on=False)
    work = run_astrodrizzle(
        exps,
        tmp_path,
        monkeypatch,
        driz_cr=False,  # two frames: driz_cr would clip the bright star's core
        median=False,
        blot=False,
    )
    # drizzlepac's IR reader takes ELECTRONS/S as its native unit (no "already in
    # units of ELECTRONS" message, which it printed for the earlier electron files)
    assert "already in units of ELECTRONS" not in capfd.readouterr().out
    with fits.open(work / "final_drz_sci.fits") as hdul:
        data = hdul[0].data.astype(float)
        w = WCS(hdul[0].header)
        assert hdul[0].header["BUNIT"] == "ELECTRONS/S"
    ra, dec = star.radec()
    px, py = w.all_world2pix(ra, dec, 0)
    ix, iy = round(px[0]), round(py[0])
    box = np.nan_to_num(data[iy - 12 : iy + 13, ix - 12 : ix + 13])
    # the same 25 x 25 native pixels of the noiseless truth (the output scale is native):
    # the default PSF's wing to 5.5" puts a few per cent of the flux outside any such box.
    # The sky subtracted is the one AstroDrizzle measured (MDRIZSKY, e-/s here): on a 96²
    # cut-out its noise alone would move a 625-pixel box by ~1 % of a 50 e-/s star
    skies = []
    for e in exps:
        with fits.open(work / f"{e.rootname}_flt.fits") as hdul:
            skies.append(float(hdul["SCI", 1].header["MDRIZSKY"]))
    t = exps[0].exptime
    truth = exps[0].truth.chips[0].noiseless.astype(float) / t - np.mean(skies)
    tx, ty = round(xr + 3.3) - sub[0], round(yr - 2.6) - sub[1]
    tbox = truth[ty - 12 : ty + 13, tx - 12 : tx + 13]
    assert box.sum() == pytest.approx(tbox.sum(), rel=0.01)
    # AstroDrizzle's sky: the true one plus a little of the star's own 5.5" wing
    assert exps[0].chips[0].sky / t < np.mean(skies) < 1.02 * exps[0].chips[0].sky / t
