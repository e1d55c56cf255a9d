"""The planner's pieces working with real apertures: tables, plots, CLI, chip maps."""

import numpy as np
import pytest

from ditherlab.cli import main
from ditherlab.planner import (
    get_aperture,
    parallel_offsets,
    pattern_overhead,
    postarg_table,
    read_postargs,
    standard_pattern,
    subpixel,
    write_postargs,
)
from ditherlab.score import phase_coverage, phase_metrics


def test_acs_box_pixel_steps_at_reference():
    # ACS-WFC-DITHER-BOX is "(0,0) (5,1.5) (2.5,4.5) (-2.5,3)" pixels at the WFC reference
    t = postarg_table(standard_pattern("ACS-WFC-DITHER-BOX"), "acs-wfc")
    steps = np.column_stack([t["pixel_x"].value, t["pixel_y"].value])
    np.testing.assert_allclose(steps, [[0, 0], [5, 1.5], [2.5, 4.5], [-2.5, 3]], atol=0.01)


@pytest.mark.parametrize("name", ["acs-wfc1", "wfc3-uvis2", "wfc3-ir", "acs-hrc", "wfpc2-wf3"])
def test_pixel_pattern_round_trips_through_postarg_file(tmp_path, name):
    ap = get_aperture(name)
    box = subpixel(4, step=(5, 3))
    path = tmp_path / "box.ecsv"
    table = write_postargs(box, path, aperture=ap)
    back = read_postargs(path)
    assert back.meta["aperture"] == ap.name
    np.testing.assert_allclose(ap.pixel_offsets(back).offsets, box.offsets, atol=1e-6)
    np.testing.assert_allclose(table["pixel_x"], box.offsets[:, 0], atol=1e-6)


def test_apt_rounding_is_reported_in_pixels(tmp_path):
    ir = get_aperture("wfc3-ir")
    posts = ir.postarg_offsets(subpixel(9, step=(2, 2)))
    t3 = write_postargs(posts, tmp_path / "a.txt", aperture=ir, decimals=3)
    t4 = write_postargs(posts, tmp_path / "b.txt", aperture=ir, decimals=4)
    # 0.0005" rounding on a 0.13"/px detector is at most ~0.005 px (both axes)
    assert 0 < t4.meta["rounding_px"] < t3.meta["rounding_px"] <= 0.0005 * np.sqrt(2) / 0.12
    assert "largest rounding error" in (tmp_path / "a.txt").read_text()


def test_distortion_degrades_a_fixed_postarg_box_towards_corners():
    wfc = get_aperture("acs-wfc1")
    posts = wfc.postarg_offsets(subpixel(4, step=(30, 30)))
    t = phase_coverage(posts, wfc, grid=3)
    assert t.eta[1, 1] == pytest.approx(1.0, abs=1e-6)  # the middle cell holds the reference
    assert t.eta_worst > 1.05  # ±5 % scale changes move 30-px steps by > 1 px
    small = phase_coverage(wfc.postarg_offsets(subpixel(4, step=(0, 0))), wfc, grid=3)
    assert small.eta_worst < t.eta_worst


def test_parallel_camera_sees_other_phases():
    box = get_aperture("acs-wfc").postarg_offsets(subpixel(4, step=(3, 3)))
    par = parallel_offsets(box, "acs-wfc", "wfc3-ir")
    assert par.frame == "pixel"
    assert phase_metrics(par)["eta"] > 1.5  # designed for WFC, poor for IR


def test_overhead_of_pixel_pattern_needs_aperture():
    assert pattern_overhead(subpixel(4, step=(3, 3)), "acs-wfc1") == 60.0


def test_cli_plan_with_aperture(capsys, tmp_path):
    assert main(["plan", "--pattern", "4", "--step", "5", "3", "--aperture", "acs-wfc1"]) == 0
    out = capsys.readouterr().out
    assert "JWFC1FIX" in out
    assert "5.500" in out
    path = tmp_path / "p.txt"
    argv = ["plan", "--pattern", "4", "--aperture", "wfc3-ir", "--at", "50", "950"]
    assert main([*argv, "-o", str(path), "--plot", str(tmp_path / "p.png")]) == 0
    assert len(read_postargs(path)) == 4
    assert main(["plan", "--pattern", "4", "--aperture", "acs-wfc1", "--at", "5000", "1"]) == 2
    assert "off the JWFC1FIX chip" in capsys.readouterr().err
    assert main(["apertures"]) == 0
    assert "JWFC1FIX" in capsys.readouterr().out
