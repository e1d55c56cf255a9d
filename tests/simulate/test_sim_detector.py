"""Detector models and effects, tested by statistics."""

import numpy as np
import pytest

from ditherlab.errors import DitherlabTypeError, DitherlabValueError
from ditherlab.planner import cr_loss_fraction
from ditherlab.simulate import (
    cosmic_rays,
    cr_rate_from_flux,
    dark_rate,
    detector_model,
    make_defects,
    saturate,
)
from ditherlab.simulate.detector import (
    DEFECT_HOT,
    DEFECT_UNSTABLE,
    DEFECT_VARIABLE,
    DEFECT_WARM,
)


@pytest.mark.parametrize(
    ("instrument", "detector", "exptime"),
    [
        ("ACS", "WFC", 500.0),
        ("ACS", "WFC", 1000.0),
        ("WFPC2", "WF", 1000.0),
        ("WFC3", "UVIS", 2000.0),
    ],
)
def test_cr_pixel_fraction_matches_the_configured_rate(instrument, detector, exptime):
    """Over many frames the CR pixel fraction is within 10 % of rate x exptime."""
    m = detector_model(instrument, detector)
    rng = np.random.default_rng(11)
    fractions = [(cosmic_rays((256, 512), m, exptime, rng) > 0).mean() for _ in range(12)]
    measured = float(np.mean(fractions))
    expected = m.cr_rate * exptime
    assert measured == pytest.approx(expected, rel=0.10)
    # in fact much closer: the calibration is exact in expectation
    assert measured == pytest.approx(expected, rel=0.04)


def test_wfpc2_default_rate_is_the_seed_table_rate():
    m = detector_model("WFPC2", "WF")
    assert m.cr_percent_per_1000s == pytest.approx(3.2020833, rel=1e-6)
    acs = detector_model("ACS", "WFC")
    assert 1.5 <= acs.cr_percent_per_1000s <= 3.0


@pytest.mark.parametrize(("n", "shape", "nframes"), [(2, (512, 512), 2), (3, (1024, 1024), 3)])
def test_cr_loss_of_simulated_stacks_matches_the_planner(n, shape, nframes):
    """Pixels hit in all N exposures of a 3000 s split: the planner's p**N (seed table)."""
    m = detector_model("WFPC2", "WF")
    total = 3000.0
    expected = float(cr_loss_fraction(total, n, rate=m.cr_rate))
    rng = np.random.default_rng(100 + n)
    lost = []
    for _ in range(nframes):
        hit_all = np.ones(shape, bool)
        for _ in range(n):
            hit_all &= cosmic_rays(shape, m, total / n, rng) > 0
        lost.append(hit_all.mean())
    measured = float(np.mean(lost))
    npix = shape[0] * shape[1] * nframes
    # Poisson error of the count of lost pixels, doubled for the clustering of footprints
    sigma = 2.0 * np.sqrt(expected * npix) / npix
    assert abs(measured - expected) < 4 * sigma, (measured, expected)
    # and the single-exposure fraction is the table's p_single
    assert m.cr_fraction(total / n) == pytest.approx(0.0960625 / n, rel=1e-6)


def test_cr_rate_from_flux_round_trip():
    m = detector_model("ACS", "WFC")
    flux = m.cr_event_flux
    assert 0.5 < flux < 5.0  # events per cm2 per s: the handbook's 1.5-3 range order
    assert cr_rate_from_flux(flux, m) == pytest.approx(m.cr_rate)


def test_cosmic_rays_are_deterministic_and_zero_rate_gives_nothing():
    m = detector_model("ACS", "WFC")
    a = cosmic_rays((64, 64), m, 800.0, rng=3)
    b = cosmic_rays((64, 64), m, 800.0, rng=3)
    assert np.array_equal(a, b)
    assert not cosmic_rays((64, 64), m.replace(cr_rate=0.0), 800.0, rng=3).any()
    with pytest.raises(DitherlabValueError, match="exptime"):
        cosmic_rays((8, 8), m, -1.0)


def test_defects_fractions_flags_and_reference_dark():
    m = detector_model("ACS", "WFC")
    d = make_defects((400, 500), m, rng=7)
    code = d.code
    for bit, frac in (
        (DEFECT_HOT, m.hot_fraction),
        (DEFECT_WARM, m.warm_fraction),
        (DEFECT_UNSTABLE, m.unstable_fraction),
        (DEFECT_VARIABLE, m.variable_fraction),
    ):
        assert ((code & bit) != 0).mean() == pytest.approx(frac, rel=0.25)
    dq = d.dq(m)
    assert np.all(dq[(code & DEFECT_HOT) != 0] & 16)
    assert np.all(dq[(code & DEFECT_WARM) != 0] & 64)
    assert np.all(dq[(code & DEFECT_UNSTABLE) != 0] & 32)
    # the flickering hot pixels are NOT flagged: only dithering removes them
    var = code == DEFECT_VARIABLE
    assert var.any()
    assert not dq[var].any()
    hot_rates = d.rate[(code & DEFECT_HOT) != 0]
    assert hot_rates.min() >= 0.14
    assert hot_rates.max() <= 2.0
    warm_rates = d.rate[(code & DEFECT_WARM) != 0]
    assert warm_rates.min() >= 0.06
    assert warm_rates.max() <= 0.14
    actual, reference = dark_rate(d, m, rng=1)
    # stable hot pixels are subtracted exactly; variable ones are not in the reference
    stable = (code & (DEFECT_HOT | DEFECT_WARM)) != 0
    assert np.array_equal(actual[stable], reference[stable])
    assert np.all(reference[var] == np.float32(m.dark))
    on = actual[var] > np.float32(m.dark)
    assert 0.2 < on.mean() < 0.8
    assert np.all(actual[code == 0] == np.float32(m.dark))


def test_saturate_bleeds_along_columns_and_flags():
    m = detector_model("ACS", "WFC")
    fw = m.full_well
    charge = np.zeros((40, 3))
    charge[20, 1] = 6.3 * fw
    charge[21, 1] = 1.2 * fw
    charge[5, 2] = 0.5 * fw
    out, sat = saturate(charge, m)
    assert out.sum() == pytest.approx(charge.sum())  # charge is conserved
    assert out.max() <= fw
    trail = np.flatnonzero(sat[:, 1])
    assert trail.size == 8  # 7.5 full wells fill 8 pixels (two ends partly)
    assert np.all(np.diff(trail) == 1)
    assert trail.min() <= 20
    assert trail.max() >= 21
    assert not sat[:, [0, 2]].any()
    assert out[5, 2] == 0.5 * fw
    ir = detector_model("WFC3", "IR")
    c2, s2 = saturate(np.array([[1.0, ir.full_well, 3 * ir.full_well]]), ir)
    assert c2.tolist() == [[1.0, ir.full_well, ir.full_well]]
    assert s2.tolist() == [[False, True, True]]


def test_detector_model_errors():
    with pytest.raises(DitherlabValueError, match="instrument='NIRCAM'"):
        detector_model("NIRCAM", "A1")
    with pytest.raises(DitherlabTypeError):
        detector_model(3, "WFC")
    with pytest.raises(DitherlabValueError, match="read_noise"):
        detector_model("ACS", "WFC", read_noise=-1.0)
    with pytest.raises(DitherlabValueError, match="gain"):
        detector_model("ACS", "WFC").replace(gain=0.0)
