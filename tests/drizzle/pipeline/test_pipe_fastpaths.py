"""The pipeline's fast paths (issue 12, speed) against direct implementations of the same
rules: they must give the same numbers, bit for bit where the rule fixes the arithmetic."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pipe_helpers import blot_case

from ditherlab.drizzle import PipelineConfig, blot_image
from ditherlab.drizzle.pipeline import blot_chip, histogram_mode, image_stats
from ditherlab.drizzle.pipeline.median import extend_edges


def _direct_extend(image, covered, width):
    """extend_edges as documented, over whole frames: each pass, every uncovered pixel
    with covered 8-neighbours takes their mean (float32 sums in a fixed order)."""
    out = np.array(image, np.float32, copy=True)
    cov = np.array(covered, bool, copy=True)
    ny, nx = out.shape
    for _ in range(width):
        total = np.zeros((ny + 2, nx + 2), np.float32)
        count = np.zeros((ny + 2, nx + 2), np.float32)
        v = np.where(cov, out, np.float32(0))
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                if dy == dx == 1:
                    continue
                total[dy : dy + ny, dx : dx + nx] += v
                count[dy : dy + ny, dx : dx + nx] += cov
        total, count = total[1:-1, 1:-1], count[1:-1, 1:-1]
        grow = ~cov & (count > 0)
        out[grow] = total[grow] / count[grow]
        cov |= grow
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 25),
    st.integers(1, 25),
    st.floats(0.0, 1.0),
    st.integers(0, 4),
    st.integers(0, 2**32 - 1),
)
def test_extend_edges_equals_the_whole_frame_passes(ny, nx, frac, width, seed):
    rng = np.random.default_rng(seed)
    img = (rng.normal(0.0, 1.0, (ny, nx)) * 10 ** rng.uniform(-3, 3)).astype(np.float32)
    cov = rng.random((ny, nx)) < frac
    got = extend_edges(img, cov, width)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _direct_extend(img, cov, width))


def test_extend_edges_fills_a_ring_of_the_given_width():
    img = np.zeros((11, 11), np.float32)
    cov = np.zeros((11, 11), bool)
    img[5, 5], cov[5, 5] = 7.0, True
    out = extend_edges(img, cov, 2)
    assert np.all(out[3:8, 3:8] == 7.0)
    assert np.count_nonzero(out) == 25


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(np.float32, st.integers(1, 400), elements=st.floats(-1e4, 1e4, width=32)),
    st.floats(1e-3, 50.0),
)
def test_sorted_histogram_counts_equal_bincount(values, width):
    """``is_sorted=True`` finds the bin edges by bisection: the same mode and bins."""
    v = np.sort(values)
    assert histogram_mode(v, width, is_sorted=True) == histogram_mode(v, width)


def _direct_passes(v, nclip, lsig, usig, lower, upper):
    """The clipping passes with float64 comparisons on the unsorted values."""
    x = v[np.isfinite(v)].astype(np.float64)
    lo0, hi0 = lower, upper
    lo, hi = lo0, hi0
    for k in range(nclip + 1):
        sel = x[(x >= lo) & (x <= hi)]
        mu, sd = sel.mean(), sel.std()
        if k < nclip:
            lo, hi = max(lo0, mu - lsig * sd), min(hi0, mu + usig * sd)
    return sel, lo, hi


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 5),
    st.floats(1.0, 5.0),
    st.floats(1.0, 5.0),
    st.booleans(),
)
def test_clipping_bounds_select_the_float64_pixels(seed, nclip, lsig, usig, ties):
    """Bounds compared in float32 (no float64 copy of the data) keep exactly the pixels a
    float64 comparison keeps, ties and values next to the bounds included."""
    rng = np.random.default_rng(seed)
    v = rng.normal(30.0, 5.0, 2000)
    v[:40] = rng.uniform(100, 2000, 40)
    if ties:
        v = np.round(v * 4) / 4
    v = v.astype(np.float32)
    stt = image_stats(v, nclip=nclip, lsig=lsig, usig=usig, lower=-50.0, upper=1500.0)
    sel, lo, hi = _direct_passes(v, nclip, lsig, usig, -50.0, 1500.0)
    assert stt.npix == sel.size
    assert (stt.lower, stt.upper) == pytest.approx((lo, hi), rel=1e-12)
    assert stt.mean == pytest.approx(sel.mean(), rel=1e-12)
    assert stt.median == pytest.approx(float(np.median(sel)), rel=1e-7)


def test_stats_without_mode_or_median_keep_the_rest():
    rng = np.random.default_rng(4)
    v = rng.normal(10.0, 2.0, 5000).astype(np.float32)
    full = image_stats(v)
    bare = image_stats(v, want_median=False, want_mode=False)
    assert (bare.mean, bare.stddev, bare.npix) == (full.mean, full.stddev, full.npix)
    assert np.isnan(bare.mode)
    assert np.isnan(bare.median)
    assert bare.nbins == 0


def test_poly5_blot_is_the_same_on_one_or_two_threads():
    """A chip of more points than one thread task: the threads change nothing, and the
    result still agrees with the core's blot."""
    rng = np.random.default_rng(8)
    data = rng.normal(5.0, 1.0, (330, 300)).astype(np.float32)
    data[100:103, 50:53] += 400.0
    y, x = np.indices((320, 290), dtype=float)
    pixmap = np.dstack([x * 1.01 + 0.3 * np.sin(y / 40) + 2.2,
                        y * 0.99 + 0.2 * np.cos(x / 30) + 1.7]).astype(np.float32)  # fmt: skip
    cfg = PipelineConfig()
    one = blot_chip(data, pixmap, 1.0, 300.0, 5.0, cfg.replace(num_cores=1))
    two = blot_chip(data, pixmap, 1.0, 300.0, 5.0, cfg.replace(num_cores=2))
    np.testing.assert_array_equal(one, two)
    want = blot_image(data, pixmap, pix_ratio=1.0, exptime=300.0, interp="poly5") + 5.0
    np.testing.assert_allclose(one, want, rtol=0, atol=2e-6 * np.abs(want).max())


