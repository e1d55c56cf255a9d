"""phase_coverage and depth_map: published numbers, geometry invariants, batch = single."""

import numpy as np
import pytest

from ditherlab.errors import DitherlabTypeError, DitherlabValueError
from ditherlab.planner import get_aperture, parallel_offsets, standard_pattern, subpixel
from ditherlab.score import (
    ETA_CAP,
    depth_map,
    noise_amplification,
    phase_coverage,
    phase_metrics,
)
from ditherlab.score.geometry import _exact_steps, _field_chips, _positions, _step_rows


def test_box_has_eta_one_at_the_reference_pixel():
    # the 4-point half-pixel box, as POS TARGs that give its steps at the reference pixel
    for name in ("acs-wfc1", "wfc3-ir", "wfc3-uvis2"):
        ap = get_aperture(name)
        posts = ap.postarg_offsets(subpixel(4, step=(2, 2)))
        assert noise_amplification(ap.pixel_offsets(posts), (2, 2)) == pytest.approx(1, abs=1e-6)
        # the grid cell holding the reference pixel (its centre is half a pixel away)
        res = phase_coverage(posts, ap, grid=1, oversampling=(2, 2))
        assert res.eta[0, 0] == pytest.approx(1.0, abs=1e-4)
    # ACS-WFC-DITHER-BOX: "optimal half-pixel sampling in both x and y" at the WFC reference
    box = standard_pattern("ACS-WFC-DITHER-BOX")
    assert noise_amplification(get_aperture("acs-wfc").pixel_offsets(box)) < 1.001


