"""The prepared operator is stored and applied in blocks of output pixels: any split (block
boundaries inside the chip, many tasks, skipped runs of empty output rows, one or two
threads) gives the same result as one block, and as ``add_image``."""

import numpy as np
import pytest
import scipy.sparse as sp
from _drizzle_cases import make_pixmap, out_shape_for

import ditherlab.drizzle._operator as op_module
from ditherlab.drizzle import Drizzle, DrizzleOperator, prepare
from ditherlab.errors import DitherlabTypeError, DitherlabValueError

KERNELS = ["square", "turbo", "point", "gaussian", "lanczos2", "lanczos3", "tophat"]


def _tiny_blocks(monkeypatch):
    """Sub-blocks of 23 output pixels, tasks of 150 entries, gaps of 5 rows split blocks."""
    monkeypatch.setattr(op_module, "_SUB_BLOCK", 23)
    monkeypatch.setattr(op_module, "_TASK_NNZ", 150)
    monkeypatch.setattr(op_module, "_GAP", 5)


def _frames(shape, rng, n=2):
    out = []
    for _ in range(n):
        data = rng.normal(3, 1, shape)
        data[rng.uniform(size=shape) < 0.03] = np.nan
        data[1, 2] = np.inf
        w = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        w[rng.uniform(size=shape) < 0.1] = 0.0
        out.append((data, w))
    return out


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("fillval", [None, 0.0])
def test_many_blocks_equal_one_block_and_add_image(kernel, fillval, monkeypatch):
    rng = np.random.default_rng(21)
    shape = (26, 31)
    pm = make_pixmap(shape, angle=17.0, scale=0.7, shift=(0.3, 0.1), quad=0.5, margin=6.0)
    out = out_shape_for(pm, margin=6)
    # (lanczos ignores pixfrac and warns when it is not 1)
    kw = {"pixfrac": 1.0 if kernel.startswith("lanczos") else 0.8, "pixel_scale_ratio": 0.7}
    whole = prepare(pm, out, kernel=kernel, **kw)
    _tiny_blocks(monkeypatch)
    split = prepare(pm, out, kernel=kernel, **kw)
    assert len(split._tasks) > 3
    assert sum(len(t[2]) for t in split._tasks) > 30
    assert (split.matrix != whole.matrix).nnz == 0
    assert split.nnz == whole.nnz
    ref = Drizzle(kernel=kernel, out_shape=out, fillval=fillval, max_ctx_id=1)
    res = {
        (which, n): Drizzle(
            kernel=kernel, out_shape=out, fillval=fillval, max_ctx_id=1, n_threads=n
        )
        for which in ("whole", "split")
        for n in (1, 2)
    }
    for data, w in _frames(shape, rng):
        r = ref.add_image(data, 2.0, pm, weight_map=w, in_units="counts", iscale=0.3, **kw)
        for (which, _), d in res.items():
            opr = whole if which == "whole" else split
            assert d.add_prepared(opr, data, 2.0, weight_map=w, in_units="counts", iscale=0.3) == r
    base = res["whole", 1]
    for d in res.values():
        np.testing.assert_array_equal(d.out_img, base.out_img)
        np.testing.assert_array_equal(d.out_wht, base.out_wht)
        np.testing.assert_array_equal(d.out_ctx, base.out_ctx)
    np.testing.assert_allclose(base.out_img, ref.out_img, rtol=1e-5, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(base.out_wht, ref.out_wht, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(base.out_ctx, ref.out_ctx)


def test_small_chip_on_a_large_output_skips_the_empty_rows(monkeypatch):
    """Most output pixels are out of reach: the runs between the chip's rows are left out
    of the blocks (gaps > _GAP), and the pixels there keep their values."""
    monkeypatch.setattr(op_module, "_GAP", 8)
    rng = np.random.default_rng(4)
    shape = (12, 15)
    pm = make_pixmap(shape, angle=30.0, origin=(40.0, 25.0))
    out = (50, 90)
    op = prepare(pm, out, pixfrac=0.9)
    covered = sum(hi - lo for t in op._tasks for lo, hi, _ in t[2])
    assert covered < 0.3 * out[0] * out[1]
    a = Drizzle(out_shape=out, fillval=-7.0)
    b = Drizzle(out_shape=out, fillval=-7.0)
    for data, w in _frames(shape, rng):
        a.add_image(data, 1.0, pm, weight_map=w, pixfrac=0.9)
        b.add_prepared(op, data, 1.0, weight_map=w)
    np.testing.assert_allclose(b.out_img, a.out_img, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(b.out_ctx, a.out_ctx)
    assert np.all(b.out_img[b.out_wht == 0] == -7.0)


def test_operator_from_any_csr_matrix(monkeypatch):
    """A matrix with empty rows at both ends and long empty runs: the blocks rebuild it
    exactly, and ``sums`` equals the products with the whole matrix."""
    _tiny_blocks(monkeypatch)
    rng = np.random.default_rng(9)
    in_shape, out_shape = (9, 11), (14, 16)
    nin, nout = 99, 224
    rows = np.concatenate([rng.integers(10, 60, 150), rng.integers(120, 200, 150)])
    cols = rng.integers(0, nin, rows.size)
    a = sp.csr_matrix((rng.uniform(0.1, 1, rows.size), (rows, cols)), shape=(nout, nin))
    original = a.copy()
    opr = DrizzleOperator(a, in_shape, out_shape, "square", False, 0, 0)
    assert (a != original).nnz == 0  # not modified
    m = opr.matrix
    assert m.shape == (nout, nin)
    assert m.nnz == a.nnz == opr.nnz
    assert (m != a).nnz == 0
    data = rng.normal(size=in_shape)
    data[2, 3] = np.nan
    w = rng.uniform(size=in_shape)
    for n in (1, 2):
        sw, swd, pos, touched = opr.sums(data, w, wht_scale=2.0, iscale=1.5, n_threads=n)
        good = np.isfinite(data)
        wv = np.where(good, w.astype(np.float32) * np.float32(2.0), 0).ravel().astype(float)
        dv = np.where(good, data.astype(np.float32), 0).ravel().astype(float)
        np.testing.assert_allclose(sw, a @ wv, rtol=1e-13)
        np.testing.assert_allclose(swd, a @ (wv * (dv * 1.5)), rtol=1e-13, atol=1e-15)
        np.testing.assert_array_equal(pos, (a @ wv) > 0)
        assert pos is touched
    assert "nnz=" in repr(opr)


def test_operator_errors_name_the_argument():
    with pytest.raises(DitherlabValueError, match="matrix shape"):
        DrizzleOperator(sp.csr_matrix((10, 12)), (3, 4), (3, 4), "square", False, 0, 0)
    op = prepare(make_pixmap((6, 7)), (12, 12))
    with pytest.raises(DitherlabValueError, match=r"data shape \(7, 6\)"):
        op.sums(np.ones((7, 6)))
    with pytest.raises(DitherlabValueError, match=r"weight_map shape \(42,\)"):
        op.sums(np.ones((6, 7)), np.ones(42))
    w = np.ones((6, 7))
    w[2, 5] = -1.0
    with pytest.raises(DitherlabValueError, match=r"weight_map .* element \(2, 5\) is -1.0"):
        Drizzle(out_shape=(12, 12)).add_prepared(op, np.ones((6, 7)), 1.0, weight_map=w)
    with pytest.raises(DitherlabTypeError, match="operator=csr_matrix"):
        Drizzle(out_shape=(12, 12)).add_prepared(op.matrix, np.ones((6, 7)), 1.0)


def test_empty_operator_adds_nothing():
    pm = make_pixmap((6, 7), origin=(-50.0, -50.0))
    op = prepare(pm, (10, 10))
    assert op.nnz == 0
    assert op.matrix.nnz == 0
    d = Drizzle(out_shape=(10, 10), fillval=0)
    d.add_prepared(op, np.ones((6, 7)), 1.0)
    assert not d.out_wht.any()
    assert not d.out_img.any()
    assert not d.out_ctx.any()


@pytest.mark.parametrize("seed", range(5))
def test_runs_of_non_empty_rows_across_scan_chunks(seed):
    rng = np.random.default_rng(seed)
    counts = np.where(rng.uniform(size=300) < 0.15, rng.integers(1, 4, 300), 0)
    counts[rng.integers(0, 300, 3)] = 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    rows = np.flatnonzero(counts)
    for gap in (0, 1, 3, 10):
        expect = []
        for r in rows.tolist():  # brute force: a new run after more than `gap` empty rows
            if expect and r - expect[-1][1] <= gap:
                expect[-1][1] = r + 1
            else:
                expect.append([r, r + 1])
        for step in (1, 7, 64, 1 << 22):
            got = op_module._runs(indptr, gap, step=step)
            assert got == [tuple(e) for e in expect], (gap, step)
