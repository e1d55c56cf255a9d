"""Scenes (construction, tables, files, errors) and PSFs."""

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from ditherlab.errors import DitherlabValueError, FileFormatError, OutputExistsError
from ditherlab.simulate import AiryPSF, GaussianPSF, ImagePSF, MoffatPSF, Scene


def test_random_field_is_deterministic_and_in_range():
    a = Scene.random_field(300, n_galaxies=20, size=(100, 50), mag_range=(20, 24), rng=4)
    b = Scene.random_field(300, n_galaxies=20, size=(100, 50), mag_range=(20, 24), rng=4)
    c = Scene.random_field(300, n_galaxies=20, size=(100, 50), mag_range=(20, 24), rng=5)
    for name in ("x", "y", "flux", "r_eff", "n", "q", "pa"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.x, c.x)
    assert len(a) == 320
    assert (a.kind == "sersic").sum() == 20
    assert np.abs(a.x).max() <= 50
    assert np.abs(a.y).max() <= 25
    mag = -2.5 * np.log10(a.flux) + 26.0
    assert mag.min() >= 20
    assert mag.max() <= 24
    # more faint than bright stars (slope 0.3)
    assert (mag > 22).sum() > (mag < 22).sum()


def test_from_table_xy_flux_and_ecsv_round_trip(tmp_path):
    t = Table({"x": [0.0, 1.5] * u.arcsec, "y": [0.0, -0.03] * u.arcmin, "flux": [10.0, 20.0]})
    s = Scene.from_table(t, ra=10.0, dec=-30.0, sky=5.0)
    assert s.y.tolist() == pytest.approx([0.0, -1.8])
    assert s.sky == 5.0
    assert s.ra == 10.0
    path = s.write(tmp_path / "scene.ecsv")
    r = Scene.read(path)
    assert np.allclose(r.x, s.x, rtol=0, atol=1e-12)
    assert np.allclose(r.y, s.y, atol=1e-12)
    assert np.array_equal(r.flux, s.flux)
    assert (r.ra, r.dec, r.sky) == (s.ra, s.dec, s.sky)
    with pytest.raises(OutputExistsError):
        s.write(path)


def test_from_table_radec_and_magnitudes():
    t = Table({"ra": [150.0, 150.001], "dec": [2.0, 2.0005], "mag": [20.0, 22.5]})
    t.meta["zeropoint"] = 25.0
    s = Scene.from_table(t)
    assert s.flux.tolist() == pytest.approx([100.0, 10.0])
    ra, dec = s.radec()
    assert ra == pytest.approx([150.0, 150.001], abs=1e-10)
    assert dec == pytest.approx([2.0, 2.0005], abs=1e-10)
    s2 = Scene.from_table(t, ra=150.0, dec=2.0, zeropoint=26.0)
    assert s2.x[0] == pytest.approx(0.0, abs=1e-9)
    assert s2.flux[0] == pytest.approx(251.188643)


@pytest.mark.parametrize(
    ("columns", "kwargs", "match"),
    [
        ({"a": [1.0], "b": [2.0], "flux": [1.0]}, {}, "position columns"),
        ({"x": [1.0], "y": [2.0]}, {}, "'flux'.*'mag'"),
        ({"x": [1.0], "y": [2.0], "mag": [20.0]}, {}, "zero point"),
        ({"x": [1.0], "y": [2.0], "flux": [-1.0]}, {}, "row 0: flux=.*negative"),
        ({"x": [1.0, np.nan], "y": [2.0, 0.0], "flux": [1.0, 1.0]}, {}, "row 1: x is not finite"),
        ({"x": [1.0], "y": [2.0], "flux": [1.0], "kind": ["blob"]}, {}, "kind='blob'"),
        ({"x": ["a"], "y": [2.0], "flux": [1.0]}, {}, "'x' is not numeric"),
    ],
)
def test_bad_scene_tables_give_clear_errors(columns, kwargs, match):
    with pytest.raises(FileFormatError, match=match):
        Scene.from_table(Table(columns), **kwargs)


