"""Sub-pixel pattern families and the Pattern type."""

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ditherlab.errors import DitherlabTypeError, DitherlabValueError
from ditherlab.planner import Pattern, cross, hot_pixel, line, subpixel

H, T, Q = F(1, 2), F(1, 3), F(1, 4)
EXPECTED_PHASES = {
    2: {(0, 0), (H, H)},
    3: {(0, 0), (T, T), (2 * T, 2 * T)},
    4: {(0, 0), (0, H), (H, H), (H, 0)},
    6: {(0, 0), (H, 0), (T, T), (T + H, T), (2 * T, 2 * T), (2 * T + H - 1, 2 * T)},
    8: {(0, 0), (0, H), (H, H), (H, 0), (Q, Q), (Q, 3 * Q), (3 * Q, 3 * Q), (3 * Q, Q)},
    9: {(F(i, 3), F(j, 3)) for i in range(3) for j in range(3)},
}

integers = st.integers(min_value=-12, max_value=12)


def _as_set(phases):
    return {(round(float(x), 9), round(float(y), 9)) for x, y in phases}


@pytest.mark.parametrize("n", sorted(EXPECTED_PHASES))
@given(n_=integers, m_=integers, a=integers, b=integers)
def test_subpixel_phases_independent_of_integer_steps(n, n_, m_, a, b):
    p = subpixel(n, step=(n_, m_), secondary_step=(a, b))
    assert len(p) == n
    assert p.frame == "pixel"
    assert _as_set(p.phases()) == _as_set(EXPECTED_PHASES[n])
    # the phases are distinct: no exposure repeats another's sampling
    assert len(_as_set(p.phases())) == n
    np.testing.assert_array_equal(p.offsets[0], [0.0, 0.0])
    # the whole-pixel parts are integers
    np.testing.assert_allclose(p.integer_steps(), np.round(p.integer_steps()), rtol=0, atol=1e-9)


@given(
    n=st.sampled_from(sorted(EXPECTED_PHASES)),
    sx=st.floats(-20, 20),
    sy=st.floats(-20, 20),
)
def test_fractional_steps_are_refused(n, sx, sy):
    # `plan --pattern 4 --step 0.5 0.5` gave a "4-point box" with every phase 0
    if sx.is_integer() and sy.is_integer():
        return
    with pytest.raises(DitherlabValueError, match="must be whole pixels"):
        subpixel(n, step=(sx, sy))
    with pytest.raises(DitherlabValueError, match=r"secondary_step=.*whole pixels"):
        subpixel(n, secondary_step=(sx, sy))
    if not sx.is_integer():
        with pytest.raises(DitherlabValueError, match="whole pixels"):
            line(2, step=sx)


@given(
    n=st.sampled_from(sorted(EXPECTED_PHASES)),
    sx=st.integers(-20, 20),
    sy=st.integers(-20, 20),
)
def test_phases_are_offsets_mod_one(n, sx, sy):
    p = subpixel(n, step=(float(sx), float(sy)))
    ph = p.phases()
    assert np.all((ph >= 0) & (ph < 1))
    # offsets − phases is whole pixels
    k = p.offsets - ph
    np.testing.assert_allclose(k, np.round(k), rtol=0, atol=1e-9)


def test_handbook_four_point_box():
    # DrizzlePac Handbook §2.2: (0,0), (0,m+½), (n+½,m+½), (n+½,0)
    p = subpixel(4, step=(5, 7))
    np.testing.assert_array_equal(p.offsets, [[0, 0], [0, 7.5], [5.5, 7.5], [5.5, 0]])


def test_handbook_two_point_and_three_point():
    np.testing.assert_array_equal(subpixel(2, step=(6, 8)).offsets, [[0, 0], [6.5, 8.5]])
    p3 = subpixel(3, step=(0, 0))
    np.testing.assert_allclose(p3.offsets, [[0, 0], [1 / 3, 1 / 3], [2 / 3, 2 / 3]])


def test_six_point_secondary_runs_along_x():
    p = subpixel(6, step=(2, 2), secondary_step=(1, 5))
    d = p.offsets[1::2] - p.offsets[0::2]
    np.testing.assert_allclose(d, [[1.5, 0]] * 3)


