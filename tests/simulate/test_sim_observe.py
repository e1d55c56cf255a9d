"""observe(): statistics of the simulated pixels against what was configured."""

import numpy as np
import pytest
from sim_helpers import camera, one_star

from ditherlab.errors import DitherlabTypeError, DitherlabValueError
from ditherlab.planner import Pattern, subpixel
from ditherlab.simulate import GaussianPSF, Pointing, Scene, observe, pattern_postargs

EMPTY = Scene(ra=150.0, dec=2.0, x=[], y=[], flux=[], sky=40.0)


def _centroid(img, x0, y0, half):
    yy, xx = np.mgrid[y0 - half : y0 + half + 1, x0 - half : x0 + half + 1]
    cut = img[y0 - half : y0 + half + 1, x0 - half : x0 + half + 1]
    return (cut * xx).sum() / cut.sum(), (cut * yy).sum() / cut.sum()


def test_pixel_noise_variance_matches_sky_dark_and_read_noise():
    ap = camera("acs-wfc1")
    t = 1000.0
    (exp,) = observe(
        EMPTY, Pattern([[0, 0]]), ap, t, chips=[ap.chip], subarray=(1000, 500, 256, 256), rng=21
    )
    chip = exp.chips[0]
    truth = exp.truth.chips[0]
    good = (chip.dq == 0) & ~truth.cr_mask & (truth.defects == 0)
    assert good.mean() > 0.9
    sky = 40.0 * 0.05**2 * t
    assert exp.sky == pytest.approx(sky)
    expected_var = sky + exp.dark * t + exp.read_noise**2
    values = chip.sci[good].astype(float)
    assert values.var() == pytest.approx(expected_var, rel=0.03)
    assert values.mean() == pytest.approx(sky, abs=4 * np.sqrt(expected_var / good.sum()))
    # the ERR array is the pipeline's estimate of the same noise
    assert np.mean(chip.err[good].astype(float) ** 2) == pytest.approx(expected_var, rel=0.03)
    # cosmic rays and hot pixels are there, and the hot ones are flagged
    assert truth.cr_mask.mean() == pytest.approx(0.02, rel=0.25)
    assert np.all(chip.dq[(truth.defects & 1) != 0] & 16)


@pytest.mark.parametrize("where", ["centre", "corner"])
def test_star_flux_is_recovered_within_one_percent(where):
    ap = camera("acs-wfc1")
    ny, nx = ap.shape
    # the default PSF's wing reaches 5.5" (~125 px): the cut-out holds all of it
    x, y = ((nx - 1) / 2 + 0.3, (ny - 1) / 2 - 0.2) if where == "centre" else (130.4, ny - 131.7)
    flux, t = 300.0, 500.0  # 1.5e5 e-, peak below full well
    scene, cmap = one_star(ap, x, y, flux)
    x0, y0 = int(x) - 128, int(y) - 128
    (exp,) = observe(
        scene,
        Pattern([[0, 0]]),
        ap,
        t,
        chips=[ap.chip],
        subarray=(x0, y0, 256, 256),
        cosmic_rays_on=False,
        defects_on=False,
        rng=3,
    )
    chip, truth = exp.chips[0], exp.truth.chips[0]
    jac = cmap.jacobian(x, y)
    area_corr = abs(np.linalg.det(jac)) / exp.idcscale**2  # pixel-area map value at the star
    if where == "corner":
        assert abs(area_corr - 1.0) > 0.03  # the pixel-area effect matters there
    # noiseless: exact flux conservation through distortion and pixel integration
    assert truth.noiseless.sum() * area_corr == pytest.approx(flux * t, rel=1e-6)
    # aperture photometry in a 31 x 31 box (0.75" half-width): the noisy data give what
    # the truth holds there (0.3 % noise), ~94 % of the star (the rest is in the wing)
    lx, ly = round(x) - x0, round(y) - y0
    box = chip.sci[ly - 15 : ly + 16, lx - 15 : lx + 16].astype(float)
    inbox = truth.noiseless[ly - 15 : ly + 16, lx - 15 : lx + 16].astype(float) - exp.sky
    assert 0.92 < inbox.sum() * area_corr / (flux * t) < 0.97
    recovered = (box - exp.sky).sum()
    assert recovered == pytest.approx(inbox.sum(), rel=0.01)
    # and the star is where the header WCS says (the WCS includes the distortion)
    ra, dec = scene.radec()
    px, py = chip.wcs.all_world2pix(ra, dec, 0, tolerance=1e-10)
    cx, cy = _centroid(truth.noiseless, round(px[0]), round(py[0]), 16)
    # the default PSF's light centroid is off its chief ray by ~0.03 px (Tiny Tim's coma
    # and astigmatism, the mirror pads) and a 16 px box cuts its 5.5" wing unevenly
    assert cx == pytest.approx(px[0], abs=0.05)
    assert cy == pytest.approx(py[0], abs=0.05)
    assert px[0] + x0 == pytest.approx(x, abs=1e-6)
    assert py[0] + y0 == pytest.approx(y, abs=1e-6)


