"""CR masks scored against the truth (ditherlab.score.crmask)."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ditherlab.errors import DitherlabValueError
from ditherlab.score.crmask import (
    CRMaskScore,
    mask_agreement,
    pixel_sigma,
    score_cr_mask,
    score_exposures,
)

shape = st.tuples(st.integers(1, 12), st.integers(1, 12))


@st.composite
def chips(draw):
    sh = draw(shape)
    charge = draw(arrays(float, sh, elements=st.sampled_from([0.0, 0.0, 0.0, 3.0, 40.0, 900.0])))
    noiseless = draw(arrays(float, sh, elements=st.floats(0.0, 2e5)))
    defects = draw(arrays(np.uint8, sh, elements=st.sampled_from([0, 0, 0, 1])))
    found = draw(arrays(bool, sh))
    return found, charge, noiseless, defects


@given(chips(), st.floats(0.0, 10.0))
def test_perfect_and_empty_masks(chip, rn):
    _, charge, noiseless, defects = chip
    perfect = score_cr_mask(charge > 0, charge, noiseless, rn, defects=defects)
    assert perfect.found_cr == perfect.n_cr
    assert perfect.false_flags == 0
    assert perfect.core_flags == 0
    assert perfect.charge_left == 0.0
    empty = score_cr_mask(np.zeros_like(charge, bool), charge, noiseless, rn, defects=defects)
    assert empty.found_cr == 0
    assert empty.found_significant == 0
    assert empty.charge_left == pytest.approx(empty.charge_significant)
    # the significant CR pixels are a subset of the CR pixels
    assert perfect.n_significant <= perfect.n_cr


@given(chips(), st.integers(0, 11))
def test_scores_add_over_pieces(chip, cut):
    found, charge, noiseless, defects = chip
    whole = score_cr_mask(found, charge, noiseless, 4.0, sky=10.0, defects=defects)
    c = min(cut, charge.shape[0])
    parts = [
        score_cr_mask(f, q, n, 4.0, sky=10.0, defects=d)
        for f, q, n, d in (
            (found[:c], charge[:c], noiseless[:c], defects[:c]),
            (found[c:], charge[c:], noiseless[c:], defects[c:]),
        )
    ]
    total = sum(parts, CRMaskScore.empty())
    for name in ("n_cr", "found_cr", "n_significant", "n_clean", "false_flags", "n_core"):
        assert getattr(total, name) == getattr(whole, name)
    assert total.charge_left == pytest.approx(whole.charge_left)


def test_thresholds_by_hand():
    # sky 100 e-, read noise 0: sigma = 10 e-.  A 60 e- CR is 6 sigma, a 40 e- one 4 sigma.
    noiseless = np.full((3, 3), 100.0)
    noiseless[2, 2] = 100.0 + 2000.0  # a star core: source 2000 e- > 100 sigma (~46 e-)?
    charge = np.zeros((3, 3))
    charge[0, 0], charge[0, 1] = 60.0, 40.0
    found = np.zeros((3, 3), bool)
    found[0, 1] = found[2, 2] = found[1, 1] = True
    s = score_cr_mask(found, charge, noiseless, 0.0, sky=100.0, k=5.0, core_sigma=40.0)
    assert (s.n_cr, s.n_significant, s.found_significant, s.found_cr) == (2, 1, 0, 1)
    assert s.charge_left == 60.0
    assert s.charge_left_fraction == 1.0
    assert s.n_core == 1
    assert s.core_flags == 1
    assert (s.n_clean, s.false_flags) == (7, 2)  # the core counts as a clean pixel too
    assert float(pixel_sigma(noiseless[0, 0], 0.0)) == 10.0
    d = s.to_dict()
    assert d["recall"] == 0.5
    assert d["core_flag_fraction"] == 1.0


def test_nan_when_nothing_to_count():
    s = score_cr_mask(np.zeros((2, 2), bool), np.zeros((2, 2)), np.zeros((2, 2)), 3.0)
    assert np.isnan(s.recall)
    assert np.isnan(s.core_flag_fraction)
    assert s.false_flag_fraction == 0.0


@given(chips(), st.data())
def test_a_region_and_its_complement_add_up_to_the_whole(chip, data):
    found, charge, noiseless, defects = chip
    region = data.draw(arrays(bool, charge.shape))
    kw = {"sky": 10.0, "defects": defects}
    whole = score_cr_mask(found, charge, noiseless, 4.0, **kw)
    inside = score_cr_mask(found, charge, noiseless, 4.0, region=region, **kw)
    outside = score_cr_mask(found, charge, noiseless, 4.0, region=~region, **kw)
    total = inside + outside
    for f in ("n_cr", "found_cr", "n_significant", "found_significant", "n_clean",
              "false_flags", "n_core", "core_flags"):  # fmt: skip
        assert getattr(total, f) == getattr(whole, f)
    assert total.charge_left == pytest.approx(whole.charge_left)
    # the same as scoring the region's pixels alone
    alone = score_cr_mask(found[region], charge[region], noiseless[region], 4.0, sky=10.0,
                          defects=defects[region])  # fmt: skip
    assert inside == alone


def test_bad_input_names_the_arrays():
    with pytest.raises(DitherlabValueError, match="found"):
        score_cr_mask(np.zeros((2, 2), bool), np.zeros((3, 2)), np.zeros((2, 2)), 3.0)
    with pytest.raises(DitherlabValueError, match="k="):
        score_cr_mask(np.zeros(2, bool), np.zeros(2), np.zeros(2), 3.0, k=-1)
    with pytest.raises(DitherlabValueError, match="region"):
        score_cr_mask(np.zeros(2, bool), np.zeros(2), np.zeros(2), 3.0, region=np.ones(3, bool))
    with pytest.raises(DitherlabValueError, match="masks has 1 exposures"):
        score_exposures([[np.zeros(2, bool)]], [])


@given(arrays(bool, 20), arrays(bool, 20))
def test_mask_agreement_is_symmetric(a, b):
    ab, ba = mask_agreement(a, b), mask_agreement(b, a)
    assert ab.jaccard == ba.jaccard
    assert ab.a_only == ba.b_only
    assert 0.0 <= ab.jaccard <= 1.0
    assert mask_agreement(a, a).jaccard == 1.0
    assert ab.disagreement_fraction == np.mean(a != b)
    assert (ab + ba).n_pixels == 40


def test_scores_simulated_exposures():
    from ditherlab.planner import subpixel
    from ditherlab.simulate import Scene, observe

    scene = Scene.random_field(30, sky=40.0, rng=2)
    exps = observe(
        scene, subpixel(2), "acs-wfc1", 500.0, chips=[1], subarray=(2000, 1000, 64, 64), rng=2
    )
    truth = [[c.cr_mask for c in e.truth.chips] for e in exps]
    s = score_exposures(truth, exps)
    assert s.n_cr > 0
    assert s.recall == 1.0
    assert s.false_flags == 0
    none = score_exposures([[np.zeros((64, 64), bool)] for _ in exps], exps)
    assert none.recall == 0.0
    assert none.charge_left_fraction == 1.0


def test_pixels_near_saturation_are_not_star_cores():
    # a 9 x 9 chip, all star core; one saturated pixel in the middle takes out the pixels
    # within 3 of it, rows plus columns (the cross dilated 3 times: a diamond of 25)
    noiseless = np.full((9, 9), 1.0e5)
    zero = np.zeros((9, 9))
    found = np.ones((9, 9), bool)
    sat = np.zeros((9, 9), bool)
    sat[4, 4] = True
    whole = score_cr_mask(found, zero, noiseless, 3.0)
    cut = score_cr_mask(found, zero, noiseless, 3.0, saturated=sat)
    assert whole.n_core == 81
    assert cut.n_core == 81 - 25
    assert cut.core_flags == cut.n_core
    assert cut.n_clean == whole.n_clean  # only the star-core count changes
    with pytest.raises(DitherlabValueError, match="saturated"):
        score_cr_mask(found, zero, noiseless, 3.0, saturated=sat[:3])


def test_score_exposures_leaves_out_saturated_stars():
    from ditherlab.planner import subpixel
    from ditherlab.simulate import Scene, observe

    # one star bright enough to saturate ACS/WFC in 500 s, one well below
    scene = Scene(ra=150.0, dec=2.0, x=[0.0, 1.0], y=[0.0, 0.0], flux=[1.0e4, 50.0], sky=10.0)
    exps = observe(scene, subpixel(2), "acs-wfc1", 500.0, chips=[1],
                   subarray=(2000, 1000, 64, 64), rng=4)
    assert any(((e.chips[0].dq & 256) != 0).any() for e in exps)
    every = [[np.ones((64, 64), bool)] for _ in exps]
    s = score_exposures(every, exps, core_sigma=20.0)
    bare = CRMaskScore.empty()
    for m, e in zip(every, exps, strict=True):
        t = e.truth.chips[0]
        bare = bare + score_cr_mask(m[0], t.cr_charge, t.noiseless, e.read_noise, sky=e.sky,
                                    dark=t.dark * e.exptime, defects=t.defects,
                                    core_sigma=20.0)
    assert 0 < s.n_core < bare.n_core  # the faint star's core stays, the saturated one's goes
    assert s.n_clean == bare.n_clean


def test_saturation_in_one_exposure_takes_the_star_out_of_all():
    from ditherlab.planner import subpixel
    from ditherlab.simulate import Scene, observe

    scene = Scene(ra=150.0, dec=2.0, x=[0.0], y=[0.0], flux=[50.0], sky=10.0)
    exps = observe(scene, subpixel(2), "acs-wfc1", 500.0, chips=[1],
                   subarray=(2000, 1000, 64, 64), rng=4, cosmic_rays_on=False)
    every = [[np.ones((64, 64), bool)] for _ in exps]
    # 300σ of the background: the star's core is its central few pixels, all within the
    # 3-pixel margin of its peak
    before = score_exposures(every, exps, core_sigma=300.0)
    # mark the star's peak saturated in the second exposure only
    t = exps[1].truth.chips[0]
    y, x = np.unravel_index(np.argmax(t.noiseless), t.noiseless.shape)
    dq = exps[1].chips[0].dq.copy()
    dq[y, x] |= 256
    chip = dataclasses.replace(exps[1].chips[0], dq=dq)
    marked = [exps[0], dataclasses.replace(exps[1], chips=(chip,))]
    after = score_exposures(every, marked, core_sigma=300.0)
    first = score_exposures([every[0]], [exps[0]], core_sigma=300.0).n_core
    assert before.n_core > first > 0
    assert after.n_core == 0  # the first exposure's core pixels go too (same sky position)
