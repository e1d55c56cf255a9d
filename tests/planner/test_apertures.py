"""Aperture geometry: SIAF polynomials, POS TARG <-> pixel, prime + parallel, pysiaf bridge."""

import copy
import dataclasses
import pickle
import sys

import numpy as np
import pytest
from astropy import units as u
from hypothesis import given
from hypothesis import strategies as st

from ditherlab.errors import (
    ApertureNotFoundError,
    DitherlabError,
    DitherlabTypeError,
    DitherlabValueError,
    MissingDependencyError,
    OffChipError,
)
from ditherlab.planner import (
    Aperture,
    Pattern,
    aperture_provenance,
    available_apertures,
    from_pysiaf,
    get_aperture,
    parallel_offsets,
)
from ditherlab.planner.apertures import _registry

BUILTIN = tuple(_registry().apertures)
REQUIRED = (
    "JWFC1FIX",
    "JWFC2FIX",
    "JWFC",
    "JHRCFIX",
    "JSBCFIX",
    "IUVIS1FIX",
    "IUVIS2FIX",
    "IIRFIX",
    "UPC1FIX",
    "UWF2FIX",
    "UWF3FIX",
    "UWF4FIX",
)


def _postarg(*points):
    return Pattern(np.array(points, dtype=float), frame="postarg")


def _pixel(*points):
    return Pattern(np.array(points, dtype=float), frame="pixel")


# --------------------------------------------------------------------------------------
# lookup
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", REQUIRED)
def test_required_apertures_are_built_in(name):
    ap = get_aperture(name)
    assert ap.name == name
    assert ap.instrument in ("ACS", "WFC3", "WFPC2")
    assert ap.contains(*ap.reference_pixel)


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("acs-wfc1", "JWFC1FIX"),
        ("ACS/WFC2", "JWFC2FIX"),
        ("acs-wfc", "JWFC"),
        ("acs_hrc", "JHRCFIX"),
        ("acs-sbc", "JSBCFIX"),
        ("wfc3-uvis1", "IUVIS1FIX"),
        ("WFC3/UVIS2", "IUVIS2FIX"),
        ("wfc3-uvis", "IUVIS"),
        ("wfc3-ir", "IIRFIX"),
        ("wfpc2-pc1", "UPC1FIX"),
        ("WFPC2 WF3", "UWF3FIX"),
        ("jwfc1fix", "JWFC1FIX"),
        ("iirfix", "IIRFIX"),
    ],
)
def test_aliases_case_insensitive(alias, name):
    assert get_aperture(alias).name == name


def test_unknown_aperture_suggests_close_names():
    with pytest.raises(ApertureNotFoundError, match=r"'acs-wfc3'.*did you mean.*'acs-wfc'"):
        get_aperture("acs-wfc3")
    with pytest.raises(ApertureNotFoundError, match="JWFC1FIX"):
        get_aperture("JWFC1FX")
    with pytest.raises(DitherlabTypeError, match="name=3"):
        get_aperture(3)


def test_contract_attributes():
    ap = get_aperture("acs-wfc1")
    assert ap.name == "JWFC1FIX"
    assert (ap.instrument, ap.detector, ap.chip) == ("ACS", "WFC", 1)
    assert ap.shape == (2048, 4096)
    assert ap.reference_pixel == (2047.0, 1023.0)
    assert ap.poly_x.shape == ap.poly_y.shape == (5, 5)
    assert ap.vidl_parity == -1
    np.testing.assert_allclose(ap.pixel_scale, (0.04927, 0.04864), rtol=0, atol=5e-5)
    assert isinstance(ap, Aperture)
    assert dataclasses.is_dataclass(ap)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ap.name = "x"
    with pytest.raises(ValueError, match="read-only"):
        ap.poly_x[0, 0] = 1.0
    assert hash(ap) == hash(get_aperture("JWFC1FIX"))
    assert ap == get_aperture("JWFC1FIX")
    assert ap != get_aperture("JWFC2FIX")
    assert "JWFC1FIX" in repr(ap)


