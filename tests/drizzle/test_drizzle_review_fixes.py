"""Regressions found by review: inferred out_shape, non-finite pixmaps, state on failure, weights
that underflow float32, caller-supplied output layouts, legacy lanczos pixfrac, the worker
pool."""

import multiprocessing
import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
from _drizzle_cases import make_pixmap, out_shape_for

import ditherlab.drizzle._operator as op_module
from ditherlab.drizzle import Drizzle, IdealGrid, prepare
from ditherlab.drizzle import _merge as M
from ditherlab.drizzle import _parallel as P
from ditherlab.drizzle import _tiles as T
from ditherlab.errors import (
    DitherlabError,
    DitherlabValueError,
    DitherlabWarning,
    DrizzleStateError,
)


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
# caller-supplied outputs that cannot be written through


def _layouts(shape, dtype):
    yield np.zeros(shape, dtype, order="F")
    yield np.zeros((shape[0], shape[1] + 3), dtype)[:, : shape[1]]  # padded rows
    yield np.zeros((shape[0], 2 * shape[1]), dtype)[:, ::2]  # every other column


@pytest.mark.parametrize("name", ["out_img", "out_wht", "out_ctx"])
def test_non_contiguous_outputs_are_rejected(name):
    osh = (20, 24)
    dtype = np.int32 if name == "out_ctx" else np.float32
    for arr in _layouts(osh, dtype):
        with pytest.raises(DitherlabValueError, match=f"{name} .*C-contiguous.*ascontiguousarray"):
            Drizzle(**{name: arr}, exptime=1.0)


@pytest.mark.parametrize("name", ["out_img", "out_wht", "out_ctx"])
def test_read_only_outputs_are_rejected(name):
    dtype = np.int32 if name == "out_ctx" else np.float32
    arr = np.zeros((20, 24), dtype)
    arr.flags.writeable = False
    with pytest.raises(DitherlabValueError, match=f"{name} is read-only"):
        Drizzle(**{name: arr}, exptime=1.0)
    if name == "out_ctx":  # 3-D too
        arr3 = np.zeros((2, 20, 24), dtype)
        arr3.flags.writeable = False
        with pytest.raises(DitherlabValueError, match="out_ctx is read-only"):
            Drizzle(out_ctx=arr3, exptime=1.0)


@pytest.mark.parametrize(("kernel", "s"), [("square", 1.0), ("point", 0.4), ("point", 1.0)])
@pytest.mark.parametrize("mode", ["image", "prepared"])
def test_c_ordered_outputs_are_updated_in_place(kernel, s, mode):
    y, x = np.indices((30, 40), dtype=float)
    pm = np.dstack([x / s + 2.3, y / s + 1.6])
    osh = (int(pm[..., 1].max()) + 4, int(pm[..., 0].max()) + 4)
    oi, ow, oc = np.zeros(osh, np.float32), np.zeros(osh, np.float32), np.zeros(osh, np.int32)
    d = Drizzle(kernel=kernel, fillval=0, out_img=oi, out_wht=ow, out_ctx=oc)
    if mode == "image":
        d.add_image(np.ones((30, 40)), 1.0, pm, pixel_scale_ratio=s)
    else:
        d.add_prepared(prepare(pm, osh, kernel=kernel, pixel_scale_ratio=s), np.ones((30, 40)), 1.0)
    assert d.out_img is oi
    assert d.out_wht is ow
    np.testing.assert_allclose(ow.sum(dtype=float), 1200.0, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(oc != 0, ow > 0)


def test_outputs_of_another_dtype_are_copied_in_c_order():
    osh = (26, 36)
    oi = np.zeros(osh, np.float64, order="F")
    d = Drizzle(fillval=0, out_img=oi)
    d.add_image(np.ones((20, 30)), 1.0, _identity(20, 30, 2.3, 1.6))
    assert d.out_img.flags.c_contiguous
    assert d.out_img.dtype == np.float32
    np.testing.assert_allclose(d.out_wht.sum(dtype=float), 600.0, rtol=1e-6, atol=0)


# --------------------------------------------------------------------------------------
# a failure part-way through an add


def _small_tiles(monkeypatch):
    monkeypatch.setattr(T, "_CHUNK_CONTRIBUTIONS", 100)
    monkeypatch.setattr(T, "_MIN_TILE_CONTRIBUTIONS", 1)
    monkeypatch.setattr(T, "_SQUARE_TILE_PIXELS", None)


def _fail_on_call(monkeypatch, owner, name, k, exc):
    """Make ``owner.name`` raise ``exc`` on its ``k``-th call."""
    real = getattr(owner, name)
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == k:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)
    return real


