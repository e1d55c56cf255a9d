"""The default output grid and the user's grid values follow drizzlepac's AstroDrizzle.

No drizzlepac is needed here: these tests check the convention ``output_wcs`` documents
(stwcs ``distortion.utils.output_wcs`` with drizzlepac's ``perfect=True`` CD, then
``wcs_functions.mergeWCS``) as invariants; ``test_grid_vs_astrodrizzle.py`` compares the
grids with AstroDrizzle's own headers.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ditherlab.drizzle.pipeline.geometry import output_wcs
from ditherlab.errors import DitherlabValueError

TOL = 1e-6  # pixels


def _chip(ra, dec, orient, shape=(60, 40), scale=0.05, skew=0.0):
    """A chip with a TAN WCS (+y at ``orient`` deg E of N, its x axis skewed by ``skew``)."""
    from astropy.wcs import WCS

    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [(shape[1] + 1) / 2.0, (shape[0] + 1) / 2.0]
    t, k = np.deg2rad(orient), np.deg2rad(orient + skew)
    s = scale / 3600.0
    w.wcs.cd = s * np.array([[-np.cos(k), np.sin(t)], [np.sin(k), np.cos(t)]])
    w.wcs.set()
    w.pixel_shape = (shape[1], shape[0])
    return SimpleNamespace(wcs=w, shape=shape, idcscale=scale, extver=1, header={})


def _stack(ra, dec, orient, offsets, skew=0.0, gap=None):
    """Exposures dithered by ``offsets`` (arcsec along the first chip's x, y); a second
    chip ``gap`` arcsec above the first when given."""
    exps = []
    t = np.deg2rad(orient)
    for k, (dx, dy) in enumerate(offsets):
        chips = []
        for up in [0.0] if gap is None else [0.0, gap]:
            # offsets in the chip frame turned onto the sky (east = -x for orient 0)
            de = (-dx * np.cos(t) + (dy + up) * np.sin(t)) / 3600.0
            dn = (dx * np.sin(t) + (dy + up) * np.cos(t)) / 3600.0
            chips.append(_chip(ra + de / np.cos(np.deg2rad(dec)), dec + dn, orient, skew=skew))
        exps.append(SimpleNamespace(name=f"e{k}", instrument="ACS", detector="WFC",
                                    chips=tuple(chips)))
    return exps


def _corners(exps, wcs):
    """Output pixel positions (0-based) of every chip's corner-pixel centres."""
    xs, ys = [], []
    for e in exps:
        for c in e.chips:
            ny, nx = c.shape
            sky = c.wcs.pixel_to_world_values([0, 0, nx - 1, nx - 1], [0, ny - 1, ny - 1, 0])
            x, y = wcs.world_to_pixel_values(*sky)
            xs.append(x)
            ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def _landing_tolerance(exps, wcs):
    """How far from exact the lowest corner may land (pixels).

    drizzlepac moves the tangent point from the corners' mean direction to put the lowest
    corner centre on pixel 0; moving it by ``m`` pixels turns the plane by ``m·θ·tan(dec)``
    (θ: pixel angle) and bends it by ~``m·θ``, which shift points ``E`` pixels away by
    ``m·E·θ·(1 + tan|dec|)``: the algorithm is exact only to first order.
    """
    sky = []
    for e in exps:
        for c in e.chips:
            ny, nx = c.shape
            sky.append(c.wcs.pixel_to_world_values([0, 0, nx - 1, nx - 1], [0, ny - 1, ny - 1, 0]))
    sky = np.concatenate(sky, axis=1)
    a, d = np.deg2rad(sky)
    v = np.array([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)]).mean(axis=1)
    mean = np.rad2deg([np.arctan2(v[1], v[0]), np.arctan2(v[2], np.hypot(v[0], v[1]))])
    m = np.hypot(*(np.array(wcs.wcs_world2pix([mean], 1)[0]) - wcs.wcs.crpix))
    theta = np.deg2rad(np.sqrt(abs(np.linalg.det(wcs.wcs.cd))))
    e = max(wcs.pixel_shape)
    return 2.0 * m * e * theta * (1.0 + abs(np.tan(np.deg2rad(wcs.wcs.crval[1])))) + TOL