def test_scene_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.ecsv"):
        Scene.read(tmp_path / "nope.ecsv")
    bad = tmp_path / "bad.ecsv"
    bad.write_text("this is not a table\n\x00\x01")
    with pytest.raises(FileFormatError, match=r"bad\.ecsv"):
        Scene.read(bad)


def test_scene_validation():
    with pytest.raises(DitherlabValueError, match="flux"):
        Scene(ra=0, dec=0, x=[0.0], y=[0.0], flux=[-1.0])
    with pytest.raises(DitherlabValueError, match="dec"):
        Scene(ra=0, dec=91, x=[0.0], y=[0.0], flux=[1.0])
    with pytest.raises(DitherlabValueError, match="q"):
        Scene(ra=0, dec=0, x=[0.0], y=[0.0], flux=[1.0], kind="sersic", q=[0.0])
    s = Scene(ra=0, dec=0, x=[], y=[], flux=[])
    assert len(s) == 0
    assert "0 sources" in repr(s)


@pytest.mark.parametrize("psf", [GaussianPSF(0.1), MoffatPSF(0.1, beta=3.0)])
def test_analytic_psf_fwhm(psf):
    peak = psf.profile(np.array(0.0), np.array(0.0))
    half = psf.profile(np.array(psf.fwhm / 2), np.array(0.0))
    assert half / peak == pytest.approx(0.5, rel=1e-9)


def test_airy_fwhm_and_first_dark_ring():
    p = AiryPSF(0.6, obscuration=0.0)
    lod = 0.6e-6 / 2.4 * 206264.806
    assert p.fwhm == pytest.approx(1.029 * lod, rel=0.01)
    zero = p.profile(np.array(1.2197 * lod), np.array(0.0)) / p.profile(
        np.array(0.0), np.array(0.0)
    )
    assert zero < 1e-4
    assert AiryPSF(0.6).fwhm < p.fwhm  # an obscured pupil has a narrower core


def test_image_psf_from_fits(tmp_path):
    yy, xx = np.mgrid[-20:21, -20:21]
    img = np.exp(-0.5 * (xx**2 + yy**2) / 4.0**2)
    path = tmp_path / "psf.fits"
    fits.PrimaryHDU(img, header=fits.Header({"OVERSAMP": 4, "PIXELSCL": 0.0125})).writeto(path)
    p = ImagePSF.from_fits(path)
    assert p.oversampling == 4
    assert p.pixel_scale == 0.0125
    g = GaussianPSF(4.0 * 0.0125 * 2.3548200450309493)
    x = np.linspace(-0.15, 0.15, 7)
    ratio = p.profile(x, 0 * x) / p.profile(np.array([0.0]), np.array([0.0]))
    expect = g.profile(x, 0 * x) / g.profile(np.array(0.0), np.array(0.0))
    assert ratio == pytest.approx(expect, abs=2e-3)
    # without OVERSAMP it must be given
    fits.PrimaryHDU(img).writeto(tmp_path / "tinytim.fits")
    with pytest.raises(FileFormatError, match="OVERSAMP"):
        ImagePSF.from_fits(tmp_path / "tinytim.fits")
    q = ImagePSF.from_fits(tmp_path / "tinytim.fits", oversampling=5)
    with pytest.raises(DitherlabValueError, match="pixel_scale"):
        q.profile(x, x)
    assert q.with_scale(0.01).radius == pytest.approx(41 * 0.01 / 2)


def test_unknown_or_bad_psf_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.fits"):
        ImagePSF.from_fits(tmp_path / "missing.fits")
    fits.PrimaryHDU(np.zeros((2, 3, 4))).writeto(tmp_path / "cube.fits")
    with pytest.raises(FileFormatError, match="not a 2-D image"):
        ImagePSF.from_fits(tmp_path / "cube.fits", oversampling=2)
    (tmp_path / "text.fits").write_text("hello")
    with pytest.raises(FileFormatError, match=r"text\.fits"):
        ImagePSF.from_fits(tmp_path / "text.fits", oversampling=2)
    with pytest.raises(DitherlabValueError, match="non-negative"):
        ImagePSF(-np.ones((3, 3)), 2)