def test_acs_box_degrades_towards_the_wfc_corners():
    # ACS IHB §7.4: the WFC scale varies by about ±5 % over the field, so a step of
    # one pixel near the centre is 0.95 or 1.05 pixel near the corners
    box = standard_pattern("ACS-WFC-DITHER-BOX")
    ap = get_aperture("acs-wfc")
    res = phase_coverage(box, ap, grid=(32, 32))
    steps = res.pixel_steps()  # (gy, gx, 4, 2)
    ref = ap.pixel_offsets(box).offsets
    ratio = np.hypot(*steps[..., 1, :].transpose(2, 0, 1)) / np.hypot(*ref[1])
    corners = ratio[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert ratio.min() < 0.975
    assert ratio.max() > 1.035
    assert ratio.min() > 0.94
    assert ratio.max() < 1.06
    assert np.all(np.abs(corners - 1) > 0.005)
    # η: 1 where the box was designed, worse towards the corners
    assert res.eta.min() == pytest.approx(1.0, abs=1e-3)
    assert res.eta[[0, 0, -1, -1], [0, -1, 0, -1]].max() > 1.5
    ring = np.ones(res.eta.shape, bool)
    ring[4:-4, 4:-4] = False
    assert res.eta[ring].mean() > res.eta[~ring].mean() + 0.02
    assert res.eta_worst == res.eta.max()
    assert res.efficiency_worst == res.efficiency.min()


def test_six_point_at_three_by_three_reads_as_cannot_rebuild_everywhere():
    ir = get_aperture("wfc3-ir")
    six = ir.postarg_offsets(subpixel(6, step=(4, 4)))
    res = phase_coverage(six, ir, grid=4, oversampling=3)
    assert np.all(res.eta == ETA_CAP)
    assert np.all(res.efficiency == 0)
    assert res.eta_mean == ETA_CAP  # averages stay meaningful
    ok = phase_coverage(ir.postarg_offsets(subpixel(9, step=(4, 4))), ir, grid=4, oversampling=3)
    assert ok.eta.min() < 1.01
    assert ok.eta_worst < 2


def test_batch_scores_equal_single_scores():
    ap = get_aperture("acs-wfc")
    rng = np.random.default_rng(5)
    posts = rng.uniform(-0.4, 0.4, (5, 4, 2))
    batch = phase_coverage(posts, ap, grid=(6, 4), parallel="wfc3-ir")
    assert batch.batched
    assert batch.eta.shape == (5, 4, 6)
    assert batch.eta_mean.shape == (5,)
    for i in (0, 3):
        one = phase_coverage(posts[i], ap, grid=(6, 4), parallel="wfc3-ir")
        for m in ("eta", "efficiency", "covering_radius", "gap_x", "gap_y", "clearance"):
            np.testing.assert_allclose(batch.map(m, i), getattr(one, m), rtol=1e-12)
            np.testing.assert_allclose(batch.parallels[0].map(m, i), getattr(one.parallels[0], m))
    # mixed N in a list of Patterns
    mixed = phase_coverage([ap.postarg_offsets(subpixel(n)) for n in (2, 4, 9)], ap, grid=3)
    assert mixed.n_exposures.tolist() == [2, 4, 9]
    assert mixed.eta_worst[0] == ETA_CAP
    assert mixed.eta_worst[1] < 1.2


def test_maps_are_the_phase_metrics_of_the_exact_steps():
    ap = get_aperture("wfc3-uvis")
    box = standard_pattern("ACS-WFC-DITHER-BOX")
    res = phase_coverage(box, "acs-wfc", grid=(3, 4), parallel=ap)
    par = res.parallels[0]
    assert [c.name for c in par.chips] == ["IUVIS2FIX", "IUVIS1FIX"]
    for iy, ix in [(0, 0), (1, 2), (3, 1)]:
        chip = par.chips[par.chip[iy, ix]]
        at = (par.x[iy, ix], par.y[iy, ix])
        steps = parallel_offsets(box, "acs-wfc", chip, at=at).offsets
        np.testing.assert_allclose(par.pixel_steps()[iy, ix], steps, atol=1e-9)
        m = phase_metrics(steps)
        for k in ("eta", "covering_radius", "gap_x", "gap_y", "clearance"):
            assert par.map(k)[iy, ix] == pytest.approx(m[k], abs=2e-3), k


@pytest.mark.parametrize("name", ["acs-wfc", "wfc3-uvis", "wfc3-ir"])
def test_local_model_of_the_steps_matches_newton(name):
    ap = get_aperture(name)
    chips = _field_chips(ap, None)
    x, y, idx = _positions(chips, 8, 8)
    posts = np.random.default_rng(2).uniform(-2.9, 2.9, (3, 5, 2))
    exact = _exact_steps(ap, chips, idx, x, y, posts)  # (P, gy, gx, N, 2)
    ((_, _, dx, dy),) = list(_step_rows(ap, chips, idx, x, y, posts))
    fast = np.stack([dx, dy], -1).reshape(5, 3, *x.shape, 2).transpose(1, 2, 3, 0, 4)
    assert np.abs(fast - exact).max() < 1e-3  # pixels, for POS TARGs up to 3"


def test_tables_and_plot(tmp_path):
    res = phase_coverage(standard_pattern("ACS-WFC-DITHER-BOX"), "acs-wfc", grid=4,
                         parallel=["wfc3-uvis", "wfc3-ir"])
    t = res.to_table()
    assert list(t["role"]) == ["prime", "parallel", "parallel"]
    assert list(t["aperture"]) == ["JWFC", "IUVIS", "IIRFIX"]
    assert t["eta_worst"][0] == pytest.approx(res.eta_worst)
    assert t["clearance_worst"][2] == pytest.approx(res.parallels[1].clearance_worst)
    per = res.to_table(per_position=True)
    assert len(per) == 3 * 16
    assert set(per["chip"]) >= {"JWFC1FIX", "JWFC2FIX", "IIRFIX"}
    fig = res.plot("covering_radius")
    fig.savefig(tmp_path / "cr.png")
    assert len(fig.axes) == 4  # three maps and a colour bar
    with pytest.raises(ValueError, match=r"read-?only"):
        res.eta[0, 0] = 0


def test_bad_inputs_are_named():
    ap = "acs-wfc1"
    with pytest.raises(DitherlabValueError, match="shape"):
        phase_coverage(np.zeros((2, 3, 4, 2)), ap)
    with pytest.raises(DitherlabValueError, match=r"grid\[1\]=0"):
        phase_coverage(np.zeros((4, 2)), ap, grid=(4, 0))
    with pytest.raises(DitherlabValueError, match="metrics="):
        phase_coverage(np.zeros((4, 2)), ap, metrics="sharpness")
    with pytest.raises(DitherlabValueError, match="field="):
        phase_coverage(np.zeros((4, 2)), ap, field="sky")
    with pytest.raises(DitherlabValueError, match="index=3"):
        phase_coverage(np.zeros((2, 4, 2)), ap, grid=2).map("eta", 3)
    with pytest.raises(DitherlabTypeError):
        phase_coverage("box", ap)


def test_depth_map_gap_fractions_follow_the_steps():
    wfc = get_aperture("acs-wfc")
    gap = wfc.gap  # ~52 px
    # the box moves the sky up by 0, 1.5, 4.5, 3.0 px (published steps): the gap fills
    # from its edge by 4.5 px once and 3.0 px twice
    d = depth_map(standard_pattern("ACS-WFC-DITHER-BOX"), wfc)
    assert d.gap_once == pytest.approx(4.5 / gap, abs=0.01)
    assert d.gap_twice == pytest.approx(3.0 / gap, abs=0.01)
    line = depth_map(standard_pattern("ACS-WFC-DITHER-LINE"), wfc, step=2)
    assert line.gap_once == 1.0
    assert line.gap_twice == 0.0
    # every exposure sees the same sky area: Σ depth × cell = N × the two chips' area
    one = depth_map(np.zeros((1, 2)), wfc, step=2)
    assert line.area(1) * 0 + (line.depth.sum() * 4) == pytest.approx(2 * one.area(1), rel=0.01)
    assert np.isnan(depth_map(np.zeros((1, 2)), "wfc3-ir", step=4).gap_once)
    t = line.to_table()
    assert t["area_at_least_arcsec2"][0] == pytest.approx(line.area(0))


def test_depth_plot(tmp_path):
    d = depth_map(standard_pattern("ACS-WFC-DITHER-BOX"), "wfc3-uvis", step=4)
    fig = d.plot()
    fig.savefig(tmp_path / "depth.png")
    assert "gap" in fig.axes[0].get_title()