def test_copies_stay_read_only():
    ap = get_aperture("JWFC")
    for other in (pickle.loads(pickle.dumps(ap)), copy.deepcopy(ap), dataclasses.replace(ap)):
        assert other == ap
        assert not other.poly_x.flags.writeable
        assert other.postarg_to_sci(1.0, 2.0) == ap.postarg_to_sci(1.0, 2.0)


@pytest.mark.parametrize(
    ("name", "shape", "chip", "detector"),
    [
        ("JWFC2FIX", (2048, 4096), 2, "WFC"),
        ("JWFC", (2048, 4096), 1, "WFC"),
        ("JHRCFIX", (1024, 1024), 1, "HRC"),
        ("JSBCFIX", (1024, 1024), 1, "SBC"),
        ("IUVIS1FIX", (2051, 4096), 1, "UVIS"),
        ("IUVIS2FIX", (2051, 4096), 2, "UVIS"),
        ("IIRFIX", (1014, 1014), 1, "IR"),
        ("UPC1FIX", (800, 800), 1, "PC"),
        ("UWF2FIX", (800, 800), 2, "WF"),
        ("UWF4FIX", (800, 800), 4, "WF"),
    ],
)
def test_shapes_and_chips(name, shape, chip, detector):
    ap = get_aperture(name)
    assert (ap.shape, ap.chip, ap.detector) == (shape, chip, detector)


def test_chips_in_flt_extension_order():
    assert [a.name for a in get_aperture("JWFC1FIX").chips] == ["JWFC2FIX", "JWFC1FIX"]
    assert [a.name for a in get_aperture("JWFC").chips] == ["JWFC2FIX", "JWFC1FIX"]
    assert [a.chip for a in get_aperture("JWFC").chips] == [2, 1]
    assert [a.name for a in get_aperture("IUVIS").chips] == ["IUVIS2FIX", "IUVIS1FIX"]
    assert [a.name for a in get_aperture("IIR").chips] == ["IIRFIX"]
    ir = get_aperture("IIRFIX")
    assert ir.chips == (ir,)
    assert [a.name for a in get_aperture("UWF3FIX").chips] == [
        "UPC1FIX",
        "UWF2FIX",
        "UWF3FIX",
        "UWF4FIX",
    ]
    assert get_aperture("JWFC").chip_aperture.name == "JWFC1FIX"


def test_interchip_gaps():
    # ACS/WFC ~2.5" = ~50 px; WFC3/UVIS ~31 px (handbooks)
    assert get_aperture("JWFC1FIX").gap == pytest.approx(52, abs=3)
    assert get_aperture("JWFC2FIX").gap == pytest.approx(52, abs=3)
    assert get_aperture("IUVIS1FIX").gap == pytest.approx(31, abs=1.5)
    assert get_aperture("IIRFIX").gap == 0.0


def test_available_apertures_table():
    t = available_apertures()
    assert set(REQUIRED) <= set(t["name"])
    for col in ("aliases", "instrument", "detector", "chip", "nx", "ny", "x_ref", "scale_x"):
        assert col in t.colnames
    row = t[list(t["name"]).index("IIRFIX")]
    assert "wfc3-ir" in row["aliases"]
    assert (row["nx"], row["ny"]) == (1014, 1014)
    assert t["scale_x"].unit == u.arcsec / u.pix


def test_provenance():
    prov = aperture_provenance()
    assert prov["pysiaf_version"]
    assert prov["siaf_file"].startswith("siaf.dat")
    assert "regenerate_apertures.py" in prov["generated_by"]


# --------------------------------------------------------------------------------------
# published numbers
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("JWFC1FIX", (2.038, 1.871)),
        ("JWFC2FIX", (2.011, 1.850)),
        ("JHRCFIX", (3.535, 3.616)),
        ("JSBCFIX", (2.981, 3.001)),
        ("IUVIS1FIX", (2.529, 2.367)),
        ("IUVIS2FIX", (2.514, 2.352)),
        ("IIRFIX", (0.738, 0.824)),
        ("UPC1FIX", (2.196, 2.197)),
        ("UWF3FIX", (1.004, 1.005)),
    ],
)
def test_postarg_0p1_pixel_step_at_reference(name, expected):
    step = get_aperture(name).pixel_offsets(_postarg((0, 0), (0.1, 0.1)))
    np.testing.assert_allclose(step.offsets[1], expected, rtol=0, atol=6e-4)
    np.testing.assert_array_equal(step.offsets[0], (0.0, 0.0))
    assert step.frame == "pixel"


