"""compare(): one row per pattern, planner numbers beside the geometry scores."""

import numpy as np
import pytest

from ditherlab.errors import DitherlabValueError, PatternNotFoundError
from ditherlab.planner import (
    SEED_WFPC2_CR_RATE,
    Pattern,
    get_aperture,
    standard_pattern,
    subpixel,
    write_postargs,
)
from ditherlab.score import phase_coverage
from ditherlab.score.compare import GEOMETRY_COLUMNS, compare


def _splits(ns):
    # N exposures at one pointing each with a whole-pixel step (as the WFPC2 ETC example)
    return [Pattern([[3.0 * k, 2.0 * k] for k in range(n)], name=f"{n}x") for n in ns]


def test_reproduces_the_seed_cosmic_ray_and_snr_table():
    # DrizzlePac Handbook §2.2, Table 2.1 (WFPC2 ETC): 3000 s, 24 mag in F122M, gain 7
    t = compare(
        _splits([1, 2, 3, 4, 6]),
        "wfpc2-wf3",
        total_exptime=3000,
        cr_rate=SEED_WFPC2_CR_RATE,
        read_noise=5.24,
        dark=0.005,
        source_rate=87 / 3000,
        n_pix=11.2,
        grid=2,
    )
    lost = [round(100 * float(v), 6) for v in t["cr_lost_fraction"]]
    assert lost == [9.60625, 0.2307, 0.003283, 3.3e-05, 0.0]
    assert [round(float(v), 1) for v in t["snr"]] == [3.7, 2.9, 2.5, 2.3, 1.9]
    # "about 61,000 pixels", "about 1400 pixels", "21 pixels" per 800 x 800 chip
    px = np.asarray(t["cr_lost_pixels"])
    assert px[0] == pytest.approx(61000, rel=0.01)
    assert px[1] == pytest.approx(1476, rel=0.01)
    assert round(px[2]) == 21


def test_rows_exposure_columns_and_units():
    t = compare([2, "3", 4, "ACS-WFC-DITHER-BOX"], "acs-wfc", total_exptime=2200, grid=2)
    assert list(t["pattern"])[3] == "ACS-WFC-DITHER-BOX"
    assert list(t["n_exposures"]) == [2, 3, 4, 4]
    assert np.allclose(t["exptime"], [1100, 2200 / 3, 550, 550])
    assert t["exptime"].unit == "s"
    # S/N falls and CR loss falls as the time is split further (read noise paid N times)
    assert np.all(np.diff(np.asarray(t["snr"])[:3]) < 0)
    assert np.all(np.diff(np.asarray(t["cr_lost_fraction"])[:3]) < 0)
    # the ACS box's moves are all < 1.25": 20 s each (COS IHB Table 9.2)
    assert t["move_overhead"][3] == pytest.approx(60.0)
    # the camera's own numbers: ACS/WFC read noise and CR rate from the detector model
    assert t.meta["read_noise"] == pytest.approx(4.2)
    assert t.meta["cr_rate"] == pytest.approx(2e-5)


def test_snr_follows_the_source_and_sky_given_and_says_so():
    kw = {"total_exptime": 2200, "grid": 2}
    faint = compare([4], "acs-wfc", **kw)
    t = compare([4], "acs-wfc", source_rate=5.0, sky=0.1, n_pix=12, **kw)
    assert (t.meta["source_rate"], t.meta["sky"], t.meta["n_pix"]) == (5.0, 0.1, 12.0)
    assert "5 e-/s source over 12 pixels, sky 0.1" in t["snr"].description
    # CCD equation by hand: signal S t over sqrt(S t + n_pix (sky + dark) t + N n_pix rn^2)
    S, T, n, rn, dark = 5.0, 2200.0, 4, t.meta["read_noise"], t.meta["dark"]
    expected = S * T / np.sqrt(S * T + 12 * (0.1 + dark) * T + n * 12 * rn**2)
    assert float(t["snr"][0]) == pytest.approx(expected, rel=1e-9)
    assert float(t["snr"][0]) != pytest.approx(float(faint["snr"][0]), rel=0.1)