def test_saturated_pixels_carry_256():
    ap = camera("acs-wfc1")
    _ny, _nx = ap.shape
    scene, _ = one_star(ap, 500.0, 400.0, 1e5)
    (exp,) = observe(
        scene,
        Pattern([[0, 0]]),
        ap,
        400.0,
        chips=[ap.chip],
        subarray=(470, 370, 60, 60),
        cosmic_rays_on=False,
        rng=8,
    )
    chip = exp.chips[0]
    sat = (chip.dq & 256) != 0
    assert sat.sum() >= 5
    full = 77400.0
    assert chip.sci[sat].max() <= full + 6 * exp.read_noise
    assert np.all(chip.sci[~sat] < full)
    # the overflow bleeds along columns: the saturated trail is taller than wide
    rows, cols = np.nonzero(sat)
    assert np.ptp(rows) > 2 * np.ptp(cols)


@pytest.mark.parametrize("name", ["acs-hrc", "wfpc2-wf3"])
def test_atod_saturation_clips_without_bleeding_and_is_flagged(name):
    """HRC's full well (155 ke-) and WFPC2's (53 ke-) exceed their A/D limits (65535 DN x
    2.2, 4095 DN x 6.9): a bright star clips at the A/D level, flagged with the A/D bit
    (ACS 2048 | 256, WFPC2 8), and does not bleed."""
    from ditherlab.simulate import detector_model

    ap = camera(name)
    model = detector_model(ap.instrument, ap.detector)
    limit = model.atod_limit
    assert limit < model.full_well
    xr, yr = ap.reference_pixel
    x0, y0 = int(xr) - 15, int(yr) - 15
    kw = {
        "chips": [ap.chip],
        "subarray": (x0, y0, 31, 31),
        "cosmic_rays_on": False,
        "defects_on": False,
        "rng": 4,
    }
    scene, _ = one_star(ap, xr + 0.3, yr - 0.2, 1.0)
    (unit,) = observe(scene, Pattern([[0, 0]]), ap, 100.0, noise=False, **kw)
    peak = float(unit.truth.chips[0].noiseless.max()) / 100.0  # e-/s per unit flux
    # the brightest pixel at 1.03 x the A/D limit: above it, below the full well
    scene, _ = one_star(ap, xr + 0.3, yr - 0.2, 1.03 * limit / peak / 100.0)
    (exp,) = observe(scene, Pattern([[0, 0]]), ap, 100.0, **kw)
    chip = exp.chips[0]
    nl = exp.truth.chips[0].noiseless.astype(float)
    bit = model.dq["atod_saturated"] | model.dq["saturated"]
    flagged = (chip.dq & bit) == bit
    assert flagged.sum() >= 1
    # clipped at the A/D level (minus the subtracted superdark), never above
    ref = exp.truth.chips[0].dark.astype(float)  # dark rates of the exposure
    assert chip.sci.max() <= limit + 1e-3
    assert np.all(chip.sci[flagged] >= limit - (ref[flagged].max() + model.dark) * 100.0 - 1)
    # no bleeding: every flagged pixel is one whose expected charge reaches the limit
    assert np.all(nl[flagged] > 0.9 * limit)
    assert not np.any((chip.dq & model.dq["saturated"]).astype(bool) & (nl < 0.9 * limit))
    if ap.instrument == "ACS":
        assert model.dq["atod_saturated"] == 2048
    else:
        assert bit == 8


def test_integer_dither_moves_the_sky_over_fixed_defects():
    ap = camera("acs-wfc1")
    xr, yr = ap.reference_pixel
    scene, _ = one_star(ap, xr - 49.8, yr - 39.7, 50.0)
    pat = Pattern([[0.0, 0.0], [5.0, 5.0]], frame="pixel")
    exps = observe(
        scene,
        pat,
        ap,
        300.0,
        chips=[ap.chip],
        subarray=(int(xr) - 100, int(yr) - 90, 100, 100),
        noise=False,
        cosmic_rays_on=False,
        rng=9,
    )
    a, b = (e.truth.chips[0] for e in exps)
    assert np.array_equal(a.defects, b.defects)  # defects fixed in detector coordinates
    assert np.array_equal(exps[0].chips[0].dq, exps[1].chips[0].dq)
    ca = _centroid(a.noiseless, 50, 50, 8)
    cb = _centroid(b.noiseless, 55, 55, 8)
    # the pattern's pixel step is exact at the aperture reference, ~1 % off elsewhere
    assert cb[0] - ca[0] == pytest.approx(5.0, abs=0.02)
    assert cb[1] - ca[1] == pytest.approx(5.0, abs=0.02)


