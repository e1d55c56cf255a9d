"""Pixmap builders (WCS, callables, sparse-grid fast path) and blot."""

import numpy as np
import pytest
from astropy.wcs import WCS

from ditherlab.drizzle import Drizzle, blot_image, pixmap_from_functions, pixmap_from_wcs
from ditherlab.errors import DitherlabTypeError, DitherlabValueError


def _tan_wcs(crpix, scale_deg=1.4e-5, rot_deg=0.0, sip=False, shape=(300, 400)):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"] if sip else ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.1, 2.2]
    w.wcs.crpix = list(crpix)
    c, s = np.cos(np.radians(rot_deg)), np.sin(np.radians(rot_deg))
    w.wcs.cd = scale_deg * np.array([[-c, s], [s, c]])
    if sip:
        from astropy.wcs import Sip

        a = np.zeros((4, 4))
        b = np.zeros((4, 4))
        a[2, 0] = 4e-6
        a[0, 2] = -2e-6
        b[1, 1] = 3e-6
        a[3, 0] = 1e-9
        w.sip = Sip(a, b, None, None, w.wcs.crpix)
    w.array_shape = shape
    return w


def _exact_pixmap(win, wout, shape):
    y, x = np.indices(shape, dtype=float)
    ra, dec = win.pixel_to_world_values(x, y)
    ox, oy = wout.world_to_pixel_values(ra, dec)
    return np.dstack([ox, oy])


def test_pixmap_from_wcs_sparse_matches_exact_and_reports_error():
    win = _tan_wcs((200.5, 150.2), rot_deg=0.3, sip=True)
    wout = _tan_wcs((230.0, 170.0), scale_deg=0.7e-5, shape=(400, 500))
    header = win.to_header(relax=True)
    pm, err = pixmap_from_wcs(win, wout, return_error=True)
    exact = _exact_pixmap(win, wout, (300, 400))
    assert 0 < err <= 1e-3
    assert np.max(np.hypot(*(pm - exact).transpose(2, 0, 1))) <= 2e-3
    assert win.to_header(relax=True) == header  # caller's WCS untouched
    pe = pixmap_from_wcs(win, wout, method="exact")
    np.testing.assert_allclose(pe, exact, rtol=0, atol=1e-9)


def test_pixmap_from_wcs_rejects_non_wcs_and_missing_shape():
    with pytest.raises(DitherlabTypeError, match="pixel_to_world_values"):
        pixmap_from_wcs(object(), _tan_wcs((1, 1)))
    w = _tan_wcs((1, 1))
    w.array_shape = None
    with pytest.raises(DitherlabValueError, match="shape=None"):
        pixmap_from_wcs(w, w)


def test_pixmap_from_functions_composes_and_bounds_error():
    def forward(x, y):  # flt pixels -> "arcsec", with a quadratic distortion
        u = 0.05 * (x + 2e-4 * (x - 300) ** 2)
        v = 0.05 * (y - 1e-4 * (x - 300) * (y - 200))
        return u + 1.3, v - 0.7

    def inverse_out(u, v):  # arcsec -> output pixels of 0.03"
        return u / 0.03 + 10.0, v / 0.03 + 40.0

    shape = (400, 600)
    pm, err = pixmap_from_functions(forward, inverse_out, shape, return_error=True)
    y, x = np.indices(shape, dtype=float)
    ex = np.dstack(inverse_out(*forward(x, y)))
    assert err <= 1e-3
    assert np.max(np.abs(pm - ex)) <= 2e-3
    pe, err0 = pixmap_from_functions(forward, inverse_out, shape, method="exact", return_error=True)
    assert err0 == 0.0
    np.testing.assert_allclose(pe, ex, rtol=0, atol=1e-9)


def test_pixmap_sparse_impossible_raises_and_auto_falls_back():
    shape = (6, 7)
    f = lambda x, y: (x + 0.1 * np.sin(3 * y), y)  # noqa: E731
    with pytest.raises(DitherlabValueError, match="method='sparse'"):
        pixmap_from_functions(f, lambda u, v: (u, v), shape, method="sparse")
    pm = pixmap_from_functions(f, lambda u, v: (u, v), shape)
    y, x = np.indices(shape, dtype=float)
    np.testing.assert_allclose(pm[..., 0], x + 0.1 * np.sin(3 * y), rtol=0, atol=1e-12)