def _orient(wcs):
    cd = wcs.wcs.cd
    return float(np.degrees(np.arctan2(cd[0, 1], cd[1, 1])))


stacks = st.builds(
    _stack,
    ra=st.floats(0.0, 359.99),
    dec=st.floats(-80.0, 80.0),
    orient=st.floats(-180.0, 180.0),
    offsets=st.lists(
        st.tuples(st.floats(-3.0, 3.0), st.floats(-3.0, 3.0)), min_size=1, max_size=4
    ),
    skew=st.floats(-2.0, 2.0),
    gap=st.none() | st.floats(3.5, 6.0),
)


@settings(max_examples=100, deadline=None)
@given(exps=stacks)
def test_default_grid_is_astrodrizzles_convention(exps):
    """IDCSCALE square pixels at the first chip's ORIENTAT; NAXIS the ceiling of the
    corner centres' extent; CRPIX = NAXIS / 2; the lowest corner centre on pixel 0."""
    w, (ny, nx) = output_wcs(exps)
    first = exps[0].chips[0]
    assert tuple(w.pixel_shape) == (nx, ny)
    assert tuple(w.wcs.crpix) == (nx / 2.0, ny / 2.0)
    o = np.deg2rad(_orient(first.wcs))  # of the CD's y column: the skew leaves it alone
    s = first.idcscale / 3600.0
    want = s * np.array([[-np.cos(o), np.sin(o)], [np.sin(o), np.cos(o)]])
    np.testing.assert_allclose(w.wcs.cd, want, rtol=0, atol=1e-12 * s)
    x, y = _corners(exps, w)
    tol = _landing_tolerance(exps, w)
    assert tol < 0.05  # the checks below tell pixel 0 from its edge (-0.5)
    for v, n in ((x, nx), (y, ny)):
        assert v.min() == pytest.approx(0.0, abs=tol)
        assert n - 1 - tol < v.max() <= n + tol


@settings(max_examples=60, deadline=None)
@given(exps=stacks, data=st.data())
def test_grid_ignores_the_order_of_all_but_the_first_chip(exps, data):
    """Only the first chip (scale, orientation) matters; the centre is a mean over all."""
    w, shape = output_wcs(exps)
    rest = data.draw(st.permutations(exps[1:]))
    flipped = [e if i == 0 else SimpleNamespace(name=e.name, chips=e.chips[::-1])
               for i, e in enumerate([exps[0], *rest])]  # fmt: skip
    w2, shape2 = output_wcs(flipped)
    assert shape2 == shape
    y, x = np.mgrid[0 : shape[0] : 5j, 0 : shape[1] : 5j]
    x2, y2 = w2.wcs_world2pix(*w.wcs_pix2world(x, y, 0), 0)
    assert np.abs(x2 - x).max() < TOL
    assert np.abs(y2 - y).max() < TOL


@settings(max_examples=60, deadline=None)
@given(exps=stacks, ratio=st.floats(0.3, 3.0), rot=st.none() | st.floats(-180.0, 180.0))
def test_scale_and_rotation_follow_mergewcs(exps, ratio, rot):
    """``scale`` keeps the first pixel's centre and CRVAL; ``rot`` turns the grid about
    CRPIX and resizes it to just hold the default grid's outline (edges at ±0.5)."""
    w0, (ny0, nx0) = output_wcs(exps)
    # drizzlepac takes the ceiling of ratio × NAXIS: keep clear of integers (rounding)
    assume(min(abs(ratio * n - round(ratio * n)) for n in (nx0, ny0)) > 1e-6)
    scale = exps[0].chips[0].idcscale / ratio
    w, (ny, nx) = output_wcs(exps, scale, rot)
    assert np.sqrt(abs(np.linalg.det(w.wcs.cd))) * 3600.0 == pytest.approx(scale, rel=1e-12)
    np.testing.assert_array_equal(w.wcs.crval, w0.wcs.crval)
    if rot is None or rot == _orient(w0):  # no turn: the scale alone
        assert (nx, ny) == (int(np.ceil(ratio * nx0)), int(np.ceil(ratio * ny0)))
        sky = w0.wcs_pix2world([[1.0, 1.0]], 1)
        np.testing.assert_allclose(w.wcs_world2pix(sky, 1), [[1.0, 1.0]], atol=TOL)
        return
    assert _orient(w) == pytest.approx(rot, abs=1e-9)
    ex = np.array([-0.5, nx0 - 0.5, nx0 - 0.5, -0.5])
    ey = np.array([-0.5, -0.5, ny0 - 0.5, ny0 - 0.5])
    x, y = w.wcs_world2pix(*w0.wcs_pix2world(ex, ey, 0), 0)
    for v, n in ((x, nx), (y, ny)):
        assert v.min() == pytest.approx(-0.5, abs=TOL)
        assert n - 1.5 - TOL < v.max() <= n - 0.5 + TOL