def test_pixel_pattern_is_exact_at_the_reference_pixel():
    ap = camera("acs-wfc1")
    xr, yr = ap.reference_pixel
    post = pattern_postargs(subpixel(2), ap)
    x, y = ap.postarg_to_sci(*post[1])
    assert float(x) - xr == pytest.approx(3.5, abs=0.02)
    assert float(y) - yr == pytest.approx(3.5, abs=0.02)
    with pytest.raises(DitherlabTypeError, match="Pattern"):
        pattern_postargs([[0, 0]], ap)


def test_pointing_errors_misalign_frames_on_purpose():
    ap = camera("acs-wfc1")
    xr, yr = ap.reference_pixel
    scene, _ = one_star(ap, xr, yr, 80.0)
    pointing = Pointing(errors=[[0.0, 0.0], [0.1, -0.05]])
    exps = observe(
        scene,
        Pattern([[0, 0], [0, 0]], frame="postarg"),
        ap,
        200.0,
        chips=[ap.chip],
        subarray=(int(xr) - 30, int(yr) - 30, 60, 60),
        noise=False,
        cosmic_rays_on=False,
        defects_on=False,
        pointing=pointing,
        rng=2,
        psf=GaussianPSF(0.1),  # symmetric: the centroid is the star's position
    )
    assert exps[1].postarg == (0.0, 0.0)
    assert exps[1].truth.postarg == pytest.approx((0.1, -0.05))
    ra, dec = scene.radec()
    shifts = []
    for e in exps:
        c = e.chips[0]
        px, py = c.wcs.all_world2pix(ra, dec, 0)
        cx, cy = _centroid(e.truth.chips[0].noiseless, 30, 30, 10)
        shifts.append((cx - px[0], cy - py[0]))
    assert np.hypot(*shifts[0]) < 0.02  # first frame: WCS is right
    # second: the star sits ~0.11"/0.05 = 2.2 px away from where its header says
    assert np.hypot(*shifts[1]) == pytest.approx(np.hypot(0.1, 0.05) / 0.0488, rel=0.05)


def test_pointing_jitter_statistics():
    p = Pointing(jitter=4.0, visit_jitter=12.0, visits=[1] * 500 + [2] * 500)
    off, roll, visits = p.draw(1000, np.random.default_rng(1))
    within = np.concatenate([off[visits == v] - off[visits == v].mean(0) for v in (1, 2)])
    assert within.std() == pytest.approx(0.004, rel=0.1)
    assert not roll.any()
    big = Pointing(large_error_rate=1.0).draw(50, np.random.default_rng(2))
    size = np.hypot(*big[0].T)
    assert size.min() >= 0.1
    assert size.max() <= 0.2
    assert np.abs(big[1]).max() <= 0.1


def test_visit_jitter_is_shared_within_a_visit_and_scatters_between_visits():
    # no per-exposure jitter: exposures of one visit have exactly the same offset
    nv, per = 2000, 3
    visits = np.repeat(np.arange(1, nv + 1), per)
    p = Pointing(visit_jitter=12.0, visits=list(visits))
    off, _, got_visits = p.draw(nv * per, np.random.default_rng(3))
    assert np.array_equal(got_visits, visits)
    by_visit = off.reshape(nv, per, 2)
    assert np.array_equal(by_visit, np.repeat(by_visit[:, :1], per, axis=1))
    # the visit offsets scatter by the configured RMS per axis (12 mas), mean zero
    v = by_visit[:, 0]
    assert v.std(axis=0) == pytest.approx([0.012, 0.012], rel=0.05)
    assert np.abs(v.mean(axis=0)).max() < 4 * 0.012 / np.sqrt(nv)
    # with exposure jitter on top: differences within a visit have RMS sqrt(2) * jitter,
    # visit means scatter by sqrt(visit_jitter**2 + jitter**2 / per)
    q = Pointing(jitter=4.0, visit_jitter=12.0, visits=list(visits))
    off, _, _ = q.draw(nv * per, np.random.default_rng(4))
    by_visit = off.reshape(nv, per, 2)
    d = by_visit[:, 1] - by_visit[:, 0]
    assert d.std() == pytest.approx(np.sqrt(2) * 0.004, rel=0.05)
    assert by_visit.mean(axis=1).std() == pytest.approx(
        np.sqrt(0.012**2 + 0.004**2 / per), rel=0.05
    )
    # and through observe: the truth records the shared offset of each visit
    pat = Pattern([[0, 0]] * 4, frame="postarg")
    exps = observe(
        EMPTY,
        pat,
        "acs-wfc1",
        1.0,
        chips=[1],
        subarray=(0, 0, 8, 8),
        pointing=Pointing(visit_jitter=15.0, visits=[1, 1, 2, 2]),
        cosmic_rays_on=False,
        rng=9,
    )
    posts = [e.truth.postarg for e in exps]
    assert posts[0] == posts[1]
    assert posts[2] == posts[3]
    assert posts[0] != posts[2]
    assert [e.truth.visit for e in exps] == [1, 1, 2, 2]


