"""The planner's command line: plan, patterns, apertures."""

import pytest

from ditherlab.cli import main
from ditherlab.planner import read_postargs, standard_pattern


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_prints_phases(capsys):
    code, out, _ = run(capsys, "plan", "--pattern", "4", "--step", "5", "3")
    assert code == 0
    assert "4-point box: 4 exposures" in out
    assert "5.500" in out
    assert "3.500" in out


def test_plan_named_pattern_as_apt(capsys):
    code, out, _ = run(capsys, "plan", "--pattern", "ACS-WFC-DITHER-BOX", "--format", "apt")
    assert code == 0
    assert "POS TARG 0.2467,0.0940" in out


def test_plan_apt_line_and_box(capsys, tmp_path):
    out_file = tmp_path / "line.ecsv"
    code, _, err = run(
        capsys,
        "plan",
        "--pattern",
        "line",
        "--npoints",
        "3",
        "--point-spacing",
        "2.994",
        "--orient",
        "85.27",
        "-o",
        str(out_file),
    )
    assert code == 0
    assert "wrote 3 POS TARGs" in err
    back = read_postargs(out_file)
    old = standard_pattern("ACS-WFC-DITHER-LINE-PRE-C25", n_points=3)
    assert back == old.replace(name="LINE")


def test_plan_nested(capsys):
    code, out, _ = run(
        capsys, "plan", "--pattern", "ACS-WFC-DITHER-LINE", "--secondary", "ACS-WFC-DITHER-BOX"
    )
    assert code == 0
    assert "8 exposures" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "--pattern", "5"], "--pattern 5: a sub-pixel family has 2, 3, 4, 6, 8, 9"),
        (["plan", "--pattern", "4", "-o", "x.txt"], "give --aperture"),
        (["plan", "--pattern", "line"], "needs --npoints, --point-spacing, --orient"),
        (["plan", "--pattern", "ACS-WFC-DITHER-BAX"], "did you mean ACS-WFC-DITHER-BOX"),
        (["plan", "--pattern", "4", "--step", "1", "2", "3"], "--step takes one or two"),
        (["plan", "--pattern", "nope.txt"], "does not exist"),
        (["plan", "--pattern", "4", "--step", "nan"], "must be finite"),
    ],
)
def test_plan_errors_are_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_plan_refuses_to_overwrite_plot(capsys, tmp_path):
    png = tmp_path / "p.png"
    assert run(capsys, "plan", "--pattern", "9", "--plot", str(png))[0] == 0
    assert png.stat().st_size > 1000
    code, _, err = run(capsys, "plan", "--pattern", "9", "--plot", str(png))
    assert code == 2
    assert "overwrite" in err
    assert run(capsys, "plan", "--pattern", "9", "--plot", str(png), "--overwrite")[0] == 0


def test_patterns_lists_catalog(capsys):
    code, out, _ = run(capsys, "patterns")
    assert code == 0
    assert "ACS-WFC-DITHER-BOX" in out
    assert "unconfirmed" in out
    assert "Cycle 25+ (current APT default)" in out


def test_help_everywhere(capsys):
    for argv in (["--help"], ["plan", "--help"], ["patterns", "--help"], ["apertures", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_split_reproduces_the_handbook_table(capsys):
    code, out, _ = run(capsys, "split")
    assert code == 0
    assert out.splitlines()[0].startswith("WFPC2: DrizzlePac Handbook Table 2.1")
    rows = [ln.split() for ln in out.splitlines()[4:]]
    assert [r[0] for r in rows] == [str(n) for n in range(1, 10)]
    # S/N with two decimals: 3.67 / 2.95 (2.949) / 2.54 / 2.26 -> Table 2.1's 3.7/2.9/2.5/2.3
    assert [r[2] for r in rows[:4]] == ["3.67", "2.95", "2.54", "2.26"]
    assert rows[0][5] == "61480.0"  # "about 61,000 pixels"


def test_plan_checks_every_output_before_writing(capsys, tmp_path):
    out, png = tmp_path / "o.txt", tmp_path / "p.png"
    png.write_bytes(b"already here")
    argv = ["plan", "--pattern", "ACS-WFC-DITHER-BOX", "-o", str(out), "--plot", str(png)]
    code, _, err = run(capsys, *argv, "--aperture", "acs-wfc")
    assert code == 2
    assert "--plot" in err
    assert "--overwrite" in err
    assert not out.exists(), "nothing may be written when one output is refused"
    code, _, err = run(capsys, "plan", "--pattern", "4", "--plot", str(tmp_path / "p.xyz"))
    assert code == 2
    assert "unknown image format 'xyz'" in err


def test_plan_apt_box_from_parameters(capsys):
    code, out, _ = run(
        capsys,
        "plan",
        "--pattern",
        "box",
        "--point-spacing",
        "0.264",
        "--line-spacing",
        "0.185",
        "--orient",
        "20.86",
        "--angle",
        "69.07",
        "--format",
        "apt",
    )
    assert code == 0
    assert "POS TARG -0.1233,0.1379" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "--pattern", "hotpixel", "--npoints", "0"], "--npoints 0 must be >= 2"),
        (["plan", "--pattern", ""], "--pattern must not be empty"),
        (["plan", "--pattern", "subline", "--npoints", "2", "--step", "1", "2"], "one number"),
        (["split", "--cr-rate", "-1"], "--cr-rate -1 must be finite and >= 0"),
    ],
)
def test_more_one_line_errors(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err
