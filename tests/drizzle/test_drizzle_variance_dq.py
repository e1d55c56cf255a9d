"""Variance (``data2`` -> ``out_img2``) and DQ (``dq`` -> ``out_dq``) propagation."""

import warnings

import numpy as np
import pytest
from _drizzle_cases import make_pixmap, noisy_inputs, out_shape_for
from hypothesis import given, settings
from hypothesis import strategies as st

from ditherlab.drizzle import Drizzle, prepare
from ditherlab.drizzle import _checks as C
from ditherlab.drizzle import _parallel as P
from ditherlab.drizzle import _resample as R
from ditherlab.drizzle import _tiles as T
from ditherlab.errors import DitherlabTypeError, DitherlabValueError, OutputTooLargeError

C_KERNELS = ["square", "turbo", "point", "gaussian", "lanczos2", "lanczos3"]


def _inputs(shape, seed):
    rng = np.random.default_rng(seed)
    data = rng.normal(5, 1, shape).astype(np.float32)
    var = rng.uniform(0.5, 3, shape).astype(np.float32)
    weight = rng.uniform(0.3, 1.5, shape).astype(np.float32)
    dq = (rng.integers(0, 2**31, shape) * (rng.uniform(size=shape) < 0.15)).astype(np.uint32)
    return data, var, weight, dq


def _both(kernel, shape, seed, geometry, pixfrac, s, out_shape):
    """Ours (C's kernel weights) and C drizzle 3.0 after two adds with data2 and dq."""
    cdriz = pytest.importorskip("drizzle.resample")
    data, var, weight, dq = _inputs(shape, seed)
    pm = make_pixmap(shape, **geometry)
    ours = Drizzle(kernel=kernel, out_shape=out_shape, fillval2=-9.0, legacy_kernels=True)
    ref = cdriz.Drizzle(kernel=kernel, out_shape=out_shape, fillval2=-9.0)
    for k in range(2):
        kw = {
            "weight_map": weight,
            "pixfrac": pixfrac,
            "pixel_scale_ratio": s,
            "iscale": s * s,
            "in_units": ("cps", "counts")[k],
            "data2": [var * (k + 1), None],
            "dq": dq >> k,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for d in (ours, ref):
                d.add_image(data + k, exptime=1.5, pixmap=pm + 0.37 * k, **kw)
    return ours, ref


def _assert_variances_agree(ours, ref, rtol):
    """Equal to ``rtol``, except where the weight is below 1e-15 of the maximum: C squares
    float32 weights, and (a·w)² below ~1e-38 loses its precision in float32 (gaussian tails)."""
    assert len(ours.out_img2) == len(ref.out_img2) == 2
    faint = ref.out_wht < 1e-15 * ref.out_wht.max()
    for mine, theirs in zip(ours.out_img2, ref.out_img2, strict=True):
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
        np.testing.assert_array_equal(mine == -9.0, theirs == -9.0)  # fillval2 where empty
        m = np.isfinite(theirs) & ~faint
        np.testing.assert_allclose(mine[m], theirs[m], rtol=rtol, atol=rtol * theirs[m].max())


@settings(max_examples=25, deadline=None)
@given(
    kernel=st.sampled_from(C_KERNELS),
    angle=st.floats(-180, 180),
    scale=st.sampled_from([0.5, 0.8, 1.0, 1.6]),
    shift=st.tuples(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5)),
    quad=st.floats(0, 2),
    pixfrac=st.sampled_from([1.0, 0.7, 0.4]),
    seed=st.integers(0, 2**16),
    crop=st.integers(0, 6),
)
def test_variance_and_dq_match_c_drizzle_on_random_geometries(
    kernel, angle, scale, shift, quad, pixfrac, seed, crop
):
    shape = (17, 21)
    geometry = {"angle": angle, "scale": scale, "shift": shift, "quad": quad}
    out = out_shape_for(make_pixmap(shape, **geometry))
    out = (out[0] - crop, out[1] - crop)  # part of the image may fall outside
    pf = 1.0 if kernel.startswith("lanczos") else pixfrac
    ours, ref = _both(kernel, shape, seed, geometry, pf, scale, out)
    # (lanczos: C's weights accumulate in float32, with terms of either sign)
    _assert_variances_agree(ours, ref, 3e-4 if kernel.startswith("lanczos") else 2e-5)
    if not kernel.startswith("lanczos"):
        # C's lanczos also ORs the DQ of window pixels with exactly zero weight (docs/drizzle.md)
        np.testing.assert_array_equal(ours.out_dq, ref.out_dq)


