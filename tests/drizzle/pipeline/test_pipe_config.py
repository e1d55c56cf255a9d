"""PipelineConfig: AstroDrizzle's names and defaults, MDRIZTAB presets, bit parsing."""

import dataclasses
import datetime
import importlib.util
import pathlib
import re

import astropy.units as u
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ditherlab.drizzle import PipelineConfig
from ditherlab.drizzle.pipeline import dq_good_mask, interpret_bits, reset_bits
from ditherlab.drizzle.pipeline.config import MDRIZTAB_NEW_BITS, WFC3_UVIS_NEW_DQ_TIME
from ditherlab.errors import DitherlabValueError


def test_offline_defaults_are_astrodrizzles():
    """The defaults of drizzlepac's astrodrizzle.cfgspc (reference §3)."""
    c = PipelineConfig()
    expected = {
        "crbit": 4096, "resetbits": 4096, "static": True, "static_sig": 4.0,
        "skysub": True, "skymethod": "localmin", "skystat": "median", "skywidth": 0.1,
        "skylower": None, "skyupper": None, "skyclip": 5, "skylsigma": 4.0, "skyusigma": 4.0,
        "use_static": True, "sky_bits": 0, "skyfile": "", "skyuser": "",
        "driz_sep_kernel": "turbo", "driz_sep_wt_scl": "exptime", "driz_sep_pixfrac": 1.0,
        "driz_sep_fillval": None, "driz_sep_bits": 0, "driz_sep_scale": None,
        "median_newmasks": True, "combine_maskpt": 0.3, "combine_type": "minmed",
        "combine_nsigma": (4.0, 3.0), "combine_nlow": 0, "combine_nhigh": 0,
        "combine_lthresh": None, "combine_hthresh": None, "combine_grow": 1,
        "blot_interp": "poly5", "blot_sinscl": 1.0, "blot_addsky": True,
        "driz_cr_corr": False, "driz_cr_snr": (3.5, 3.0), "driz_cr_grow": 1,
        "driz_cr_ctegrow": 0, "driz_cr_scale": (1.2, 0.7), "final_wht_type": "EXP",
        "final_kernel": "square", "final_wt_scl": "exptime", "final_pixfrac": 1.0,
        "final_fillval": None, "final_bits": 0, "final_units": "cps", "final_rot": None,
        "final_scale": None,
    }  # fmt: skip
    got = {k: getattr(c, k) for k in expected}
    assert got == expected


def test_astrodrizzle_string_forms_are_normalised():
    c = PipelineConfig(
        driz_cr_snr="4.0 3.5", combine_nsigma="5 4", final_fillval="INDEF",
        final_bits="16,64,256", driz_sep_bits="~336", skysub="no", final_wht_type="ivm",
        final_wt_scl="expsq", driz_sep_wt_scl="2.5", combine_grow="2",
    )  # fmt: skip
    assert c.driz_cr_snr == (4.0, 3.5)
    assert c.combine_nsigma == (5.0, 4.0)
    assert c.final_fillval is None
    assert c.final_bits == 336
    assert c.driz_sep_bits == -337
    assert c.skysub is False
    assert c.final_wht_type == "IVM"
    assert c.final_wt_scl == "expsq"
    assert c.driz_sep_wt_scl == 2.5
    assert c.combine_grow == 2
    # normalising twice changes nothing (replace re-validates)
    assert c.replace() == c


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"final_pixfrac": 0}, "final_pixfrac"),
        ({"combine_type": "sum"}, "combine_type"),
        ({"final_bits": "16,65"}, "final_bits"),
        ({"driz_cr_snr": "1 2 3"}, "driz_cr_snr"),
        ({"final_ra": 10.0}, "final_dec"),
        ({"final_wt_scl": "often"}, "final_wt_scl"),
    ],
)
def test_bad_values_name_the_parameter(kwargs, match):
    with pytest.raises(DitherlabValueError, match=match):
        PipelineConfig(**kwargs)


def test_unknown_parameter_names_are_refused_with_a_suggestion():
    with pytest.raises(DitherlabValueError, match="final_pixfrac"):
        PipelineConfig().replace(final_pixfract=0.8)
    with pytest.raises(DitherlabValueError, match="unknown parameter name 'nonsense'"):
        PipelineConfig.from_mapping({"nonsense": 1})


