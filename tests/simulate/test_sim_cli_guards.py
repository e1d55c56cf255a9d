"""Issue 9, simulate side: every output stays in --outdir, an overwrite leaves one
consistent run, unwritable folders and runs too large for memory or disk are refused
before the work, options that do nothing are refused, errors are one line."""

import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from hypothesis import given, settings
from hypothesis import strategies as st

from ditherlab import _io
from ditherlab._io import RunOutput, check_output_dir, check_stem
from ditherlab.cli import main
from ditherlab.errors import (
    DitherlabValueError,
    OutputExistsError,
    OutputNotWritableError,
    ResourceLimitError,
)
from ditherlab.planner import subpixel
from ditherlab.simulate import Scene, iter_observe, observe, simulation_cost, write_exposure
from ditherlab.simulate.cost import BASELINE_BYTES, memory_bytes

SMALL = ["--aperture", "acs-wfc1", "--exptime", "10", "--chips", "1", "-q"]
SMALL += ["--subarray", "0", "0", "16", "16", "--nstars", "5"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _simulate(outdir, npoints, *extra):
    return main(["simulate", "--pattern", str(npoints), *SMALL, "--outdir", str(outdir), *extra])


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("ditherlab simulate: error: ")
    return err[0]


# -- a rootname cannot leave the output directory ------------------------------------------
@pytest.mark.parametrize("root", ["../escape", "a/b", "..", "/tmp/abs", ".hidden", "a\\b", ""])
def test_cli_refuses_a_rootname_that_would_leave_outdir(tmp_path, capsys, root):
    out = tmp_path / "out"
    assert _simulate(out, 2, "--rootname", root) == 2
    assert "--rootname" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even --outdir


def test_python_api_refuses_such_a_rootname():
    scene = Scene.random_field(5, rng=1)
    with pytest.raises(DitherlabValueError, match=r"rootname='\.\./x'"):
        observe(scene, subpixel(2), "acs-wfc1", 10.0, chips=[1], subarray=(0, 0, 8, 8),
                rootname="../x")


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=12))
def test_an_accepted_stem_always_names_a_file_inside_the_folder(stem):
    base = Path("/srv/out")
    try:
        check_stem(stem)
    except DitherlabValueError:
        return
    for name in (f"{stem}01_flt.fits", f"{stem}_scene.ecsv", f"{stem}_manifest.json"):
        p = Path(os.path.normpath(base / name))
        assert p.parent == base
        assert p.name == name


# -- --overwrite leaves one consistent run ---------------------------------------------------
def test_overwrite_with_a_shorter_pattern_removes_the_earlier_runs_extra_exposures(tmp_path):
    out = tmp_path / "out"
    assert _simulate(out, 8, "--seed", "1") == 0
    assert len(list(out.glob("*_flt.fits"))) == 8
    assert _simulate(out, 4, "--seed", "2", "--overwrite") == 0
    flts = sorted(p.name for p in out.glob("*_flt.fits"))
    assert flts == [f"dlsim{k:02d}_flt.fits" for k in range(1, 5)]
    assert sorted(p.name for p in out.glob("*_truth.fits")) == [
        f"dlsim{k:02d}_truth.fits" for k in range(1, 5)
    ]
    manifest = json.loads((out / "dlsim_manifest.json").read_text())
    assert manifest["n_exposures"] == 4
    assert manifest["seed"] == 2
    assert sorted(manifest["files"]) == sorted(p.name for p in out.iterdir())
    from astropy.io import fits

    for p in out.glob("*_flt.fits"):  # every exposure belongs to the 4-point run
        assert json.loads(fits.getval(p, "DL_META"))["nsteps"] == 4


def test_overwrite_refuses_files_no_manifest_accounts_for(tmp_path, capsys):
    out = tmp_path / "out"
    assert _simulate(out, 2, "--seed", "1") == 0
    (out / "dlsim07_flt.fits").write_bytes((out / "dlsim01_flt.fits").read_bytes())
    before = _snapshot(out)
    capsys.readouterr()
    assert _simulate(out, 2, "--seed", "2", "--overwrite") == 2
    msg = _one_line_error(capsys)
    assert "'dlsim07_flt.fits'" in msg
    assert "manifest" in msg
    assert _snapshot(out) == before


def test_overwrite_leaves_another_rootnames_run_alone(tmp_path):
    out = tmp_path / "out"
    # "dlsim1"'s first exposure is dlsim101_flt.fits, which looks like dlsim's 101st
    assert _simulate(out, 2, "--seed", "1", "--rootname", "dlsim1") == 0
    other = _snapshot(out)
    assert _simulate(out, 4, "--seed", "1") == 0
    assert _simulate(out, 2, "--seed", "3", "--overwrite") == 0
    now = _snapshot(out)
    assert {k: v for k, v in now.items() if k.startswith("dlsim1")} == other
    assert sorted(k for k in now if k.startswith("dlsim0")) == [
        "dlsim01_flt.fits",
        "dlsim01_truth.fits",
        "dlsim02_flt.fits",
        "dlsim02_truth.fits",
    ]


