"""The end-to-end demo: plan → simulate → drizzle → score → report."""

import json

import pytest
from astropy.io import fits

from ditherlab.cli import main
from ditherlab.demo import DemoConfig, run_demo
from ditherlab.errors import DitherlabValueError, OutputExistsError
from ditherlab.score import ETA_CAP, correlated_noise_ratio

SMALL = DemoConfig(size=96, n_stars=25, exptime=300.0, seed=3)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    report = run_demo(out, SMALL)
    return out, report


def test_demo_writes_every_product(demo_dir):
    out, report = demo_dir
    for name in (
        "report.md",
        "report.json",
        "postargs.txt",
        "pattern.png",
        "drizzled.png",
        "drz_sci.fits",
    ):
        assert (out / name).stat().st_size > 0, name
    assert len(list((out / "exposures").glob("*_flt.fits"))) == 4
    assert json.loads((out / "report.json").read_text()) == json.loads(json.dumps(report))
    assert not list(out.parent.glob(".ditherlab-demo-*")), "temporary directory left behind"
    # the drizzled FITS is the pipeline's product: the grid the report describes
    with fits.open(out / "drz_sci.fits") as h:
        assert [x.name for x in h[1:]] == ["SCI", "WHT", "CTX"]
        assert list(h["SCI"].data.shape) == report["drizzle"]["output_shape"]


def test_demo_numbers_are_physical(demo_dir):
    _, r = demo_dir
    assert r["plan"]["eta_2x2_at_reference"] == pytest.approx(1.0, abs=1e-9)
    assert r["plan"]["eta_2x2_worst_on_chip"] >= 1.0
    sc = r["score"]
    # photometry of the pipeline's drizzle against the noiseless truth drizzled alike:
    # noise, missed CRs and flagged star cores leave it within a few per cent
    assert sc["n_stars"] >= 5
    assert abs(sc["phot_bias"]) < 0.03
    assert sc["phot_error"] < 0.06
    assert sc["centroid_error"] < 0.1 * 0.05  # a tenth of an ACS/WFC pixel
    assert sc["weight_rms_over_median"] < 0.2
    assert sc["holes"] == 0
    # outlier rejection (driz_cr against the median) removes most of the charge of the
    # unflagged hot pixels, which dithering alone only dilutes (it would leave all of it)
    assert sc["hot_residue"] is not None
    assert sc["hot_residue"] < 0.5
    # the pipeline finds the cosmic rays from the data.  Issue 12's >= 98 % above 5 sigma is
    # tested on 2000+ CR pixels (tests/drizzle/pipeline); this 96² demo has ~200, so one
    # binomial sigma is ~1 % and the bound is two below (measured 97.6 %: the misses are
    # 5-8 sigma hits on a star's wing and at the chip's edge)
    assert sc["cr_flagged"] >= 0.96
    assert sc["false_rejections"] < 0.005
    assert not sc["misregistration"]["fired"]
    # the measured noise correlation beside the formula at the pipeline's own drop/pixel
    assert sc["noise_ratio_formula"] == pytest.approx(
        correlated_noise_ratio(0.8, 0.5), rel=0.03
    )
    assert sc["noise_ratio"] == pytest.approx(sc["noise_ratio_formula"], rel=0.1)
    # the optics' 0.05" core convolved with the 0.05" pixel, charge diffusion and the drop
    assert 0.07 < sc["fwhm"] < 0.15


@pytest.mark.parametrize(("npoints", "exptime"), [(2, 1500.0), (3, 3000.0)])
def test_demo_cr_loss_matches_the_planner(tmp_path, npoints, exptime):
    # long exposures lose sky to CRs hit in all N frames.  Measured with the truth masks
    # (ideal rejection), the fraction of sky points hit in every frame is p**N in
    # expectation; CRs come in clusters of a few pixels, so the handful of events in a
    # 320-px cut-out scatters it by tens of per cent.
    cfg = DemoConfig(npoints=npoints, size=320, exptime=exptime, n_stars=5)
    r = run_demo(tmp_path / "cr", cfg)
    sc = r["score"]
    assert 0.5 < sc["cr_lost_measured"] / sc["cr_lost_analytic"] < 2.0
    # where every frame is hit the median is hit too: driz_cr cannot flag those pixels, so
    # the pipeline's masks lose less sky than ideal rejection (and leave the CR charge in)
    assert sc["cr_lost_pipeline"] < sc["cr_lost_measured"]
    assert "driz_cr cannot see the cosmic ray" in (tmp_path / "cr" / "report.md").read_text()
    # 2 frames cannot rebuild a 2 x 2 finer grid: eta sits at its stated cap
    assert r["plan"]["eta_2x2_at_reference"] == ETA_CAP
    json.loads((tmp_path / "cr" / "report.json").read_text())  # valid JSON, no NaN/Infinity


def test_demo_is_reproducible_and_refuses_to_overwrite(demo_dir, tmp_path):
    out, report = demo_dir
    with pytest.raises(OutputExistsError, match="overwrite"):
        run_demo(out, SMALL)
    again = run_demo(tmp_path / "again", SMALL)
    assert again == report
    # the same seed gives the same bytes, in every file
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    again_dir = tmp_path / "again"
    assert files == sorted(p.relative_to(again_dir) for p in again_dir.rglob("*") if p.is_file())
    for rel in files:
        assert (tmp_path / "again" / rel).read_bytes() == (out / rel).read_bytes(), rel


def test_demo_config_validation():
    with pytest.raises(DitherlabValueError, match="npoints=5"):
        DemoConfig(npoints=5)
    with pytest.raises(DitherlabValueError, match="exptime"):
        DemoConfig(exptime=-1)
    with pytest.raises(DitherlabValueError, match="size=4000"):
        DemoConfig(size=4000)


def test_demo_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["demo", "--outdir", str(out), "--size", "64", "--stars", "10", "--pattern", "2"]
    assert main(argv) == 0
    assert "# ditherlab demo report" in capsys.readouterr().out
    assert main(argv) == 2
    assert "overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0