@given(st.floats(allow_nan=False), st.floats(allow_nan=False, width=32), st.integers(-3, 3))
def test_float32_bounds_compare_like_float64(x, v, ulps):
    """``v >= x`` ⇔ ``v >= _at_least(x)`` and ``v <= x`` ⇔ ``v <= _at_most(x)`` for float32
    ``v`` and float64 ``x``, also for ``v`` a few float32 steps from ``x``."""
    from ditherlab.drizzle.pipeline.stats import _at_least, _at_most

    with np.errstate(over="ignore"):
        near = np.float32(x)
    for f in (np.float32(v), near):
        for _ in range(abs(ulps)):
            f = np.nextafter(f, np.float32(np.sign(ulps) * np.inf))
        assert (float(f) >= x) == bool(f >= _at_least(x))
        assert (float(f) <= x) == bool(f <= _at_most(x))


@pytest.mark.parametrize("aperture", ["acs-wfc", "wfc3-uvis", "wfc3-ir"])
def test_sparse_pixmap_within_1e3_px_on_the_instrument_distortions(aperture):
    """The sparse-grid pixmap (a bicubic spline through the exact map) of every full chip
    of a camera, with its 4th-order SIAF distortion as TAN-SIP, onto a grid rotated by
    37° at 0.6 × its pixel: ≤ 0.001 px from the exact map at 20 000 random pixels."""
    from astropy.io import fits
    from astropy.wcs import WCS

    from ditherlab.drizzle import pixmap_from_wcs
    from ditherlab.planner import get_aperture
    from ditherlab.simulate._geometry import ChipMap, attitude

    ap = get_aperture(aperture)
    rng = np.random.default_rng(3)
    for cap in ap.chips:
        v2, v3 = ap.idl_to_tel(0.0, 0.0)
        cmap = ChipMap.from_attitude(cap, attitude(float(v2), float(v3), 150.0, 2.0, 37.0))
        win = WCS(fits.Header(cmap.wcs_cards()))
        ny, nx = (int(v) for v in cap.shape)
        ra0, dec0 = win.pixel_to_world_values(nx / 2, ny / 2)
        wout = WCS(naxis=2)
        wout.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wout.wcs.crval = [float(ra0), float(dec0)]
        wout.wcs.crpix = [nx, ny]
        s = 0.6 * np.sqrt(abs(np.linalg.det(win.pixel_scale_matrix)))
        wout.wcs.cd = s * np.array([[-np.cos(0.3), np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
        pm, err = pixmap_from_wcs(win, wout, (ny, nx), return_error=True)
        y, x = rng.integers(0, ny, 20_000), rng.integers(0, nx, 20_000)
        ex, ey = wout.world_to_pixel_values(*win.pixel_to_world_values(x, y))
        d = np.hypot(pm[y, x, 0] - ex, pm[y, x, 1] - ey)
        assert 0 < err <= 1e-3  # the sparse path was taken, and its own check passed
        assert d.max() <= 1e-3, (cap.chip, d.max())


def test_worker_processes_give_the_products_of_one_process():
    """num_cores=2 spreads the chips (pixmaps, statistics, blot, driz_cr) and the exposures
    (separate drizzle) over forked workers: every product is bit for bit that of
    num_cores=1."""
    from pipe_helpers import stack

    from ditherlab.drizzle import run_pipeline

    exps = stack(seed=11, size=96, nstars=300)
    kw = {"driz_sep_bits": 336, "final_bits": 336, "driz_cr_corr": True}
    one = run_pipeline(exps, num_cores=1, **kw)
    two = run_pipeline(exps, num_cores=2, **kw)
    for name in ("sci", "wht", "ctx", "median"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    for a, b in zip(one.singles + one.single_weights, two.singles + two.single_weights,
                    strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)
    for ra, rb, ca, cb in zip(one.cr_masks, two.cr_masks, one.crclean, two.crclean,
                              strict=True):  # fmt: skip
        for ma, mb, xa, xb in zip(ra, rb, ca, cb, strict=True):
            np.testing.assert_array_equal(ma, mb)
            np.testing.assert_array_equal(xa, xb)
    assert sum(int(m.sum()) for row in two.cr_masks for m in row) > 0
    for ra, rb in zip(one.geometry.sep_pixmaps, two.geometry.sep_pixmaps, strict=True):
        for pa, pb in zip(ra, rb, strict=True):
            np.testing.assert_array_equal(pa, pb)
            assert not pb.flags.writeable


@pytest.mark.parametrize("nitems", [6, 3])
def test_worker_warnings_reach_the_caller(nitems):
    """A warning in a forked worker (6 items on 2 workers) is issued again in the calling
    process; on threads (3 items: too few to fork) it is issued as it happens."""
    import warnings

    from ditherlab.drizzle.pipeline.workers import map_items as _map_items
    from ditherlab.errors import DitherlabWarning

    def work(k):
        if k == 2:
            warnings.warn(f"item {k} is odd", DitherlabWarning, stacklevel=1)
        return (np.full(3, k, np.float32),)

    got = []
    with pytest.warns(DitherlabWarning, match="item 2 is odd"):
        _map_items(work, list(range(nitems)), lambda r: got.append(r[0].copy()), 2, 12)
    assert [int(g[0]) for g in got] == list(range(nitems))


def _everett_blot(data, pixmap):
    """poly5 blot by Everett's nested central differences in float64 (the C drizzle's
    formula), the image point-reflected about its edge pixels, 0 outside."""
    from ditherlab.drizzle._blot import _everett

    ny, nx = data.shape
    pad = np.pad(data.astype(np.float64), 3, mode="reflect", reflect_type="odd")
    x = pixmap[..., 0].astype(np.float32).ravel()
    y = pixmap[..., 1].astype(np.float32).ravel()
    inside = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
    xs, ys = np.where(inside, x, 0).astype(np.float32), np.where(inside, y, 0).astype(np.float32)
    i, j = xs.astype(np.intp), ys.astype(np.intp)
    sx = (xs - i.astype(np.float32)).astype(np.float64)
    sy = (ys - j.astype(np.float32)).astype(np.float64)
    rows = [_everett([pad[j + r + 1, i + k + 1] for k in range(6)], 2, sx, 1 - sx, 5)
            for r in range(6)]  # fmt: skip
    v = _everett(rows, 2, sy, 1 - sy, 5)
    return np.where(inside, v, 0.0).reshape(pixmap.shape[:2])


@pytest.mark.parametrize("seed", range(3))
def test_core_poly5_blot_equals_everetts_nested_differences(seed):
    """blot_image(interp="poly5") now uses the separable weights in float32: within 2e-6 of
    the image's scale of the float64 nested differences, edges and outside included."""
    data, pixmap = blot_case(seed)
    want = _everett_blot(data, pixmap)
    got = blot_image(data, pixmap, interp="poly5")
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * np.abs(want).max())
    assert np.all(got[want == 0] == 0)
    filled = blot_image(data, pixmap, interp="poly5", fillval=-3.0)
    px, py = pixmap[..., 0], pixmap[..., 1]
    outside = ~((px >= 0) & (px < 52) & (py >= 0) & (py < 37))
    assert outside.any()
    assert np.all(filled[outside] == -3.0)


@pytest.mark.parametrize("kind", ["minmed", "median", "imean"])
def test_median_row_blocks_in_worker_processes_equal_one_process(monkeypatch, kind):
    """combine_singles with num_cores=2 computes its row blocks in forked workers: the same
    median, bit for bit, as one process."""
    import ditherlab.drizzle.pipeline.median as med_mod
    from ditherlab.drizzle.pipeline import combine_singles

    rng = np.random.default_rng(6)
    nimg, ny, nx = 4, 60, 33
    v = [rng.normal(0.2, 0.02, (ny, nx)).astype(np.float32) for _ in range(nimg)]
    v[1][29:31, 10] += 5.0
    w = [np.full((ny, nx), 500.0, np.float32) for _ in range(nimg)]
    w[2][5:9, :] = 0.0
    args = ([40.0] * nimg, [500.0] * nimg, [4.0] * nimg)
    monkeypatch.setattr(med_mod, "_BLOCK_ROWS", 7)  # 9 blocks: enough to fork 2 workers
    one = combine_singles(v, w, PipelineConfig(combine_type=kind, num_cores=1), *args)
    two = combine_singles(v, w, PipelineConfig(combine_type=kind, num_cores=2), *args)
    np.testing.assert_array_equal(one, two)


def test_forked_workers_write_shared_outputs_in_place():
    """Outputs made by ``output_arrays(shared=True)`` before the fork receive what the forked
    workers write (6 items on 2 workers), and start as the fill value."""
    from ditherlab.drizzle.pipeline.workers import map_items, output_arrays, will_fork

    assert will_fork(2, 6)
    outs = output_arrays(6, (37, 41), np.float32, np.nan, shared=True)
    assert all(np.isnan(a).all() and a.flags.c_contiguous and a.flags.writeable for a in outs)
    rng = np.random.default_rng(5)
    vals = rng.normal(size=(6, 37, 41)).astype(np.float32)
    pids = []

    def work(k):
        outs[k][...] = vals[k]
        return (np.array([os.getpid()]),)

    map_items(work, list(range(6)), lambda r: pids.append(int(r[0][0])), 2, 16)
    assert os.getpid() not in pids  # computed in the workers
    for k in range(6):
        np.testing.assert_array_equal(outs[k], vals[k])