def test_without_overwrite_an_earlier_run_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "out"
    assert _simulate(out, 4, "--seed", "1") == 0
    before = _snapshot(out)
    capsys.readouterr()
    assert _simulate(out, 2, "--seed", "1") == 2
    assert "--overwrite" in _one_line_error(capsys)
    assert _snapshot(out) == before


def test_a_run_that_fails_part_way_leaves_the_folder_as_it_was(tmp_path, monkeypatch, capsys):
    from ditherlab.simulate import io as sio

    out = tmp_path / "out"
    assert _simulate(out, 4, "--seed", "1") == 0
    before = _snapshot(out)
    calls = []
    real = sio.write_exposure

    def flaky(exp, path, overwrite=False):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(exp, path, overwrite)

    monkeypatch.setattr(sio, "write_exposure", flaky)
    assert _simulate(out, 2, "--seed", "9", "--overwrite") == 2
    assert "No space left" in capsys.readouterr().err
    assert _snapshot(out) == before  # old run intact; no staging folder left behind
    assert sorted(p.name for p in out.iterdir()) == sorted(before)
    # and a new folder that the failed run created is removed again
    calls.clear()
    assert _simulate(tmp_path / "fresh", 2) == 2
    assert not (tmp_path / "fresh").exists()


def test_same_seed_gives_the_same_bytes_manifest_included(tmp_path):
    assert _simulate(tmp_path / "a", 2, "--seed", "4") == 0
    assert _simulate(tmp_path / "b", 2, "--seed", "4") == 0
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")


def test_run_output_never_deletes_outside_the_folder(tmp_path):
    """A tampered manifest listing '../victim' or a file of another stem deletes nothing."""
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim_flt.fits"
    victim.write_text("keep")
    (out / "other01_flt.fits").write_text("keep")
    (out / "x_manifest.json").write_text(
        json.dumps({"ditherlab_manifest": 1, "files": ["../victim_flt.fits", "other01_flt.fits"]})
    )
    run = RunOutput(out, "x", ["x01_flt.fits"], claims=r"x\d{2,}_flt\.fits", overwrite=True)
    with run as staging:
        (staging / "x01_flt.fits").write_text("new")
    assert victim.read_text() == "keep"
    assert (out / "other01_flt.fits").read_text() == "keep"
    assert (out / "x01_flt.fits").read_text() == "new"


# -- unwritable output folders are refused before the work, naming the user's path -----------
def test_check_output_dir_names_the_users_path(tmp_path):
    f = tmp_path / "afile"
    f.write_text("")
    with pytest.raises(OutputExistsError, match=r"outdir=.*afile/sub.*is a file"):
        check_output_dir(f / "sub")
    with pytest.raises(OutputExistsError, match="not a directory"):
        check_output_dir(f)
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert sorted(tmp_path.iterdir()) == [f]  # the probe leaves nothing, creates nothing


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_check_output_dir_refuses_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputNotWritableError, match=r"outdir=.*ro'.*not writable"):
            check_output_dir(ro)
        with pytest.raises(OutputNotWritableError):
            check_output_dir(ro / "sub")
    finally:
        ro.chmod(0o755)


def _unwritable_dir() -> Path:
    """A directory no one (root included) can create files in."""
    p = Path("/proc/sys")
    if not p.is_dir():
        pytest.skip("no /proc/sys on this system")
    return p


def test_cli_refuses_an_unwritable_outdir_before_simulating(capsys, monkeypatch):
    import importlib

    obs = importlib.import_module("ditherlab.simulate.observe")
    ro = _unwritable_dir()
    monkeypatch.setattr(obs, "iter_observe", lambda *a, **k: pytest.fail("simulated anyway"))
    assert _simulate(ro, 2) == 2
    msg = _one_line_error(capsys)
    assert "--outdir='/proc/sys' is not writable" in msg
    assert ".part" not in msg


def test_write_exposure_into_an_unwritable_folder_names_the_users_path():
    ro = _unwritable_dir()
    scene = Scene.random_field(5, rng=1)
    (e,) = observe(scene, subpixel(2), "acs-wfc1", 10.0, chips=[1], subarray=(0, 0, 8, 8))[:1]
    with pytest.raises(OutputNotWritableError, match=r"'/proc/sys/x_truth.fits' cannot be"):
        write_exposure(e, ro / "x_flt.fits")