def test_acs_wfc_dither_box_pixel_to_postarg():
    # ACS-WFC-DITHER-BOX: (0,0) (5.0,1.5) (2.5,4.5) (-2.5,3.0) px = these POS TARGs at JWFC
    box = _pixel((0, 0), (5.0, 1.5), (2.5, 4.5), (-2.5, 3.0))
    post = get_aperture("JWFC").postarg_offsets(box)
    published = [(0, 0), (0.247, 0.094), (0.124, 0.232), (-0.124, 0.138)]
    np.testing.assert_allclose(post.offsets, published, rtol=0, atol=6e-4)
    assert post.frame == "postarg"
    # and back
    back = get_aperture("JWFC").pixel_offsets(post)
    np.testing.assert_allclose(back.offsets, box.offsets, rtol=0, atol=1e-8)


def test_acs_wfc_dither_line_5_60():
    # "shifts the image by 5 pixels in x and 60 in y": 2.994" at 85.27 deg, (0.247, 2.984)".
    ap = get_aperture("JWFC")
    # The published value is the linear (Jacobian) step at the reference point ...
    jac = ap.jacobian(*ap.reference_pixel)
    lin = jac @ np.array([5.0, 60.0])
    assert np.hypot(*lin) == pytest.approx(2.994, abs=5e-4)
    assert np.degrees(np.arctan2(lin[1], lin[0])) == pytest.approx(85.27, abs=0.005)
    # ... the full polynomial over a 60-px step differs by ~1.5 mas (second-order terms).
    post = ap.postarg_offsets(_pixel((0, 0), (5, 60))).offsets[1]
    assert np.hypot(*post) == pytest.approx(2.994, abs=2e-3)
    assert np.degrees(np.arctan2(post[1], post[0])) == pytest.approx(85.27, abs=0.02)


def test_wfc3_ir_pixel_area_ratio():
    pam = get_aperture("wfc3-ir").pixel_area_map()
    assert pam.shape == (1014, 1014)
    ratio = pam.max() / pam.min()
    assert ratio == pytest.approx(1.090, abs=0.003)  # IHB 1.090; SIAF 1.091 (10 px in)
    x0, y0 = get_aperture("wfc3-ir").reference_pixel
    assert pam[int(y0), int(x0)] == pytest.approx(1.0, abs=1e-12)


def test_pixel_area_map_step_and_range():
    ap = get_aperture("JWFC1FIX")
    coarse = ap.pixel_area_map(step=64)
    assert coarse.shape == (32, 64)
    # pysiaf, 10 px inside the corners: 0.915-1.069 of the WFC1 centre
    assert 0.90 < coarse.min() < 0.93
    assert 1.06 < coarse.max() < 1.08
    with pytest.raises(DitherlabValueError, match="step=0"):
        ap.pixel_area_map(step=0)


def test_pixel_area_map_full_shape_acs():
    pam = get_aperture("JWFC2FIX").pixel_area_map()
    assert pam.shape == (2048, 4096)
    coarse = get_aperture("JWFC2FIX").pixel_area_map(128)
    np.testing.assert_allclose(pam[::128, ::256], coarse[:, ::2], rtol=1e-12, atol=0)


# --------------------------------------------------------------------------------------
# inverse accuracy (hypothesis round trips over every chip)
# --------------------------------------------------------------------------------------
def _corners(ap):
    ny, nx = ap.shape
    return np.array([-0.5, nx - 0.5, nx - 0.5, -0.5]), np.array([-0.5, -0.5, ny - 0.5, ny - 0.5])