def test_both_chips_share_one_sky():
    ap = camera("acs-wfc")
    (exp,) = observe(
        EMPTY,
        Pattern([[0, 0]]),
        ap,
        10.0,
        subarray=(0, 0, 32, 32),
        noise=False,
        cosmic_rays_on=False,
        defects_on=False,
        rng=1,
    )
    assert [c.ccdchip for c in exp.chips] == [c.chip for c in ap.chips]
    assert [c.extver for c in exp.chips] == [1, 2]
    # separation on the sky of the two chips' reference pixels = their V2/V3 separation
    from astropy.coordinates import SkyCoord

    pts = []
    for c, cap in zip(exp.chips, ap.chips, strict=True):
        xr, yr = cap.reference_pixel
        ra, dec = c.wcs.all_pix2world([xr - c.origin[0]], [yr - c.origin[1]], 0)
        pts.append(SkyCoord(ra[0], dec[0], unit="deg"))
    sep = pts[0].separation(pts[1]).arcsec
    v = [np.array(cap.sci_to_tel(*cap.reference_pixel), float) for cap in ap.chips]
    assert sep == pytest.approx(np.hypot(*(v[0] - v[1])), abs=0.002)


def test_galaxies_are_rendered_with_their_flux():
    ap = camera("acs-wfc1")
    xr, yr = ap.reference_pixel
    s0, _ = one_star(ap, xr, yr, 10.0)
    gal = s0.replace(kind=["sersic"], r_eff=[0.3], n=[1.5], q=[0.5], pa=[30.0])
    (exp,) = observe(
        gal,
        Pattern([[0, 0]]),
        ap,
        100.0,
        chips=[ap.chip],
        subarray=(int(xr) - 140, int(yr) - 140, 280, 280),  # holds the 5.5" wing
        noise=False,
        cosmic_rays_on=False,
        defects_on=False,
        rng=1,
    )
    nl = exp.truth.chips[0].noiseless.astype(float)
    area_corr = abs(np.linalg.det(ap.jacobian(xr, yr))) / 0.05**2
    assert nl.sum() * area_corr == pytest.approx(1000.0, rel=1e-4)
    # elongated: second moments (inside 30 px, away from the round PSF wing) differ
    nl = nl[110:170, 110:170]
    yy, xx = np.mgrid[0:60, 0:60]
    cx, cy = (nl * xx).sum() / nl.sum(), (nl * yy).sum() / nl.sum()
    mxx = (nl * (xx - cx) ** 2).sum() / nl.sum()
    myy = (nl * (yy - cy) ** 2).sum() / nl.sum()
    mxy = (nl * (xx - cx) * (yy - cy)).sum() / nl.sum()
    ev = np.linalg.eigvalsh([[mxx, mxy], [mxy, myy]])
    # q = 0.5 gives 0.25 intrinsically; the PSF core and wing round it up somewhat
    assert 0.2 < ev[0] / ev[1] < 0.45


def test_observe_argument_errors():
    ap = camera("acs-wfc1")
    pat = Pattern([[0, 0]])
    with pytest.raises(DitherlabValueError, match="exptime"):
        observe(EMPTY, pat, ap, -5.0)
    with pytest.raises(DitherlabValueError, match="exptime has 2 values"):
        observe(EMPTY, pat, ap, [1.0, 2.0])
    with pytest.raises(DitherlabValueError, match="chip 7"):
        observe(EMPTY, pat, ap, 1.0, chips=[7])
    with pytest.raises(DitherlabValueError, match="subarray"):
        observe(EMPTY, pat, ap, 1.0, subarray=(0, 0, 10**6, 10))
    with pytest.raises(DitherlabTypeError, match="scene"):
        observe("stars.ecsv", pat, ap, 1.0)
    with pytest.raises(DitherlabTypeError, match="psf"):
        observe(EMPTY, pat, ap, 1.0, psf="tinytim.fits")
    with pytest.raises(DitherlabTypeError, match="aperture"):
        observe(EMPTY, pat, 42, 1.0)


