"""Tiling, merging and the worker pool of the drizzle accumulator.

Small test images fit in one tile; these tests shrink the tile budget so that images are
cut into many tiles (partly outside the output, rotated, with NaN data and zero weights)
and check that the result does not depend on the cut.
"""

import math

import numpy as np
import pytest
from _drizzle_cases import make_pixmap, noisy_inputs, out_shape_for
from hypothesis import given, settings
from hypothesis import strategies as st

from ditherlab.drizzle import Drizzle
from ditherlab.drizzle import _merge as M
from ditherlab.drizzle import _tiles as T

KERNELS = ["square", "turbo", "point", "gaussian", "lanczos3", "tophat"]


def _drizzle(kernel, pm, out, data, weight, scale, **kw):
    d = Drizzle(kernel=kernel, out_shape=out, max_ctx_id=1, **kw)
    pf = 1.0 if kernel.startswith("lanczos") else 0.8  # (lanczos ignores it, warns if not 1)
    res = []
    for k in range(2):  # the second image merges into existing weight
        res.append(
            d.add_image(data + k, 1.0, pm, weight_map=weight, pixfrac=pf, pixel_scale_ratio=scale)
        )
    return d, res


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("scale", [0.5, 1.0])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_many_small_tiles_equal_one_tile(monkeypatch, kernel, scale, n_threads):
    shape = (37, 100)
    pm = make_pixmap(shape, angle=17.0, scale=scale, shift=(0.3, -0.2), quad=0.8)
    out = out_shape_for(pm)
    out = (out[0] - 6, out[1] - 4)  # part of the image falls outside the output
    data, weight = noisy_inputs(shape, 3)
    whole, res_whole = _drizzle(kernel, pm, out, data, weight, scale, n_threads=n_threads)
    monkeypatch.setattr(T, "_CHUNK_CONTRIBUTIONS", 40)
    monkeypatch.setattr(T, "_MIN_TILE_CONTRIBUTIONS", 1)
    monkeypatch.setattr(T, "_SQUARE_TILE_PIXELS", None)
    tiles = T.split_tiles(np.arange(37), np.zeros(37, int), np.full(37, 99), 4.0)
    assert len(tiles) > 20
    assert len({t[2] for t in tiles}) >= 3
    cut, res_cut = _drizzle(kernel, pm, out, data, weight, scale, n_threads=n_threads)
    assert res_cut == res_whole
    np.testing.assert_array_equal(cut.out_ctx, whole.out_ctx)
    np.testing.assert_allclose(cut.out_wht, whole.out_wht, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.isnan(cut.out_img), np.isnan(whole.out_img))
    # where signed (lanczos) weights nearly cancel, float32 means carry rounding amplified by
    # 1/weight: compare the weighted sums, and the means where the weight is not tiny
    has = whole.out_wht != 0
    s_cut, s_whole = cut.out_img[has] * cut.out_wht[has], whole.out_img[has] * whole.out_wht[has]
    np.testing.assert_allclose(s_cut, s_whole, rtol=0, atol=1e-6 * np.abs(s_whole).max())
    big = np.abs(whole.out_wht) > 0.01 * np.abs(whole.out_wht).max()
    np.testing.assert_allclose(cut.out_img[big], whole.out_img[big], rtol=1e-5, atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(
    nrows=st.integers(1, 40),
    budget=st.floats(1.0, 5000.0),
    cells=st.floats(1.0, 50.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_tiles_cover_every_processed_pixel_once(nrows, budget, cells, seed):
    rng = np.random.default_rng(seed)
    rows = np.arange(5, 5 + nrows)
    x1 = rng.integers(0, 30, nrows)
    x2 = x1 + rng.integers(0, 60, nrows)
    want = np.zeros((60, 100), int)
    for r, a, b in zip(rows, x1, x2, strict=True):
        want[r, a : b + 1] = 1
    got = np.zeros_like(want)
    old = T._CHUNK_CONTRIBUTIONS, T._MIN_TILE_CONTRIBUTIONS
    try:
        T._CHUNK_CONTRIBUTIONS, T._MIN_TILE_CONTRIBUTIONS = budget, 1
        tiles = T.split_tiles(rows, x1, x2, cells, None if seed % 2 else budget / cells)
    finally:
        T._CHUNK_CONTRIBUTIONS, T._MIN_TILE_CONTRIBUTIONS = old
    for tile in tiles:
        geom = T.block_geometry(rows, x1, x2, tile)
        if geom is None:
            continue
        ja, jb, xa, xb, cols, processed = geom
        got[ja:jb, xa : xb + 1] += processed.reshape(jb - ja, cols.size)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kernel", ["square", "lanczos3"])
def test_fill_value_holds_wherever_weight_is_zero(kernel):
    shape = (30, 30)
    pm = make_pixmap(shape, angle=30.0, scale=0.7)
    out = out_shape_for(pm)
    data, weight = noisy_inputs(shape, 5)
    for fill in (-7.0, 0.0):
        d = Drizzle(kernel=kernel, out_shape=out, fillval=fill)
        for k in range(3):
            d.add_image(data, 1.0, pm, weight_map=weight, pixel_scale_ratio=0.7)
            empty = d.out_wht == 0
            assert empty.any()
            assert (~empty).any()
            assert np.all(d.out_img[empty] == np.float32(fill)), (fill, k)
            assert np.all(np.isfinite(d.out_img[~empty]))


@pytest.mark.parametrize("kernel", ["square", "turbo", "point"])
@pytest.mark.parametrize("fill", [None, -7.0])
def test_weights_that_underflow_float32_leave_pixels_empty(kernel, fill):
    """Weight sums at or below 2**-150 round to 0 in out_wht: those pixels keep the fill."""
    shape = (30, 40)
    pm = make_pixmap(shape, angle=0.0, shift=(0.3, 0.4))
    out = out_shape_for(pm)
    data = np.ones(shape, np.float32)
    weight = np.full(shape, 1e-45, np.float32)  # the smallest subnormal: sums underflow
    weight[:, :10] = 1.0
    d = Drizzle(kernel=kernel, out_shape=out, fillval=fill)
    for _ in range(2):
        d.add_image(data, 1.0, pm, weight_map=weight, pixfrac=0.6)
        empty = d.out_wht == 0
        assert empty.sum() > 300
        kept = np.isnan(d.out_img[empty]) if fill is None else d.out_img[empty] == fill
        assert np.all(kept)
        np.testing.assert_allclose(d.out_img[~empty], 1.0, rtol=1e-6)
        assert not np.any(d.out_ctx[0][empty])


def test_supplied_image_gets_the_fill_at_the_first_add_only_where_empty():
    img = np.full((20, 20), 9.0, np.float32)
    d = Drizzle(out_shape=(20, 20), out_img=img, fillval=0.0)
    y, x = np.indices((5, 5), dtype=float)
    d.add_image(np.ones((5, 5)), 1.0, np.dstack([x + 2, y + 2]))
    assert d.out_img is img  # the caller's array, updated in place as in C
    assert np.all(img[d.out_wht == 0] == 0.0)
    np.testing.assert_allclose(img[d.out_wht > 0], 1.0)


def test_merge_of_weights_that_cancel_gives_the_fill_value():
    """Signed kernels (lanczos): a touched pixel whose weight sums back to 0 is empty."""
    img = np.array([[2.0, 3.0, np.nan]], np.float32)
    wht = np.array([[0.5, 1.0, 0.0]], np.float32)
    ctx = np.zeros((1, 3), np.int32)
    sw = np.array([-0.5, 0.25, 0.0])
    swd = np.array([-1.0, 0.25 * 7, 0.0])
    touched = np.array([True, True, False])
    pos = np.array([False, True, False])
    M.merge_box(img, wht, ctx, np.int32(4), (0, 1, 0, 3), sw, swd, pos, touched, -1.0)
    np.testing.assert_array_equal(wht, [[0.0, 1.25, 0.0]])
    np.testing.assert_allclose(img[0, :2], [-1.0, (3.0 + 0.25 * 7) / 1.25])
    assert math.isnan(img[0, 2])  # untouched: left as it was
    np.testing.assert_array_equal(ctx, [[0, 4, 0]])


def test_a_failing_tile_propagates_and_the_pool_keeps_working(monkeypatch):
    shape = (40, 40)
    pm = make_pixmap(shape, angle=5.0)
    out = out_shape_for(pm)
    data = np.ones(shape, np.float32)
    monkeypatch.setattr(T, "_CHUNK_CONTRIBUTIONS", 100)
    monkeypatch.setattr(T, "_MIN_TILE_CONTRIBUTIONS", 1)
    monkeypatch.setattr(T, "_SQUARE_TILE_PIXELS", None)
    calls = {"n": 0}
    real = T.tile_sums

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("tile failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(T, "tile_sums", flaky)
    d = Drizzle(out_shape=out, n_threads=2)
    with pytest.raises(RuntimeError, match="tile failure"):
        d.add_image(data, 1.0, pm)
    monkeypatch.setattr(T, "tile_sums", real)
    d2 = Drizzle(out_shape=out, n_threads=2, fillval=0.0)
    d2.add_image(data, 1.0, pm)
    np.testing.assert_allclose((d2.out_img * d2.out_wht).sum(), data.sum(), rtol=1e-6)
