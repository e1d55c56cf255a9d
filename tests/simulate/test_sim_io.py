"""flt/truth files: exact round trips, determinism, refusal to overwrite, the CLI."""

import dataclasses
import functools

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_helpers import camera

from ditherlab.cli import main
from ditherlab.errors import FileFormatError, OutputExistsError
from ditherlab.planner import Pattern, subpixel
from ditherlab.simulate import Pointing, Scene, observe, read_exposure, truth_path, write_exposure

FIELDS = (
    "exptime",
    "gain",
    "read_noise",
    "sky",
    "dark",
    "instrument",
    "detector",
    "aperture",
    "filter",
    "rootname",
    "expstart",
    "postarg",
    "ra_targ",
    "dec_targ",
    "pa_v3",
    "idcscale",
)


def _small(seed, **kw):
    ap = camera("acs-wfc")
    scene = Scene.random_field(400, n_galaxies=3, size=220, sky=30.0, rng=seed)
    return observe(
        scene,
        subpixel(2),
        ap,
        250.0,
        subarray=(1900, 900, 96, 80),
        pointing=Pointing(jitter=3.0),
        rng=seed,
        **kw,
    )


def _same_wcs(a, b):
    assert np.array_equal(a.wcs.crpix, b.wcs.crpix)
    assert np.array_equal(a.wcs.crval, b.wcs.crval)
    assert np.array_equal(a.wcs.cd, b.wcs.cd)
    assert np.array_equal(a.sip.a, b.sip.a)
    assert np.array_equal(a.sip.b, b.sip.b)


def assert_same_exposure(e, r):
    for f in FIELDS:
        assert getattr(e, f) == getattr(r, f), f
    assert dict(e.meta) == dict(r.meta)
    assert len(e.chips) == len(r.chips)
    for a, b in zip(e.chips, r.chips, strict=True):
        for name in ("sci", "err", "dq"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype, name
            assert np.array_equal(x, y), name
        assert (a.ccdchip, a.extver, a.origin, a.full_shape, a.aperture, a.idcscale, a.sky) == (
            b.ccdchip,
            b.extver,
            b.origin,
            b.full_shape,
            b.aperture,
            b.idcscale,
            b.sky,
        )
        _same_wcs(a.wcs, b.wcs)
    assert e.truth.postarg == r.truth.postarg
    assert e.truth.roll == r.truth.roll
    assert e.truth.visit == r.truth.visit
    for a, b in zip(e.truth.chips, r.truth.chips, strict=True):
        for name in ("noiseless", "cr_charge", "defects", "dark"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        _same_wcs(a.wcs, b.wcs)


def test_write_read_round_trip_is_exact(tmp_path):
    exps = _small(4)
    for e in exps:
        path = write_exposure(e, tmp_path / f"{e.rootname}_flt.fits")
        assert truth_path(path).is_file()
        assert_same_exposure(e, read_exposure(path))
    # the pipeline file holds no truth
    with fits.open(tmp_path / "dlsim01_flt.fits") as hdul:
        names = [h.name for h in hdul]
        assert names == ["PRIMARY", "SCI", "ERR", "DQ", "SCI", "ERR", "DQ"]
        h = hdul[1].header
        assert h["BUNIT"] == "ELECTRONS"
        assert h["CTYPE1"] == "RA---TAN-SIP"
        assert hdul[0].header["INSTRUME"] == "ACS"
        # a WCS read straight from the header (as a pipeline would) is the exposure's WCS
        w = WCS(h, hdul)
        e = exps[0].chips[0]
        xy = np.array([[0.0, 0.0], [95.0, 79.0], [40.0, 12.5]])
        assert np.allclose(w.all_pix2world(xy, 0), e.wcs.all_pix2world(xy, 0), rtol=0, atol=1e-12)
    r = read_exposure(tmp_path / "dlsim01_flt.fits", truth=False)
    assert r.truth is None


def test_same_seed_gives_identical_files(tmp_path):
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        for e in _small(7):
            write_exposure(e, tmp_path / run / f"{e.rootname}_flt.fits")
    for name in (
        "dlsim01_flt.fits",
        "dlsim01_truth.fits",
        "dlsim02_flt.fits",
        "dlsim02_truth.fits",
    ):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = _small(8)[0]
    assert not np.array_equal(
        other.chips[0].sci, read_exposure(tmp_path / "a" / "dlsim01_flt.fits").chips[0].sci
    )


def test_refuses_to_overwrite_and_leaves_nothing_half_written(tmp_path):
    e = _small(1)[0]
    path = tmp_path / "x_flt.fits"
    write_exposure(e, path)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        write_exposure(e, path)
    assert path.read_bytes() == before
    write_exposure(e, path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x_flt.fits", "x_truth.fits"]


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_exposure(tmp_path / "none_flt.fits")
    fits.PrimaryHDU(np.zeros((3, 3))).writeto(tmp_path / "plain_flt.fits")
    with pytest.raises(FileFormatError, match="INSTRUME"):
        read_exposure(tmp_path / "plain_flt.fits")
    (tmp_path / "junk_flt.fits").write_text("junk")
    with pytest.raises(FileFormatError):
        read_exposure(tmp_path / "junk_flt.fits")
    e = _small(2)[0]
    write_exposure(e.replace(truth=None), tmp_path / "nt_flt.fits")
    assert not (tmp_path / "nt_truth.fits").exists()
    with pytest.raises(FileNotFoundError, match="truth"):
        read_exposure(tmp_path / "nt_flt.fits", truth=True)


def test_cli_simulate(tmp_path, capsys):
    scene = Scene.random_field(30, size=30, sky=20.0, rng=3)
    scene.write(tmp_path / "stars.ecsv")
    out = tmp_path / "out"
    args = [
        "simulate",
        "--pattern",
        "2",
        "--step",
        "2",
        "3",
        "--aperture",
        "acs-wfc1",
        "--exptime",
        "100",
        "--scene",
        str(tmp_path / "stars.ecsv"),
        "--chips",
        "1",
        "--subarray",
        "1990",
        "990",
        "64",
        "64",
        "--outdir",
        str(out),
        "--seed",
        "5",
    ]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "exposure 1/2" in captured.err
    assert "exposure 2/2" in captured.err
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "dlsim01_flt.fits",
        "dlsim01_truth.fits",
        "dlsim02_flt.fits",
        "dlsim02_truth.fits",
        "dlsim_manifest.json",
        "dlsim_scene.ecsv",
    ]
    e = read_exposure(out / "dlsim02_flt.fits")
    assert e.exptime == 100.0
    assert e.chips[0].shape == (64, 64)
    assert e.chips[0].origin == (1990, 990)
    # the --step 2 3 sub-pixel pattern: second POS TARG is (2.5, 3.5) px at the reference
    assert e.meta["pattern"] == "2-point sub-pixel"
    # a second run refuses to overwrite, with a clear one-line error
    assert main(args) == 2
    assert "exists" in capsys.readouterr().err
    assert main([*args, "--overwrite", "-q"]) == 0
    assert (
        main(
            [
                "simulate",
                "--aperture",
                "acs-wfc1",
                "--exptime",
                "-3",
                "--outdir",
                str(out),
                "--overwrite",
                "--subarray",
                "0",
                "0",
                "8",
                "8",
            ]
        )
        == 2
    )
    assert "exptime" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "amp"),
    [("acs-wfc1", "ABCD"), ("acs-hrc", "C"), ("acs-sbc", "N/A"), ("wfc3-uvis1", "ABCD")],
)
def test_ccdamp_is_written_per_detector(tmp_path, name, amp):
    ap = camera(name)
    scene = Scene.random_field(20, size=20, sky=10.0, rng=1)
    (e,) = observe(
        scene, Pattern([[0, 0]]), ap, 10.0, chips=[ap.chip], subarray=(0, 0, 8, 8), rng=1
    )
    path = write_exposure(e, tmp_path / "a_flt.fits")
    assert fits.getval(path, "CCDAMP") == amp


