"""What a new user hit in plan/split (issue 9), each as a test that fails on the old code."""

import csv
import tempfile
from pathlib import Path

import numpy as np
import pytest

from ditherlab.cli import main
from ditherlab.errors import (
    DitherlabTypeError,
    DitherlabValueError,
    DitherlabWarning,
    FileFormatError,
)
from ditherlab.planner import (
    check_pattern_aperture,
    cr_loss_fraction,
    postarg_table,
    read_postargs,
    standard_pattern,
    subpixel,
    write_postargs,
)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, *argv):
    code, out, err = run(capsys, *argv)
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1, err
    assert len(err) < 400, err
    return err


# -- data safety -----------------------------------------------------------------------
def test_unwritable_plot_directory_leaves_no_postarg_file(capsys, tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kw):  # a read-only folder, also when running as root
        if Path(dir) == ro:
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    ok = tmp_path / "okpart.txt"
    err = one_line_error(
        capsys, "plan", "--pattern", "4", "--aperture", "acs-wfc", "-o", ok, "--plot",
        ro / "p.png",
    )
    assert "--plot" in err
    assert str(ro / "p.png") in err
    assert ".part" not in err  # names the user's path, not a temporary file
    assert not ok.exists()
    assert list(tmp_path.iterdir()) == [ro]


def test_a_failing_writer_leaves_no_other_output(capsys, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken)
    ok = tmp_path / "ok.ecsv"
    code, _, _ = run(
        capsys, "plan", "--pattern", "4", "--aperture", "acs-wfc", "-o", ok, "--plot",
        tmp_path / "p.png",
    )
    assert code == 2
    assert list(tmp_path.iterdir()) == []


# -- silent wrong answers -----------------------------------------------------------------
def test_rounding_that_collapses_the_pattern_is_refused(capsys, tmp_path):
    err = one_line_error(
        capsys, "plan", "--pattern", "4", "--aperture", "acs-wfc", "--format", "apt",
        "--decimals", "0",
    )
    assert "decimals=0" in err
    assert "distinct pointings" in err
    assert "--force" in err
    code, out, _ = run(
        capsys, "plan", "--pattern", "4", "--aperture", "acs-wfc", "--format", "apt",
        "--decimals", "0", "--force",
    )
    assert code == 0
    assert out.count("POS TARG 0,0") == 4  # what the user asked for, knowingly


def test_rounding_tolerance_in_pixels():
    box = subpixel(4)  # steps of 3.5 px: POS TARG ~0.17"
    # 3 decimals (1 mas) move a WFC exposure by at most ~0.02 px: accepted
    t = postarg_table(box, "acs-wfc", decimals=3)
    assert t.meta["rounding_px"] < 0.05
    # 2 decimals (10 mas ~ 0.2 WFC px) change the sampling: refused
    with pytest.raises(DitherlabValueError, match=r"decimals=2 moves an exposure by"):
        postarg_table(box, "acs-wfc", decimals=2)
    # on IR pixels (0.13") 2 decimals stay below 0.05 px
    assert postarg_table(box, "wfc3-ir", decimals=2).meta["rounding_px"] < 0.05
    # without an aperture a named pattern is checked on its own camera
    with pytest.raises(DitherlabValueError, match="on JWFC"):
        postarg_table(standard_pattern("ACS-WFC-DITHER-BOX"), decimals=2)
    assert len(postarg_table(standard_pattern("ACS-WFC-DITHER-BOX"), decimals=3)) == 4
    # and any other POS TARG pattern against the largest HST pixel (WFC3/IR, 0.135")
    from ditherlab.planner import Pattern

    p = Pattern([[0, 0], [0.26, 0.1]], frame="postarg")
    with pytest.raises(DitherlabValueError, match="even of WFC3/IR"):
        postarg_table(p, decimals=1)  # 0.04" = 0.3 IR px
    assert len(postarg_table(p, decimals=2)) == 2


def test_fractional_step_is_refused(capsys):
    err = one_line_error(capsys, "plan", "--pattern", "4", "--step", "0.5", "0.5")
    assert "--step 0.5 0.5: the sub-pixel families take whole-pixel steps" in err


