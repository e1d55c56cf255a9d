"""run_pipeline end to end on simulated ACS/WFC stacks, scored against the simulator's truth.

The simulated PSF is the simulator's default (HSTPSF in F606W, with charge diffusion and
the residual blur; issue 10).
"""

import hashlib

import numpy as np
import pytest
from pipe_helpers import stack, truth_scores

from ditherlab.drizzle import build_geometry, run_pipeline
from ditherlab.errors import DitherlabValueError, OutputExistsError, OutputNotWritableError
from ditherlab.simulate import write_exposure

BITS = {"driz_sep_bits": 336, "final_bits": 336}


@pytest.fixture(scope="module")
def acs():
    exps = stack(seed=3, size=256)
    return exps, run_pipeline(exps, **BITS)


@pytest.fixture(scope="module")
def flt_files(acs, tmp_path_factory):
    d = tmp_path_factory.mktemp("flt")
    return [write_exposure(e.replace(truth=None), d / f"{e.rootname}_flt.fits") for e in acs[0]]


def test_cosmic_rays_found_and_star_cores_kept(acs):
    """Issue 12: ≥ 98 % of CR pixels above 5σ found (star cores: the test below)."""
    exps, p = acs
    s = truth_scores(exps, p)
    assert s["n_cr5"] > 1000
    assert s["recall5"] >= 0.98, s
    assert s["false_clean"] < 0.001, s


def test_star_cores_kept(acs):
    """Issue 12: ≤ 0.1 % of star-core pixels flagged (none of the ~220 here).

    On AstroDrizzle's grid the chip's last column overhangs the output grid, and 3
    star-core pixels there are flagged; their centres lie outside the grid (they overlap
    its edge pixels by a few per cent), and the score
    (``pipe_helpers.truth_scores``) counts only pixels whose centre lands on the grid.
    """
    exps, p = acs
    s = truth_scores(exps, p)
    # 222 star-core pixels (> 100σ of the background, away from saturated stars) on 256²:
    # ≤ 0.1 % means none here; the full-frame run in docs/pipeline.md counts thousands
    assert s["n_core"] > 150
    assert s["core_flagged"] <= 0.001, s


def test_star_cores_kept_by_the_ditherlab_additions():
    """Issue 12's ≤ 0.1 % of star cores, on a 512² stack with ~1900 core pixels where
    AstroDrizzle's own test (both additions off) flags 12 (0.6 %): the defaults flag none
    and find the same cosmic rays to within 0.05 %."""
    exps = stack(seed=2, size=512)
    g = build_geometry(exps, **BITS)
    exact = truth_scores(exps, run_pipeline(
        exps, geometry=g, driz_cr_peak=0.0, combine_minweight=0.0, **BITS))  # fmt: skip
    ours = truth_scores(exps, run_pipeline(exps, geometry=g, **BITS))
    assert ours["n_core"] > 1000
    assert exact["core_flags"] > 0.001 * exact["n_core"], exact  # the problem is there
    assert ours["core_flagged"] <= 0.001, ours
    assert ours["recall5"] >= exact["recall5"] - 0.0005, (ours, exact)
    assert ours["recall5"] >= 0.98, ours
    assert ours["false_clean"] <= exact["false_clean"], (ours, exact)


def test_combine_minweight_leaves_three_exposure_stacks_alone():
    """With three exposures no partly empty value can be dropped (three others must remain
    for minmed to reject a cosmic ray), so the masks are those of ``combine_minweight=0``."""
    from ditherlab.planner import subpixel

    exps = stack(seed=4, size=128, pattern=subpixel(3))
    g = build_geometry(exps, **BITS)
    ours = run_pipeline(exps, geometry=g, **BITS)
    plain = run_pipeline(exps, geometry=g, combine_minweight=0.0, **BITS)
    for a, b in zip(ours.cr_masks, plain.cr_masks, strict=True):
        assert np.array_equal(a[0], b[0])
    np.testing.assert_array_equal(ours.median, plain.median)


def test_astrodrizzle_noise_counts_the_sky_twice(acs):
    """The default (drizzlepac's) noise term flags a subset of what the single-sky one does."""
    exps, p = acs
    q = run_pipeline(exps, driz_cr_noise="poisson", geometry=p.geometry, **BITS)
    for a, b in zip(p.cr_masks, q.cr_masks, strict=True):
        assert not (a[0] & ~b[0]).any()
        assert a[0].sum() < b[0].sum()


