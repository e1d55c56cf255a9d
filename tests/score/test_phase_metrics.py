"""Phase-coverage metrics: exact values for designed patterns, invariances by hypothesis."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ditherlab.planner import subpixel
from ditherlab.score import (
    ETA_CAP,
    correlated_noise_ratio,
    covering_radius,
    noise_amplification,
    phase_metrics,
    weight_uniformity,
)

offsets = st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50)), min_size=4, max_size=12).map(
    np.array
)


@given(
    nx=st.integers(1, 4), ny=st.integers(1, 4), shift=st.tuples(st.floats(-9, 9), st.floats(-9, 9))
)
def test_interlaced_grid_has_eta_one(nx, ny, shift):
    g = np.array([(i / nx, j / ny) for i in range(nx) for j in range(ny)]) + shift
    # single-precision trigonometry: good to ~1e-6
    assert noise_amplification(g, (nx, ny)) == pytest.approx(1.0, rel=1e-6)


@given(off=offsets, shift=st.tuples(st.integers(-20, 20), st.integers(-20, 20)))
def test_eta_at_least_one_and_invariant(off, shift):
    eta = noise_amplification(off, (2, 2))
    assert eta >= 1 - 1e-9
    # a common sub-pixel shift, integer steps and a reordering change nothing
    common = np.array([0.37, 0.11])
    moved = off + common + np.asarray(shift, float)
    perm = moved[::-1]
    for other in (moved, perm):
        e2 = noise_amplification(other, (2, 2))
        if eta < 9:  # well conditioned: equal to rounding
            assert e2 == pytest.approx(eta, rel=1e-5)  # single-precision sums
        else:  # near-degenerate or degenerate stays so
            assert e2 > 8


def test_designed_patterns():
    assert noise_amplification(subpixel(4), (2, 2)) == pytest.approx(1.0)
    assert noise_amplification(subpixel(9), (3, 3)) == pytest.approx(1.0)
    assert noise_amplification(subpixel(8), (2, 2)) == pytest.approx(1.0)
    assert noise_amplification(subpixel(2), (2, 2)) == ETA_CAP  # 2 frames cannot make 2x2
    # a box whose phases drifted by 0.1 px is worse than the ideal box
    drifted = subpixel(4).offsets * 1.03
    assert 1.0 < noise_amplification(drifted, (2, 2)) < 2.0
    # repeated phases (CR-SPLIT at one pointing) are degenerate
    assert noise_amplification(np.zeros((4, 2)), (2, 2)) == ETA_CAP


def test_covering_radius_known_values():
    assert covering_radius([[0, 0]]) == pytest.approx(np.sqrt(2) / 2, abs=1e-12)
    assert covering_radius(subpixel(4)) == pytest.approx(np.sqrt(2) / 4, abs=1e-12)
    assert covering_radius(subpixel(2)) == pytest.approx(0.5, abs=1e-12)
    assert covering_radius(subpixel(9)) == pytest.approx(np.sqrt(2) / 6, abs=1e-12)


@given(off=offsets)
def test_more_frames_never_cover_worse(off):
    assert covering_radius(off) <= covering_radius(off[:-1]) + 1e-12


def test_phase_metrics_gaps():
    m = phase_metrics(subpixel(4))
    assert m["gap_x"] == pytest.approx(0.5)
    assert m["gap_y"] == pytest.approx(0.5)
    assert m["n_distinct"] == 4
    assert phase_metrics(subpixel(3))["gap_x"] == pytest.approx(1 / 3)


def test_correlated_noise_ratio_published_values():
    # Casertano et al. 2000 / DrizzlePac: R = 1.662 at p=0.6, s=0.5; 1.364 at p=0.8, s=1
    assert correlated_noise_ratio(0.6, 0.5) == pytest.approx(1.662, abs=5e-4)
    assert correlated_noise_ratio(0.8, 1.0) == pytest.approx(1.364, abs=5e-4)
    assert correlated_noise_ratio(1.0, 1.0) == pytest.approx(1.5)
    # continuous at r = 1 and → 1 as the drop shrinks
    assert correlated_noise_ratio(0.5 + 1e-9, 0.5) == pytest.approx(1.5, rel=1e-6)
    assert correlated_noise_ratio(1e-6, 1.0) == pytest.approx(1.0, abs=1e-6)


def test_weight_uniformity():
    rng = np.random.default_rng(3)
    w = np.zeros((100, 100))
    w[10:90, 10:90] = 1 + 0.1 * rng.standard_normal((80, 80))
    m = weight_uniformity(w)
    assert m["rms_over_median"] == pytest.approx(0.1, rel=0.1)
    assert m["holes"] == 0
    assert weight_uniformity(np.zeros((5, 5)))["holes"] == 1.0


def test_bad_inputs_name_the_argument():
    from ditherlab.errors import DitherlabTypeError, DitherlabValueError
    from ditherlab.score import phase_coverage

    with pytest.raises(DitherlabValueError, match="oversample"):
        noise_amplification(subpixel(4), (2, 2, 2))
    with pytest.raises(DitherlabValueError, match="at least one offset"):
        covering_radius(np.zeros((0, 2)))
    with pytest.raises(DitherlabTypeError, match="pattern must be a numeric array"):
        phase_coverage("not a pattern", "acs-wfc1")
    with pytest.raises(DitherlabValueError, match=r"grid\[0\]=0"):
        phase_coverage(subpixel(4), "acs-wfc1", grid=0)


def test_phase_coverage_of_pixel_pattern_is_its_postargs_at_the_reference():
    from ditherlab.planner import get_aperture
    from ditherlab.score import phase_coverage

    ap = get_aperture("wfc3-uvis1")
    pix = subpixel(4, step=(10, 10))
    a = phase_coverage(pix, ap, grid=3)
    b = phase_coverage(ap.postarg_offsets(pix), ap, grid=3)
    np.testing.assert_allclose(a.eta, b.eta, rtol=1e-12)