def test_geometry_columns_agree_with_phase_coverage_prime_and_parallel():
    box = standard_pattern("ACS-WFC-DITHER-BOX")
    t = compare([box], "acs-wfc", total_exptime=2000, grid=3, parallel="wfc3-uvis")
    ref = phase_coverage(box, "acs-wfc", grid=3, parallel="wfc3-uvis")
    for c in GEOMETRY_COLUMNS:
        assert float(t[c][0]) == pytest.approx(getattr(ref, c))
        assert float(t[f"IUVIS_{c}"][0]) == pytest.approx(getattr(ref.parallels[0], c))
    assert t.meta["parallels"] == ["IUVIS"]


def test_every_kind_of_pattern_spec_gives_the_same_row(tmp_path):
    ap = get_aperture("acs-wfc")
    ecsv, apt = tmp_path / "box.ecsv", tmp_path / "box.txt"
    write_postargs(subpixel(4), ecsv, aperture=ap)
    write_postargs(subpixel(4), apt, aperture=ap, format="apt")  # 4 decimals: 0.002 px
    specs = [4, "4", subpixel(4), ap.postarg_offsets(subpixel(4)), str(ecsv), apt]
    rows = [compare([s], ap, total_exptime=2000, grid=2)[0] for s in specs]
    for c in ("n_exposures", "eta_mean", "covering_radius_worst", "snr", "move_overhead"):
        col = np.array([float(r[c]) for r in rows])
        assert np.allclose(col[:5], col[0], rtol=1e-9, atol=1e-9), c
        assert np.allclose(col[5], col[0], rtol=1e-3), c


def test_the_same_pattern_twice_is_refused(tmp_path, capsys):
    from ditherlab.cli import main

    # given twice, in any spelling: one line naming both entries, API and CLI
    with pytest.raises(DitherlabValueError, match=r"^patterns\[2\]=4 repeats patterns\[0\]='4'"):
        compare(["4", 2, 4], "acs-wfc", total_exptime=1000)
    ap = get_aperture("acs-wfc")
    apt = tmp_path / "box.txt"
    write_postargs(subpixel(4), apt, aperture=ap, format="apt")  # rounded to 0.0001"
    with pytest.raises(DitherlabValueError, match=r"patterns\[1\]=.*box.txt.* repeats"):
        compare([subpixel(4), apt], ap, total_exptime=1000)
    # different patterns of one family are not repeats
    compare([4, subpixel(4, step=(2, 2))], ap, total_exptime=1000, grid=2)
    argv = ["compare", "--aperture", "acs-wfc", "--patterns", "2", "4", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--patterns 2 is given twice; give each pattern once")
    assert len(err.splitlines()) == 1


def test_progress_is_reported():
    msgs = []
    compare([2, 4], "wfc3-ir", total_exptime=1000, grid=2, progress=msgs.append)
    assert msgs
    assert "2 pattern" in msgs[0]


def test_bad_input_names_the_argument():
    with pytest.raises(DitherlabValueError, match=r"patterns\[1\]=5"):
        compare([2, 5], "acs-wfc", total_exptime=1000)
    with pytest.raises(PatternNotFoundError, match="NOT-A-PATTERN"):
        compare(["NOT-A-PATTERN"], "acs-wfc", total_exptime=1000)
    with pytest.raises(DitherlabValueError, match="total_exptime"):
        compare([2], "acs-wfc", total_exptime=0)
    with pytest.raises(DitherlabValueError, match="patterns must name"):
        compare([], "acs-wfc", total_exptime=1000)
    with pytest.raises(DitherlabValueError, match="read_noise"):
        compare([2], "acs-wfc", total_exptime=1000, read_noise=-1)


def test_chip_gap_columns_on_a_two_chip_camera():
    # the 50-pixel ACS/WFC gap: a line pattern with a ~60-pixel step in y fills it, a small
    # box does not; single-chip cameras have no gap columns
    t = compare([4, "ACS-WFC-DITHER-LINE"], "acs-wfc", total_exptime=2000, grid=2)
    assert t["gap_once"][0] < 0.2
    assert t["gap_once"][1] > 0.9
    assert np.all(np.asarray(t["gap_twice"]) <= np.asarray(t["gap_once"]))
    assert len(t.meta["depths"]) == 2
    assert "gap_once" not in compare([4], "wfc3-ir", total_exptime=100, grid=2).colnames