def test_products(acs):
    exps, p = acs
    assert len(p.cr_masks) == len(p.sky) == 4
    assert all(len(m) == 1 for m in p.cr_masks)
    assert p.cr_masks[0][0].shape == exps[0].chips[0].shape
    assert p.cr_masks[0][0].dtype == bool
    assert p.sci.dtype == np.float32
    assert p.wht.dtype == np.float32
    assert p.ctx.dtype == np.int32
    assert p.sci.shape == p.wht.shape == p.ctx.shape[1:] == p.geometry.final_shape
    assert p.config.final_bits == 336
    assert p.exptime == 2000.0
    assert len(p.singles) == 4
    assert p.median.shape == p.geometry.sep_shape
    # the sky: above the diffuse 62.5 e⁻, because ~5 % of every star's light is in the PSF's
    # 1-5.5" wing (the noiseless image's median is 64.9 e⁻ here), and within 3 % of that
    # median (noise on a skewed distribution moves the median towards the mean: 66.4 e⁻)
    for row, e in zip(p.sky, exps, strict=True):
        background = np.median(e.truth.chips[0].noiseless)
        assert e.sky < background < row[0] < 1.03 * background
    # cps: the final image of the sky-subtracted sources; wht = Σ exptime where covered
    # EXP weights: Σ wht = Σ exptime × good input pixels × the part of each inside the grid
    # (the square kernel hands out a total weight of 1 per input pixel; AstroDrizzle's grid
    # leaves up to ~1 pixel of a chip's outer edge outside)
    ny, nx = p.geometry.final_shape
    used = 0.0
    for e, m, pm in zip(exps, p.cr_masks, p.geometry.final_pixmaps, strict=True):
        x, y = pm[0][..., 0].astype(float), pm[0][..., 1].astype(float)
        fx = np.clip(np.minimum(x + 0.5, nx - 0.5) - np.maximum(x - 0.5, -0.5), 0.0, 1.0)
        fy = np.clip(np.minimum(y + 0.5, ny - 0.5) - np.maximum(y - 0.5, -0.5), 0.0, 1.0)
        good = ((e.chips[0].dq.astype(int) & ~336) == 0) & ~m[0]
        used += e.exptime * (good * fx * fy).sum()
    assert float(p.wht.sum(dtype=np.float64)) == pytest.approx(used, rel=2e-3)
    inner = p.wht > 0.9 * np.max(p.wht)
    assert abs(np.median(p.sci[inner])) < 0.01  # e⁻/s: sky removed
    with pytest.raises(AttributeError):
        p.sci = None


def test_flux_is_conserved(acs):
    """Mean e⁻/s where all four exposures overlap equals the inputs' over the same sky."""
    exps, p = acs
    full = p.ctx[0] == 0b1111  # context planes (1, ny, nx): all four input chips contribute
    final = np.nanmean(p.sci[full])  # e⁻/s per output pixel (= input pixel here)
    truth = []
    for i, e in enumerate(exps):
        pm = p.geometry.final_pixmaps[i][0]  # input pixel -> output (x, y)
        ix, iy = np.rint(pm[..., 0]).astype(int), np.rint(pm[..., 1]).astype(int)
        inside = (ix >= 0) & (iy >= 0) & (ix < full.shape[1]) & (iy < full.shape[0])
        sel = np.zeros(inside.shape, bool)
        sel[inside] = full[iy[inside], ix[inside]]
        rate = (e.truth.chips[0].noiseless - p.sky[i][0]) / e.exptime  # the sky subtracted
        truth.append(rate[sel].mean())
    # the output pixel is the input pixel: the mean rate over the same sky agrees to 2 %
    assert final == pytest.approx(np.mean(truth), rel=0.02)


def test_units_counts_and_weight_types(acs):
    exps, p = acs
    counts = run_pipeline(exps, final_units="counts", geometry=p.geometry, **BITS)
    np.testing.assert_allclose(counts.sci, p.sci * 2000.0, rtol=1e-6, equal_nan=True)
    for kind in ("ERR", "IVM"):
        q = run_pipeline(exps, final_wht_type=kind, geometry=p.geometry, **BITS)
        ok = (q.wht > 0) & (p.wht > 0)
        assert ok.mean() > 0.5
        assert np.nanmedian(np.abs(q.sci[ok] - p.sci[ok])) < 0.01


