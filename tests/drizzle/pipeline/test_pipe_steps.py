"""Each pipeline step against a direct implementation of AstroDrizzle's documented algorithm
(project reference detector_and_astrodrizzle.md §3)."""

import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pipe_helpers import blot_case

from ditherlab.drizzle import PipelineConfig
from ditherlab.drizzle.pipeline import (
    blot_derivative,
    combine_masks,
    combine_singles,
    driz_cr_mask,
    histogram_mode,
    image_stats,
    masked_median,
    minmed,
    read_skyfile,
    static_mask,
)

# ---------------------------------------------------------------- statistics / sky


def _direct_clip(v, nclip, lsig, usig):
    """The skypac SkyStats clipping as described: skyclip updates, skyclip+1 passes."""
    lo, hi = -np.inf, np.inf
    for k in range(nclip + 1):
        sel = [x for x in v if lo <= x <= hi]
        mu = sum(sel) / len(sel)
        sd = (sum((x - mu) ** 2 for x in sel) / len(sel)) ** 0.5
        if k < nclip:
            lo, hi = mu - lsig * sd, mu + usig * sd
    return sel, mu, sd


def test_clipped_stats_match_the_documented_passes():
    rng = np.random.default_rng(5)
    v = np.r_[rng.normal(30.0, 5.0, 3000), rng.uniform(100, 2000, 60)].astype(np.float32)
    sel, mu, sd = _direct_clip([float(x) for x in v], 5, 4.0, 4.0)
    st_ = image_stats(v, nclip=5, lsig=4.0, usig=4.0)
    assert st_.npix == len(sel)
    assert st_.mean == pytest.approx(mu, rel=1e-6)
    assert st_.stddev == pytest.approx(sd, rel=1e-5)
    assert st_.median == pytest.approx(statistics.median(sel), rel=1e-6)


@given(st.floats(-100, 100), st.floats(0.5, 20), st.integers(-3, 3))
def test_histogram_mode_finds_the_peak(centre, width, skew):
    """Counts 20 − 3|k| at bin centres ``centre + k·width``: the peak bin is k = 0 and
    the parabola through it and its neighbours (counts 17 ± skew) has its vertex at
    ``0.5·(d1 − d2)/(d1 + d2)`` bins from the centre."""
    ks = np.arange(-5, 6)
    counts = 20 - 3 * np.abs(ks)
    counts[4] += skew  # k = -1
    v = np.r_[centre - 5.5 * width, np.repeat(centre + width * ks, counts)]
    mode, nbins = histogram_mode(v, width)
    d1, d2 = 3 - skew, 3
    assert nbins >= 11
    want = centre + width * 0.5 * (d1 - d2) / (d1 + d2)
    assert mode == pytest.approx(want, abs=1e-6 * (1 + abs(centre)))


def test_sky_median_mode_mean_on_a_sky_with_sources():
    from ditherlab.drizzle.pipeline import chip_sky

    rng = np.random.default_rng(7)
    img = rng.normal(80.0, 9.0, (300, 300)).astype(np.float32)
    img[100:120, 100:120] += 5000.0
    for stat in ("median", "mode", "mean"):
        cfg = PipelineConfig(skystat=stat)
        assert chip_sky(img, None, cfg) == pytest.approx(80.0, abs=0.25), stat
    bad = np.zeros(img.shape, bool)
    bad[:150] = True
    img2 = img.copy()
    img2[:150] = 1e4  # masked: must not count
    assert chip_sky(img2, ~bad, PipelineConfig()) == pytest.approx(80.0, abs=0.4)
    # hard limits
    assert chip_sky(img, None, PipelineConfig(skylower=60, skyupper=100)) == pytest.approx(
        80.0, abs=0.3
    )


