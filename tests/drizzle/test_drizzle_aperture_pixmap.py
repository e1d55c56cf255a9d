"""Pixmaps straight from an aperture and a pointing (no WCS)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ditherlab.drizzle import Drizzle, IdealGrid, aperture_to_ideal, pixmap_from_aperture
from ditherlab.errors import DitherlabValueError
from ditherlab.planner import Pattern, get_aperture, parallel_offsets, subpixel

GRID = IdealGrid("JWFC", 0.05, (5000, 5000), (2500.0, 2500.0))


@settings(max_examples=40)
@given(
    chip=st.sampled_from(["JWFC1FIX", "JWFC2FIX", "IUVIS1FIX", "IIRFIX"]),
    fx=st.floats(0.05, 0.95),
    fy=st.floats(0.05, 0.95),
    step=st.floats(-3.0, 3.0),
)
def test_a_sky_point_maps_to_one_output_position_in_every_frame(chip, fx, fy, step):
    # the pixel steps come from the planner's parallel_offsets (an independent code path):
    # the pixel where the sky point lands in each frame must map to the same output point
    prime = get_aperture("acs-wfc")
    ap = get_aperture(chip)
    ny, nx = ap.shape
    at = (fx * (nx - 1), fy * (ny - 1))
    posts = Pattern([[0, 0], [step, 0.3], [0.1, -step], [step, step]], frame="postarg")
    steps = parallel_offsets(posts, prime, ap, at=at).offsets
    to_ideal = aperture_to_ideal(ap, prime)
    outs = []
    for (dx, dy), (px, py) in zip(steps, posts.offsets, strict=True):
        X, Y = to_ideal(at[0] + dx, at[1] + dy)
        outs.append(GRID.to_pixel(X - px, Y - py))
    outs = np.array(outs, dtype=float)
    np.testing.assert_allclose(outs, np.broadcast_to(outs[0], outs.shape), rtol=0, atol=1e-6)


def test_target_lands_on_the_grid_reference():
    ap = get_aperture("acs-wfc1")
    posts = ap.postarg_offsets(subpixel(4, step=(5, 3)))
    g = IdealGrid(ap.name, 0.025, (800, 800), (400.0, 400.0))
    for P in posts.offsets:
        # the target sits at ideal P in the frame taken at POS TARG P
        x, y = ap.postarg_to_sci(*P)
        X, Y = aperture_to_ideal(ap)(x, y)
        np.testing.assert_allclose(g.to_pixel(X - P[0], Y - P[1]), g.reference, atol=1e-6)


def test_sparse_pixmap_within_its_reported_error():
    ap = get_aperture("acs-wfc2")
    args = (ap, (0.3, -0.2), GRID)
    kw = {"shape": (300, 400), "origin": (100, 1500)}
    exact = pixmap_from_aperture(*args, method="exact", **kw)
    sparse, err = pixmap_from_aperture(*args, method="sparse", return_error=True, **kw)
    true_err = float(np.max(np.abs(sparse - exact)))
    assert err <= 1e-3
    assert true_err <= max(err, 1e-9) * 1.5 + 1e-9


def test_covering_grid_contains_every_chip_at_every_pointing():
    wfc = get_aperture("acs-wfc")
    posts = wfc.postarg_offsets(subpixel(4, step=(40, 40)))
    g = IdealGrid.covering(wfc, wfc.chips, posts, final_scale=0.5)
    assert g.scale == pytest.approx(0.5 * np.mean(wfc.pixel_scale))
    for chip in wfc.chips:
        for P in posts.offsets:
            pm = pixmap_from_aperture(chip, P, g, method="sparse")
            assert pm[..., 0].min() > -0.5
            assert pm[..., 1].min() > -0.5
            assert pm[..., 0].max() < g.shape[1] - 0.5
            assert pm[..., 1].max() < g.shape[0] - 0.5


def test_drizzled_simulated_star_lands_at_the_reference():
    # simulate -> drizzle with aperture pixmaps: a star at the target position (the scene
    # centre, placed at the reference point at POS TARG 0) lands at the grid reference
    from ditherlab.simulate import GaussianPSF, Scene, observe

    ap = get_aperture("acs-wfc1")
    posts = ap.postarg_offsets(subpixel(4, step=(2, 2)))
    scene = Scene(ra=150.0, dec=2.0, x=[0.0], y=[0.0], flux=[200.0])  # below full well
    xr, yr = (int(v) for v in ap.reference_pixel)
    sub = (xr - 24, yr - 24, 48, 48)
    exps = observe(
        scene,
        posts,
        ap,
        100.0,
        chips=[1],
        subarray=sub,
        noise=False,
        cosmic_rays_on=False,
        defects_on=False,
        rng=1,
        # a symmetric PSF inside the cut-out: the default HST PSF's pads, aberrations and
        # 5.5" wing (cut by the 48 px sub-array) move the centroid by ~0.01 px
        psf=GaussianPSF(0.1),
    )
    g = IdealGrid(ap.name, 0.5 * float(np.mean(ap.pixel_scale)), (160, 160), (80.0, 80.0))
    d = Drizzle(out_shape=g.shape)
    for e, P in zip(exps, posts.offsets, strict=True):
        c = e.chips[0]
        pm = pixmap_from_aperture(ap, P, g, shape=c.sci.shape, origin=sub[:2])
        d.add_image(np.asarray(c.sci, float) - e.sky, e.exptime, pm, in_units="counts")
    img = np.nan_to_num(d.out_img)
    yy, xx = np.mgrid[: g.shape[0], : g.shape[1]]
    box = (np.abs(xx - 80) <= 12) & (np.abs(yy - 80) <= 12)
    w = img * box
    cx, cy = (w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()
    # measured 80.00008, 79.99990: simulator and drizzle agree to 1e-4 output pixel
    assert cx == pytest.approx(80.0, abs=2e-3)
    assert cy == pytest.approx(80.0, abs=2e-3)


def test_bad_input():
    ap = get_aperture("acs-wfc1")
    with pytest.raises(DitherlabValueError, match="grid must be an IdealGrid"):
        pixmap_from_aperture(ap, (0, 0), "grid")
    with pytest.raises(DitherlabValueError, match="outside the JWFC1FIX chip"):
        pixmap_from_aperture(ap, (0, 0), GRID, shape=(100, 100), origin=(4050, 0))
    with pytest.raises(DitherlabValueError, match="postarg"):
        pixmap_from_aperture(ap, (np.nan, 0), GRID)
    with pytest.raises(DitherlabValueError, match="scale"):
        IdealGrid("JWFC", -1.0, (10, 10), (0, 0))
