"""Regressions found by review: inferred out_shape, non-finite pixmaps, state on failure, weights
that underflow float32."""

import numpy as np
import pytest
from _drizzle_cases import make_pixmap

from ditherlab.drizzle import Drizzle, IdealGrid, prepare
from ditherlab.drizzle import _resample as R
from ditherlab.errors import DitherlabValueError


def _identity(ny, nx, dx=0.0, dy=0.0):
    y, x = np.mgrid[:ny, :nx].astype(float)
    return np.dstack([x + dx, y + dy])


def test_inferred_out_shape_keeps_every_image_in_one_frame():
    pm = _identity(20, 30, 10.2, 5.3)
    data = np.zeros((20, 30))
    data[5, 5] = 1.0
    d = Drizzle(kernel="point")
    d.add_image(data, 1.0, pm)
    first = np.argwhere(np.nan_to_num(d.out_img) > 0).tolist()
    d.add_image(data, 1.0, pm)
    second = np.argwhere(np.nan_to_num(d.out_img) > 0).tolist()
    assert first == second == [[10, 15]]  # x = 5 + 10.2, y = 5 + 5.3, rounded
    assert d.out_img.shape == (26, 41)  # ceil(max) + 1: room for the whole drop


@pytest.mark.parametrize("kernel", ["square", "turbo", "point"])
def test_infinite_pixmap_entries_are_skipped_like_nan(kernel):
    data = np.ones((12, 12))
    pm_inf = _identity(12, 12, 3.0, 3.0)
    pm_nan = pm_inf.copy()
    pm_inf[3, 4, 0] = np.inf
    pm_nan[3, 4] = np.nan
    a, b = Drizzle(kernel=kernel, out_shape=(20, 20)), Drizzle(kernel=kernel, out_shape=(20, 20))
    a.add_image(data, 1.0, pm_inf)
    b.add_image(data, 1.0, pm_nan)
    np.testing.assert_array_equal(a.out_wht, b.out_wht)
    op = prepare(pm_inf, (20, 20), kernel=kernel)
    c = Drizzle(kernel=kernel, out_shape=(20, 20))
    c.add_prepared(op, data, 1.0)
    np.testing.assert_allclose(c.out_wht, b.out_wht, rtol=1e-6, atol=0)


def test_failed_add_leaves_the_accumulator_unchanged(monkeypatch):
    d = Drizzle(out_shape=(20, 20))
    data = np.ones((10, 10))
    d.add_image(data, 2.0, _identity(10, 10, 2, 2))
    before = (d._ctx_id, d._texptime, d.out_wht.copy())

    def boom(*args, **kwargs):
        raise RuntimeError("kernel failure")

    monkeypatch.setattr(d, "_drizzle", boom)
    with pytest.raises(RuntimeError):
        d.add_image(data, 3.0, _identity(10, 10, 2, 2))
    assert (d._ctx_id, d._texptime) == before[:2]
    np.testing.assert_array_equal(d.out_wht, before[2])


def test_bad_shapes_name_the_argument():
    with pytest.raises(DitherlabValueError, match="out_img must be 2-D"):
        Drizzle(out_img=np.zeros(5))
    with pytest.raises(DitherlabValueError, match="shape="):
        IdealGrid("JWFC", 0.05, (3,), (0, 0))
    d = Drizzle()
    with pytest.raises(DitherlabValueError, match="too large"):
        d.add_image(np.ones((4, 4)), 1.0, _identity(4, 4, 1e6, 1e6))


# --------------------------------------------------------------------------------------
# weights that round to 0 in float32 (operator path as add_image)


@pytest.mark.parametrize("kernel", ["square", "turbo", "point"])
def test_operator_weights_that_underflow_float32_do_not_touch_a_pixel(kernel):
    pm = _identity(20, 30, 2.3, 1.6)
    data = np.full((20, 30), 2.0, np.float32)
    wm = np.full((20, 30), 1e-45, np.float32)  # the smallest subnormal: a·w rounds to 0
    osh = (26, 36)
    ref = Drizzle(kernel=kernel, fillval=-1, out_shape=osh)
    ref.add_image(data, 1.0, pm, weight_map=wm)
    op = prepare(pm, osh, kernel=kernel)
    d = Drizzle(kernel=kernel, fillval=-1, out_shape=osh)
    d.add_prepared(op, data, 1.0, weight_map=wm)
    empty = d.out_wht == 0
    assert empty.any()
    np.testing.assert_array_equal(d.out_img[empty], -1.0)  # fill wherever out_wht == 0
    assert not np.any(d.out_ctx[0][empty])  # and no context bit there
    np.testing.assert_array_equal(d.out_wht, ref.out_wht)
    np.testing.assert_array_equal(d.out_ctx, ref.out_ctx)
    np.testing.assert_array_equal(d.out_img, ref.out_img)
    sw, _, pos, touched = op.sums(data, wm)
    assert pos is touched
    np.testing.assert_array_equal(pos, sw.astype(np.float32) > 0)


# --------------------------------------------------------------------------------------
# _merge (signed kernels on the operator path): its sparse branch is still reachable


@pytest.mark.parametrize("fillval", [None, -7.0])
def test_operator_lanczos_on_a_sparsely_touched_block_equals_add_image(monkeypatch, fillval):
    """A small chip on a wide output: each block of output rows is mostly out of reach, so
    ``_merge`` takes its by-index branch."""
    calls = {"sparse": 0}
    real = R._merge

    def spy(img, wht, ctxf, bit, lo, sw, swd, pos, touched, fill=None):
        calls["sparse"] += int(np.count_nonzero(touched) < sw.size // 4)
        return real(img, wht, ctxf, bit, lo, sw, swd, pos, touched, fill)

    monkeypatch.setattr(R, "_merge", spy)
    rng = np.random.default_rng(12)
    shape = (16, 18)
    pm = make_pixmap(shape, angle=20.0, origin=(30.0, 14.0))
    out = (30, 400)
    op = prepare(pm, out, kernel="lanczos3")
    a = Drizzle(kernel="lanczos3", out_shape=out, fillval=fillval, max_ctx_id=1)
    b = Drizzle(kernel="lanczos3", out_shape=out, fillval=fillval, max_ctx_id=1)
    for _ in range(2):
        data = rng.normal(3, 1, shape)
        w = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        w[rng.uniform(size=shape) < 0.1] = 0.0
        a.add_image(data, 1.0, pm, weight_map=w)
        b.add_prepared(op, data, 1.0, weight_map=w)
    assert calls["sparse"] > 0
    np.testing.assert_allclose(b.out_img, a.out_img, rtol=1e-5, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(b.out_wht, a.out_wht, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(b.out_ctx, a.out_ctx)