@pytest.mark.parametrize("name", BUILTIN)
@given(fx=st.floats(0, 1), fy=st.floats(0, 1))
def test_round_trip_sci_postarg_sci(name, fx, fy):
    """Every chip: sci -> postarg -> sci to 1e-4 px (edges included)."""
    ap = get_aperture(name)
    ny, nx = ap.shape
    x, y = -0.5 + fx * nx, -0.5 + fy * ny
    x2, y2 = ap.postarg_to_sci(*ap.sci_to_postarg(x, y))
    assert abs(x2 - x) < 1e-4
    assert abs(y2 - y) < 1e-4


@pytest.mark.parametrize("name", BUILTIN)
@given(s=st.floats(0, 1), t=st.floats(0, 1))
def test_round_trip_postarg_sci_postarg(name, s, t):
    """Every chip: a POS TARG inside the chip's outline -> sci -> POS TARG to 1e-4 px."""
    ap = get_aperture(name)
    X, Y = ap.sci_to_postarg(*_corners(ap))
    w = np.array([(1 - s) * (1 - t), s * (1 - t), s * t, (1 - s) * t])
    X0, Y0 = float(w @ X), float(w @ Y)
    x, y = ap.postarg_to_sci(X0, Y0)  # on or (edge curvature) within a few px of the chip
    X2, Y2 = ap.sci_to_postarg(x, y)
    scale = min(ap.pixel_scale)
    assert abs(X2 - X0) < 1e-4 * scale
    assert abs(Y2 - Y0) < 1e-4 * scale


@pytest.mark.parametrize("name", BUILTIN)
def test_inverse_on_grid_including_corners(name):
    ap = get_aperture(name)
    ny, nx = ap.shape
    gx, gy = np.meshgrid(np.linspace(-0.5, nx - 0.5, 41), np.linspace(-0.5, ny - 0.5, 41))
    x, y = ap.postarg_to_sci(*ap.sci_to_postarg(gx, gy))
    assert np.abs(x - gx).max() < 1e-6
    assert np.abs(y - gy).max() < 1e-6