def test_an_image_psf_is_rendered_like_the_analytic_one(tmp_path):
    from astropy.io import fits

    from ditherlab.simulate import GaussianPSF, ImagePSF

    ap = camera("acs-wfc1")
    xr, yr = ap.reference_pixel
    scene, _ = one_star(ap, xr + 0.25, yr - 0.1, 100.0)
    fwhm = 0.1
    yy, xx = np.mgrid[-60:61, -60:61] * (0.05 / 5)
    img = np.exp(-0.5 * (xx**2 + yy**2) / (fwhm / 2.3548200450309493) ** 2)
    fits.PrimaryHDU(img, header=fits.Header({"OVERSAMP": 5})).writeto(tmp_path / "psf.fits")
    kw = {
        "chips": [ap.chip],
        "subarray": (int(xr) - 20, int(yr) - 20, 40, 40),
        "noise": False,
        "cosmic_rays_on": False,
        "defects_on": False,
        "rng": 1,
        "detector_kernel": False,  # compare the optical renderings themselves
    }
    (a,) = observe(
        scene, Pattern([[0, 0]]), ap, 10.0, psf=ImagePSF.from_fits(tmp_path / "psf.fits"), **kw
    )
    (b,) = observe(scene, Pattern([[0, 0]]), ap, 10.0, psf=GaussianPSF(fwhm, radius=0.3), **kw)
    na, nb = a.truth.chips[0].noiseless, b.truth.chips[0].noiseless
    assert na.sum() == pytest.approx(nb.sum(), rel=1e-4)
    # the image is a Gaussian of FWHM 2 *detector pixels* (detector frame), the analytic
    # PSF one of 0.1 arcsec on the sky: compare with the pixel-frame Gaussian stamp
    from ditherlab.simulate._kernels import render_profile

    ra, dec = scene.radec()
    px, py = (float(v[0]) for v in a.chips[0].wcs.all_world2pix(ra, dec, 0))
    ix, iy = int(np.floor(px + 0.5)), int(np.floor(py + 0.5))
    s = (fwhm / 0.05) / 2.3548200450309493

    def gauss(u, v):
        return np.exp(-0.5 * (u * u + v * v) / s**2)

    stamp = render_profile(gauss, np.eye(2), (px - ix, py - iy), half=8, os=16)
    expect = np.zeros_like(na, dtype=float)
    expect[iy - 8 : iy + 9, ix - 8 : ix + 9] = stamp * float(na.sum())
    assert np.abs(na - expect).max() < 0.01 * na.max()
    # and the sky-frame Gaussian differs from it only by the pixels' skew and size
    assert np.abs(na - nb).max() < 0.05 * nb.max()


@pytest.mark.slow
def test_full_acs_wfc_exposure():
    """The benchmark case, checked: both full chips, 500 stars, every effect on."""
    scene = Scene.random_field(500, size=230.0, sky=40.0, rng=1)
    (exp,) = observe(scene, Pattern([[0, 0]]), "acs-wfc", 500.0, rng=1)
    assert [c.shape for c in exp.chips] == [(2048, 4096), (2048, 4096)]
    for chip, truth in zip(exp.chips, exp.truth.chips, strict=True):
        good = (chip.dq == 0) & ~truth.cr_mask
        assert np.median(chip.sci[good]) == pytest.approx(exp.sky, abs=1.0)
        assert truth.cr_mask.mean() == pytest.approx(0.01, rel=0.05)
        assert truth.noiseless.sum() > exp.sky * chip.sci.size


@pytest.mark.parametrize(
    ("name", "idcscale"),
    [("wfc3-ir", 0.1283), ("wfc3-uvis2", 0.0396), ("wfpc2-pc1", 0.0455), ("acs-hrc", 0.025)],
)
def test_flux_is_conserved_on_every_camera(name, idcscale):
    ap = camera(name)
    ny, nx = ap.shape
    x, y = 0.3 * nx + 0.37, 0.6 * ny - 0.21
    scene, cmap = one_star(ap, x, y, 50.0)
    h = int(7.0 / idcscale)  # the cut-out holds the default PSF's 5.5" wing
    (exp,) = observe(
        scene,
        Pattern([[0, 0]]),
        ap,
        100.0,
        chips=[ap.chip],
        subarray=(int(x) - h, int(y) - h, 2 * h, 2 * h),
        noise=False,
        cosmic_rays_on=False,
        defects_on=False,
        rng=1,
    )
    assert exp.chips[0].idcscale == idcscale
    area_corr = abs(np.linalg.det(cmap.jacobian(x, y))) / idcscale**2
    assert exp.truth.chips[0].noiseless.sum() * area_corr == pytest.approx(5000.0, rel=1e-6)