def test_probe_failure_is_reported_whatever_the_cause(tmp_path, monkeypatch):
    """A folder where creating a file fails (here: made to fail) is refused by name."""

    def deny(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_io.tempfile, "mkstemp", deny)
    with pytest.raises(OutputNotWritableError, match=r"Permission denied"):
        check_output_dir(tmp_path, "--outdir")


def test_demo_refuses_an_unwritable_outdir_before_the_work(monkeypatch):
    import ditherlab.demo as demo

    ro = _unwritable_dir() / "demo"
    monkeypatch.setattr(demo, "_run", lambda *a, **k: pytest.fail("ran anyway"))
    with pytest.raises(OutputNotWritableError, match="outdir='/proc/sys/demo'"):
        demo.run_demo(ro)


# -- memory and disk -----------------------------------------------------------------------
def test_cli_refuses_a_run_too_large_for_memory_before_drawing_the_field(tmp_path, capsys):
    out = tmp_path / "big"
    args = ["simulate", "--pattern", "2", "--aperture", "acs-wfc1", "--exptime", "100"]
    args += ["--subarray", "0", "0", "64", "64", "--nstars", "100000000", "--outdir", str(out)]
    tracemalloc.start()
    try:
        assert main(args) == 2
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20  # refused before a single source was drawn
    msg = _one_line_error(capsys)
    assert "100000000 sources" in msg
    assert "GiB of memory" in msg
    assert "--max-memory" in msg
    assert not out.exists()
    # the limit can be raised; refused again (tiny limit) for a small run
    capsys.readouterr()
    assert _simulate(tmp_path / "s", 2, "--max-memory", "0.01") == 2
    assert "--max-memory 1 (GiB)" in _one_line_error(capsys)
    assert _simulate(tmp_path / "s", 2, "--max-memory", "4") == 0


def test_python_api_refuses_before_the_work_and_says_how_to_stream():
    scene = Scene.random_field(10, rng=1)
    with pytest.raises(ResourceLimitError, match=r"observe\(\) keeping 4 exposures.*iter_observe"):
        observe(scene, subpixel(4), "acs-wfc", 100.0, max_memory=1.5 * u.GiB)
    # streaming holds one exposure: the same run fits the same limit ...
    it = iter_observe(scene, subpixel(4), "acs-wfc", 100.0, max_memory=1.5 * u.GiB)
    del it  # (not run: a full frame is slow)
    # ... and is refused at the call, before any next(), when even one does not fit
    with pytest.raises(ResourceLimitError, match="max_memory"):
        iter_observe(scene, subpixel(4), "acs-wfc", 100.0, max_memory=0.5 * u.GiB)
    with pytest.raises(DitherlabValueError, match="max_memory"):
        observe(scene, subpixel(2), "acs-wfc", 100.0, max_memory=-1)


def _traced_peak(run, *args, **kw) -> int:
    tracemalloc.start()
    try:
        out = run(*args, **kw)
        if run is iter_observe:
            for e in out:
                del e  # hold one exposure at a time, as a writer loop does
        del out
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("nsrc", "subarray"),
    [(100, None), (100_000, (500, 500, 8, 8))],  # pixel-bound, then source-bound
)
def test_memory_model_matches_measured_peaks(nsrc, subarray):
    """The estimate is within 25 % of the traced peak of real runs (arrays only)."""
    scene = Scene.random_field(nsrc, size=150, sky=5.0, rng=2)
    cost = simulation_cost(scene, subpixel(2), "wfc3-ir", subarray=subarray)
    npix = 1014 * 1014
    cut = npix if subarray is None else subarray[2] * subarray[3]
    # iter_observe alone (nothing written): the streaming model without its write term
    streaming = memory_bytes(scene, [npix], [cut], 1)
    for run, est in ((iter_observe, streaming), (observe, cost.memory_all)):
        peak = _traced_peak(run, scene, subpixel(2), "wfc3-ir", 100.0, subarray=subarray, rng=2)
        ratio = peak / (est - BASELINE_BYTES)
        assert 0.75 < ratio < 1.25, (run.__name__, peak / 2**20, (est - BASELINE_BYTES) / 2**20)


def test_the_cli_holds_one_exposure_at_a_time(tmp_path):
    """Its traced peak is the streaming estimate: 1.03 of it, where a loop keeping the
    previous exposure alive while simulating the next (as zip() did) gives 1.12."""
    sub = (0, 0, 2048, 1024)
    args = ["simulate", "--pattern", "3", "--aperture", "wfc3-uvis1", "--chips", "1"]
    args += ["--subarray", *map(str, sub), "--exptime", "100", "-q", "--nstars", "100"]
    args += ["--outdir", str(tmp_path / "o"), "--seed", "1"]
    assert _simulate(tmp_path / "warm", 2) == 0  # imports and caches, before tracing
    tracemalloc.start()
    try:
        assert main(args) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    cost = simulation_cost(100, subpixel(3), "wfc3-uvis1", chips=[1], subarray=sub)
    est = cost.memory_streaming - BASELINE_BYTES
    assert 0.9 < peak / est < 1.08, (peak / 2**20, est / 2**20)