def test_no_change_when_the_values_are_the_defaults():
    """A scale equal to IDCSCALE and a rotation equal to ORIENTAT leave the default grid."""
    exps = _stack(150.0, 2.2, 37.0, [(0, 0), (0.2, 0.3)], skew=0.4, gap=4.0)
    w0, s0 = output_wcs(exps)
    w, s = output_wcs(exps, exps[0].chips[0].idcscale, _orient(w0))
    assert s == s0
    np.testing.assert_array_equal(w.wcs.crpix, w0.wcs.crpix)
    np.testing.assert_array_equal(w.wcs.cd, w0.wcs.cd)


def test_shape_centres_crpix_and_center_sets_crval():
    """``shape`` puts CRPIX at ((n + 1) / 2); ``center`` replaces CRVAL and nothing else."""
    exps = _stack(10.0, -30.0, -100.0, [(0, 0), (1.0, 0.5)], gap=4.0)
    w0, s0 = output_wcs(exps)
    w, s = output_wcs(exps, shape=(81, 101))
    assert s == (81, 101)
    assert tuple(w.wcs.crpix) == (51.0, 41.0)
    np.testing.assert_array_equal(w.wcs.crval, w0.wcs.crval)
    w, s = output_wcs(exps, center=(10.001, -30.002))
    assert s == s0
    np.testing.assert_array_equal(w.wcs.crpix, w0.wcs.crpix)
    np.testing.assert_array_equal(w.wcs.crval, [10.001, -30.002])
    np.testing.assert_array_equal(w.wcs.cd, w0.wcs.cd)


def test_grid_across_ra_zero_is_small():
    """The centre is a mean of unit vectors: inputs either side of RA = 0 stay together."""
    exps = _stack(359.9999, 0.0, 0.0, [(0, 0), (1.5, 0.0)])
    _, (ny, nx) = output_wcs(exps)
    assert nx < 40 + 1.5 / 0.05 + 2
    assert ny < 62


def test_far_apart_inputs_are_refused():
    a = _stack(150.0, 2.0, 0.0, [(0, 0)])
    b = _stack(151.0, 3.0, 0.0, [(0, 0)])
    with pytest.raises(DitherlabValueError, match="the inputs do not overlap"):
        output_wcs(a + b)
    with pytest.raises(DitherlabValueError, match="final_outnx/final_outny"):
        output_wcs(a, shape=(30000, 20000))


@settings(max_examples=40, deadline=None)
@given(pa=st.floats(0.0, 360.0), theta=st.floats(-90.0, 90.0), dec=st.floats(-80.0, 80.0),
       camera=st.sampled_from([("ACS", "WFC", 180.0), ("WFC3", "UVIS", 0.0)]))  # fmt: skip
def test_orientation_from_the_roll_with_idc_keywords(pa, theta, dec, camera):
    """With IDCV2REF (real flt files) +y lies at the roll at the aperture plus IDCTHETA,
    turned by 180° where the detector's x runs along +V2 (ACS/WFC parity): for an aperture
    next to V1 the roll there is PA_V3 itself."""
    inst, det, flip = camera
    exps = _stack(150.0, dec, 0.0, [(0, 0)])
    exps[0].instrument, exps[0].detector = inst, det
    exps[0].chips[0].header = {"IDCV2REF": 1e-3, "IDCV3REF": 1e-3, "IDCTHETA": theta,
                               "PA_V3": pa}  # fmt: skip
    w, _ = output_wcs(exps)
    d = (_orient(w) - (pa + theta + flip) + 180.0) % 360.0 - 180.0
    assert abs(d) < 1e-5