def test_variance_of_the_weighted_mean_matches_the_prepared_operator():
    """``out_img2 = Σ (a·w)² v / (Σ a·w)²`` from the operator's matrix ``A`` (our kernels)."""
    shape = (19, 23)
    pm = make_pixmap(shape, angle=31.0, scale=0.7, shift=(0.2, -0.1), quad=1.0)
    out = out_shape_for(pm)
    data, var, weight, _ = _inputs(shape, 5)
    for kernel in ("square", "gaussian", "lanczos3", "tophat"):
        d = Drizzle(kernel=kernel, out_shape=out, fillval2=0.0)
        d.add_image(data, 1.0, pm, weight_map=weight, data2=var, pixel_scale_ratio=0.7)
        a = prepare(pm, out, kernel=kernel, pixel_scale_ratio=0.7).matrix
        w = weight.ravel().astype(float)
        sw = a @ w
        sv = a.multiply(a) @ (w * w * var.ravel())
        expect = np.where(sw != 0, sv / np.where(sw != 0, sw, 1) ** 2, 0.0).reshape(out)
        got = d.out_img2[0]
        np.testing.assert_allclose(got, expect, rtol=2e-6, atol=1e-6 * expect.max())
        assert (got[d.out_wht == 0] == 0).all()


def test_variance_of_a_constant_image_drops_as_the_overlap_spreads():
    """Interior pixels of a half-pixel-shifted square drizzle average four inputs: v / 4."""
    shape = (12, 12)
    y, x = np.indices(shape, dtype=float)
    d = Drizzle(out_shape=(14, 14))
    d.add_image(np.ones(shape), 1.0, np.dstack([x + 0.5, y + 0.5]), data2=np.full(shape, 8.0))
    np.testing.assert_allclose(d.out_img2[0][2:11, 2:11], 2.0, rtol=1e-6)
    assert np.isnan(d.out_img2[0][13, 13])  # fillval2=None: NaN in a new image


def test_data2_units_follow_the_data():
    """counts: data / exptime, variance / exptime**2; iscale: variance * iscale**2."""
    shape = (8, 8)
    y, x = np.indices(shape, dtype=float)
    pm = np.dstack([x + 1.0, y + 1.0])
    d = Drizzle(out_shape=(10, 10))
    var = np.full(shape, 4.0)
    d.add_image(np.full(shape, 6.0), 2.0, pm, in_units="counts", iscale=3.0, data2=var)
    assert d.out_img[4, 4] == pytest.approx(9.0)
    assert d.out_img2[0][4, 4] == pytest.approx(4.0 * 9 / 4)


def test_nan_data_add_no_variance_and_nan_variance_propagates():
    shape = (6, 6)
    y, x = np.indices(shape, dtype=float)
    pm = np.dstack([x + 1.0, y + 1.0])
    data = np.ones(shape, np.float32)
    data[2, 2] = np.nan
    var = np.full(shape, 2.0, np.float32)
    var[4, 4] = np.nan
    var[2, 2] = np.nan  # its data are NaN: zero weight, its variance is not used
    d = Drizzle(out_shape=(8, 8))
    d.add_image(data, 1.0, pm, data2=var, dq=np.full(shape, 2, np.uint8))
    assert d.out_wht[3, 3] == 0
    assert np.isnan(d.out_img2[0][3, 3])
    assert d.out_dq[3, 3] == 0
    assert np.isnan(d.out_img2[0][5, 5])
    assert d.out_img2[0][4, 4] == 2.0
    assert d.out_dq[4, 4] == 2