def test_disk_estimate_matches_the_files_written(tmp_path):
    scene = Scene.random_field(50, size=60, sky=5.0, rng=3)
    for name, sub in (("acs-wfc", (0, 0, 300, 200)), ("wfc3-ir", (0, 0, 256, 256))):
        exps = observe(scene, subpixel(2), name, 50.0, subarray=sub, rng=3)
        size = 0
        for e in exps:
            p = write_exposure(e, tmp_path / f"{name}{e.rootname}_flt.fits")
            size += p.stat().st_size + (tmp_path / f"{name}{e.rootname}_truth.fits").stat().st_size
        est = simulation_cost(scene, subpixel(2), name, subarray=sub).disk
        assert est == pytest.approx(size, rel=0.05)
    # the figure: a full-frame ACS/WFC exposure and its truth, ~386 MB
    full = simulation_cost(0, subpixel(2), "acs-wfc").disk / 2
    assert full / 1e6 == pytest.approx(386, rel=0.01)


def test_cli_refuses_a_run_larger_than_the_free_disk(tmp_path, capsys, monkeypatch):
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(
        _io.shutil, "disk_usage", lambda p: real(p)._replace(free=1000)
    )
    assert _simulate(tmp_path / "out", 2) == 2
    assert "free" in _one_line_error(capsys)
    assert not (tmp_path / "out").exists()


# -- options that do nothing, and one-line errors --------------------------------------------
def test_psf_oversampling_without_psf_is_refused(tmp_path, capsys):
    assert _simulate(tmp_path / "o", 2, "--psf-oversampling", "0") == 2
    assert "--psf-oversampling 0 does nothing without --psf" in _one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_random_field_options_with_a_scene_are_refused(tmp_path, capsys):
    Scene.random_field(5, rng=1).write(tmp_path / "s.ecsv")
    args = ["simulate", "--pattern", "2", "--aperture", "acs-wfc1", "--exptime", "10"]
    args += ["--scene", str(tmp_path / "s.ecsv"), "--outdir", str(tmp_path / "o")]
    assert main([*args, "--nstars", "5"]) == 2
    assert "--nstars 5 does nothing with --scene" in _one_line_error(capsys)
    assert main([*args, "--field-size", "30"]) == 2
    assert "--field-size" in _one_line_error(capsys)


def test_a_truncated_fits_scene_gives_one_line(tmp_path, capsys):
    from astropy.table import Table

    good = tmp_path / "good.fits"
    s = Scene.random_field(50, rng=1)
    Table({"x": s.x, "y": s.y, "flux": s.flux}).write(good)
    bad = tmp_path / "truncated.fits"
    bad.write_bytes(good.read_bytes()[:4000])
    args = ["simulate", "--pattern", "2", "--aperture", "acs-wfc1", "--exptime", "10"]
    assert main([*args, "--scene", str(bad), "--outdir", str(tmp_path / "o")]) == 2
    msg = _one_line_error(capsys)
    assert "truncated.fits" in msg
    assert "cannot be read" in msg
    assert np.isfinite(len(msg))
    assert len(msg) < 300


def test_a_scene_of_unknown_format_gives_one_line(tmp_path, capsys):
    """astropy appends its whole table of formats to this error: only its first line stays."""
    junk = tmp_path / "junk_flt.fits"
    junk.write_text("junk\n")
    args = ["simulate", "--pattern", "2", "--aperture", "acs-wfc1", "--exptime", "10"]
    assert main([*args, "--scene", str(junk), "--outdir", str(tmp_path / "o")]) == 2
    msg = _one_line_error(capsys)
    assert "junk_flt.fits" in msg
    assert "Format could not be identified" in msg
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        (["--exptime", "-5"], "--exptime -5.0 must be"),
        (["--exptime", "nan"], "--exptime nan must be"),
        (["--nstars", "-3"], "--nstars -3 must be >= 0"),
        (["--seed", "-1"], "--seed -1 must be"),
        (["--psf-jitter", "nan"], "--psf-jitter nan must be"),
        (["--subarray", "0", "0", "0", "0"], "--subarray 0 0 0 0: the size"),
    ],
)
def test_numbers_out_of_range_name_the_flag(tmp_path, capsys, extra, want):
    args = ["simulate", "--pattern", "2", "--aperture", "acs-wfc1", "--exptime", "10"]
    assert main([*args, "--outdir", str(tmp_path / "o"), *extra]) == 2
    assert want in _one_line_error(capsys)
    assert not (tmp_path / "o").exists()