def test_table_for_another_camera_is_refused(capsys, tmp_path):
    ir_table = tmp_path / "ir.ecsv"
    write_postargs(subpixel(4), ir_table, aperture="IIRFIX")
    err = one_line_error(capsys, "plan", "--pattern", ir_table, "--aperture", "acs-wfc")
    assert "IIRFIX (WFC3/IR)" in err
    assert "--allow-mismatch" in err
    code, _, err = run(
        capsys, "plan", "--pattern", ir_table, "--aperture", "acs-wfc", "--allow-mismatch"
    )
    assert code == 0
    assert err.startswith("ditherlab plan: warning: pattern '4-point box' was made for IIRFIX")
    assert err.count("\n") == 1
    # the same camera through another aperture: a warning, not an error
    wfc1 = tmp_path / "wfc1.csv"
    write_postargs(subpixel(4), wfc1, aperture="JWFC1FIX")
    code, _, err = run(capsys, "plan", "--pattern", wfc1, "--aperture", "acs-wfc")
    assert code == 0
    assert "warning: the pattern was written for aperture JWFC1FIX, used here with JWFC" in err
    # the same aperture: silent
    code, _, err = run(capsys, "plan", "--pattern", wfc1, "--aperture", "JWFC1FIX")
    assert code == 0
    assert err == ""
    # the library call warns through the warnings module
    with pytest.warns(DitherlabWarning, match="same camera"):
        check_pattern_aperture(read_postargs(wfc1), "acs-wfc")
    with pytest.raises(DitherlabValueError, match="allow_mismatch=True"):
        check_pattern_aperture(read_postargs(ir_table), "acs-wfc1")


@pytest.mark.parametrize("command", ["plan", "simulate"])
def test_acs_pattern_on_wfc3_ir_is_refused(capsys, tmp_path, command):
    argv = [command, "--pattern", "ACS-WFC-DITHER-BOX", "--aperture", "wfc3-ir"]
    if command == "simulate":
        argv += ["--outdir", tmp_path / "sim", "--exptime", "100"]
    err = one_line_error(capsys, *argv)
    assert "made for ACS/WFC, not IIR" in err
    assert not (tmp_path / "sim").exists()  # refused before any work


@pytest.mark.parametrize("ext", ["ecsv", "json", "txt"])
def test_named_pattern_read_back_keeps_its_camera(capsys, tmp_path, ext):
    path = tmp_path / f"box.{ext}"
    write_postargs(standard_pattern("ACS-WFC-DITHER-BOX"), path)  # no aperture recorded
    err = one_line_error(capsys, "plan", "--pattern", path, "--aperture", "wfc3-uvis")
    assert "made for ACS/WFC, not IUVIS (WFC3/UVIS)" in err


def test_mixed_instrument_patterns_are_refused(capsys):
    err = one_line_error(
        capsys, "plan", "--pattern", "ACS-WFC-DITHER-LINE", "--secondary", "WFC3-IR-DITHER-LINE"
    )
    assert "mixes patterns of ACS/WFC and WFC3/IR" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--pattern", "4", "--npoints", "7"], "--npoints not used by --pattern 4"),
        (["--pattern", "ACS-WFC-DITHER-BOX", "--step", "5", "5"], "--step not used by"),
        (["--pattern", "2", "--secondary-step", "1", "1"], "--secondary-step not used"),
        (["--pattern", "hotpixel", "--orient", "30"], "--orient not used by --pattern hotpixel"),
        (["--pattern", "4", "--axis", "x"], "--axis not used"),
        (["--pattern", "ACS-WFC-DITHER-LINE", "--line-spacing", "1"], "--line-spacing not used"),
    ],
)
def test_options_a_pattern_ignores_are_refused(capsys, argv, message):
    assert message in one_line_error(capsys, "plan", *argv)


def test_options_used_by_the_secondary_are_accepted(capsys):
    code, out, _ = run(
        capsys, "plan", "--pattern", "ACS-WFC-DITHER-LINE", "--secondary", "4", "--step", "1",
        "--aperture", "acs-wfc",
    )
    assert code == 0
    assert "8 exposures" in out


def test_named_pattern_parameters_are_applied(capsys, tmp_path):
    # --npoints/--point-spacing override a named pattern (they used to be ignored or
    # limited to --npoints)
    path = tmp_path / "gap.json"
    argv = ["--pattern", "ACS-WFC-DITHER-LINE", "--npoints", "3", "--point-spacing", "2.994"]
    assert run(capsys, "plan", *argv, "-o", path)[0] == 0
    old = standard_pattern("ACS-WFC-DITHER-LINE-PRE-C25", n_points=3)
    np.testing.assert_allclose(read_postargs(path).offsets, old.offsets, rtol=0, atol=1e-12)
    err = one_line_error(capsys, "plan", "--pattern", "ACS-WFC-DITHER-BOX", "--npoints", "3")
    assert "--npoints 3: ACS-WFC-DITHER-BOX has 4 points" in err


def test_cr_probability_above_one_is_refused(capsys):
    err = one_line_error(capsys, "split", "--cr-rate", "200")
    assert "--cr-rate 200" in err
    assert "6 > 1" in err  # 2e-3/s x 3000 s
    with pytest.raises(DitherlabValueError, match="model='poisson'"):
        cr_loss_fraction(3000, 1, 2e-3)
    # the Poisson form is a probability for any rate
    assert cr_loss_fraction(3000, 1, 2e-3, model="poisson") == pytest.approx(1 - np.exp(-6))
    assert run(capsys, "split", "--cr-rate", "200", "--cr-model", "poisson")[0] == 0