@pytest.mark.parametrize(
    ("inst", "det", "date", "bits", "scale"),
    [
        # DrizzlePac Handbook §6.3: 336 = 16 + 64 + 256 in the MDRIZTAB delivered June 2017
        ("ACS", "WFC", "2017-06-01", 336, 0.05),
        ("ACS", "WFC", "2024-05-01", 336, 0.05),
        # ... which the archive applies to jczgx1ppq, observed 2016-10-16 (its header,
        # recalibrated 2017-12-03: MDRIZTAB = jref$16r12191j_mdz.fits; stak-notebooks)
        ("ACS", "WFC", "2016-10-16", 336, 0.05),
        ("ACS", "WFC", "2017-05-31", 336, 0.05),
        # earlier: the old table's bits are unknown, AstroDrizzle's offline 0 stands in
        ("ACS", "WFC", "2016-10-15", 0, 0.05),
        # ... and for WFC3/UVIS observations after 8 Nov 2012 (the day itself counts)
        ("WFC3", "UVIS", "2012-11-08", 336, 0.0396),
        ("WFC3", "UVIS", "2012-11-07", 0, 0.0396),
        ("WFC3", "IR", "2020-01-01", 0, 0.1283),
        ("ACS", "HRC", "2005-01-01", 0, 0.025),
    ],
)
def test_for_instrument_mdriztab_values(inst, det, date, bits, scale):
    c = PipelineConfig.for_instrument(inst, det, date)
    assert c.driz_sep_bits == c.final_bits == bits
    assert c.final_scale == c.driz_sep_scale == scale  # native pixels (Handbook §6.3)
    assert c.final_pixfrac == c.driz_sep_pixfrac == 1.0


def test_mdriztab_bits_are_the_handbooks_sum():
    """"now set to a value of 336 (the sum of 16+64+256)" (DrizzlePac Handbook §6.3)."""
    assert MDRIZTAB_NEW_BITS == interpret_bits("16,64,256") == 336
    good = dq_good_mask(np.array([16, 64, 256, 336, 32, 4096, 16 | 32]), MDRIZTAB_NEW_BITS)
    assert good.tolist() == [True, True, True, True, False, False, False]


def _uvis_bits(date):
    return PipelineConfig.for_instrument("WFC3", "UVIS", date).final_bits


def test_wfc3_uvis_boundary_is_drizzlepacs_second():
    """2012-11-08T02:59:15 UTC (drizzlepac haputils/config_utils.py), in every date form."""
    from astropy.time import Time

    edge = Time("2012-11-08T02:59:15", scale="utc")
    one_s = 1.0 / 86400.0
    for after, before in [
        ("2012-11-08T02:59:15", "2012-11-08T02:59:14"),
        ("2012-11-07T22:59:15-04:00", "2012-11-07T22:59:14-04:00"),  # the same instants
        (edge, edge - 1.0 * u.s),
        (edge.mjd + 0.5 * one_s, edge.mjd - 0.5 * one_s),
        (datetime.datetime(2012, 11, 8, 2, 59, 15), datetime.datetime(2012, 11, 8, 2, 59, 14)),
    ]:
        assert (_uvis_bits(after), _uvis_bits(before)) == (336, 0), (after, before)
    # a calendar date alone is the handbook's day: "after Nov 08 2012"
    assert _uvis_bits(datetime.date(2012, 11, 8)) == 336
    assert _uvis_bits(datetime.date(2012, 11, 7)) == 0
    assert _uvis_bits(None) == 336  # today's tables


def test_wfc3_uvis_boundary_agrees_with_drizzlepac_source():
    """The threshold in drizzlepac's own code (skipped when drizzlepac is absent)."""
    spec = importlib.util.find_spec("drizzlepac")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("drizzlepac is not installed")
    path = pathlib.Path(spec.submodule_search_locations[0]) / "haputils" / "config_utils.py"
    found = set(re.findall(r'thresh_time = Time\("([^"]+)"', path.read_text()))
    assert found, "drizzlepac no longer dates the WFC3/UVIS switch this way"
    expect = WFC3_UVIS_NEW_DQ_TIME.replace(tzinfo=None)
    assert {datetime.datetime.fromisoformat(t) for t in found} == {expect}


@pytest.mark.parametrize("bad", ["2012-13-01", "soon", float("nan"), True, [2012]])
def test_for_instrument_bad_dates_name_the_argument(bad):
    with pytest.raises(DitherlabValueError, match="date="):
        PipelineConfig.for_instrument("WFC3", "UVIS", bad)


def test_for_instrument_date_forms_and_changes():
    from astropy.time import Time

    mjd = Time("2018-01-01").mjd
    for d in (mjd, Time("2018-01-01"), "2018-01-01T10:00:00"):
        assert PipelineConfig.for_instrument("ACS", "WFC", d).final_bits == 336
    c = PipelineConfig.for_instrument("acs", "wfc", "2018-01-01", final_pixfrac=0.8)
    assert c.final_pixfrac == 0.8
    assert c.final_bits == 336
    assert 16 + 64 + 256 == 336
    with pytest.raises(DitherlabValueError, match="instrument/detector"):
        PipelineConfig.for_instrument("NIRCAM", "A1")


def test_bits_forms_agree_with_astropy():
    """Sum, comma list and '~' forms (reference §2, astropy bitmask, verified values)."""
    assert interpret_bits(336) == interpret_bits("16,64,256") == interpret_bits("16+64+256") == 336
    assert interpret_bits("~336") == interpret_bits("~16,64,256") == -337
    dq = np.array([0, 16, 64, 256, 336, 4096, 4112, 2, 512])
    assert (~dq_good_mask(dq, interpret_bits("16,64,256"))).astype(int).tolist() == [
        0, 0, 0, 0, 0, 1, 1, 1, 1,
    ]  # fmt: skip
    assert (~dq_good_mask(dq, interpret_bits("~336"))).astype(int).tolist() == [
        0, 1, 1, 1, 1, 0, 1, 0, 0,
    ]  # fmt: skip
    assert dq_good_mask(dq, None).all()


@given(st.lists(st.sampled_from([1 << k for k in range(15)]), min_size=1, max_size=8, unique=True))
def test_bits_round_trip(flags):
    """A comma list equals its sum; a pixel is good iff it has no bit outside the list."""
    total = sum(flags)
    assert interpret_bits(",".join(map(str, flags))) == total
    rng = np.random.default_rng(total)
    dq = rng.integers(0, 1 << 15, 500).astype(np.uint16)
    good = dq_good_mask(dq, total)
    assert np.array_equal(good, (dq.astype(int) & ~total) == 0)
    # flipping: the flipped form marks bad exactly the pixels with a listed bit
    flipped = dq_good_mask(dq, interpret_bits("~" + ",".join(map(str, flags))))
    assert np.array_equal(flipped, (dq.astype(int) & total) == 0)
    # the same as astropy's, for both forms and for int16 DQ arrays as read from disk
    from astropy.nddata.bitmask import bitfield_to_boolean_mask

    for bits in (total, interpret_bits("~" + ",".join(map(str, flags)))):
        want = bitfield_to_boolean_mask(dq, ignore_flags=bits, good_mask_value=True)
        assert np.array_equal(dq_good_mask(dq, bits), want)
        assert np.array_equal(dq_good_mask(dq.astype(np.int16), bits), want)


def test_reset_bits_leaves_the_input_alone():
    dq = np.array([4096, 4112, 16, 8192 | 4096], np.uint16)
    dq.setflags(write=False)
    out = reset_bits(dq, 4096)
    assert out.tolist() == [0, 16, 16, 8192]
    assert dq.tolist() == [4096, 4112, 16, 12288]


def test_header_cards_cover_every_parameter():
    cards = dict(PipelineConfig().as_header_cards())
    assert set(cards) == {f.name.upper() for f in dataclasses.fields(PipelineConfig)}
    assert cards["DRIZ_CR_SNR"] == "3.5 3"
    assert cards["FINAL_FILLVAL"] == "INDEF"