def test_skyfile_applied_and_not(tmp_path):
    p = tmp_path / "sky.txt"
    p.write_text("# sky values\n# applied = yes\na_flt.fits 12.5 13.0\nb_flt.fits 11\n")
    vals, applied = read_skyfile(str(p))
    assert applied
    assert vals == {"a_flt.fits": [12.5, 13.0], "b_flt.fits": [11.0]}
    p.write_text("a_flt.fits 12.5\n")
    assert read_skyfile(str(p)) == ({"a_flt.fits": [12.5]}, False)


# ---------------------------------------------------------------- static mask


def test_static_mask_flags_low_pixels_in_any_exposure():
    rng = np.random.default_rng(1)
    a = rng.normal(100.0, 5.0, (60, 60))
    b = rng.normal(100.0, 5.0, (60, 60))
    a[5, 5] = 60.0  # 8σ low: over-subtracted dark
    b[7, 9] = 70.0
    a[20, 20] = 1e5  # high pixels are never static-masked
    m = static_mask([a, b], 4.0)
    assert not m[5, 5]
    assert not m[7, 9]
    assert m[20, 20]
    assert (~m).sum() == 2
    # a gentler threshold flags more, never fewer
    assert (~static_mask([a, b], 2.0)).sum() > 2


# ---------------------------------------------------------------- median / minmed


def _direct_minmed(v, w, bad, sky, t, rn, nsig, grow):
    n, ny, nx = v.shape
    out = np.zeros((ny, nx))
    gap = np.zeros((ny, nx))
    sig = np.zeros((ny, nx))
    med = np.zeros((ny, nx))
    mini = np.zeros((ny, nx))
    for y in range(ny):
        for x in range(nx):
            g = [k for k in range(n) if not bad[k, y, x]]
            vals = sorted(float(v[k, y, x]) for k in g)
            if n == 2:
                m = sum(vals) / len(vals) if vals else 0.0
            elif not vals:
                m = 0.0
            elif len(vals) == 1:
                m = vals[0]
            else:
                m = statistics.median(vals[:-1])  # reject the highest
            mn = min(vals) if vals else 0.0
            # drizzlepac min_med: weight_file and bkgd_file sum every image, masked or not
            wsum = sum(float(w[k, y, x]) for k in range(n))
            b = sum(float(w[k, y, x]) * sky[k] / t[k] for k in range(n))
            r2 = sum(rn[k] ** 2 for k in g)
            med[y, x], mini[y, x] = m, mn
            sig[y, x] = max(m * wsum + b + r2, 0.0) ** 0.5
            gap[y, x] = (m - mn) * wsum
    first = gap > nsig[0] * sig
    for y in range(ny):
        for x in range(nx):
            box = first[max(0, y - grow) : y + grow + 1, max(0, x - grow) : x + grow + 1]
            thr = nsig[1] if (grow > 0 and box.any()) else nsig[0]
            out[y, x] = mini[y, x] if gap[y, x] > thr * sig[y, x] else med[y, x]
    return out


@pytest.mark.parametrize("nimg", [2, 3, 4, 6])
@pytest.mark.parametrize("grow", [0, 1, 2])
def test_minmed_matches_a_direct_implementation(nimg, grow):
    rng = np.random.default_rng(10 * nimg + grow)
    ny, nx = 14, 13
    t = rng.uniform(300, 600, nimg)
    v = rng.normal(0.2, 0.02, (nimg, ny, nx)).astype(np.float32)
    v[:, 6, 6] += 2.0  # a star in every image
    hits = rng.random((nimg, ny, nx)) < 0.06
    v[hits] += rng.uniform(0.05, 3.0, hits.sum()).astype(np.float32)  # cosmic rays
    w = (t[:, None, None] * rng.uniform(0.6, 1.0, (nimg, ny, nx))).astype(np.float32)
    bad = rng.random((nimg, ny, nx)) < 0.15
    sky, rn = rng.uniform(20, 60, nimg), rng.uniform(3, 5, nimg)
    got = minmed(v, w, bad, sky, t, rn, (4.0, 3.0), grow)
    want = _direct_minmed(v, w, bad, sky, t, rn, (4.0, 3.0), grow)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)