def test_wfpc2_files_hold_dn_and_read_back_exactly(tmp_path):
    """WFPC2 flt data are DN by the drizzlepac gain of each chip; reading is exact."""
    from ditherlab.simulate.io import WFPC2_GAINS

    ap = camera("wfpc2-wf3")
    scene = Scene.random_field(300, n_galaxies=2, size=150, sky=20.0, rng=3)
    exps = observe(scene, subpixel(2), ap, 300.0, subarray=(300, 300, 40, 32), rng=3)
    e = exps[1]
    path = write_exposure(e, tmp_path / "w_flt.fits")
    assert_same_exposure(e, read_exposure(path))
    with fits.open(path) as hdul:
        assert hdul[0].header["ATODGAIN"] == 7
        for chip in e.chips:
            h = hdul["SCI", chip.extver].header
            assert h["DETECTOR"] == chip.ccdchip
            assert h["BUNIT"] == "COUNTS"
            g = WFPC2_GAINS[chip.ccdchip][7]
            dn = hdul["SCI", chip.extver].data
            assert np.allclose(dn * g, chip.sci, rtol=1e-6, atol=1e-4)


def test_a_stale_truth_file_is_never_paired_with_another_exposure(tmp_path):
    from ditherlab.errors import DitherlabWarning

    a, b = _small(5)
    path = tmp_path / "x_flt.fits"
    write_exposure(a, path)
    # overwriting with an exposure without truth removes the old truth
    write_exposure(b.replace(truth=None), path, overwrite=True)
    assert not truth_path(path).exists()
    assert read_exposure(path).truth is None
    # a truth left over from another exposure (not removed: written elsewhere, copied in)
    other = tmp_path / "o_flt.fits"
    write_exposure(a, other)
    truth_path(other).rename(truth_path(path))
    with pytest.warns(DitherlabWarning, match="DL_PAIR"):
        r = read_exposure(path)
    assert r.truth is None
    assert r.exptime == b.exptime
    with pytest.raises(FileFormatError, match="does not belong"):
        read_exposure(path, truth=True)
    # the matching pair reads fine
    write_exposure(b, path, overwrite=True)
    assert_same_exposure(b, read_exposure(path, truth=True))