def test_geometry_is_reused_and_checked(acs):
    exps, p = acs
    g = build_geometry(exps, **BITS)
    assert g.shared
    assert g.sep_pixmaps[0][0].dtype == np.float32
    q = run_pipeline(exps, geometry=g, **BITS)
    np.testing.assert_array_equal(q.sci, p.sci)
    for a, b in zip(q.cr_masks, p.cr_masks, strict=True):
        assert np.array_equal(a[0], b[0])
    small = [e.replace(chips=(e.chips[0].__class__(
        sci=e.chips[0].sci[:100], err=e.chips[0].err[:100], dq=e.chips[0].dq[:100],
        wcs=e.chips[0].wcs, ccdchip=1, extver=1),)) for e in exps]  # fmt: skip
    with pytest.raises(DitherlabValueError, match="geometry was built"):
        run_pipeline(small, geometry=g)


def test_inputs_are_never_modified(acs, flt_files):
    exps, _ = acs
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in flt_files]
    before = [c.dq.copy() for e in exps for c in e.chips]
    p = run_pipeline(flt_files, update_dq=True, **BITS)
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in flt_files] == digest
    chips = [c for e in exps for c in e.chips]
    assert all(np.array_equal(a, c.dq) for a, c in zip(before, chips, strict=True))
    # the DQ copy carries crbit exactly on the cosmic rays
    for dq, m, e in zip(p.dq, p.cr_masks, exps, strict=True):
        assert np.array_equal((dq[0] & 4096) != 0, m[0])
        assert np.array_equal(dq[0] & ~np.uint16(4096), e.chips[0].dq & ~np.uint16(4096))


def test_files_and_exposures_give_the_same_products(acs, flt_files):
    _exps, p = acs
    q = run_pipeline(flt_files, **BITS)
    np.testing.assert_array_equal(q.sci, p.sci)
    assert q.names == tuple(f.name for f in flt_files)
    assert q.sky == p.sky


def test_write_and_nothing_overwritten(acs, tmp_path):
    from astropy.io import fits

    _, p = acs
    out = p.write(tmp_path / "x_drz.fits")
    with fits.open(out) as h:
        assert [x.name for x in h] == ["PRIMARY", "SCI", "WHT", "CTX"]
        assert h[0].header["ADRIZ FINAL_BITS"] == 336
        assert h[0].header["EXPTIME"] == 2000.0
        assert h[0].header["ADRIZ DRIZ_CR_SNR"] == "3.5 3"
        np.testing.assert_array_equal(h["SCI"].data, p.sci)
    with pytest.raises(OutputExistsError):
        p.write(out)
    files = p.write_all(tmp_path, "stack")
    assert sorted(f.name for f in files) == sorted(
        ["stack_drz.fits", "stack_sky.ecsv"] + [f"dlsim0{k}_crmask.fits" for k in range(1, 5)]
    )
    with fits.open(tmp_path / "dlsim01_crmask.fits") as h:
        assert np.array_equal(h[1].data == 0, p.cr_masks[0][0])  # AstroDrizzle: 0 = CR
    from astropy.table import Table

    t = Table.read(tmp_path / "stack_sky.ecsv")
    assert list(t["mdrizsky"]) == [row[0] for row in p.sky]
    before = sorted(tmp_path.iterdir())
    with pytest.raises(OutputExistsError):
        p.write_all(tmp_path, "stack")
    assert sorted(tmp_path.iterdir()) == before  # nothing half-written, no temporaries
    # a parent that is a file, a target that is a directory: one-line errors naming
    # the user's path (was a raw NotADirectoryError naming the temporary file)
    (tmp_path / "plain").write_text("a file")
    with pytest.raises(OutputNotWritableError, match=r"plain/x_drz\.fits"):
        p.write(tmp_path / "plain" / "x_drz.fits")
    (tmp_path / "adir").mkdir()
    with pytest.raises(OutputExistsError, match="is a directory"):
        p.write(tmp_path / "adir", overwrite=True)
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".part")]