def test_combine_singles_blocks_equal_one_pass(monkeypatch):
    """Row blocks (for memory) give the whole-image minmed, grow across block edges too."""
    import ditherlab.drizzle.pipeline.median as med_mod

    rng = np.random.default_rng(3)
    nimg, ny, nx = 4, 40, 30
    v = [rng.normal(0.2, 0.02, (ny, nx)).astype(np.float32) for _ in range(nimg)]
    v[1][19:21, 10] += 5.0  # a CR across the block edge below
    w = [np.full((ny, nx), 500.0, np.float32) for _ in range(nimg)]
    cfg = PipelineConfig()
    args = ([40.0] * nimg, [500.0] * nimg, [4.0] * nimg)
    whole = combine_singles(v, w, cfg, *args)
    monkeypatch.setattr(med_mod, "_BLOCK_ROWS", 7)
    blocks = combine_singles(v, w, cfg, *args)
    np.testing.assert_array_equal(whole, blocks)
    bad = np.stack(combine_masks(w))
    np.testing.assert_array_equal(whole, minmed(np.stack(v), np.stack(w), bad, *args))


@given(
    hnp.arrays(np.float32, (5, 4, 3), elements=st.floats(-1e3, 1e3, width=32)),
    st.integers(0, 2),
    st.integers(0, 2),
)
def test_masked_median_equals_numpy_when_nothing_is_masked(v, nlow, nhigh):
    bad = np.zeros(v.shape, bool)
    s = np.sort(v, axis=0)[nlow : 5 - nhigh]
    np.testing.assert_allclose(
        masked_median(v, bad, nlow, nhigh), np.median(s, axis=0), rtol=1e-6, atol=1e-3
    )
    np.testing.assert_allclose(
        masked_median(v, bad, nlow, nhigh, mean=True), s.mean(axis=0), rtol=1e-5, atol=1e-3
    )


def test_combine_masks_maskpt():
    w = np.array([[10.0, 10.0, 10.0, 2.9, 0.0]])
    # mean of positive weights = 8.225; 0.3 × 8.225 = 2.4675
    assert combine_masks([w], 0.3)[0].tolist() == [[False, False, False, False, True]]
    assert combine_masks([w], 0.5)[0].tolist() == [[False, False, False, True, True]]


@given(
    hnp.arrays(np.float64, st.sampled_from([(3, 4, 5), (4, 4, 5), (5, 3, 3)]),
               elements=st.sampled_from([0.0, 0.5, 2.0, 6.0, 9.0, 10.0])),
    st.floats(0.0, 1.0),
    st.booleans(),
)
def test_combine_minweight_only_drops_partial_pixels_where_others_remain(w, minweight, newmasks):
    """ditherlab's ``combine_minweight`` adds to AstroDrizzle's masks, never empties a pixel
    that had a value, and 0 is AstroDrizzle's masks."""
    adz = np.stack(combine_masks(list(w), 0.3, newmasks))
    ours = np.stack(combine_masks(list(w), 0.3, newmasks, minweight))
    assert np.array_equal(np.stack(combine_masks(list(w), 0.3, newmasks, 0.0)), adz)
    assert not (adz & ~ours).any()
    assert np.array_equal(ours.all(axis=0), adz.all(axis=0))
    added = ours & ~adz
    means = [w[k][w[k] > 1e-8].mean() if (w[k] > 1e-8).any() else 0.0 for k in range(len(w))]
    full = sum((~adz[k]) & (w[k] >= minweight * means[k]) for k in range(len(w)))
    for k in range(w.shape[0]):
        assert (w[k][added[k]] < minweight * means[k]).all()
        assert (full[added[k]] >= 3).all()  # dropped only where 3 full values remain