def _outputs(d):
    return d.out_img.copy(), d.out_wht.copy(), d.out_ctx.copy(), d.ctx_id, d.total_exptime


def _assert_same_outputs(d, before):
    np.testing.assert_array_equal(d.out_img, before[0])
    np.testing.assert_array_equal(d.out_wht, before[1])
    np.testing.assert_array_equal(d.out_ctx, before[2])
    assert (d.ctx_id, d.total_exptime) == before[3:]


@pytest.mark.parametrize(("n_threads", "fork"), [(1, False), (2, False), (2, True)])
def test_add_image_failing_after_a_merge_spoils_the_drizzle(monkeypatch, n_threads, fork):
    _small_tiles(monkeypatch)
    monkeypatch.setattr(P, "_USE_FORK", fork)
    shape = (40, 40)
    pm = make_pixmap(shape, angle=5.0)
    out = out_shape_for(pm)
    data = np.ones(shape, np.float32)
    d = Drizzle(out_shape=out, n_threads=n_threads, max_ctx_id=3)
    d.add_image(data, 1.0, pm)
    before = _outputs(d)
    err = MemoryError("tile failure")
    _fail_on_call(monkeypatch, T, "tile_sums", 8, err)
    with pytest.raises(MemoryError) as info:
        d.add_image(data, 1.0, pm)
    if fork:  # from a worker process: a copy, with the worker's traceback as a note
        assert info.value.args == err.args
        assert "drizzle worker process" in "".join(info.value.__notes__)
    else:
        assert info.value is err  # the original exception, unchanged
    assert not np.array_equal(d.out_wht, before[1])  # part of the image is in
    with pytest.raises(DrizzleStateError, match=r"interrupted.*new Drizzle"):
        d.add_image(data, 1.0, pm)
    with pytest.raises(DrizzleStateError, match="out_img/out_wht/out_ctx"):
        d.add_prepared(prepare(pm, out), data, 1.0)
    assert isinstance(DrizzleStateError("x"), DitherlabError | RuntimeError)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("exc", [MemoryError("block failure"), KeyboardInterrupt()])