def test_broadcasting_and_scalars():
    ap = get_aperture("IUVIS2FIX")
    X, Y = ap.sci_to_postarg(np.arange(5.0), 100.0)
    assert X.shape == Y.shape == (5,)
    x, y = ap.postarg_to_sci(1.0, 2.0)
    assert np.ndim(x) == 0
    assert np.ndim(y) == 0
    xq, yq = ap.postarg_to_sci(1000 * u.mas, 2 * u.arcsec)
    assert (xq, yq) == (x, y)
    with pytest.raises(DitherlabValueError, match="do not broadcast"):
        ap.sci_to_postarg(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_coordinates(bad):
    ap = get_aperture("JWFC1FIX")
    with pytest.raises(DitherlabValueError, match="x must be finite"):
        ap.sci_to_postarg(bad, 3.0)
    with pytest.raises(DitherlabValueError, match="Y must be finite"):
        ap.postarg_to_sci(0.0, [0.0, bad])
    with pytest.raises(DitherlabValueError, match="at="):
        ap.pixel_offsets(_postarg((0, 0)), at=(bad, 10))


def test_postarg_to_sci_reports_divergence():
    ap = get_aperture("JWFC1FIX")
    with pytest.raises(DitherlabValueError, match=r"did not converge for X=10000000.0"):
        ap.postarg_to_sci(1e7, 1e7)
    with pytest.raises(DitherlabValueError, match="did not converge"):
        ap.postarg_to_sci([0.0, 1e300], [0.0, -1e300])


def test_contains():
    ap = get_aperture("JHRCFIX")
    assert ap.contains(-0.5, -0.5)
    assert ap.contains(1023.5, 1023.5)
    assert not ap.contains(-0.51, 3)
    np.testing.assert_array_equal(ap.contains([0, 1024], [0, 0]), [True, False])


# --------------------------------------------------------------------------------------
# patterns at field positions
# --------------------------------------------------------------------------------------
def test_pixel_offsets_depend_on_field_position():
    ap = get_aperture("JWFC1FIX")
    p = _postarg((0, 0), (0.1, 0.1))
    centre = ap.pixel_offsets(p).offsets[1]
    corner = ap.pixel_offsets(p, at=(10, 10)).offsets[1]
    assert np.abs(corner - centre).max() > 0.02  # ACS/WFC scale varies by several %
    # reference table: x 2.00-2.10, y 1.85-1.91 over the four corners (10 px in)
    ny, nx = ap.shape
    for at in [(10, 10), (nx - 11, 10), (10, ny - 11), (nx - 11, ny - 11)]:
        dx, dy = ap.pixel_offsets(p, at=at).offsets[1]
        assert 1.99 < dx < 2.11
        assert 1.84 < dy < 1.92


def test_positive_postarg_moves_towards_plus_x_plus_y():
    for name in REQUIRED:
        ap = get_aperture(name)
        dx, dy = ap.pixel_offsets(_postarg((1.0, 0.0), (0.0, 1.0))).offsets
        assert dx[0] > 0
        assert dy[1] > 0


@given(
    st.sampled_from(BUILTIN),
    st.floats(0.01, 0.99),
    st.floats(0.01, 0.99),
    st.floats(-2, 2),
    st.floats(-2, 2),
)
def test_pixel_and_postarg_offsets_are_inverse(name, fx, fy, px, py):
    ap = get_aperture(name)
    ny, nx = ap.shape
    at = (fx * (nx - 1), fy * (ny - 1))
    p = _postarg((0, 0), (px, py))
    pix = ap.pixel_offsets(p, at=at)
    back = ap.postarg_offsets(pix, at=at)
    np.testing.assert_allclose(back.offsets, p.offsets, rtol=0, atol=1e-9)
    assert pix.meta["at"] == pytest.approx(at)
    assert pix.meta["aperture"] == name


def test_off_chip_position():
    ap = get_aperture("IIRFIX")
    with pytest.raises(OffChipError, match=r"at=\(1020, 5\).*1013\.5"):
        ap.pixel_offsets(_postarg((0, 0)), at=(1020, 5))
    with pytest.raises(OffChipError, match=r"at=\(-1, 5\)"):
        ap.postarg_offsets(_pixel((0, 0)), at=(-1, 5))
    assert issubclass(OffChipError, ValueError)


def test_wrong_pattern_frame():
    ap = get_aperture("JWFC")
    with pytest.raises(DitherlabValueError, match=r"frame='postarg'.*got.*frame='pixel'"):
        ap.pixel_offsets(_pixel((0, 0), (1, 1)))
    with pytest.raises(DitherlabValueError, match=r"frame='pixel'.*got.*frame='postarg'"):
        ap.postarg_offsets(_postarg((0, 0), (1, 1)))
    with pytest.raises(DitherlabTypeError, match="Pattern"):
        ap.pixel_offsets([[0, 0], [1, 1]])


def test_pattern_name_and_meta_kept():
    p = Pattern([[0, 0], [0.1, 0.2]], frame="postarg", name="demo", meta={"source": "test"})
    out = get_aperture("wfc3-uvis1").pixel_offsets(p)
    assert out.name == "demo"
    assert out.meta["source"] == "test"
    assert out.meta["aperture"] == "IUVIS1FIX"


# --------------------------------------------------------------------------------------
# telescope frame and prime + parallel
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BUILTIN)
def test_tel_round_trip(name):
    ap = get_aperture(name)
    rng = np.random.default_rng(3)
    X, Y = rng.uniform(-100, 100, (2, 50))
    v2, v3 = ap.idl_to_tel(X, Y)
    X2, Y2 = ap.tel_to_idl(v2, v3)
    np.testing.assert_allclose(X2, X, rtol=0, atol=1e-10)
    np.testing.assert_allclose(Y2, Y, rtol=0, atol=1e-10)
    assert ap.idl_to_tel(0, 0) == (ap.v2_ref, ap.v3_ref)
    x, y = ap.tel_to_sci(*ap.sci_to_tel(100.0, 200.0))
    assert (x, y) == (pytest.approx(100.0, abs=1e-8), pytest.approx(200.0, abs=1e-8))


def test_parallel_with_itself_is_pixel_offsets():
    p = _postarg((0, 0), (0.3, -0.2), (1.5, 2.0))
    ap = get_aperture("JWFC1FIX")
    at = (300.0, 1900.0)
    np.testing.assert_allclose(
        parallel_offsets(p, ap, ap, at=at).offsets,
        ap.pixel_offsets(p, at=at).offsets,
        rtol=0,
        atol=1e-8,
    )


