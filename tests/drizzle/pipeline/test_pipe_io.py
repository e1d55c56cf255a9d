"""Inputs from files (ditherlab's and HST-style), bad input, and the ``ditherlab drizzle`` CLI."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from pipe_helpers import stack

from ditherlab.cli import main
from ditherlab.drizzle import run_pipeline
from ditherlab.errors import DitherlabValueError, FileFormatError
from ditherlab.simulate import write_exposure

BITS = {"driz_sep_bits": 336, "final_bits": 336}


@pytest.fixture(scope="module")
def small():
    return stack(seed=11, size=96, nstars=300)


@pytest.fixture(scope="module")
def files(small, tmp_path_factory):
    d = tmp_path_factory.mktemp("flt")
    return [write_exposure(e.replace(truth=None), d / f"{e.rootname}_flt.fits") for e in small]


def _as_hst(src, dst, per_second=False, dn_gain=None):
    """A copy without ditherlab's keywords: read by the generic HST flt reader."""
    with fits.open(src) as h:
        for hdu in h:
            for k in [k for k in hdu.header if k.startswith("DL_")]:
                del hdu.header[k]
            if per_second and hdu.header.get("EXTNAME") in ("SCI", "ERR"):
                hdu.data = hdu.data / np.float32(h[0].header["EXPTIME"])
                hdu.header["BUNIT"] = "ELECTRONS/S"
            if dn_gain and hdu.header.get("EXTNAME") in ("SCI", "ERR"):
                hdu.data = hdu.data / np.float32(dn_gain)
                hdu.header["BUNIT"] = "COUNTS"
        if dn_gain:
            h[0].header["ATODGAIN"] = 1.0  # wrong on purpose: the gain override fixes it
        h.writeto(dst)
    return dst


def test_hst_style_files_read_like_ours(small, files, tmp_path):
    p = run_pipeline(small, **BITS)
    hst = [_as_hst(f, tmp_path / f.name) for f in files]
    q = run_pipeline(hst, **BITS)
    assert q.instrument == "ACS"
    assert q.detector == "WFC"
    np.testing.assert_allclose(q.sci, p.sci, rtol=1e-4, atol=1e-5, equal_nan=True)
    agree = np.mean([np.mean(a[0] == b[0]) for a, b in zip(p.cr_masks, q.cr_masks, strict=True)])
    assert agree > 0.9999
    # data in electrons per second are converted to electrons (× EXPTIME)
    d2 = tmp_path / "cps"
    d2.mkdir()
    cps = [_as_hst(f, d2 / f.name, per_second=True) for f in files]
    r = run_pipeline(cps, **BITS)
    np.testing.assert_allclose(r.sci, p.sci, rtol=1e-4, atol=1e-5, equal_nan=True)
    # data in DN: the gain override converts them to electrons
    d3 = tmp_path / "dn"
    d3.mkdir()
    dn = [_as_hst(f, d3 / f.name, dn_gain=2.0) for f in files]
    g = run_pipeline(dn, gain=2.0, **BITS)
    np.testing.assert_allclose(g.sci, p.sci, rtol=1e-4, atol=1e-5, equal_nan=True)


def test_truncated_and_non_fits_files(files, tmp_path):
    bad = tmp_path / "cut_flt.fits"
    data = files[0].read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match=r"cut_flt\.fits"):
        run_pipeline([bad, *files[1:]])
    txt = tmp_path / "notes_flt.fits"
    txt.write_text("not a FITS file\n")
    with pytest.raises(FileFormatError, match=r"notes_flt\.fits"):
        run_pipeline([txt])
    with pytest.raises(FileNotFoundError, match=r"missing_flt\.fits"):
        run_pipeline([tmp_path / "missing_flt.fits"])


def test_file_without_dq(files, tmp_path):
    for keep_dl in (True, False):
        out = tmp_path / f"nodq{keep_dl}_flt.fits"
        with fits.open(files[0]) as h:
            hdus = [x for x in h if x.name != "DQ"]
            if not keep_dl:
                for x in hdus:
                    for k in [k for k in x.header if k.startswith("DL_")]:
                        del x.header[k]
            fits.HDUList(hdus).writeto(out)
        with pytest.raises(FileFormatError, match=out.name):
            run_pipeline([out])


