"""evaluate(): simulate -> pipeline -> measure against the truth."""

import numpy as np
import pytest

from ditherlab.drizzle.pipeline import PipelineConfig
from ditherlab.errors import DitherlabValueError
from ditherlab.planner import cr_loss_fraction
from ditherlab.score.compare import compare
from ditherlab.score.evaluate import SCORES, evaluate
from ditherlab.simulate import detector_model


@pytest.fixture(scope="module")
def uvis4():
    return evaluate(4, "wfc3-uvis", exptime=600.0, realisations=2, rng=5, size=96)


def test_scores_are_physical(uvis4):
    d = uvis4.to_dict()
    model = detector_model("WFC3", "UVIS")
    # the planner's analytic p^N beside the measurement
    assert d["cr_lost_analytic"] == pytest.approx(cr_loss_fraction(2400.0, 4, model.cr_rate))
    # cosmic rays hit about rate x t of the pixels in each exposure (the simulator's model)
    assert d["cr_hit_fraction"] == pytest.approx(model.cr_rate * 600.0, rel=0.35)
    # the recommended drizzle leaves no holes and a uniform weight map (DrizzlePac rule)
    assert d["holes"] == 0
    assert d["weight_rms_over_median"] <= 0.2
    # most cosmic-ray pixels are found from the data, few clean pixels are flagged
    assert d["cr_flagged"] > 0.5
    assert d["false_rejections"] < 0.01
    assert 0 <= d["cr_charge_left"] < 0.5
    # stars: sub-pixel centroids, a PSF a few output pixels wide
    assert d["n_stars"] >= 3
    assert d["centroid_error"] < 0.25 * 0.04  # a quarter of a native UVIS pixel
    assert 0.05 < d["fwhm"] < 0.2
    # the measured noise correlation is near the formula R(p, s)
    assert d["noise_ratio"] == pytest.approx(d["noise_ratio_formula"], rel=0.15)


def test_spread_over_realisations_and_tables(uvis4):
    assert len(uvis4.per_realisation) == 2
    t = uvis4.to_table()
    assert list(t["score"]) == list(SCORES)
    assert np.all(np.asarray(t["std"]) >= 0)
    # independent draws: the cosmic rays differ between realisations
    hits = np.asarray(uvis4.per_realisation["cr_hit_fraction"])
    assert hits[0] != hits[1]
    assert uvis4.sci.shape == uvis4.wht.shape


def test_same_seed_same_scores():
    a = evaluate(2, "wfc3-ir", exptime=300.0, rng=7, size=64).to_dict()
    b = evaluate(2, "wfc3-ir", exptime=300.0, rng=7, size=64).to_dict()
    np.testing.assert_equal(a, b)  # NaN == NaN here: WFC3/IR flt files carry no CRs


def test_given_pipeline_parameters_are_used():
    cfg = PipelineConfig.for_instrument("WFC3", "IR", "2024-01-01", final_scale=0.0667,
                                        final_pixfrac=1.0)
    r = evaluate(4, "wfc3-ir", exptime=300.0, rng=2, size=64, pipeline=cfg)
    assert (r.final_scale, r.final_pixfrac) == (0.0667, 1.0)


def test_compare_with_products_adds_columns():
    t = compare([4], "wfc3-ir", total_exptime=1200, grid=2, products=True,
                evaluate_kwargs={"size": 64, "rng": 1})
    assert "product_holes" in t.colnames
    assert "product_phot_error" in t.colnames
    assert t.meta["products"][0].exptime == pytest.approx(300.0)


def test_bad_input():
    with pytest.raises(DitherlabValueError, match="realisations"):
        evaluate(4, "wfc3-ir", exptime=100.0, realisations=0)
    with pytest.raises(DitherlabValueError, match="exptime"):
        evaluate(4, "wfc3-ir", exptime=0.0)
    with pytest.raises(DitherlabValueError, match="pipeline"):
        evaluate(4, "wfc3-ir", exptime=100.0, pipeline="fast")