def test_parallel_same_camera_other_chip_is_consistent():
    # a telescope move seen on WFC2 is the same sky shift: check through V2/V3 directly
    p = _postarg((0, 0), (2.0, 3.0))
    wfc2 = get_aperture("JWFC2FIX")
    out = parallel_offsets(p, "acs-wfc", "acs-wfc2").offsets[1]
    # for the same instrument and nearly the same V3IdlYAngle the step is ~ POS TARG / scale
    assert out[0] == pytest.approx(2.0 / wfc2.pixel_scale[0], rel=0.1)
    assert out[1] == pytest.approx(3.0 / wfc2.pixel_scale[1], rel=0.1)


def test_parallel_acs_prime_wfc3_parallel():
    # ACS V3IdlYAngle ~177.5 deg, WFC3 ~44.7 deg: a +X POS TARG of ACS moves WFC3 sources
    # along a direction rotated by ~133 deg (with both parities -1).
    p = _postarg((0, 0), (1.0, 0.0))
    for par in ("wfc3-uvis1", "wfc3-ir"):
        ap = get_aperture(par)
        step = parallel_offsets(p, "acs-wfc", par).offsets[1]
        X, Y = ap.sci_to_postarg(*(np.array(ap.reference_pixel) + step))
        assert np.hypot(X, Y) == pytest.approx(1.0, abs=1e-9)
        dangle = (np.degrees(np.arctan2(Y, X)) - 0.0) % 360
        expected = (get_aperture("JWFC").v3_idl_yangle - ap.v3_idl_yangle) % 360
        assert dangle == pytest.approx(expected, abs=1e-6)
    out = parallel_offsets(p, "acs-wfc", "wfc3-ir", at=(100, 900))
    assert out.frame == "pixel"
    assert out.meta["prime"] == "JWFC"
    assert out.meta["aperture"] == "IIRFIX"


def test_parallel_errors():
    with pytest.raises(OffChipError, match="at="):
        parallel_offsets(_postarg((0, 0)), "acs-wfc", "wfc3-ir", at=(2000, 10))
    with pytest.raises(DitherlabValueError, match="frame='postarg'"):
        parallel_offsets(_pixel((0, 0)), "acs-wfc", "wfc3-ir")
    with pytest.raises(ApertureNotFoundError):
        parallel_offsets(_postarg((0, 0)), "acs-wfc", "wfc3-irr")


# --------------------------------------------------------------------------------------
# pysiaf cross-checks (optional dependency)


def _offline_pysiaf():
    """pysiaf if installed (imported without its network version check), else skip."""
    import importlib.util

    if importlib.util.find_spec("pysiaf") is None:
        pytest.skip("pysiaf is not installed (optional: pip install ditherlab[siaf])")
    from ditherlab.planner.apertures import _import_pysiaf

    return _import_pysiaf()


# --------------------------------------------------------------------------------------
def test_from_pysiaf_without_pysiaf(monkeypatch):
    monkeypatch.setitem(sys.modules, "pysiaf", None)
    with pytest.raises(MissingDependencyError, match=r"pip install ditherlab\[siaf\]"):
        from_pysiaf("JWFC1FIX")
    assert issubclass(MissingDependencyError, ImportError)
    assert issubclass(MissingDependencyError, DitherlabError)


@pytest.fixture(scope="module")
def hst_siaf():
    pysiaf = _offline_pysiaf()
    return pysiaf.Siaf("HST")


