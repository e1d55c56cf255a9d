"""Tiles computed in forked worker processes (Linux): same outputs, errors, clean-up."""

import os

import numpy as np
import pytest
from _drizzle_cases import make_pixmap, noisy_inputs, out_shape_for

from ditherlab.drizzle import Drizzle
from ditherlab.drizzle import _merge as M
from ditherlab.drizzle import _parallel as P
from ditherlab.drizzle import _tiles as T

pytestmark = pytest.mark.skipif(not P._CAN_FORK, reason="forked workers need Linux")

KERNELS = ["square", "gaussian", "lanczos3", "tophat"]


@pytest.fixture
def many_tiles(monkeypatch):
    monkeypatch.setattr(T, "_CHUNK_CONTRIBUTIONS", 300)
    monkeypatch.setattr(T, "_MIN_TILE_CONTRIBUTIONS", 1)
    monkeypatch.setattr(T, "_SQUARE_TILE_PIXELS", None)


@pytest.fixture
def forks(monkeypatch):
    """Counts the calls that went to forked workers."""
    calls = []
    real = P._forked_tiles

    def spy(*args):
        calls.append(len(args[1]))
        return real(*args)

    monkeypatch.setattr(P, "_forked_tiles", spy)
    return calls


def _no_children_left():
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def _run(kernel, scale, n_threads, monkeypatch, fork):
    monkeypatch.setattr(P, "_USE_FORK", fork)
    shape = (45, 60)
    pm = make_pixmap(shape, angle=23.0, scale=scale, shift=(0.3, -0.2), quad=0.8)
    out = out_shape_for(pm)
    out = (out[0] - 5, out[1] - 4)  # part of the image falls outside the output
    data, weight = noisy_inputs(shape, 4)
    pf = 1.0 if kernel.startswith("lanczos") else 0.7
    d = Drizzle(kernel=kernel, out_shape=out, n_threads=n_threads, max_ctx_id=1)
    res = [
        d.add_image(data + k, 1.0, pm, weight_map=weight, pixfrac=pf, pixel_scale_ratio=scale)
        for k in range(2)
    ]
    return d, res


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("scale", [0.5, 1.0])
def test_forked_workers_give_one_threads_result_bit_for_bit(
    monkeypatch, many_tiles, forks, kernel, scale
):
    one, r1 = _run(kernel, scale, 1, monkeypatch, fork=True)
    assert not forks
    threads, rt = _run(kernel, scale, 2, monkeypatch, fork=False)
    assert not forks
    forked, rf = _run(kernel, scale, 2, monkeypatch, fork=True)
    assert len(forks) == 2  # both images
    assert forks[0] > 10  # in many tiles
    assert r1 == rt == rf
    for d in (threads, forked):
        np.testing.assert_array_equal(d.out_img, one.out_img)
        np.testing.assert_array_equal(d.out_wht, one.out_wht)
        np.testing.assert_array_equal(d.out_ctx, one.out_ctx)
    _no_children_left()


@pytest.mark.parametrize("capacity", [1, 150])
def test_results_too_large_for_a_slot_go_through_the_pipe(monkeypatch, many_tiles, forks, capacity):
    ref, _ = _run("square", 0.5, 2, monkeypatch, fork=False)
    monkeypatch.setattr(T, "box_pixels", lambda *args: capacity)
    got, _ = _run("square", 0.5, 2, monkeypatch, fork=True)
    assert forks
    np.testing.assert_array_equal(got.out_img, ref.out_img)
    np.testing.assert_array_equal(got.out_wht, ref.out_wht)
    np.testing.assert_array_equal(got.out_ctx, ref.out_ctx)


def test_point_and_turbo_stay_on_threads(monkeypatch, many_tiles, forks):
    for kernel in ("point", "turbo"):
        _run(kernel, 1.0, 2, monkeypatch, fork=True)
    assert not forks


class _Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("cannot pickle this")


def _fail_in_tile(monkeypatch, exc, first_row=10):
    """Make the tiles starting at scan row ``first_row`` or later fail (in any process)."""
    real = T.tile_sums

    def flaky(kernel, pixmap, data, weight_map, dscale, wscale, rows, x1, x2, chunk, *rest):
        if chunk[0] >= first_row:
            raise exc
        return real(kernel, pixmap, data, weight_map, dscale, wscale, rows, x1, x2, chunk, *rest)

    monkeypatch.setattr(T, "tile_sums", flaky)