@pytest.mark.parametrize("kernel", ["square", "gaussian", "lanczos3", "point", "turbo"])
def test_extras_leave_the_image_bit_for_bit_and_fork_like_one_thread(monkeypatch, kernel):
    monkeypatch.setattr(T, "_CHUNK_CONTRIBUTIONS", 300)
    monkeypatch.setattr(T, "_MIN_TILE_CONTRIBUTIONS", 1)
    monkeypatch.setattr(T, "_SQUARE_TILE_PIXELS", None)
    forks = []
    real = P._forked_tiles
    monkeypatch.setattr(P, "_forked_tiles", lambda *a: forks.append(1) or real(*a))
    shape = (40, 44)
    pm = make_pixmap(shape, angle=23.0, scale=0.8, shift=(0.3, -0.2), quad=0.8)
    out = out_shape_for(pm)
    out = (out[0] - 4, out[1] - 3)
    data, weight = noisy_inputs(shape, 9)
    _, var, _, dq = _inputs(shape, 9)
    runs = []
    for n_threads, extras in ((1, False), (1, True), (2, True)):
        d = Drizzle(kernel=kernel, out_shape=out, n_threads=n_threads)
        kw = {"data2": [var, var * 2], "dq": dq} if extras else {}
        for k in range(2):
            d.add_image(data + k, 1.0, pm + 0.3 * k, weight_map=weight, pixel_scale_ratio=0.8, **kw)
        runs.append(d)
    plain, one, two = runs
    for d in (one, two):
        np.testing.assert_array_equal(d.out_img, plain.out_img)
        np.testing.assert_array_equal(d.out_wht, plain.out_wht)
        np.testing.assert_array_equal(d.out_ctx, plain.out_ctx)
    for a, b in zip(two.out_img2, one.out_img2, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(two.out_dq, one.out_dq)
    assert bool(forks) == (kernel not in ("point", "turbo") and P._CAN_FORK and P._USE_FORK)


def test_caller_arrays_are_updated_in_place_and_filled():
    shape = (6, 6)
    y, x = np.indices(shape, dtype=float)
    pm = np.dstack([x + 1.0, y + 1.0])
    img2 = np.full((8, 8), 5.0, np.float32)
    dq = np.zeros((8, 8), np.uint32)
    d = Drizzle(out_shape=(8, 8), out_img2=[img2, None], out_dq=dq, fillval2=-1)
    d.add_image(np.ones(shape), 1.0, pm, data2=[np.ones(shape), None], dq=np.ones(shape, np.int16))
    assert d.out_img2[0] is img2
    assert d.out_dq is dq
    assert img2[0, 0] == -1
    assert img2[3, 3] == 1.0
    assert dq[3, 3] == 1
    assert d.out_img2[1][3, 3] == 0.0
    assert d.out_img2[1][0, 0] == -1
    kept = Drizzle(out_shape=(8, 8), out_img2=img2.copy())  # fillval2=None: left as it is
    kept.add_image(np.ones(shape), 1.0, pm, data2=np.ones(shape))
    assert kept.out_img2[0][0, 0] == -1


def test_bad_data2_and_dq_are_refused_before_anything_changes():
    shape = (6, 6)
    y, x = np.indices(shape, dtype=float)
    pm = np.dstack([x + 1.0, y + 1.0])
    d = Drizzle(out_shape=(8, 8))
    with pytest.raises(DitherlabValueError, match=r"data2\[1\] shape \(5, 6\)"):
        d.add_image(np.ones(shape), 1.0, pm, data2=[np.ones(shape), np.ones((5, 6))])
    with pytest.raises(DitherlabTypeError, match="dq has dtype uint64"):
        d.add_image(np.ones(shape), 1.0, pm, dq=np.ones(shape, np.uint64))
    with pytest.raises(DitherlabValueError, match="dq shape"):
        d.add_image(np.ones(shape), 1.0, pm, dq=np.ones((6, 5), np.uint16))
    with pytest.raises(DitherlabTypeError, match="out_dq has dtype float64"):
        Drizzle(out_shape=(8, 8), out_dq=np.zeros((8, 8)))
    with pytest.raises(DitherlabValueError, match="output shapes disagree"):
        Drizzle(out_shape=(8, 8), out_img2=np.zeros((8, 9), np.float32))
    assert d.out_img2 is None
    assert d.out_dq is None
    assert d.ctx_id == 0
    d.add_image(np.ones(shape), 1.0, pm, data2=[np.ones(shape), None])
    with pytest.raises(DitherlabValueError, match="data2 has 0 array"):
        d.add_image(np.ones(shape), 1.0, pm)
    with pytest.raises(DitherlabValueError, match="add_prepared does not"):
        d.add_prepared(prepare(pm, (8, 8)), np.ones(shape), 1.0)
    late = Drizzle(out_shape=(8, 8))
    late.add_image(np.ones(shape), 1.0, pm)
    with pytest.raises(DitherlabValueError, match="added without data2"):
        late.add_image(np.ones(shape), 1.0, pm, data2=np.ones(shape))
    assert late.out_img2 is None
    assert late.ctx_id == 1


def test_a_failed_add_also_restores_the_variance_and_dq_outputs(monkeypatch):
    shape = (6, 6)
    y, x = np.indices(shape, dtype=float)
    pm = np.dstack([x + 1.0, y + 1.0])
    d = Drizzle(out_shape=(8, 8))

    def boom(*args, **kwargs):
        raise RuntimeError("kernel failure")

    monkeypatch.setattr(d, "_drizzle", boom)
    with pytest.raises(RuntimeError):
        d.add_image(np.ones(shape), 1.0, pm, data2=np.ones(shape), dq=np.ones(shape, np.int16))
    assert d.out_img2 is None
    assert d.out_dq is None
    assert d._nadds == 0
    monkeypatch.undo()
    d.add_image(np.ones(shape), 1.0, pm)  # no data2: still the first add
    assert d.out_img2 is None


def test_an_output_too_large_for_memory_is_refused_before_allocating(monkeypatch):
    with pytest.raises(OutputTooLargeError, match=r"out_shape=\(1000000, 1000000\) needs 12 TB"):
        Drizzle(out_shape=(10**6, 10**6))
    with pytest.raises(MemoryError):  # also what numpy's own failure would be
        Drizzle(out_shape=(10**6, 10**6), disable_ctx=True)
    with pytest.raises(ValueError, match="8 bytes each"):
        Drizzle(out_shape=(10**6, 10**6), disable_ctx=True)
    # a shape inferred from the pixmap is checked too (on a machine of 1 MB)
    monkeypatch.setattr(C, "_physical_memory", lambda: 10**6)
    y, x = np.indices((4, 4), dtype=float)
    d = Drizzle()
    with pytest.raises(OutputTooLargeError, match=r"\(301, 301\) needs 1.09 MB .* 1 MB"):
        d.add_image(np.ones((4, 4)), 1.0, np.dstack([x * 100, y * 100]))
    assert d.out_img is None
    assert d.ctx_id == 0
    d.add_image(np.ones((4, 4)), 1.0, np.dstack([x * 10, y * 10]))
    # and numpy's own failure becomes the same error
    monkeypatch.setattr(C, "_physical_memory", lambda: None)

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(R.np, "full", no_memory)
    with pytest.raises(OutputTooLargeError, match="allocating them failed"):
        Drizzle(out_shape=(30, 40))


def test_outputs_that_are_also_inputs_keep_their_pages_in_forked_workers(monkeypatch):
    """Workers drop their mappings of the outputs (madvise), never of an array they read:
    a data2 or dq that is one of the outputs stays mapped (it would read as zeros)."""
    seen = []
    real = P.map_tiles
    monkeypatch.setattr(
        P, "map_tiles", lambda *a, **k: seen.append([id(o) for o in k["outputs"]]) or real(*a, **k)
    )
    shape = (20, 20)
    y, x = np.indices(shape, dtype=float)
    pm = np.dstack([x + 0.5, y + 0.25])
    d = Drizzle(out_shape=shape, out_dq=np.zeros(shape, np.int32))
    d.add_image(np.ones(shape), 1.0, pm, data2=np.full(shape, 2.0, np.float32))
    d.add_image(np.ones(shape), 1.0, pm, data2=d.out_img2[0], dq=d.out_dq)
    assert {id(d.out_img), id(d.out_wht), id(d.out_img2[0])} <= set(seen[0])
    assert id(d.out_img2[0]) not in seen[1]
    assert id(d.out_dq) not in seen[1]
    assert id(d.out_img) in seen[1]