def test_cross_is_primary_major():
    prim = Pattern([[0, 0], [10, 0]], name="P")
    sec = Pattern([[0, 0], [0, 1], [0, 2]], name="S")
    c = cross(prim, sec)
    assert len(c) == 6
    np.testing.assert_array_equal(c.offsets[:3, 0], [0, 0, 0])
    np.testing.assert_array_equal(c.offsets[3:, 1], [0, 1, 2])
    assert c == prim.cross(sec)
    assert c.name == "P × S"


def test_cross_rejects_mixed_frames():
    with pytest.raises(DitherlabValueError, match="cannot cross"):
        cross(Pattern([[0, 0]]), Pattern([[0, 0]], frame="postarg"))


def test_line_and_hot_pixel():
    assert line(2, step=4).offsets.tolist() == [[0, 0], [0, 4.5]]
    lx = line(4, step=1, axis="x")
    assert _as_set(lx.phases()) == _as_set({(0, 0), (Q, 0), (H, 0), (3 * Q, 0)})
    hp = hot_pixel(3, step=(2, 1))
    assert np.all(hp.phases() == 0)
    box = hot_pixel(4, step=(3, 3), shape="box")
    assert box.offsets.tolist() == [[0, 0], [0, 3], [3, 3], [3, 0]]
    with pytest.raises(DitherlabValueError, match="whole pixels"):
        hot_pixel(2, step=(2.5, 2))
    with pytest.raises(DitherlabValueError, match=r"npoints=3 is not one of \(4,\)"):
        hot_pixel(3, shape="box")


@pytest.mark.parametrize("bad", [1, 5, 7, 10, 0, -2])
def test_subpixel_rejects_unknown_npoints(bad):
    with pytest.raises(DitherlabValueError, match=rf"npoints={bad} is not one of"):
        subpixel(bad)


@pytest.mark.parametrize("step", [(np.nan, 1), (1, np.inf), "three"])
def test_subpixel_rejects_bad_steps(step):
    with pytest.raises((DitherlabValueError, DitherlabTypeError), match="step="):
        subpixel(4, step=step)


def test_pattern_is_immutable_and_hashable():
    p = subpixel(4)
    with pytest.raises(ValueError, match="read-only"):
        p.offsets[0, 0] = 3
    with pytest.raises(AttributeError):
        p.name = "other"
    assert hash(p) == hash(subpixel(4))
    assert p == subpixel(4)
    assert p != subpixel(4, step=(2, 2))
    assert {p: 1}[subpixel(4)] == 1


def test_pattern_container_and_reprs():
    p = subpixel(2, step=(1, 1))
    assert list(p) == [(0.0, 0.0), (1.5, 1.5)]
    assert p[1] == (1.5, 1.5)
    assert "2-point sub-pixel" in repr(p)
    assert "(1.5, 1.5)" in repr(p)
    html = p._repr_html_()
    assert "<table>" in html
    assert "0.500" in html
    t = p.to_table()
    assert t.colnames == ["exposure", "x", "y", "phase_x", "phase_y"]
    assert str(t["x"].unit) == "pix"


def test_pattern_validation():
    with pytest.raises(DitherlabValueError, match=r"offsets must have shape \(N, 2\)"):
        Pattern([1, 2, 3])
    with pytest.raises(DitherlabValueError, match="at least one point"):
        Pattern(np.zeros((0, 2)))
    with pytest.raises(DitherlabValueError, match="frame='sky'"):
        Pattern([[0, 0]], frame="sky")
    with pytest.raises(DitherlabValueError, match="phases"):
        Pattern([[0, 0]], frame="postarg").phases()


def test_centered_has_zero_mean():
    c = subpixel(9).centered()
    np.testing.assert_allclose(c.offsets.mean(axis=0), 0, atol=1e-12)


def test_pattern_names_and_meta_are_checked():
    with pytest.raises(DitherlabValueError, match="line breaks"):
        Pattern([[0, 0]], name="two\nlines")
    with pytest.raises(DitherlabTypeError, match="meta="):
        Pattern([[0, 0]], meta=[1, 2])


def test_line_step_is_a_single_number():
    with pytest.raises((DitherlabValueError, DitherlabTypeError), match="step="):
        line(2, step=(3, 7))