def test_sky_methods_and_user_sky(acs, tmp_path):
    exps, p = acs
    g = p.geometry
    fast = {"driz_separate": False, "driz_combine": False, **BITS}  # the sky step only
    glob = run_pipeline(exps, skymethod="globalmin", geometry=g, **fast)
    assert all(row[0] == pytest.approx(min(r[0] for r in p.sky)) for row in glob.sky)
    match = run_pipeline(exps, skymethod="globalmin+match", geometry=g, **fast)
    for row, own in zip(match.sky, p.sky, strict=True):  # one sky in all four: matched = own
        assert row[0] == pytest.approx(own[0], rel=0.02)
    # skyuser: the header keyword is recorded, not subtracted; the blot does not add it
    user = run_pipeline(exps, skyuser="DL_SKY", geometry=g, **BITS)
    assert user.sky == tuple((e.sky,) for e in exps)
    assert user.sky_computed[0] == (0.0,)
    background = np.median(exps[0].truth.chips[0].noiseless) / 500.0  # sky + stars' wings
    assert np.nanmedian(user.sci[user.wht > 0]) == pytest.approx(background, rel=0.03)
    # skyfile, applied and not
    f = tmp_path / "sky.txt"
    f.write_text("".join(f"{e.rootname}_flt.fits 60.0\n" for e in exps))
    sf = run_pipeline(exps, skyfile=str(f), geometry=g, **fast)
    assert sf.sky == sf.sky_computed == tuple((60.0,) for _ in exps)
    f.write_text("# applied = yes\n" + f.read_text())
    sf2 = run_pipeline(exps, skyfile=str(f), geometry=g, **fast)
    assert sf2.sky == sf.sky
    assert sf2.sky_computed == tuple((0.0,) for _ in exps)
    none = run_pipeline(exps, skysub=False, geometry=g, **fast)
    assert none.sky == tuple((0.0,) for _ in exps)
    assert none.sky_method == "none"


def test_two_chip_exposures_onto_one_output():
    exps = stack(seed=5, size=64, aperture="acs-wfc", chips=(1, 2), nstars=300)
    progress = []
    p = run_pipeline(exps, progress=lambda *a: progress.append(a), **BITS)
    assert all(len(m) == 2 for m in p.cr_masks)
    assert all(len(s) == 2 for s in p.sky)
    assert p.ctx.shape[0] == 1
    assert p.ctx.max() > 0
    # both chips land on the one output: WFC1 and WFC2 are ~2050 px apart in y
    ys = np.nonzero(p.wht.max(axis=1) > 0)[0]
    assert ys.max() - ys.min() > 2000
    # localmin: one sky for both chips of an exposure
    assert all(row[0] == row[1] for row in p.sky)
    steps = [s for s, _, _ in progress]
    assert steps[:2] == ["geometry", "static"]
    assert steps[-1] == "driz_combine"
    assert ("driz_combine", 8, 8) in progress


def test_wfc3_uvis_stack_recall():
    exps = stack(seed=7, size=224, aperture="wfc3-uvis1")
    p = run_pipeline(exps, **BITS)
    s = truth_scores(exps, p)
    assert s["recall5"] >= 0.98, s
    assert s["core_flagged"] <= 0.001, s


def test_cr_cleaned_inputs_and_clean(acs):
    """driz_cr_corr: CR pixels replaced by the blot; clean=True drops the intermediates."""
    exps, p = acs
    q = run_pipeline(exps, driz_cr_corr=True, clean=True, geometry=p.geometry, **BITS)
    assert q.singles is None
    assert q.median is None
    assert q.single_weights is None
    m, c = q.cr_masks[1][0], exps[1].chips[0]
    # drizzlepac drizCR: the blot replaces cosmic rays and every DQ-flagged pixel (crbit
    # apart); the other pixels keep their data
    flagged = (c.dq & ~np.uint16(4096)) != 0
    assert flagged.any()
    replaced = m | flagged
    np.testing.assert_array_equal(q.crclean[1][0][~replaced], c.sci[~replaced])
    blot = p.blot_median(1, 0)
    np.testing.assert_allclose(q.crclean[1][0][replaced], blot[replaced], rtol=1e-6)
    assert np.all(np.isnan(p.singles[0][p.single_weights[0] == 0]))  # INDEF fill


def test_match_recovers_a_sky_offset(acs):
    """skymethod='match': relative skies from the overlaps, the lowest set to 0."""
    exps, p = acs
    c = exps[2].chips[0]
    brighter = exps[2].replace(chips=(type(c)(
        sci=c.sci + np.float32(10.0), err=c.err, dq=c.dq, wcs=c.wcs, ccdchip=c.ccdchip,
        extver=c.extver),))  # fmt: skip
    new = [exps[0], exps[1], brighter, exps[3]]
    fast = {"driz_separate": False, "driz_combine": False, **BITS}
    m = run_pipeline(new, skymethod="match", geometry=p.geometry, **fast)
    sky = [row[0] for row in m.sky]
    assert min(sky) == 0.0
    assert sky[2] - np.mean([sky[0], sky[1], sky[3]]) == pytest.approx(10.0, abs=0.5)
    gm = run_pipeline(new, skymethod="globalmin+match", geometry=p.geometry, **fast)
    base = min(r[0] for r in p.sky)  # the global minimum (unchanged exposures)
    assert [row[0] for row in gm.sky] == pytest.approx([base + s for s in sky], abs=0.05)