def test_mixed_instruments_and_non_overlapping_inputs(small):
    uvis = stack(seed=2, size=64, aperture="wfc3-uvis1", nstars=50)
    with pytest.raises(DitherlabValueError, match="one camera"):
        run_pipeline([*small, uvis[0]])
    far = small[1]
    chip = far.chips[0]
    w = chip.wcs.deepcopy()
    w.wcs.crval = [w.wcs.crval[0] + 0.5, w.wcs.crval[1]]
    moved = far.replace(chips=(type(chip)(sci=chip.sci, err=chip.err, dq=chip.dq, wcs=w,
                                          ccdchip=chip.ccdchip, extver=chip.extver),))  # fmt: skip
    with pytest.raises(DitherlabValueError, match="does not overlap"):
        run_pipeline([small[0], moved])
    # a WCS on the far side of the sky (e.g. CRVAL missing: RA = Dec = 0) cannot be
    # projected at all: the error still names the input
    w2 = chip.wcs.deepcopy()
    w2.wcs.crval = [w2.wcs.crval[0] + 180.0, -w2.wcs.crval[1]]
    away = far.replace(chips=(type(chip)(sci=chip.sci, err=chip.err, dq=chip.dq, wcs=w2,
                                         ccdchip=chip.ccdchip, extver=chip.extver),))  # fmt: skip
    with pytest.raises(DitherlabValueError, match=f"input .{far.rootname}.*do not overlap"):
        run_pipeline([small[0], away])


def test_unknown_parameter_names(small):
    with pytest.raises(DitherlabValueError, match="unknown parameter name 'final_pixfract'"):
        run_pipeline(small, final_pixfract=0.8)


def _run_cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_writes_products_and_refuses_to_overwrite(files, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    args = [*map(str, files), "-o", str(out), "--preset", "acs-wfc", "--final-pixfrac", "0.8",
            "--set", "combine_type=median", "--set", "combine_nhigh=1"]  # fmt: skip
    code, _stdout, err = _run_cli(["drizzle", *args], capsys)
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        ["final_drz.fits", "final_sky.ecsv"] + [f"dlsim0{k}_crmask.fits" for k in range(1, 5)]
    )
    assert "driz_separate 4/4" in err  # progress
    with fits.open(out / "final_drz.fits") as h:
        ph = h[0].header
        assert ph["ADRIZ FINAL_PIXFRAC"] == 0.8
        assert ph["ADRIZ COMBINE_TYPE"] == "median"
        assert ph["ADRIZ FINAL_BITS"] == 336  # from the preset (EXPSTART after June 2017)
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    code, _, err = _run_cli(["drizzle", *args], capsys)
    assert code == 2
    errors = [x for x in err.splitlines() if "error" in x]
    assert len(errors) == 1
    assert "exists; pass --overwrite" in errors[0]
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before
    code, _, err = _run_cli(["drizzle", *args, "--overwrite", "-q"], capsys)
    assert code == 0
    assert err == ""