def test_add_prepared_failing_after_a_merge_spoils_the_drizzle(monkeypatch, n_threads, exc):
    monkeypatch.setattr(op_module, "_SUB_BLOCK", 1 << 10)
    monkeypatch.setattr(op_module, "_TASK_NNZ", 1 << 12)
    y, x = np.indices((100, 120), dtype=float)
    pm = np.dstack([x + 0.3, y + 0.2])
    op = prepare(pm, (104, 124))
    d = Drizzle(out_shape=(104, 124), n_threads=n_threads)
    _fail_on_call(monkeypatch, op_module.DrizzleOperator, "_block_sums", 6, exc)
    with pytest.raises(type(exc)) as info:
        d.add_prepared(op, np.ones((100, 120)), 1.0)
    assert info.value is exc
    assert d.out_wht.sum() > 0
    with pytest.raises(DrizzleStateError, match="interrupted"):
        d.add_prepared(op, np.ones((100, 120)), 1.0)
    with pytest.raises(DrizzleStateError):
        d.add_image(np.ones((100, 120)), 1.0, pm)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_a_failure_before_any_merge_leaves_the_drizzle_usable(monkeypatch, n_threads):
    _small_tiles(monkeypatch)
    shape = (40, 40)
    pm = make_pixmap(shape, angle=5.0)
    out = out_shape_for(pm)
    data = np.ones(shape, np.float32)
    # begin_ctx_id=31: the failed add would need a second context plane
    d = Drizzle(out_shape=out, n_threads=n_threads, begin_ctx_id=31, fillval=0)
    twin = Drizzle(out_shape=out, n_threads=n_threads, begin_ctx_id=31, fillval=0)
    d.add_image(data, 1.0, pm)
    twin.add_image(data, 1.0, pm)
    before = _outputs(d)
    real = _fail_on_call(monkeypatch, T, "tile_sums", 1, RuntimeError("first tile"))
    with pytest.raises(RuntimeError, match="first tile"):
        d.add_image(data, 2.0, pm)
    _assert_same_outputs(d, before)
    monkeypatch.setattr(T, "tile_sums", real)
    op = prepare(pm, out)
    real = _fail_on_call(monkeypatch, op_module.DrizzleOperator, "_block_sums", 1, MemoryError())
    with pytest.raises(MemoryError):
        d.add_prepared(op, data, 2.0)
    _assert_same_outputs(d, before)
    monkeypatch.setattr(op_module.DrizzleOperator, "_block_sums", real)
    for dz in (d, twin):  # still usable, as if nothing had happened
        dz.add_image(data * 3, 2.0, pm)
        dz.add_prepared(op, data * 5, 1.0)
    np.testing.assert_array_equal(d.out_img, twin.out_img)
    np.testing.assert_array_equal(d.out_wht, twin.out_wht)
    np.testing.assert_array_equal(d.out_ctx, twin.out_ctx)
    assert (d.ctx_id, d.total_exptime) == (twin.ctx_id, twin.total_exptime) == (34, 4.0)


def test_a_failure_before_any_merge_keeps_an_inferred_shape_open(monkeypatch):
    pm = _identity(10, 12, 1.0, 1.0)
    d = Drizzle()
    _fail_on_call(monkeypatch, T, "tile_sums", 1, RuntimeError("first tile"))
    with pytest.raises(RuntimeError):
        d.add_image(np.ones((10, 12)), 1.0, pm)
    assert d.out_img is None
    assert (d.ctx_id, d.total_exptime) == (0, 0.0)


# --------------------------------------------------------------------------------------
# lanczos (ours and legacy) ignores pixfrac (as C, which warns)


@pytest.mark.parametrize("legacy", [True, False])
@pytest.mark.parametrize("kernel", ["lanczos2", "lanczos3"])
def test_lanczos_warns_that_pixfrac_is_ignored(monkeypatch, kernel, legacy):
    _small_tiles(monkeypatch)
    pm = make_pixmap((30, 30), angle=10.0)
    d = Drizzle(kernel=kernel, out_shape=out_shape_for(pm), legacy_kernels=legacy, n_threads=2)
    with pytest.warns(DitherlabWarning, match=r"pixfrac=0\.6 is ignored.*lanczos") as rec:
        d.add_image(np.ones((30, 30)), 1.0, pm, pixfrac=0.6)
    assert len(rec) == 1  # once per call, not per tile
    assert rec[0].filename == __file__
    with pytest.warns(DitherlabWarning, match="pixfrac=0.6"):
        prepare(pm, out_shape_for(pm), kernel=kernel, pixfrac=0.6, legacy_kernels=legacy)
    # and it is ignored indeed: the same weights as with pixfrac=1
    ref = Drizzle(kernel=kernel, out_shape=out_shape_for(pm), legacy_kernels=legacy)
    ref.add_image(np.ones((30, 30)), 1.0, pm, pixfrac=1.0)
    np.testing.assert_array_equal(d.out_wht, ref.out_wht)