def test_pixmap_bad_options():
    f = lambda x, y: (x, y)  # noqa: E731
    with pytest.raises(DitherlabValueError, match="method='fast'"):
        pixmap_from_functions(f, f, (5, 5), method="fast")
    with pytest.raises(DitherlabValueError, match="tolerance=0"):
        pixmap_from_functions(f, f, (5, 5), tolerance=0)
    with pytest.raises(DitherlabTypeError, match="callables"):
        pixmap_from_functions(1, f, (5, 5))


def test_drizzle_with_wcs_pixmap_conserves_flux():
    win = _tan_wcs((100.5, 80.2), rot_deg=12.0, sip=True, shape=(160, 200))
    wout = _tan_wcs((240.0, 210.0), scale_deg=0.7e-5, shape=(420, 480))
    pm = pixmap_from_wcs(win, wout)
    assert pm[..., 0].min() > 1
    assert pm[..., 1].min() > 1
    assert pm[..., 0].max() < 478
    assert pm[..., 1].max() < 418
    s = 0.5
    data = np.random.default_rng(0).uniform(0, 10, (160, 200))
    d = Drizzle(out_shape=(420, 480))
    d.add_image(data, 1.0, pm, pixfrac=0.8, iscale=s * s, pixel_scale_ratio=s)
    np.testing.assert_allclose(
        np.nansum(d.out_img * d.out_wht) / s**2, data.sum(), rtol=1e-6, atol=0
    )


@pytest.mark.parametrize("interp", ["nearest", "linear", "poly3", "poly5", "lanczos3", "sinc"])
def test_blot_reproduces_smooth_images(interp):
    yy, xx = np.indices((60, 70), dtype=float)
    img = 5 + np.sin(xx / 7.0) * np.cos(yy / 9.0)
    oy, ox = np.indices((30, 40), dtype=float)
    px, py = 10.3 + 1.1 * ox + 0.2 * oy, 8.7 + 0.9 * oy - 0.15 * ox
    out = blot_image(img, np.dstack([px, py]), interp=interp)
    truth = 5 + np.sin(px / 7.0) * np.cos(py / 9.0)
    # lanczos3 weights are not normalised (as in C): their sum departs from 1 by ~1 %
    tol = {"nearest": 0.1, "linear": 0.01, "lanczos3": 0.1, "sinc": 0.01}.get(interp, 1e-3)
    np.testing.assert_allclose(out, truth, rtol=0, atol=tol)


def test_blot_scaling_fill_and_shape_checks():
    img = np.full((10, 10), 2.0)
    y, x = np.indices((4, 5), dtype=float)
    pm = np.dstack([x * 3.0, y * 3.0])
    out = blot_image(img, pm, pix_ratio=2.0, exptime=10.0, interp="linear", fillval=-1.0)
    np.testing.assert_allclose(out[:3, :3], 2.0 * 10.0 / 4.0, rtol=1e-6, atol=0)
    assert out[0, 4] == -1.0  # x = 12 is outside the 10-pixel image
    pm_nan = pm.copy()
    pm_nan[1, 1] = np.nan
    assert blot_image(img, pm_nan, interp="poly5")[1, 1] == 0.0
    assert blot_image(img, pm, output_pixel_shape=(5, 4)).shape == (4, 5)
    with pytest.raises(DitherlabValueError, match="output_pixel_shape"):
        blot_image(img, pm, output_pixel_shape=(4, 5))
    with pytest.raises(DitherlabValueError, match="interp='cubic'"):
        blot_image(img, pm, interp="cubic")
    with pytest.raises(DitherlabValueError, match="pix_ratio=0"):
        blot_image(img, pm, pix_ratio=0)


def test_drizzle_then_blot_round_trip():
    """Drizzle a smooth image onto a finer grid and blot back: the input is recovered."""
    yy, xx = np.indices((40, 50), dtype=float)
    img = 10 + np.sin(xx / 6.0) + np.cos(yy / 5.0)
    s = 0.5
    pm = np.dstack([(xx + 0.3) / s + 4, (yy - 0.2) / s + 4])
    d = Drizzle(out_shape=(90, 110), kernel="square", fillval=0.0)
    d.add_image(img, 1.0, pm, pixfrac=1.0, pixel_scale_ratio=s)
    back = blot_image(d.out_img, pm, interp="poly5")
    inner = np.s_[4:-4, 4:-4]
    np.testing.assert_allclose(back[inner], img[inner], rtol=0, atol=0.02)