def test_cr_loss_of_an_observed_stack_matches_the_planner():
    """End to end: two 1500 s exposures at the seed's WFPC2 rate lose p**2 of the pixels."""
    from ditherlab.planner import SEED_WFPC2_CR_RATE, cr_loss_fraction
    from ditherlab.simulate import detector_model

    ap = camera("acs-wfc1")
    model = detector_model("ACS", "WFC", cr_rate=SEED_WFPC2_CR_RATE)
    exps = observe(
        EMPTY,
        Pattern([[0, 0], [0, 0]]),
        ap,
        1500.0,
        detector=model,
        chips=[ap.chip],
        subarray=(0, 0, 1024, 1024),
        noise=False,
        defects_on=False,
        rng=33,
    )
    both = exps[0].truth.chips[0].cr_mask & exps[1].truth.chips[0].cr_mask
    expected = cr_loss_fraction(3000.0, 2, rate=SEED_WFPC2_CR_RATE)
    assert expected == pytest.approx(0.002307, rel=1e-4)
    sigma = 2.0 * np.sqrt(expected * both.size) / both.size
    assert abs(both.mean() - expected) < 4 * sigma


@pytest.mark.parametrize("where", ["reference", "corner"])
def test_an_image_psf_is_in_the_detector_frame_whatever_the_roll(where):
    """An off-centre, asymmetric PSF image lands at its image offset / oversampling in
    detector pixels, at any PA_V3 and where the distortion is large (no mirror, no turn).

    (The features are >= 0.7 detector pixels wide, so that the pixel-binned centroid is
    the continuous one to < 0.01 px.)"""
    from ditherlab.simulate import ImagePSF
    from ditherlab.simulate._geometry import ChipMap, attitude, gnomonic

    ap = camera("acs-wfc1")
    ny, _ = ap.shape
    xr, yr = ap.reference_pixel
    x, y = (xr + 0.2, yr - 0.3) if where == "reference" else (60.4, ny - 61.7)
    os_ = 5
    yy, xx = np.mgrid[-30:31, -30:31].astype(float)
    img = np.exp(-0.5 * ((xx - 10) ** 2 + (yy - 3) ** 2) / 4.0**2)
    img += 0.3 * np.exp(-0.5 * ((xx + 2) ** 2 + (yy - 12) ** 2) / 3.5**2)
    off = np.array([(img * xx).sum(), (img * yy).sum()]) / img.sum() / os_
    assert abs(off[0]) > 1  # asymmetric, off-centre
    assert abs(off[1]) > 0.3
    psf = ImagePSF(img, oversampling=os_)
    ra0, dec0 = 150.0, 2.0
    for pa in (0.0, 90.0):
        att = attitude(*(float(v) for v in ap.idl_to_tel(0.0, 0.0)), ra0, dec0, pa)
        ra, dec = ChipMap.from_attitude(ap, att).pixel_to_sky(np.array([x]), np.array([y]))
        xi, eta = gnomonic(ra, dec, ra0, dec0)
        scene = Scene(ra=ra0, dec=dec0, x=xi, y=eta, flux=[100.0])
        x0, y0 = int(x) - 20, int(y) - 20
        (exp,) = observe(
            scene,
            Pattern([[0, 0]]),
            ap,
            10.0,
            psf=psf,
            pointing=Pointing(pa_v3=pa),
            chips=[ap.chip],
            subarray=(x0, y0, 40, 40),
            noise=False,
            cosmic_rays_on=False,
            defects_on=False,
            rng=1,
        )
        nl = exp.truth.chips[0].noiseless.astype(float)
        cy, cx = np.mgrid[:40, :40]
        got = np.array([(nl * cx).sum(), (nl * cy).sum()]) / nl.sum()
        px, py = exp.truth.chips[0].wcs.all_world2pix(ra[0], dec[0], 0)
        np.testing.assert_allclose(got - [px, py], off, atol=0.01)