@pytest.mark.parametrize("kind", ["median", "imedian", "mean", "imean", "iminmed"])
def test_combine_types_and_empty_pixels(kind):
    v = [np.full((3, 3), x, np.float32) for x in (1.0, 2.0, 3.0, 10.0)]
    w = [np.full((3, 3), 100.0, np.float32) for _ in v]
    for x in w:
        x[0, 0] = 0.0  # nothing good at (0, 0)
    cfg = PipelineConfig(combine_type=kind, combine_nhigh=1)
    out = combine_singles(v, w, cfg, [0.0] * 4, [100.0] * 4, [4.0] * 4)
    # minmed takes the minimum: (2 − 1) × 400 e⁻ is far above 4σ
    expect = {"median": 2.0, "imedian": 2.0, "mean": 2.0, "imean": 2.0, "iminmed": 1.0}[kind]
    assert out[1, 1] == pytest.approx(expect)
    assert out[0, 0] == (10.0 if kind.startswith("i") else 0.0)


# ---------------------------------------------------------------- driz_cr


def _direct_driz_cr(img, blot, sky, rn, snr, scale, peak=0.0):
    ny, nx = img.shape
    pad = np.pad(blot.astype(float), 1, mode="symmetric")
    fail1 = np.zeros((ny, nx), bool)
    fail2 = np.zeros((ny, nx), bool)
    for y in range(ny):
        for x in range(nx):
            c = pad[y + 1, x + 1]
            d = max(abs(c - pad[y, x + 1]), abs(c - pad[y + 2, x + 1]),
                    abs(c - pad[y + 1, x]), abs(c - pad[y + 1, x + 2]))  # fmt: skip
            s = (abs(blot[y, x] + sky) + rn * rn) ** 0.5
            delta = abs(float(img[y, x]) - float(blot[y, x]))
            top = c >= pad[y : y + 3, x : x + 3].max() and d > snr[0] * s
            extra = peak * d if top else 0.0
            fail1[y, x] = delta > scale[0] * d + snr[0] * s + extra
            fail2[y, x] = delta > scale[1] * d + snr[1] * s + extra
    p1 = np.pad(fail1, 1, mode="symmetric")
    cr = np.zeros((ny, nx), bool)
    for y in range(ny):
        for x in range(nx):
            cr[y, x] = fail2[y, x] and p1[y : y + 3, x : x + 3].any()
    return cr


@pytest.mark.parametrize("peak", [0.0, 0.5])
@pytest.mark.parametrize("seed", range(4))
def test_driz_cr_matches_a_direct_implementation(seed, peak):
    rng = np.random.default_rng(seed)
    ny, nx = 24, 21
    yy, xx = np.mgrid[:ny, :nx]
    blot = 60.0 + 3000.0 * np.exp(-((xx - 10.3) ** 2 + (yy - 12.1) ** 2) / 2.0)
    img = blot + rng.normal(0, np.sqrt(blot + 16.0))
    hits = rng.random((ny, nx)) < 0.05
    img[hits] += rng.uniform(10, 400, hits.sum())
    img, blot = img.astype(np.float32), blot.astype(np.float32)
    got = driz_cr_mask(img, blot, 60.0, 4.0, peak=peak)
    want = _direct_driz_cr(img, blot, 60.0, 4.0, (3.5, 3.0), (1.2, 0.7), peak)
    assert np.array_equal(got, want)


@given(
    hnp.arrays(np.float32, (8, 9), elements=st.floats(0, 5e4, width=32)),
    hnp.arrays(np.float32, (8, 9), elements=st.floats(0, 5e4, width=32)),
    st.floats(0.0, 2.0),
    st.floats(0.0, 2.0),
)
def test_the_peak_allowance_only_removes_flags(img, blot, p1, p2):
    """More allowance never adds a cosmic ray, and none at all is AstroDrizzle's test."""
    lo, hi = sorted((p1, p2))
    m_lo = driz_cr_mask(img, blot, 0.0, 4.0, peak=lo)
    m_hi = driz_cr_mask(img, blot, 0.0, 4.0, peak=hi)
    assert not (m_hi & ~m_lo).any()
    assert np.array_equal(driz_cr_mask(img, blot, 0.0, 4.0, peak=0.0),
                          _direct_driz_cr(img, blot, 0.0, 4.0, (3.5, 3.0), (1.2, 0.7)))