# -- interop --------------------------------------------------------------------------------
def test_csv_reads_as_plain_rows(tmp_path):
    from astropy.table import Table

    path = tmp_path / "box.csv"
    write_postargs(standard_pattern("ACS-WFC-DITHER-BOX"), path, aperture="acs-wfc")
    t = Table.read(path, format="csv")
    assert t.colnames == [
        "exposure", "postarg_x_arcsec", "postarg_y_arcsec", "pixel_x", "pixel_y", "aperture"
    ]
    assert list(t["exposure"]) == [1, 2, 3, 4]
    assert set(t["aperture"]) == {"JWFC"}
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 5
    assert not any(r[0].startswith("#") for r in rows)
    np.testing.assert_allclose(
        [[float(r[1]), float(r[2])] for r in rows[1:]],
        standard_pattern("ACS-WFC-DITHER-BOX").offsets, rtol=0, atol=0,
    )
    assert read_postargs(path).meta["aperture"] == "JWFC"


def test_from_pysiaf_accepts_instrument_names():
    pytest.importorskip("pysiaf")
    from ditherlab.planner import from_pysiaf

    a = from_pysiaf("JWFC1FIX", instrument="ACS")
    assert a == from_pysiaf("JWFC1FIX", instrument="HST")
    assert from_pysiaf("IIRFIX", instrument="wfc3").detector == "IR"
    assert from_pysiaf("UWF3FIX", instrument="WFPC2").instrument == "WFPC2"
    with pytest.raises(DitherlabValueError, match="is a ACS aperture, not WFC3"):
        from_pysiaf("JWFC1FIX", instrument="WFC3")


def test_truncated_fits_as_pattern_gives_a_short_error(capsys, tmp_path):
    from astropy.io import fits

    full = tmp_path / "full.fits"
    fits.PrimaryHDU(np.zeros((50, 50), np.float32)).writeto(full)
    bad = tmp_path / "truncated.fits"
    bad.write_bytes(full.read_bytes()[:4000])
    err = one_line_error(capsys, "plan", "--pattern", bad)
    assert "truncated.fits" in err
    # a long text line is cut in the message too
    long = tmp_path / "long.txt"
    long.write_text("x" * 6000 + "\n")
    err = one_line_error(capsys, "plan", "--pattern", long)
    assert "(6000 chars)" in err


def test_errors_name_the_users_flag(capsys, tmp_path):
    err = one_line_error(capsys, "plan", "--pattern", "4", "--secondary", "5")
    assert err.startswith("ditherlab plan: error: --secondary 5:")
    err = one_line_error(capsys, "split", "--max-exposures", "0")
    assert "--max-exposures 0 must be between 1 and" in err
    (tmp_path / "ro").mkdir()
    err = one_line_error(capsys, "plan", "--pattern", tmp_path / "ro")
    assert "is a directory" in err
    with pytest.raises(DitherlabTypeError, match="path=123 must be a file name"):
        read_postargs(123)
    with pytest.raises(FileFormatError, match="is a directory"):
        read_postargs(tmp_path / "ro")


# -- pictures -------------------------------------------------------------------------------
def _texts_overlap(a, b):
    return a.overlaps(b) and a.width > 0 and b.width > 0


def test_mosaic_plot_is_readable():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ditherlab.planner.plotting import plot_pattern

    fig = plot_pattern(standard_pattern("ACS-WFC-MOSAIC-LINE"), "acs-wfc")
    try:
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        ax1 = fig.axes[0]
        for axis in (ax1.xaxis, ax1.yaxis):
            boxes = [t.get_window_extent(r) for t in axis.get_ticklabels() if t.get_text()]
            assert len(boxes) >= 3
            for i in range(len(boxes) - 1):
                assert not _texts_overlap(boxes[i], boxes[i + 1]), "tick labels overprint"
        title = fig._suptitle.get_window_extent(r)
        labels = [t.get_window_extent(r) for ax in fig.axes for t in ax.texts]
        assert labels
        assert not any(_texts_overlap(title, b) for b in labels), "title hits a point label"
        # every label inside the frame, every axis label inside the figure
        for ax in fig.axes:
            frame = ax.get_window_extent(r)
            assert all(frame.contains(b.x0, b.y0) and frame.contains(b.x1, b.y1)
                       for b in (t.get_window_extent(r) for t in ax.texts))
            assert ax.get_tightbbox(r).y0 >= 0
    finally:
        plt.close(fig)


def test_plot_title_names_aperture_and_position(capsys, tmp_path):
    from ditherlab.planner.plotting import plot_title

    assert plot_title(subpixel(4), "wfc3-ir", (50, 950)) == (
        "4-point box (4 exposures) — WFC3/IR IIRFIX at (x, y) = (50, 950)"
    )
    png = tmp_path / "ir.png"
    argv = ["plan", "--pattern", "4", "--aperture", "wfc3-ir", "--at", "50", "950"]
    assert run(capsys, *argv, "--plot", png)[0] == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