def test_a_detector_model_never_changes_a_chips_pixel_scale():
    from ditherlab.simulate import detector_model

    ap = camera("wfpc2-wf3")
    sc, _ = one_star(ap, 400.2, 400.3, 50.0, chip=1, sky=10.0)
    kw = {
        "chips": [1],
        "subarray": (260, 260, 280, 280),  # holds the default PSF's 5.5" wing
        "noise": False,
        "cosmic_rays_on": False,
        "defects_on": False,
        "rng": 1,
    }
    (a,) = observe(sc, Pattern([[0, 0]]), ap, 100.0, **kw)
    # a WF model on the PC chip is refused, naming the argument
    with pytest.raises(DitherlabValueError, match=r"detector is a WFPC2/WF model.*chip 1"):
        observe(sc, Pattern([[0, 0]]), ap, 100.0, detector=detector_model("WFPC2", "WF"), **kw)
    with pytest.raises(DitherlabTypeError, match="detector"):
        observe(sc, Pattern([[0, 0]]), ap, 100.0, detector="WF", **kw)
    with pytest.raises(DitherlabValueError, match="chip 7"):
        observe(sc, Pattern([[0, 0]]), ap, 100.0, detector={7: detector_model("WFPC2", "WF")})
    # per-chip models; even a changed idcscale does not change the chip's scale
    pc = detector_model("WFPC2", "PC", read_noise=5.0, idcscale=0.0996)
    (b,) = observe(sc, Pattern([[0, 0]]), ap, 100.0, detector={1: pc}, **kw)
    (c,) = observe(sc, Pattern([[0, 0]]), ap, 100.0, detector=pc, **kw)
    for e in (a, b, c):
        chip = e.chips[0]
        assert chip.idcscale == 0.0455
        assert chip.sky == pytest.approx(10.0 * 0.0455**2 * 100.0)
        nl = e.truth.chips[0].noiseless.astype(float)
        assert nl.sum() - chip.sky * nl.size == pytest.approx(50.0 * 100.0, rel=2e-3)
    assert np.array_equal(a.truth.chips[0].noiseless, b.truth.chips[0].noiseless)
    # a WF model for the WF chips of a full WFPC2 exposure is fine
    wf = detector_model("WFPC2", "WF", read_noise=4.0)
    (d,) = observe(
        sc,
        Pattern([[0, 0]]),
        ap,
        100.0,
        detector={2: wf, 3: wf, 4: wf},
        subarray=(0, 0, 16, 16),
        noise=False,
        rng=1,
    )
    assert [ch.idcscale for ch in d.chips] == [0.0455, 0.0996, 0.0996, 0.0996]


@pytest.mark.parametrize(("r_eff", "n"), [(0.05, 4.0), (0.02, 4.0), (0.05, 1.0), (0.3, 4.0)])
def test_compact_galaxies_are_integrated_to_one_percent(r_eff, n):
    """Peak and total of a rendered galaxy match a 31x-oversampled reference to ~1 %."""
    from ditherlab.simulate import AiryPSF, _kernels
    from ditherlab.simulate.scene import sersic_profile

    ap = camera("acs-wfc1")
    xr, yr = ap.reference_pixel
    star, cmap = one_star(ap, xr + 0.2, yr + 0.1, 100.0)
    scene = Scene(
        ra=star.ra,
        dec=star.dec,
        x=star.x,
        y=star.y,
        flux=[100.0],
        kind=["sersic"],
        r_eff=[r_eff],
        n=[n],
    )
    x0, y0 = int(xr) - 80, int(yr) - 80
    (exp,) = observe(
        scene,
        Pattern([[0, 0]]),
        ap,
        10.0,
        chips=[ap.chip],
        subarray=(x0, y0, 161, 161),
        noise=False,
        cosmic_rays_on=False,
        defects_on=False,
        rng=1,
        psf=AiryPSF(0.6),
        detector_kernel=False,  # the renderer's integration against a reference
    )
    nl = exp.truth.chips[0].noiseless.astype(float)
    psf = AiryPSF(0.6)
    jac = cmap.jacobian(xr + 0.2, yr + 0.1)
    scale_px = 0.9 * float(np.linalg.svd(cmap.jacobian(*cmap.ref), compute_uv=False).min())
    half = int(np.ceil((8 * r_eff + psf.radius) / scale_px)) + 1
    assert half <= 80
    ph = int(np.ceil(psf.radius / scale_px)) + 1
    ref = _kernels.render_convolved(
        sersic_profile(r_eff, n, 1.0, 0.0),
        psf.profile,
        jac,
        (0.2, 0.1),
        half,
        ph,
        os=31,
        refine=5,
    )
    ref *= nl.sum()
    ix, iy = int(xr) - x0, int(yr) - y0
    got = nl[iy - half : iy + half + 1, ix - half : ix + half + 1]
    assert got.max() == pytest.approx(ref.max(), rel=0.01)
    assert np.abs(got - ref).max() < 0.01 * ref.max()
    assert nl.sum() == pytest.approx(100.0 * 10.0 * 0.05**2 / abs(np.linalg.det(jac)), rel=1e-4)


def test_galaxy_grids_are_odd_fine_for_compact_and_never_point_sampled():
    from ditherlab.simulate.observe import _galaxy_oversampling

    assert _galaxy_oversampling(1.0, 41) >= 5
    assert _galaxy_oversampling(5.0, 101) >= 5
    for r, stamp in ((1.0, 41), (5.0, 301), (50.0, 1201), (200.0, 1201), (0.5, 1201)):
        os = _galaxy_oversampling(r, stamp)
        assert os % 2 == 1
        assert os >= 3