@pytest.mark.parametrize("name", BUILTIN)
def test_sci_to_postarg_equals_pysiaf(hst_siaf, name):
    ap = get_aperture(name)
    sa = hst_siaf[name]
    rng = np.random.default_rng(7)
    ny, nx = ap.shape
    x = rng.uniform(-0.5, nx - 0.5, 200)
    y = rng.uniform(-0.5, ny - 0.5, 200)
    X, Y = ap.sci_to_postarg(x, y)
    xs, ys = ap.flt_to_siaf(x, y)
    Xs, Ys = sa.sci_to_idl(xs, ys)
    np.testing.assert_allclose(X, Xs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(Y, Ys, rtol=0, atol=1e-9)
    assert ap.siaf_reference_pixel == (sa.XSciRef, sa.YSciRef)
    v2, v3 = ap.idl_to_tel(X, Y)
    v2s, v3s = sa.idl_to_tel(Xs, Ys)
    np.testing.assert_allclose(v2, v2s, rtol=0, atol=1e-6)
    np.testing.assert_allclose(v3, v3s, rtol=0, atol=1e-6)
    Xt, Yt = ap.tel_to_idl(v2s + 3.0, v3s - 2.0)
    Xts, Yts = sa.tel_to_idl(v2s + 3.0, v3s - 2.0)
    np.testing.assert_allclose(Xt, Xts, rtol=0, atol=1e-6)
    np.testing.assert_allclose(Yt, Yts, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["JWFC1FIX", "JWFC2FIX"])
def test_inverse_beats_pysiaf_idl_to_sci_at_acs_corners(hst_siaf, name):
    ap = get_aperture(name)
    sa = hst_siaf[name]
    ny, nx = ap.shape
    cx = np.array([10.0, nx - 11.0, 10.0, nx - 11.0])
    cy = np.array([10.0, 10.0, ny - 11.0, ny - 11.0])
    X, Y = ap.sci_to_postarg(cx, cy)
    mine = np.hypot(*(np.array(ap.postarg_to_sci(X, Y)) - [cx, cy]))
    xs, ys = sa.idl_to_sci(X, Y)
    theirs = np.hypot(*(np.array(ap.siaf_to_flt(xs, ys)) - [cx, cy]))
    assert mine.max() < 1e-8
    assert theirs.max() > 1.0  # SIAF Idl2Sci is off by pixels at the WFC corners


def test_from_pysiaf_builtin_matches_table(hst_siaf):
    for name in ("JWFC", "IUVIS2FIX", "IIR", "UWF4FIX"):
        assert from_pysiaf(name) == get_aperture(name)
        assert from_pysiaf(name).chips == get_aperture(name).chips


def test_from_pysiaf_hst_subarray(hst_siaf):
    sub = from_pysiaf("JWFC1S2K")
    assert (sub.instrument, sub.detector, sub.chip, sub.shape) == ("ACS", "WFC", 1, (2048, 4096))
    assert sub.sci_offset == (25.0, 1.0)
    # same sky through the chip aperture
    v = np.array(sub.sci_to_tel(*sub.reference_pixel))
    w = np.array(get_aperture("JWFC1FIX").sci_to_tel(*sub.reference_pixel))
    np.testing.assert_allclose(v, w, rtol=0, atol=1e-3)


def test_from_pysiaf_jwst_and_roman(hst_siaf):
    nrc = from_pysiaf("NRCA1_FULL", instrument="NIRCam")
    assert nrc.observatory == "JWST"
    assert nrc.shape == (2048, 2048)
    assert nrc.reference_pixel == pytest.approx((1023.5, 1023.5), abs=1.0)
    np.testing.assert_allclose(nrc.pixel_scale, (0.0311, 0.0313), atol=3e-4)
    x, y = nrc.postarg_to_sci(*nrc.sci_to_postarg(5.0, 2040.0))
    assert (x, y) == (pytest.approx(5.0, abs=1e-6), pytest.approx(2040.0, abs=1e-6))
    wfi = from_pysiaf("WFI01_FULL", instrument="Roman")
    assert wfi.observatory == "Roman"
    assert wfi.shape[0] > 4000


def test_from_pysiaf_errors(hst_siaf):
    with pytest.raises(ApertureNotFoundError, match="JWFC1FIX"):
        from_pysiaf("JWFC1FIXX")
    with pytest.raises(DitherlabValueError, match="instrument='Kepler'"):
        from_pysiaf("JWFC1FIX", instrument="Kepler")


def test_from_pysiaf_jwst_matches_pysiaf(hst_siaf):
    pysiaf = _offline_pysiaf()
    sa = pysiaf.Siaf("NIRCam")["NRCB5_FULL"]
    ap = from_pysiaf("NRCB5_FULL", instrument="nircam")
    rng = np.random.default_rng(11)
    x, y = rng.uniform(0, 2047, (2, 100))
    X, Y = ap.sci_to_postarg(x, y)
    Xs, Ys = sa.sci_to_idl(x + 1, y + 1)  # JWST science frame is 1-based
    np.testing.assert_allclose(X, Xs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(Y, Ys, rtol=0, atol=1e-9)
    v2, v3 = ap.idl_to_tel(X, Y)
    v2s, v3s = sa.idl_to_tel(Xs, Ys)
    np.testing.assert_allclose(v2, v2s, rtol=0, atol=1e-6)
    np.testing.assert_allclose(v3, v3s, rtol=0, atol=1e-6)


def test_from_pysiaf_unknown_hst_detector_needs_shape(hst_siaf):
    with pytest.raises(DitherlabValueError, match=r"pass shape=\(ny, nx\)"):
        from_pysiaf("OVIS")
    stis = from_pysiaf("OVIS", shape=(1024, 1024))
    assert stis.instrument == "STIS"
    assert stis.shape == (1024, 1024)


# --------------------------------------------------------------------------------------
# hand-built apertures
# --------------------------------------------------------------------------------------
def _linear(**changes):
    kw = {
        "name": "TOY",
        "instrument": "TOY",
        "detector": "CCD",
        "chip": 1,
        "shape": (100, 200),
        "reference_pixel": (99.5, 49.5),
        "poly_x": [[0.0, 0.0], [0.1, 0.0]],
        "poly_y": [[0.0, 0.1], [0.01, 0.0]],
        "v2_ref": 10.0,
        "v3_ref": 20.0,
        "v3_idl_yangle": 30.0,
    }
    kw.update(changes)
    return Aperture(**kw)


def test_hand_built_linear_aperture():
    ap = _linear()
    assert ap.degree == 1
    assert ap.chips == (ap,)
    assert ap.gap == 0.0
    x, y = ap.postarg_to_sci(1.0, 1.0)
    # X = 0.1 dx, Y = 0.01 dx + 0.1 dy
    assert (x, y) == (pytest.approx(109.5), pytest.approx(49.5 + 9.0))
    np.testing.assert_allclose(ap.pixel_area_map(), 1.0, rtol=0, atol=1e-12)
    assert ap.sci_to_postarg(100 * u.pix, 49.5)[0] == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"poly_x": [[0.0, 0.0], [0.0, 0.0]]}, "singular"),
        ({"poly_x": [[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0, 0, 0]]}, "square"),
        ({"shape": (0, 10)}, "shape=0"),
        ({"vidl_parity": 2}, "vidl_parity=2"),
        ({"reference_pixel": (np.nan, 1.0)}, "reference_pixel"),
        ({"chip": 0}, "chip=0"),
    ],
)
def test_hand_built_aperture_validation(changes, match):
    with pytest.raises(DitherlabError, match=match):
        _linear(**changes)


def test_pixel_quantity_units():
    ap = get_aperture("JSBCFIX")
    with pytest.raises(DitherlabValueError, match="x="):
        ap.sci_to_postarg(3 * u.arcsec, 0)
    out = ap.pixel_offsets(_postarg((0, 0)), at=[10, 20] * u.pix)
    assert out.meta["at"] == (10.0, 20.0)


def test_pysiaf_is_imported_without_network(monkeypatch):
    import importlib.util
    import socket

    if importlib.util.find_spec("pysiaf") is None:
        pytest.skip("pysiaf is not installed")
    monkeypatch.delitem(sys.modules, "pysiaf", raising=False)
    for mod in [m for m in sys.modules if m.startswith("pysiaf.")]:
        monkeypatch.delitem(sys.modules, mod)

    def no_network(*args, **kwargs):
        raise AssertionError("pysiaf tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    from ditherlab.planner.apertures import _import_pysiaf

    assert _import_pysiaf().Siaf("HST")["JWFC1FIX"].V2Ref > 0