def test_the_peak_allowance_keeps_an_undersampled_core_and_finds_hits():
    """A star centred on a pixel, against a median that flattened its core (the peak
    1.3 D above it, as on the default HST PSF), is kept; cosmic rays on the sky and on the
    star's wing are still found."""
    yy, xx = np.mgrid[:15, :15]
    sharp = 60.0 + 20000.0 * np.exp(-((xx - 7) ** 2 + (yy - 7) ** 2) / (2 * 0.7**2))
    flat = 60.0 + 20000.0 * 0.6 * np.exp(-((xx - 7) ** 2 + (yy - 7) ** 2) / (2 * 0.95**2))
    blot = flat.astype(np.float32)
    img = blot.copy()
    d = blot_derivative(blot)[7, 7]
    img[7, 7] = blot[7, 7] + 1.3 * d + 3.5 * np.sqrt(blot[7, 7] + 16.0)
    assert sharp[7, 7] > img[7, 7]  # a milder deficit than a truly sharp core's
    img[2, 2] += 500.0  # sky
    img[7, 10] += 2000.0  # wing
    assert driz_cr_mask(img, blot, 0.0, 4.0)[7, 7]  # AstroDrizzle's test takes the core
    m = driz_cr_mask(img, blot, 0.0, 4.0, peak=0.5)
    assert not m[7, 7]
    assert m[2, 2]
    assert m[7, 10]


def test_driz_cr_two_thresholds_on_a_synthetic_hit():
    blot = np.full((9, 9), 100.0, np.float32)
    sigma = np.sqrt(100.0 + 16.0)  # noise_sky = 0: the sky counted once
    img = blot.copy()
    img[4, 4] += 3.6 * sigma  # core: above 3.5σ
    img[4, 5] += 3.2 * sigma  # wing next to it: above 3σ only → flagged
    img[1, 1] += 3.2 * sigma  # isolated 3.2σ: no core beside it → kept
    m = driz_cr_mask(img, blot, 0.0, 4.0)
    assert m[4, 4]
    assert m[4, 5]
    assert not m[1, 1]
    assert m.sum() == 2
    # counting the sky twice (AstroDrizzle) raises the thresholds by sqrt(216/116)
    assert not driz_cr_mask(img, blot, 100.0, 4.0).any()
    # driz_cr_scale times the derivative protects steep blots (star edges)
    steep = blot.copy()
    steep[:, 5:] += 500.0
    img2 = steep.copy()
    img2[4, 4] += 100.0
    assert not driz_cr_mask(img2, steep, 0.0, 4.0)[4, 4]
    assert driz_cr_mask(img2, steep, 0.0, 4.0, scale=(0.0, 0.0))[4, 4]


def test_driz_cr_grow_and_ctegrow():
    blot = np.full((9, 9), 100.0, np.float32)
    img = blot.copy()
    img[4, 4] += 500.0
    assert driz_cr_mask(img, blot, 0.0, 4.0, grow=3).sum() == 9
    up = driz_cr_mask(img, blot, 0.0, 4.0, ctegrow=2, cte_dir=1)
    down = driz_cr_mask(img, blot, 0.0, 4.0, ctegrow=2, cte_dir=-1)
    assert np.argwhere(up).tolist() == [[4, 4], [5, 4], [6, 4]]
    assert np.argwhere(down).tolist() == [[2, 4], [3, 4], [4, 4]]


@given(hnp.arrays(np.float32, (6, 7), elements=st.floats(-1e4, 1e4, width=32)))
def test_blot_derivative_is_the_largest_neighbour_difference(b):
    d = blot_derivative(b)
    pad = np.pad(b.astype(np.float64), 1, mode="symmetric")
    c = pad[1:-1, 1:-1]
    want = np.max(
        [np.abs(c - pad[:-2, 1:-1]), np.abs(c - pad[2:, 1:-1]),
         np.abs(c - pad[1:-1, :-2]), np.abs(c - pad[1:-1, 2:])], axis=0,
    )  # fmt: skip
    np.testing.assert_allclose(d, want, rtol=1e-6, atol=1e-3)