def test_input_validation_names_the_argument_and_value():
    from ditherlab.simulate import detector_model

    ap = camera("acs-wfc")
    pat = Pattern([[0, 0]])
    kw = {"subarray": (0, 0, 16, 16)}
    with pytest.raises(DitherlabValueError, match=r"chips=\[\] selects no chip"):
        observe(EMPTY, pat, ap, 1.0, chips=[], **kw)
    with pytest.raises(DitherlabValueError, match=r"large_error=\(0\.3, -0\.1\)"):
        Pointing(large_error=(0.3, -0.1))
    with pytest.raises(DitherlabTypeError, match="large_error"):
        Pointing(large_error=0.2)
    with pytest.raises(DitherlabValueError, match=r"ra=150\.0, dec=None"):
        Pointing(ra=150.0)
    with pytest.raises(DitherlabValueError, match=r"ra=None, dec=2\.0"):
        Pointing(dec=2.0)
    assert Pointing(ra=150.0, dec=2.0).dec == 2.0
    with pytest.raises(DitherlabValueError, match=r"hot_rate=\(-1, 2\)"):
        detector_model("ACS", "WFC", hot_rate=(-1, 2))
    with pytest.raises(DitherlabValueError, match=r"warm_rate=\(0\.2, 0\.1\)"):
        detector_model("ACS", "WFC", warm_rate=(0.2, 0.1))
    with pytest.raises(DitherlabTypeError, match=r"n_bad_columns=2\.5"):
        detector_model("ACS", "WFC", n_bad_columns=2.5)
    with pytest.raises(DitherlabValueError, match="n_bad_columns"):
        detector_model("ACS", "WFC", n_bad_columns=-1)
    # an exposure so long that every pixel would be hit is refused up front ...
    with pytest.raises(DitherlabValueError, match=r"exptime=1000000\.0.*cr_rate"):
        observe(EMPTY, pat, ap, 1e6, chips=[1], **kw)
    # ... and by the effect itself
    from ditherlab.simulate import cosmic_rays

    with pytest.raises(DitherlabValueError, match="exptime"):
        cosmic_rays((8, 8), detector_model("ACS", "WFC"), 1e6, rng=1)
    # without cosmic rays it is fine
    (e,) = observe(EMPTY, pat, ap, 1e6, chips=[1], cosmic_rays_on=False, **kw)
    assert e.exptime == 1e6


def test_scene_tables_with_missing_or_impossible_values_are_refused():
    from astropy.table import MaskedColumn, Table

    from ditherlab.errors import FileFormatError

    t = Table({"x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 2.0]})
    t["flux"] = MaskedColumn([1.0, 2.0, 3.0], mask=[False, False, True])
    with pytest.raises(FileFormatError, match=r"'flux'.*row 2"):
        Scene.from_table(t)
    t = Table({"x": [0.0, 1.0], "y": [0.0, 1.0], "flux": [1.0, 2.0]})
    t["r_eff"] = MaskedColumn([0.1, 0.2], mask=[True, False])
    with pytest.raises(FileFormatError, match=r"'r_eff'.*row 0"):
        Scene.from_table(t)
    with pytest.raises(FileFormatError, match=r"row 1.*dec=100\.0"):
        Scene.from_table(Table({"ra": [10.0, 10.0], "dec": [1.0, 100.0], "flux": [1.0, 1.0]}))
    with pytest.raises(FileFormatError, match=r"row 0.*ra=nan"):
        Scene.from_table(Table({"ra": [np.nan], "dec": [1.0], "flux": [1.0]}))
    # a masked column without masked values is fine
    t = Table({"x": [0.0], "y": [0.0]})
    t["flux"] = MaskedColumn([1.0], mask=[False])
    assert Scene.from_table(t).flux.tolist() == [1.0]


def test_iter_observe_yields_the_same_exposures_and_validates_at_the_call():
    from ditherlab.simulate import iter_observe

    scene = Scene.random_field(100, n_galaxies=2, size=60, sky=30.0, rng=2)
    kw = {"chips": [1], "subarray": (2000, 1000, 32, 24), "pointing": Pointing(jitter=3.0)}
    a = observe(scene, subpixel(3), "acs-wfc1", 100.0, rng=11, **kw)
    it = iter_observe(scene, subpixel(3), "acs-wfc1", 100.0, rng=11, **kw)
    b = list(it)
    assert len(a) == len(b) == 3
    for x, y in zip(a, b, strict=True):
        assert x.rootname == y.rootname
        assert np.array_equal(x.chips[0].sci, y.chips[0].sci)
        assert np.array_equal(x.chips[0].dq, y.chips[0].dq)
        assert np.array_equal(x.truth.chips[0].cr_charge, y.truth.chips[0].cr_charge)
    with pytest.raises(DitherlabValueError, match="chips"):
        iter_observe(scene, subpixel(3), "acs-wfc1", 100.0, chips=[])  # no next() needed