def test_a_failed_flt_write_leaves_no_truth_behind(tmp_path, monkeypatch):
    import ditherlab.simulate.io as sio

    e = _small(6)[0]
    real = sio._flt_hdulist

    class Broken:
        def writeto(self, *args, **kwargs):
            raise OSError("disk full")

    monkeypatch.setattr(sio, "_flt_hdulist", lambda exp: Broken())
    with pytest.raises(OSError, match="disk full"):
        write_exposure(e, tmp_path / "y_flt.fits")
    assert list(tmp_path.iterdir()) == []
    # and over an existing pair, both old files stay as they were
    monkeypatch.setattr(sio, "_flt_hdulist", real)
    write_exposure(e, tmp_path / "y_flt.fits")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    monkeypatch.setattr(sio, "_flt_hdulist", lambda exp: Broken())
    with pytest.raises(OSError, match="disk full"):
        write_exposure(_small(7)[0], tmp_path / "y_flt.fits", overwrite=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_cli_simulate_never_overwrites_the_scene_file_without_overwrite(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    scene_file = out / "dlsim_scene.ecsv"
    scene_file.write_text("precious\n")
    args = [
        "simulate",
        "--pattern",
        "2",
        "--aperture",
        "acs-wfc1",
        "--exptime",
        "10",
        "--nstars",
        "5",
        "--chips",
        "1",
        "--subarray",
        "0",
        "0",
        "16",
        "16",
        "--outdir",
        str(out),
        "--seed",
        "1",
        "-q",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "dlsim_scene.ecsv" in err
    assert "exists" in err
    assert scene_file.read_text() == "precious\n"
    assert sorted(p.name for p in out.iterdir()) == ["dlsim_scene.ecsv"]  # nothing written
    assert main([*args, "--overwrite"]) == 0
    assert scene_file.read_text() != "precious\n"


def test_wfc3_ir_files_hold_count_rates_like_calwf3(tmp_path):
    """Real WFC3/IR flt files are in e-/s (BUNIT = ELECTRONS/S, SCI and ERR) with a TIME
    extension (WFC3 Data Handbook §2.2.2); the simulated ones too, and read back exactly."""
    scene = Scene.random_field(200, size=140, sky=1.0, rng=8)
    e = observe(scene, subpixel(2), "wfc3-ir", 302.9, subarray=(400, 380, 48, 40), rng=8)[1]
    path = write_exposure(e, tmp_path / "i_flt.fits")
    assert_same_exposure(e, read_exposure(path))
    chip = e.chips[0]
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "ERR", "DQ", "TIME"]
        assert hdul[0].header["NEXTEND"] == 4
        t = hdul[0].header["EXPTIME"]
        assert t == 302.9
        for ext, arr in (("SCI", chip.sci), ("ERR", chip.err)):
            assert hdul[ext].header["BUNIT"] == "ELECTRONS/S"
            assert np.array_equal((hdul[ext].data * t).astype(np.float32), arr)
        assert hdul["DQ"].header["BUNIT"] == "UNITLESS"
        assert hdul["TIME"].header["BUNIT"] == "SECONDS"
        assert np.all(hdul["TIME"].data == np.float32(t))
        good = chip.dq == 0
        assert hdul["SCI"].header["GOODMEAN"] == pytest.approx(chip.sci[good].mean() / t)
    # UVIS (a CCD) stays in electrons, with no TIME extension
    u = observe(scene, subpixel(2), "wfc3-uvis1", 100.0, chips=[2], subarray=(0, 0, 8, 8), rng=8)
    with fits.open(write_exposure(u[0], tmp_path / "u_flt.fits")) as hdul:
        assert hdul["SCI"].header["BUNIT"] == "ELECTRONS"
        assert "TIME" not in hdul


@functools.cache
def _ir_pixel_exposure():
    scene = Scene(ra=150.0, dec=2.0, x=[], y=[], flux=[])
    pat = Pattern([[0, 0]])
    return observe(scene, pat, "wfc3-ir", 1.0, subarray=(0, 0, 2, 2), rng=1, noise=False)[0]


@settings(max_examples=25, deadline=None)
@given(
    st.floats(0.5, 5000.0),
    st.lists(st.floats(-1e6, 1e6, width=32), min_size=4, max_size=4),
)
def test_ir_rate_conversion_reads_back_the_same_float32_electrons(tmp_path_factory, t, vals):
    e = _ir_pixel_exposure()
    arr = np.array(vals, np.float32).reshape(2, 2)
    chip = dataclasses.replace(e.chips[0], sci=arr, err=np.abs(arr))
    e = e.replace(chips=(chip,), exptime=t, truth=None)
    path = write_exposure(e, tmp_path_factory.mktemp("ir") / "x_flt.fits")
    r = read_exposure(path, truth=False).chips[0]
    assert np.array_equal(r.sci, arr)
    assert np.array_equal(r.err, np.abs(arr))