# ---------------------------------------------------------------- blot


@given(st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 5))
def test_poly5_weights_interpolate_quintics_exactly(s, degree):
    """Everett's quintic formula reproduces every polynomial of degree ≤ 5."""
    from ditherlab.drizzle.pipeline import poly5_weights

    w = poly5_weights(np.array([s]))
    nodes = np.arange(-2, 4, dtype=float)
    value = sum(wk[0] * n**degree for wk, n in zip(w, nodes, strict=True))
    assert value == pytest.approx(s**degree, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_fast_poly5_blot_equals_the_core_blot(seed):
    """blot_chip (scaling by exptime / ratio², the sky added) agrees with
    ditherlab.drizzle.blot_image, edges and positions outside the image included (both use
    the separable poly5 now; it is checked against Everett's nested differences in
    test_pipe_fastpaths.py and against the C blot in test_drizzle_vs_c.py)."""
    from ditherlab.drizzle import blot_image
    from ditherlab.drizzle.pipeline import blot_chip

    data, pixmap = blot_case(seed)
    pixmap = pixmap.astype(np.float32)
    cfg = PipelineConfig()
    want = blot_image(data, pixmap, pix_ratio=0.8, exptime=400.0, interp="poly5") + 7.0
    got = blot_chip(data, pixmap, 0.8, 400.0, 7.0, cfg)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * np.abs(want).max())
    lin = blot_chip(data, pixmap, 0.8, 400.0, 7.0, cfg.replace(blot_interp="linear"))
    want_lin = blot_image(data, pixmap, pix_ratio=0.8, exptime=400.0, interp="linear") + 7.0
    np.testing.assert_array_equal(lin, want_lin)


def _drizzlepac_grow(good, grow, ctegrow, adz_cte_dir):
    """drizzlepac ``drizCR`` part 3, as its code does it: convolve the good mask (1 good)
    with a grow × grow box and with the CTE tail kernel (its ``cte_dir`` sign), keep the
    pixels whose sums are full."""
    from scipy.signal import convolve2d

    g = good.astype(np.int32)
    box = convolve2d(g, np.ones((grow, grow), np.int32), boundary="symm", mode="same")
    k = np.zeros((2 * ctegrow + 1, 2 * ctegrow + 1), np.int32)
    if adz_cte_dir == 1:
        k[0:ctegrow, ctegrow] = 1
    elif adz_cte_dir == -1:
        k[ctegrow + 1 :, ctegrow] = 1
    tail = convolve2d(g, k, boundary="symm", mode="same")
    return ~((box >= grow * grow) & (tail >= ctegrow))


@pytest.mark.parametrize(("ccdchip", "adz_cte_dir"), [(2, -1), (1, 1)])
def test_driz_cr_ctegrow_flags_the_pixels_drizzlepac_flags(ccdchip, adz_cte_dir):
    """WFC SCI,1 is CCDCHIP 2 (drizzlepac cte_dir −1), SCI,2 is CCDCHIP 1 (+1): ditherlab's
    own sign (the direction of the trail) must flag the same pixels for each chip."""
    from ditherlab.drizzle.pipeline.inputs import _cte_dir

    rng = np.random.default_rng(ccdchip)
    blot = np.full((30, 20), 100.0, np.float32)
    img = blot.copy()
    img[5:25, 3:17][rng.random((20, 14)) < 0.03] += 800.0
    ours = driz_cr_mask(img, blot, 0.0, 4.0, ctegrow=3, cte_dir=_cte_dir("ACS", "WFC", ccdchip))
    core = driz_cr_mask(img, blot, 0.0, 4.0)
    assert core.sum() > 5
    assert np.array_equal(ours, _drizzlepac_grow(~core, 1, 3, adz_cte_dir))