def test_reference_grid_and_custom_grid(acs, tmp_path):
    """final_refimage (a WCS or a file) and final_outnx/ny/ra/dec/scale/rot fix the grid."""
    exps, p = acs
    quick = {"driz_separate": False, **BITS}
    ref = p.wcs.deepcopy()
    ref.pixel_shape = (p.sci.shape[1] + 20, p.sci.shape[0] + 10)
    ref.wcs.crpix = ref.wcs.crpix + np.array([10.0, 5.0])
    q = run_pipeline(exps, final_refimage=ref, **quick)
    q0 = run_pipeline(exps, geometry=p.geometry, **quick)  # no CR rejection either
    assert q.sci.shape == (p.sci.shape[0] + 10, p.sci.shape[1] + 20)
    # the same grid shifted: equal up to the pixmaps' interpolation (≤ 1e-3 px), but for
    # q0's outer ring: the chips overhang AstroDrizzle's grid, and the part of their edge
    # pixels outside it reaches that ring only on the larger grid
    np.testing.assert_allclose(q.sci[6:-6, 11:-11], q0.sci[1:-1, 1:-1], rtol=1e-4, atol=1e-4,
                               equal_nan=True)  # fmt: skip
    drz = p.write(tmp_path / "ref_drz.fits")
    r = run_pipeline(exps, final_refimage=str(drz), **quick)
    assert r.sci.shape == p.sci.shape
    ra, dec = p.wcs.pixel_to_world_values(100.0, 120.0)
    c = run_pipeline(exps, final_outnx=101, final_outny=81, final_ra=ra, final_dec=dec,
                     final_scale=0.025, final_rot=30.0, **quick)  # fmt: skip
    assert c.sci.shape == (81, 101)
    assert np.allclose(c.wcs.world_to_pixel_values(ra, dec), (50.0, 40.0), atol=1e-6)
    assert np.isfinite(c.sci).mean() > 0.95
    far = p.wcs.deepcopy()
    far.wcs.crval = far.wcs.crval + np.array([1.0, 0.0])
    far.pixel_shape = p.wcs.pixel_shape
    with pytest.raises(DitherlabValueError, match="does not overlap the output grid"):
        run_pipeline(exps, final_refimage=far, **quick)


def test_err_and_ivm_weights_follow_astrodrizzles_formulas(acs):
    """Per output pixel, against EXP (weight t): ERR gives (t/ERR)²/s⁴, IVM gives
    t²/(s⁴·(dark·t + sky + RN²)) (drizzlepac ``adrizzle``/``buildIVMmask`` with flat 1).

    One exposure with a constant ERR, so that both are fixed multiples of the EXP map.
    """
    from ditherlab.drizzle.pipeline.inputs import load_inputs

    exps, _ = acs
    e = exps[0]
    c = e.chips[0]
    err = np.full(c.err.shape, 9.0, np.float32)
    one = [e.replace(chips=(type(c)(sci=c.sci, err=err, dq=c.dq, wcs=c.wcs,
                                    ccdchip=c.ccdchip, extver=c.extver),))]  # fmt: skip
    fast = {"driz_separate": False, **BITS}
    exp_ = run_pipeline(one, **fast)
    t = e.exptime
    s = exp_.geometry.final_ratio[0][0]
    ok = exp_.wht > 0
    assert ok.mean() > 0.5
    q = run_pipeline(one, final_wht_type="ERR", geometry=exp_.geometry, **fast)
    np.testing.assert_allclose(q.wht[ok] / exp_.wht[ok], t / 81.0 / s**4, rtol=1e-5)
    inp = load_inputs(one)[0]
    var = inp.dark * t + exp_.sky[0][0] + inp.chips[0].rdnoise ** 2
    q = run_pipeline(one, final_wht_type="IVM", geometry=exp_.geometry, **fast)
    np.testing.assert_allclose(q.wht[ok] / exp_.wht[ok], t / var / s**4, rtol=1e-5)