@pytest.mark.parametrize(
    ("kernel", "legacy", "pixfrac"),
    [
        ("lanczos3", True, 1.0),
        ("lanczos2", True, 1.0),
        ("gaussian", True, 0.6),
        ("square", False, 0.6),
        ("lanczos3", False, 1.0),
        ("tophat", False, 0.6),
    ],
)
def test_no_pixfrac_warning_otherwise(kernel, legacy, pixfrac):
    pm = make_pixmap((12, 12), angle=10.0)
    d = Drizzle(kernel=kernel, out_shape=out_shape_for(pm), legacy_kernels=legacy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d.add_image(np.ones((12, 12)), 1.0, pm, pixfrac=pixfrac)
        prepare(pm, out_shape_for(pm), kernel=kernel, pixfrac=pixfrac, legacy_kernels=legacy)


# --------------------------------------------------------------------------------------
# one process-wide worker pool


def _drizzle_threads():
    return [t for t in threading.enumerate() if t.name.startswith("ditherlab-drizzle")]


def test_one_pool_grown_on_demand(monkeypatch):
    _small_tiles(monkeypatch)
    monkeypatch.setattr(op_module, "_SUB_BLOCK", 1 << 8)
    monkeypatch.setattr(op_module, "_TASK_NNZ", 1 << 10)
    pm = make_pixmap((40, 40), angle=5.0)
    out = out_shape_for(pm)
    data = np.ones((40, 40), np.float32)
    op = prepare(pm, out)
    results = []
    for n in (1, 2, 3, 2, 1):
        d = Drizzle(out_shape=out, n_threads=n)
        d.add_image(data, 1.0, pm)
        d.add_prepared(op, data, 1.0)
        results.append(d)
    for d in results[1:]:  # deterministic whatever the threads
        np.testing.assert_array_equal(d.out_img, results[0].out_img)
        np.testing.assert_array_equal(d.out_wht, results[0].out_wht)
        np.testing.assert_array_equal(d.out_ctx, results[0].out_ctx)
    assert P._POOL_SIZE >= 3
    # the smaller pools were shut down: their threads end once idle, and only the one
    # pool's workers are left
    deadline = time.monotonic() + 20
    while len(_drizzle_threads()) > P._POOL_SIZE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_drizzle_threads()) <= P._POOL_SIZE


def test_interpreter_exits_after_drizzling_on_threads(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            """
            import numpy as np
            from ditherlab.drizzle import Drizzle, prepare
            y, x = np.indices((300, 400), dtype=float)
            pm = np.dstack([x + 0.3, y + 0.2])
            for n in (2, 3):
                d = Drizzle(out_shape=(305, 405), n_threads=n)
                d.add_image(np.ones((300, 400)), 1.0, pm)
                d.add_prepared(prepare(pm, (305, 405)), np.ones((300, 400)), 1.0)
            print(round(float(d.out_wht.sum())))
            """
        )
    )
    root = pathlib.Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    res = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["240000"]


def _child_run():
    d = Drizzle(out_shape=(62, 82), n_threads=2)
    d.add_image(np.ones((60, 80)), 1.0, _identity(60, 80, 0.3, 0.2))
    d.add_prepared(prepare(_identity(60, 80, 0.3, 0.2), (62, 82)), np.ones((60, 80)), 1.0)
    return round(float(d.out_wht.sum()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_pool_works_in_a_forked_child():
    pm = _identity(60, 80, 0.3, 0.2)
    d = Drizzle(out_shape=(62, 82), n_threads=2)
    d.add_image(np.ones((60, 80)), 1.0, pm)  # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as p:
        total = p.apply_async(_child_run).get(timeout=60)
    assert total == 9600


# --------------------------------------------------------------------------------------
# _merge (signed kernels on the operator path): its sparse branch is still reachable


@pytest.mark.parametrize("fillval", [None, -7.0])
def test_operator_lanczos_on_a_sparsely_touched_block_equals_add_image(monkeypatch, fillval):
    """A small chip on a wide output: each block of output rows is mostly out of reach, so
    ``_merge`` takes its by-index branch."""
    calls = {"sparse": 0}
    real = M.merge_flat

    def spy(img, wht, ctxf, bit, lo, sw, swd, pos, touched, fill=None):
        calls["sparse"] += int(np.count_nonzero(touched) < sw.size // 4)
        return real(img, wht, ctxf, bit, lo, sw, swd, pos, touched, fill)

    monkeypatch.setattr(M, "merge_flat", spy)
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