@pytest.mark.parametrize(
    ("exc", "raised", "match"),
    [
        (ValueError("tile failure"), ValueError, "tile failure"),
        (_Unpicklable("odd"), P.WorkerError, "_Unpicklable: odd"),
    ],
)
def test_an_error_in_a_worker_is_raised_with_its_traceback(
    monkeypatch, many_tiles, forks, exc, raised, match
):
    _fail_in_tile(monkeypatch, exc)
    with pytest.raises(raised, match=match) as info:
        _run("square", 1.0, 2, monkeypatch, fork=True)
    assert forks
    if raised is ValueError:
        assert "in flaky" in "".join(info.value.__notes__)
    _no_children_left()


@pytest.mark.parametrize(
    ("how", "match"), [("exit", r"exited \(3\) before sending tile"), ("kill", "signal 9")]
)
def test_a_worker_that_dies_is_reported(monkeypatch, many_tiles, forks, how, match):
    real = T.tile_sums

    def dies(*args):
        if args[9][0] >= 10:
            if how == "exit":
                os._exit(3)
            os.kill(os.getpid(), 9)  # as the OOM killer would
        return real(*args)

    monkeypatch.setattr(T, "tile_sums", dies)
    with pytest.raises(P.WorkerError, match=match):
        _run("square", 1.0, 2, monkeypatch, fork=True)
    _no_children_left()


def test_a_late_worker_error_is_not_masked_by_the_acks(monkeypatch, many_tiles, forks):
    """A worker fails after its first tiles while merges are slow: its own error comes back."""
    import time

    _fail_in_tile(monkeypatch, ValueError("the real error"), first_row=25)
    real_merge = M.merge_box

    def slow(*args, **kwargs):
        time.sleep(0.01)
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(M, "merge_box", slow)
    with pytest.raises(ValueError, match="the real error"):
        _run("square", 1.0, 2, monkeypatch, fork=True)
    _no_children_left()


class _TwoArgs(Exception):  # pickles, but cannot be rebuilt from its args
    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")


def test_an_exception_that_does_not_unpickle_comes_back_with_its_traceback(
    monkeypatch, many_tiles, forks
):
    _fail_in_tile(monkeypatch, _TwoArgs(1, 2))
    with pytest.raises(P.WorkerError, match="_TwoArgs: 1/2"):
        _run("square", 1.0, 2, monkeypatch, fork=True)
    _no_children_left()


def test_workers_do_not_copy_the_outputs(monkeypatch, many_tiles):
    """The workers drop their mappings of the outputs (the caller's merges copy no page)."""
    real = P._release_in_child

    def spy(arrays):  # runs in the worker: report through a pipe
        real(arrays)
        first = [float(a.reshape(-1)[len(a.reshape(-1)) // 2]) for a in arrays]
        os.write(w_fd, repr(first).encode())

    r_fd, w_fd = os.pipe()
    monkeypatch.setattr(P, "_release_in_child", spy)
    monkeypatch.setattr(P, "_USE_FORK", True)
    shape = (300, 300)
    pm = make_pixmap(shape, angle=10.0)
    d = Drizzle(out_shape=out_shape_for(pm), n_threads=2, fillval=5.0)
    d.add_image(np.ones(shape, np.float32), 1.0, pm)
    os.close(w_fd)
    with os.fdopen(r_fd) as f:
        dropped = f.read()
    # in the workers the middle pixel of out_img (fill 5.0 there) reads 0: dropped pages
    assert dropped.count("[0.0") == 2, dropped
    _no_children_left()


def test_a_failing_merge_kills_and_reaps_the_workers(monkeypatch, many_tiles, forks):
    real = M.merge_box
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(M, "merge_box", flaky)
    with pytest.raises(KeyboardInterrupt):
        _run("square", 1.0, 2, monkeypatch, fork=True)
    assert forks
    _no_children_left()
    # and the next call works
    monkeypatch.setattr(M, "merge_box", real)
    d, _ = _run("square", 1.0, 2, monkeypatch, fork=True)
    assert np.nanmax(d.out_wht) > 0


def test_the_environment_can_keep_threads():
    import subprocess
    import sys

    code = "import ditherlab.drizzle._parallel as P; print(P._USE_FORK)"
    env = {**os.environ, "DITHERLAB_DRIZZLE_FORK": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
    env["DITHERLAB_DRIZZLE_FORK"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr
