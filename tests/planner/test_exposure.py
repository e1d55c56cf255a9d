"""Exposure-splitting arithmetic against the DrizzlePac Handbook's WFPC2 ETC table."""

import numpy as np
import pytest
from astropy import units as u
from hypothesis import given
from hypothesis import strategies as st

from ditherlab.errors import DitherlabValueError
from ditherlab.planner import (
    SEED_WFPC2_CR_RATE,
    ccd_snr,
    cr_loss_fraction,
    move_overhead,
    pattern_overhead,
    split_table,
    standard_pattern,
)

# DrizzlePac Handbook §2.2 Table 2.1 (percent of pixels lost; 3000 s total).
SEED_LOSS_PERCENT = {1: 9.606250, 2: 0.230700, 3: 0.003283, 4: 0.000033, 6: 0.000000}
SEED_SNR = {1: 3.7, 2: 2.9, 3: 2.5, 4: 2.3, 6: 1.9}


@pytest.mark.parametrize("n", sorted(SEED_LOSS_PERCENT))
def test_seed_cr_loss_table_reproduced(n):
    pct = 100 * cr_loss_fraction(3000, n, rate=3.2020833e-5)
    assert round(pct, 6) == SEED_LOSS_PERCENT[n]


def test_seed_lost_pixel_counts():
    # "about 61,000 pixels", "about 1400", "21 pixels" on an 800x800 WFPC2 chip
    lost = cr_loss_fraction(3000, [1, 2, 3]) * 800 * 800
    assert round(lost[0], -3) == 61000
    assert 1400 <= lost[1] < 1500
    assert round(lost[2]) == 21


def test_poisson_form_is_the_documented_alternative():
    # the Poisson form does not reproduce the table (0.2425 %, 0.00363 % for 2, 3 splits)
    lin = cr_loss_fraction(3000, [1, 2, 3], SEED_WFPC2_CR_RATE, model="linear")
    p1 = cr_loss_fraction(3000, 1, -np.log1p(-0.0960625) / 3000, model="poisson")
    np.testing.assert_allclose(p1, lin[0], rtol=1e-12)  # normalised at N = 1
    p = cr_loss_fraction(3000, [2, 3], -np.log1p(-0.0960625) / 3000, model="poisson")
    np.testing.assert_allclose(100 * p, [0.2425, 0.00363], rtol=2e-3)


@given(
    T=st.floats(1, 1e5),
    r=st.floats(0, 1e-3),
    n=st.integers(1, 12),
)
def test_cr_loss_physics(T, r, n):
    if r * T / n > 1:  # the linear model refuses probabilities above 1
        with pytest.raises(DitherlabValueError, match="> 1 in the linear model"):
            cr_loss_fraction(T, n, r)
        return
    lin = cr_loss_fraction(T, n, r)
    poi = cr_loss_fraction(T, n, r, model="poisson")
    assert 0 <= poi <= lin <= 1
    # more splits never lose more once single exposures are short enough (p <= 1/e)
    if r * T / n <= np.exp(-1):
        assert cr_loss_fraction(T, n + 1, r) <= lin


def test_seed_snr_column_reproduced():
    n = np.array(sorted(SEED_SNR))
    snr = ccd_snr(87 / 3000, 3000, n, dark=0.005, read_noise=5.24, n_pix=11.2)
    np.testing.assert_array_equal(np.round(snr, 1), [SEED_SNR[k] for k in n])


@given(
    s=st.floats(0.01, 1e3),
    T=st.floats(1, 1e5),
    b=st.floats(0, 10),
    rn=st.floats(0.1, 20),
)
def test_snr_falls_with_reads_and_matches_the_equation(s, T, b, rn):
    snr = ccd_snr(s, T, [1, 2, 4], sky=b, read_noise=rn, n_pix=3)
    assert np.all(np.diff(snr) < 0)
    expect = s * T / np.sqrt(s * T + 3 * (b * T + 1 * rn**2))
    np.testing.assert_allclose(snr[0], expect, rtol=1e-12)


def test_snr_units_and_errors():
    a = ccd_snr(1 * u.electron / u.s, 1 * u.hour)
    np.testing.assert_allclose(a, np.sqrt(3600))
    with pytest.raises(DitherlabValueError, match="n_exposures"):
        ccd_snr(1, 100, 0)
    with pytest.raises(DitherlabValueError, match="total_time=-5"):
        ccd_snr(1, -5)


def test_move_overheads():
    np.testing.assert_array_equal(
        move_overhead([0, 1.0, 1.25, 9.9, 10.0, 60, 91]), [0, 20, 30, 30, 30, 60, 360]
    )
    with pytest.raises(DitherlabValueError, match="offset"):
        move_overhead(-1)
    # ACS-WFC-DITHER-BOX: three small moves
    assert pattern_overhead(standard_pattern("ACS-WFC-DITHER-BOX")) == 60.0
    # the gap line: one 3.034" move
    assert pattern_overhead(standard_pattern("ACS-WFC-DITHER-LINE")) == 30.0


def test_split_table_side_by_side():
    t = split_table(3000)
    assert list(t["n_exposures"]) == list(range(1, 10))
    assert t["snr"][0] == pytest.approx(3.67, abs=0.01)
    assert np.all(np.diff(t["snr"]) < 0)
    assert np.all(np.diff(t["cr_lost_fraction"]) < 0)
    assert t["overhead"][0] == 0
    assert t["overhead"][3] == 60
    np.testing.assert_allclose(t["exptime"].value * t["n_exposures"], 3000)
    with pytest.raises(DitherlabValueError, match="n_exposures"):
        split_table(3000, n_exposures=[0, 1])


def test_split_table_adds_per_exposure_overhead():
    t = split_table(3000, n_exposures=[1, 4], exposure_overhead=100)
    np.testing.assert_array_equal(t["move_overhead"].value, [0, 60])
    np.testing.assert_array_equal(t["overhead"].value, [100, 460])
    with pytest.raises(DitherlabValueError, match="exposure_overhead"):
        split_table(3000, exposure_overhead=-1)


# -- detector presets and orbit packing ---------------------------------------------------
def test_presets_agree_with_the_simulator():
    # the planner keeps its own copy (imports flow planner -> simulate); it must not drift
    from ditherlab.planner import DETECTOR_PRESETS
    from ditherlab.simulate.detector import detector_model

    for (inst, det), p in DETECTOR_PRESETS.items():
        m = detector_model(inst, det)
        assert p.read_noise == pytest.approx(m.read_noise, abs=0.03), (inst, det)
        assert p.dark == m.dark, (inst, det)
        assert p.cr_rate == m.cr_rate, (inst, det)


def test_presets_hold_the_handbook_numbers():
    from ditherlab.planner import detector_preset

    wfc = detector_preset("acs-wfc")
    # ACS IHB Table 8.2: WFC 4.0 min first, 2.5 min later exposures; buffer dump 5.8 min
    # below 339 s; HRC 2.5/1.0; SBC 1.7/0.7
    assert (wfc.first_exposure_overhead, wfc.exposure_overhead) == (4.0 * 60, 2.5 * 60)
    assert wfc.buffer_dump == pytest.approx(5.8 * 60)
    assert wfc.buffer_dump_below == 339
    hrc, sbc = detector_preset("acs-hrc"), detector_preset("acs-sbc")
    assert (hrc.first_exposure_overhead, hrc.exposure_overhead) == (150, 60)
    assert (sbc.first_exposure_overhead, sbc.exposure_overhead) == pytest.approx((102, 42))
    assert wfc.n_pixels_chip == 4096 * 2048
    # the seed's WFPC2 numbers are still the default
    seed = detector_preset("wfpc2")
    assert (seed.cr_rate, seed.read_noise, seed.n_pixels_chip) == (SEED_WFPC2_CR_RATE, 5.24, 640000)


def test_orbit_visibility_table():
    from ditherlab.planner import orbit_visibility

    # HST Primer (Cycle 17) Table 6.1
    got = [orbit_visibility(d) / 60 for d in (0, 30, 35, 45, 55, 65, 75, 89, -89)]
    assert got == [54, 54, 55, 57, 58, 59, 60, 61, 61]
    with pytest.raises(DitherlabValueError, match="declination=91"):
        orbit_visibility(91)


@given(n=st.integers(1, 9), vis=st.floats(2000, 6000), step=st.floats(0, 50))
def test_pack_orbit_accounts_for_every_second(n, vis, step):
    from ditherlab.planner import pack_orbit

    for preset in ("acs-wfc", "wfc3-uvis", "wfc3-ir", "wfpc2"):
        row = pack_orbit(preset, [n], vis, step)[0]
        used = sum(float(row[c]) for c in
                   ("acquisition", "instrument_overhead", "move_overhead", "buffer_dumps"))
        if row["exptime"] > 0:
            assert used + float(row["science_time"]) == pytest.approx(vis, rel=1e-12)
        else:
            assert used >= vis - 1e-9


def test_pack_orbit_worked_example():
    from ditherlab.planner import pack_orbit

    # ACS/WFC, 54 min: 3240 - 390 (GS acq) - 240 - 3 x 150 - 3 x 20 (0.3" moves) = 2100 s
    t = pack_orbit("acs-wfc", [1, 4], step=0.3)
    assert list(t["exptime"]) == [3240 - 390 - 240, 525.0]
    # later orbit of a visit: re-acquisition instead of acquisition (both 6.5 min today)
    assert pack_orbit("acs-wfc", [4], first_orbit=False)["exptime"][0] == 525.0
    # short WFC exposures pay the serial buffer dump (5.8 min each but the last)
    six = pack_orbit("acs-wfc", [6])[0]
    assert six["buffer_dumps"] == 5 * 348
    # the overhead column is now subtracted: N = 9 no longer gets 2200/9 s each
    assert pack_orbit("wfc3-ir", [9], visibility=2200 + 390)["exptime"][0] < 2200 / 9


def test_split_cli_presets_and_orbit(capsys):
    from ditherlab.cli import main

    assert main(["split", "--aperture", "acs-wfc", "--total-time", "2400"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ACS/WFC:")
    first = out.splitlines()[4].split()
    # 2 %/1000 s x 2400 s on a 4096 x 2048 chip
    assert float(first[5]) == pytest.approx(0.048 * 4096 * 2048, rel=1e-3)
    assert main(["split", "--aperture", "acs-wfc", "--orbit", "--max-exposures", "4"]) == 0
    rows = [ln.split() for ln in capsys.readouterr().out.splitlines()[5:]]
    assert [float(r[1]) for r in rows] == [2610.0, 1220.0, 756.7, 525.0]
    assert main(["split", "--visibility", "50"]) == 2
    assert "--visibility needs --orbit" in capsys.readouterr().err
    assert main(["split", "--orbit", "--declination", "95"]) == 2
    assert "--declination 95.0 must be within" in capsys.readouterr().err
    assert main(["split", "--orbit", "--visibility", "10", "--aperture", "acs-wfc"]) == 2
    assert "no exposure fits" in capsys.readouterr().err


def test_wfc3_ihb_orbit_example_reproduced():
    from ditherlab.planner import pack_orbit

    # WFC3 IHB §10.4 Table 10.4 (example 1): guide-star acquisition 6.5 min, UVIS overhead
    # 2.6 min (first) and 2.1 min (second), a < 1.25" dither, two 20-min exposures: 51.5 min.
    # The handbook charges 0.3 min for the small move; ditherlab 20 s (COS IHB Table 9.2).
    t = pack_orbit("wfc3-uvis", [2], visibility=51.5 * 60, step=0.1)
    assert float(t["exptime"][0]) == pytest.approx(20 * 60, abs=1.0)
