"""Defects found in the review of issue 9's planner change, each as a test that fails on it."""

import pytest

from ditherlab.cli import main


def one_line_error(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("step", [("0.5", "0.5"), ("nan", "1")])
def test_demo_fractional_step_names_the_flag(capsys, tmp_path, step):
    err = one_line_error(capsys, "demo", "--step", *step, "--outdir", tmp_path / "d")
    assert f"--step {float(step[0]):g} {float(step[1]):g}" in err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--max-exposures", "100000000"], "--max-exposures 100000000"),  # ran for ever
        (["--total-time", "0"], "--total-time 0"),  # reported total_time=0.0
        (["--total-time", "inf"], "--total-time inf"),  # reported "the CR rate"
        (["--sky", "nan"], "--sky nan"),
        (["--n-pix", "0"], "--n-pix 0"),
        (["--chip-pixels", "0"], "--chip-pixels 0"),  # reported n_pixels_chip=0
        (["--source-rate", "-1"], "--source-rate -1"),
    ],
)
def test_split_errors_name_the_flag(capsys, argv, flag):
    err = one_line_error(capsys, "split", "--aperture", "acs-wfc", *argv)
    assert flag in err


@pytest.mark.parametrize(
    ("argv", "n", "distinct"),
    [
        (["--pattern", "4", "--secondary", "4"], 16, 9),
        (["--pattern", "2", "--secondary", "2"], 4, 3),
    ],
)
def test_secondary_that_repeats_pointings_is_refused(capsys, argv, n, distinct):
    # a 4-point box crossed with itself visits (0, 3.5) twice, (3.5, 3.5) three times...
    err = one_line_error(capsys, "plan", *argv)
    assert f"{n} exposures at only {distinct} distinct pointings" in err


def test_secondary_with_other_steps_is_accepted(capsys):
    assert main(["plan", "--pattern", "hotpixel", "--secondary", "4"]) == 0
    out = capsys.readouterr().out
    assert "8 exposures" in out


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--at", "nan", "5", "--aperture", "acs-wfc"], "--at=(nan, 5.0)"),  # was at=(...)
        (["--at", "1e9", "1e9", "--aperture", "acs-wfc"], "--at=(1e+09, 1e+09) is off"),
        (["--decimals", "-1", "--aperture", "acs-wfc"], "--decimals -1"),  # was decimals=-1
    ],
)
def test_plan_errors_name_the_flag(capsys, argv, flag):
    assert flag in one_line_error(capsys, "plan", "--pattern", "4", *argv)


def test_move_overhead_reproduces_the_primer_and_acs_ihb():
    from ditherlab.planner import move_overhead

    # HST Primer App. A.5 (WFC3 example): "for a two arcsec offset maneuver, the three
    # dither offsets will take 0.5 minutes each"
    assert move_overhead(2.0) == 30.0
    # ACS IHB §8.2: moves take 20 to 60 s by slew size; 1 min from 10" to 1.5'
    sizes = [0.01, 1.0, 5.0, 30.0, 89.0]
    assert min(move_overhead(sizes)) == 20.0
    assert max(move_overhead(sizes)) == 60.0


def test_split_orbit_says_why_short_wfc_exposures_collapse(capsys):
    # ACS/WFC, N = 6 in one 54-min orbit: 293 s each before dumps, so 5 buffer dumps of
    # 5.8 min leave 3.3 s per exposure; the table alone looked like a bug
    assert main(["split", "--aperture", "acs-wfc", "--orbit", "--max-exposures", "6"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].split()[:2] == ["6", "3.3"]
    assert "N = [6]: exposures shorter than 339 s" in err
    assert main(["split", "--aperture", "wfc3-ir", "--orbit"]) == 0
    assert "buffer dump" not in capsys.readouterr().err


def test_format_that_contradicts_the_extension_is_refused(capsys, tmp_path):
    from ditherlab.errors import DitherlabValueError
    from ditherlab.planner import read_postargs, subpixel, write_postargs

    # was: JSON written into box.csv, which read_postargs then failed to read as CSV
    out = tmp_path / "box.csv"
    err = one_line_error(
        capsys, "plan", "--pattern", "4", "--aperture", "acs-wfc", "-o", out, "--format", "json"
    )
    assert f"--format json contradicts the extension of -o {out}" in err
    assert not out.exists()
    with pytest.raises(DitherlabValueError, match="format='json' contradicts"):
        write_postargs(subpixel(4), out, aperture="acs-wfc", format="json")
    # a name without a known extension takes any format, and reads back with it
    plain = tmp_path / "box"
    write_postargs(subpixel(4), plain, aperture="acs-wfc", format="json")
    assert len(read_postargs(plain, format="json")) == 4


def test_split_table_per_row_totals_keep_their_unit():
    import astropy.units as u

    from ditherlab.planner import split_table

    # was: [10, 20] min read as [10, 20] s
    t = split_table([10, 20] * u.min, [1, 2])
    assert t["exptime"].unit == u.s
    assert t["exptime"].tolist() == [600.0, 600.0]
    assert split_table([600, 1200], [1, 2])["snr"].tolist() == t["snr"].tolist()


def test_check_pattern_aperture_refuses_a_non_pattern():
    from ditherlab.errors import DitherlabTypeError
    from ditherlab.planner import check_pattern_aperture

    with pytest.raises(DitherlabTypeError, match="pattern must be a Pattern, got str"):
        check_pattern_aperture("box.csv", "acs-wfc")  # was a raw AttributeError


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # library keywords re-worded with the flag the user typed
        (["--pattern", "ACS-WFC-DITHER-LINE", "--point-spacing", "0"], "--point-spacing 0.0"),
        (["--pattern", "subline", "--npoints", "30"], "--pattern subline: --npoints 30"),
        (
            ["--pattern", "box", "--point-spacing", "0.5", "--line-spacing", "0.5", "--orient",
             "nan", "--angle", "30"],
            "--pattern box: --orient nan must be finite",
        ),
        (["--pattern", "4", "--secondary", "subline", "--npoints", "40"], "--secondary subline"),
        # APT's published ranges for the ACS dither patterns (STScI ACS pattern pages):
        # Number_Of_Points 2-9, spacings 0.01-10"; 99 points used to be accepted
        (["--pattern", "ACS-WFC-DITHER-LINE", "--npoints", "99"], "outside APT's allowed 2–9"),
        (["--pattern", "ACS-WFC-DITHER-BOX", "--point-spacing", "20"], "allowed 0.01–10"),
    ],
)
def test_pattern_errors_name_the_flag(capsys, argv, message):
    assert message in one_line_error(capsys, "plan", *argv)


def test_apt_ranges_allow_the_published_extremes():
    from ditherlab.planner import standard_pattern

    assert len(standard_pattern("ACS-WFC-DITHER-LINE", n_points=9)) == 9
    assert len(standard_pattern("ACS-SBC-DITHER-LINE", n_points=2, point_spacing=10.0)) == 2
    # mosaics have other ranges, not checked
    assert len(standard_pattern("ACS-WFC-MOSAIC-LINE", n_points=3)) == 3


def test_unknown_pattern_name_names_the_flag(capsys):
    err = one_line_error(capsys, "plan", "--pattern", "ACS-WFC-DITHER-BOKS")
    assert err.startswith("ditherlab plan: error: --pattern ACS-WFC-DITHER-BOKS: is not a")
    assert "ACS-WFC-DITHER-BOX" in err  # the suggestion survives
    err = one_line_error(capsys, "plan", "--pattern", "4", "--secondary", "nonsense")
    assert "--secondary nonsense: is not a" in err
