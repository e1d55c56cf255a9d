"""Our output grids are AstroDrizzle's: its ``*_single_sci`` and ``*_drz_sci`` headers.

drizzlepac runs in its own interpreter (``$DITHERLAB_ASTRODRIZZLE_PYTHON`` or
``/work/venv-adz``, as in ``test_vs_astrodrizzle.py``); without one these tests are skipped.
AstroDrizzle runs on simulated two-chip 128² cut-outs with only the two drizzle steps, with
its default grids and with custom ones (``driz_sep_wcs``/``final_wcs``: scale, rotation,
size, centre), and ``output_wcs`` must give the same NAXIS, CRPIX, CRVAL and CD: measured
agreement ~3e-9 px over the grids.
"""

from pathlib import Path

import numpy as np
import pytest
from _stacks import bench

pytestmark = [pytest.mark.filterwarnings("ignore::ResourceWarning")]

ONLY_DRIZZLE = {"static": False, "skysub": False, "median": False, "blot": False,
                "driz_cr": False}  # fmt: skip
RA, DEC = 150.001, 2.2005  # near the simulated field's centre


@pytest.fixture(scope="module",
                params=["acs-wfc", pytest.param("wfc3-uvis", marks=pytest.mark.slow)])  # fmt: skip
def stack(request, tmp_path_factory, adz_python):
    from ditherlab.drizzle.pipeline.inputs import load_inputs

    base = tmp_path_factory.mktemp(f"grid_{request.param}")
    paths = bench().simulate_stack(base / "sim", request.param, size=128, n_stars=2000,
                                   n_galaxies=0)  # fmt: skip
    return {"paths": paths, "exps": load_inputs(paths), "base": base, "py": adz_python}


def _adz_grids(stack, name, paths=None, **settings):
    """AstroDrizzle's single-drizzle grid and final grid, from its headers."""
    from astropy.io import fits
    from astropy.wcs import WCS

    work = stack["base"] / name
    paths = stack["paths"] if paths is None else paths
    bench().run_astrodrizzle(paths, work, stack["py"], **ONLY_DRIZZLE, **settings)
    single = work / Path(paths[0]).name.replace("_flt.fits", "_single_sci.fits")
    (final,) = work.glob("final_dr?_sci.fits")
    out = []
    for f in (single, final):
        h = fits.getheader(f)
        out.append((WCS(h), (h["NAXIS2"], h["NAXIS1"])))
    return out


def _same_grid(ours, theirs):
    (w, shape), (ref, ref_shape) = ours, theirs
    assert shape == ref_shape
    np.testing.assert_allclose(w.wcs.crpix, ref.wcs.crpix, rtol=0, atol=1e-9)
    np.testing.assert_allclose(w.wcs.cd, ref.wcs.cd, rtol=0, atol=1e-10 * np.abs(ref.wcs.cd).max())
    np.testing.assert_allclose(w.wcs.crval, ref.wcs.crval, rtol=0, atol=1e-12)  # 4e-9″
    y, x = np.mgrid[0 : shape[0] : 30j, 0 : shape[1] : 30j]
    xr, yr = ref.wcs_world2pix(*w.wcs_pix2world(x, y, 0), 0)
    assert np.hypot(xr - x, yr - y).max() < 1e-5  # pixels


def test_default_grids(stack):
    """No grid parameters: both drizzles on drizzlepac's default grid."""
    from ditherlab.drizzle.pipeline.geometry import output_wcs

    single, final = _adz_grids(stack, "default")
    ours = output_wcs(stack["exps"])
    _same_grid(ours, single)
    _same_grid(ours, final)


def test_custom_grids(stack):
    """A scale with a rotation (single drizzle); a fixed size, centre, scale and rotation."""
    from ditherlab.drizzle.pipeline.geometry import output_wcs

    single, final = _adz_grids(
        stack, "custom", driz_sep_wcs=True, driz_sep_scale=0.04, driz_sep_rot=30.0,
        final_wcs=True, final_outnx=301, final_outny=201, final_ra=RA, final_dec=DEC,
        final_scale=0.025, final_rot=-45.0,
    )  # fmt: skip
    _same_grid(output_wcs(stack["exps"], 0.04, 30.0), single)
    _same_grid(output_wcs(stack["exps"], 0.025, -45.0, shape=(201, 301), center=(RA, DEC)),
               final)  # fmt: skip


@pytest.mark.slow
def test_north_up_and_scaled_grids(stack):
    """North up (a rotation alone, single drizzle); a scale alone (final)."""
    from ditherlab.drizzle.pipeline.geometry import output_wcs

    single, final = _adz_grids(stack, "north", driz_sep_wcs=True, driz_sep_rot=0.0,
                               final_wcs=True, final_scale=0.03)  # fmt: skip
    _same_grid(output_wcs(stack["exps"], None, 0.0), single)
    _same_grid(output_wcs(stack["exps"], 0.03), final)


def _with_idc_keywords(stack):
    """Copies of the files as pipeline-processed flt files: ``IDCV2REF``, ``IDCV3REF`` and
    ``IDCTHETA`` in each SCI header (the chip aperture's V2/V3; a theta both programs just
    read), and without ditherlab's marker, so ours reads them as real HST files."""
    from astropy.io import fits

    from ditherlab.planner import get_aperture

    out = stack["base"] / "idc"
    out.mkdir(exist_ok=True)
    paths = []
    for p in stack["paths"]:
        with fits.open(p) as hdul:
            ap = get_aperture(f"{hdul[0].header['INSTRUME']}-{hdul[0].header['DETECTOR']}")
            del hdul[0].header["DL_IDCSC"]
            for h in (hdu.header for hdu in hdul if hdu.name == "SCI"):
                chip = next(c for c in ap.chips if c.chip == h["CCDCHIP"])
                h["IDCV2REF"], h["IDCV3REF"], h["IDCTHETA"] = chip.v2_ref, chip.v3_ref, 1.5
            hdul.writeto(out / Path(p).name)
        paths.append(out / Path(p).name)
    return paths


def test_default_grid_from_the_roll(stack):
    """With IDCV2REF in the headers (real flt files) the orientation comes from PA_V3, the
    aperture's V2/V3 and IDCTHETA (stwcs ``make_orthogonal_cd``), not from the CD."""
    from ditherlab.drizzle.pipeline.geometry import output_wcs
    from ditherlab.drizzle.pipeline.inputs import load_inputs

    paths = _with_idc_keywords(stack)
    single, final = _adz_grids(stack, "roll", paths)
    exps = load_inputs(paths)
    assert "IDCV2REF" in exps[0].chips[0].header  # read as an HST file
    ours = output_wcs(exps)
    _same_grid(ours, single)
    _same_grid(ours, final)