@pytest.mark.parametrize("case", ["truncated", "unknown", "preset", "baddir", "update_dq"])
def test_cli_bad_input_one_line_nothing_written(files, tmp_path, capsys, case):
    out = tmp_path / "out"
    out.mkdir()
    inputs = [str(f) for f in files]
    extra = []
    if case == "truncated":
        cut = tmp_path / "cut_flt.fits"
        cut.write_bytes(files[0].read_bytes()[:5000])
        inputs[0] = str(cut)
    elif case == "unknown":
        extra = ["--set", "final_pixfract=0.8"]
    elif case == "preset":
        extra = ["--preset", "wfc3-uvis"]
    elif case == "update_dq":
        extra = ["--update-dq", "yes"]
    else:  # an -o below a plain file can never be made
        (tmp_path / "nowhere").write_text("a file")
        out = tmp_path / "nowhere" / "sub"
    code, _stdout, err = _run_cli(["drizzle", *inputs, "-o", str(out), "-q", *extra], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ditherlab drizzle: error:")
    expect = {"truncated": "cut_flt.fits", "unknown": "final_pixfract", "preset": "wfc3-uvis",
              "baddir": "nowhere", "update_dq": "--update-dq"}[case]  # fmt: skip
    assert expect in lines[0]
    if out.is_dir():
        assert list(out.iterdir()) == []


def test_cli_makes_a_new_output_folder_only_after_the_run(files, tmp_path, capsys):
    out = tmp_path / "new" / "drz"
    code, stdout, err = _run_cli(["drizzle", *map(str, files), "-o", str(out), "-q"], capsys)
    assert code == 0, err
    assert (out / "final_drz.fits").is_file()
    assert str(out / "final_drz.fits") in stdout


def test_cli_refuses_a_parameter_given_twice_with_two_values(files, tmp_path, capsys):
    out = tmp_path / "twice"
    args = ["drizzle", *map(str, files), "-o", str(out), "-q",
            "--set", "final_scale=0.03", "--final-scale", "0.04"]  # fmt: skip
    code, _, err = _run_cli(args, capsys)
    assert code == 2
    want = (
        "ditherlab drizzle: error: --set 'final_scale=0.03' contradicts --final-scale "
        "'0.04': give final_scale once"
    )
    assert err.strip().splitlines() == [want]
    assert not out.exists()


@pytest.mark.parametrize("case", ["escape", "samename", "outfile"])
def test_cli_bad_output_refused_before_the_run(files, tmp_path, capsys, monkeypatch, case):
    """Output names that leave -o, clash, or an -o that is a file: refused before any work."""
    import ditherlab.drizzle.pipeline.run as run_mod

    def no_run(*a, **k):
        raise AssertionError("the pipeline ran before the output names were checked")

    monkeypatch.setattr(run_mod, "run_pipeline", no_run)
    out = tmp_path / "out"
    out.mkdir()
    inputs = [str(f) for f in files]
    extra = []
    if case == "escape":
        extra = ["--output", "../escaped"]
    elif case == "samename":
        other = tmp_path / "other"
        other.mkdir()
        (other / files[0].name).write_bytes(files[0].read_bytes())
        inputs.append(str(other / files[0].name))
    else:
        out = tmp_path / "afile"
        out.write_text("not a directory")
    code, _stdout, err = _run_cli(["drizzle", *inputs, "-o", str(out), "-q", *extra], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("ditherlab drizzle: error:")
    expect = {"escape": "../escaped", "samename": files[0].stem.replace("_flt", "_crmask"),
              "outfile": "afile"}[case]  # fmt: skip
    assert expect in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {"out", "afile", "other"} & {p.name for p in tmp_path.iterdir()}
    )
    if out.is_dir():
        assert list(out.iterdir()) == []


def test_non_ascii_names_and_long_parameters_reach_the_header(files, tmp_path, capsys):
    """A non-ASCII input name (was a traceback after the whole run) and a long skyfile
    path (was cut to 40 characters) are written whole, readable by astropy."""
    src = tmp_path / "ciel_é_flt.fits"
    src.write_bytes(files[0].read_bytes())
    deep = tmp_path / ("a_rather_long_directory_name_" * 3)
    deep.mkdir()
    skyfile = deep / "sky.txt"
    skyfile.write_text("".join(f"{Path(n).name} 60.0\n" for n in (src, *files[1:])))
    out = tmp_path / "out"
    out.mkdir()
    code, _stdout, err = _run_cli(
        ["drizzle", str(src), *map(str, files[1:]), "-o", str(out), "-q",
         "--set", f"skyfile={skyfile}"], capsys,
    )  # fmt: skip
    assert code == 0, err
    with fits.open(out / "final_drz.fits") as h:
        assert h[0].header["ADRIZ SKYFILE"] == str(skyfile)
        assert h[0].header["D001DATA"].endswith("ciel_\\xe9_flt.fits")
    with fits.open(out / "ciel_é_crmask.fits") as h:
        assert h[0].header["FILENAME"].endswith("ciel_\\xe9_flt.fits")


def test_cli_too_large_an_explicit_grid_names_final_outnx(files, tmp_path, capsys):
    args = ["drizzle", *map(str, files), "-o", str(tmp_path / "big"), "-q",
            "--final-outnx", "1000000", "--final-outny", "1000000"]  # fmt: skip
    code, _, err = _run_cli(args, capsys)
    assert code == 2
    (line,) = err.strip().splitlines()
    assert "final_outnx/final_outny ask for more than the largest grid" in line
    assert not (tmp_path / "big").exists()
