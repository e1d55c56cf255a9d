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
    # the pipeline's masks, scored as score.crmask scores them (one definition): most CR
    # pixels above 5 sigma found, few CR-free pixels flagged, little significant charge left
    assert d["cr_flagged"] > 0.85
    assert d["false_rejections"] < 0.002
    assert 0 <= d["cr_charge_left"] < 0.15
    assert 0 <= d["cr_core_flagged"] <= 1
    assert d["cr_core_pixels"] > 0  # the default scene has stars above 100 sigma (mean of 2)
    # 4 x 600 s: p^N ~ 2e-8, so no sky point is lost, with either set of masks
    assert d["cr_lost_measured"] == d["cr_lost_pipeline"] == 0
    assert abs(d["phot_bias"]) <= d["phot_error"]
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
    assert uvis4.sci.shape == uvis4.wht.shape == uvis4.truth.shape


def test_result_carries_the_last_realisation(uvis4):
    from ditherlab.score.crmask import score_exposures

    # the products and exposures are those the scores were measured on
    assert len(uvis4.exposures) == uvis4.n_exposures == len(uvis4.products.cr_masks)
    np.testing.assert_array_equal(uvis4.sci, uvis4.products.sci)
    assert uvis4.exposures[0].truth is not None
    # with no common-area restriction the masks score at least as many CR pixels
    whole = score_exposures(uvis4.products.cr_masks, uvis4.exposures)
    last = uvis4.per_realisation[-1]
    assert whole.n_significant > 0
    assert 0 <= last["cr_flagged"] <= 1
    assert whole.recall_significant == pytest.approx(last["cr_flagged"], abs=0.1)


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
    with pytest.raises(DitherlabValueError, match="core_sigma"):
        evaluate(4, "wfc3-ir", exptime=100.0, core_sigma=-1)
    with pytest.raises(DitherlabValueError, match="pipeline"):
        evaluate(4, "wfc3-ir", exptime=100.0, pipeline="fast")


def test_holes_are_counted_where_no_good_input_lands():
    """A tiny drop on a fine grid leaves output pixels no input reaches: holes > 0 (the
    INDEF fill gives zero-weight pixels a value; holes are judged by the weight)."""
    cfg = PipelineConfig.for_instrument("WFC3", "UVIS", "2024-01-01").replace(
        final_scale=0.02, final_pixfrac=0.1)
    d = evaluate(2, "wfc3-uvis", exptime=300.0, rng=2, size=64, pipeline=cfg).to_dict()
    assert d["holes"] > 0.2  # two drops of 0.1 px on 0.5 px output pixels cover little
    full = evaluate(2, "wfc3-uvis", exptime=300.0, rng=2, size=64,
                    pipeline=cfg.replace(final_pixfrac=1.0)).to_dict()
    assert full["holes"] < d["holes"]
