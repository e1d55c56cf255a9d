"""Flux conservation: sum(out_img * out_wht) / iscale == Σ data · weight (all input inside)."""

import numpy as np
import pytest
from _drizzle_cases import make_pixmap, out_shape_for
from hypothesis import given, settings
from hypothesis import strategies as st

from ditherlab.drizzle import Drizzle, prepare

geometry = st.fixed_dictionaries(
    {
        "angle": st.floats(0, 360),
        "scale": st.floats(0.25, 4.0),
        "pixfrac": st.floats(0.01, 1.0),
        "sx": st.floats(-0.5, 0.5),
        "sy": st.floats(-0.5, 0.5),
        "seed": st.integers(0, 2**16),
    }
)


def _check(kernel, g, shape=(9, 11), img_rtol=1e-6, wht_rtol=1e-6, **kw):
    rng = np.random.default_rng(g["seed"])
    data = rng.uniform(0.5, 2.0, shape)
    weight = rng.uniform(0.0, 1.0, shape)
    weight[rng.uniform(size=shape) < 0.2] = 0.0
    s = g["scale"]
    margin = int(8 / s) + 3
    pm = make_pixmap(shape, angle=g["angle"], scale=s, shift=(g["sx"], g["sy"]), margin=margin)
    iscale = s * s
    d = Drizzle(kernel=kernel, out_shape=out_shape_for(pm, margin=margin), **kw)
    d.add_image(
        data,
        1.0,
        pm,
        weight_map=weight,
        pixfrac=g["pixfrac"],
        iscale=iscale,
        pixel_scale_ratio=s,
        wht_scale=1.7,
    )
    want = 1.7 * np.sum(data * weight)
    got = np.nansum(d.out_img.astype(float) * d.out_wht) / iscale
    np.testing.assert_allclose(got, want, rtol=img_rtol, atol=0)
    np.testing.assert_allclose(
        d.out_wht.sum(dtype=float), 1.7 * weight.sum(), rtol=wht_rtol, atol=0
    )


@settings(max_examples=100)
@given(geometry)
def test_square_conserves_flux(g):
    _check("square", g)


@pytest.mark.parametrize("kernel", ["turbo", "point", "gaussian", "lanczos2", "lanczos3", "tophat"])
@settings(max_examples=25)
@given(g=geometry)
def test_other_kernels_conserve_flux(kernel, g):
    # Lanczos weights are signed: where Σ a·w nearly cancels, the float32 weighted mean
    # out_img is ill-conditioned (out_img·out_wht to 2 %) and the float32 out_wht sums
    # lose a little more precision (1e-5).
    signed = kernel.startswith("lanczos")
    if signed:  # lanczos ignores pixfrac (and warns when it is not 1)
        g = {**g, "pixfrac": 1.0}
    _check(kernel, g, img_rtol=2e-2 if signed else 1e-6, wht_rtol=1e-5 if signed else 1e-6)


def test_flux_with_quadratic_distortion_and_counts():
    rng = np.random.default_rng(3)
    shape = (30, 40)
    data = rng.uniform(0, 100, shape)
    pm = make_pixmap(shape, angle=33.0, scale=0.7, shift=(0.21, -0.37), quad=4.0)
    d = Drizzle(out_shape=out_shape_for(pm), fillval=0.0)
    d.add_image(data, exptime=20.0, pixmap=pm, in_units="counts", pixfrac=0.6, iscale=0.49)
    np.testing.assert_allclose(
        np.sum(d.out_img * d.out_wht) / 0.49, data.sum() / 20.0, rtol=1e-6, atol=0
    )


def test_prepared_operator_conserves_flux_with_cr_masks():
    rng = np.random.default_rng(4)
    shape = (25, 30)
    pm = make_pixmap(shape, angle=12.0, scale=0.5, shift=(0.3, 0.1))
    op = prepare(pm, out_shape_for(pm), pixfrac=0.8)
    d = Drizzle(out_shape=op.out_shape)
    total = 0.0
    for _ in range(3):
        data = rng.normal(10, 1, shape)
        mask = (rng.uniform(size=shape) > 0.05).astype(float)
        d.add_prepared(op, data, 1.0, weight_map=mask, iscale=0.25)
        total += np.sum(data * mask)
    np.testing.assert_allclose(np.nansum(d.out_img * d.out_wht) / 0.25, total, rtol=1e-6, atol=0)


def test_sum_of_out_img_alone_is_not_the_flux():
    """The documented pitfall: partly covered edge pixels are a mean, not a sum."""
    shape = (16, 16)
    pm = make_pixmap(shape, shift=(0.5, 0.5))
    d = Drizzle(out_shape=out_shape_for(pm), fillval=0.0)
    d.add_image(np.ones(shape), 1.0, pm)
    assert d.out_img.sum() > 1.05 * 256
    np.testing.assert_allclose(np.sum(d.out_img * d.out_wht), 256.0, rtol=1e-6, atol=0)
