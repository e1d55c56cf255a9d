"""The pointing geometry and the TAN-SIP WCS model."""

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from sim_helpers import camera

from ditherlab.simulate._geometry import (
    ChipMap,
    attitude,
    gnomonic,
    inverse_gnomonic,
    sky_to_v2v3,
    v2v3_to_sky,
)
from ditherlab.simulate.observe import _wcs_from_cards


def test_attitude_places_the_reference_and_orients_v3():
    m = attitude(250.0, 300.0, 150.0, 40.0, 30.0)
    ra, dec = v2v3_to_sky(m, 250.0, 300.0)
    assert (ra, dec) == pytest.approx((150.0, 40.0), abs=1e-12)
    assert sky_to_v2v3(m, ra, dec) == pytest.approx((250.0, 300.0), abs=1e-8)
    # +V3 points at position angle pa (east of north)
    ra2, dec2 = v2v3_to_sky(m, 250.0, 301.0)
    pa = SkyCoord(ra, dec, unit="deg").position_angle(SkyCoord(ra2, dec2, unit="deg")).deg
    assert pa == pytest.approx(30.0, abs=0.01)


def test_gnomonic_round_trip():
    rng = np.random.default_rng(0)
    xi, eta = rng.uniform(-300, 300, (2, 50))
    for dec0 in (-89.0, 0.0, 45.0):
        ra, dec = inverse_gnomonic(xi, eta, 10.0, dec0)
        x2, y2 = gnomonic(ra, dec, 10.0, dec0)
        assert np.abs(x2 - xi).max() < 1e-8
        assert np.abs(y2 - eta).max() < 1e-8


@pytest.mark.parametrize("name", ["acs-wfc", "wfc3-uvis", "wfc3-ir"])
@pytest.mark.parametrize("dec", [2.0, 70.0])
def test_wcs_is_exact_and_linearisation_is_negligible(name, dec):
    ap = camera(name)
    att = attitude(*(float(v) for v in ap.idl_to_tel(0.3, -0.2)), 150.0, dec, 37.0)
    for chip in ap.chips:
        cmap = ChipMap.from_attitude(chip, att)
        ny, nx = chip.shape
        x = np.array([0.0, nx - 1, 0.0, nx - 1, nx / 3])
        y = np.array([0.0, 0.0, ny - 1, ny - 1, ny / 5])
        # the TAN-SIP cards reproduce the map (astropy evaluates the header)
        w = _wcs_from_cards(cmap.wcs_cards())
        ra_w, dec_w = w.all_pix2world(x, y, 0)
        ra_m, dec_m = cmap.pixel_to_sky(x, y)
        sep = SkyCoord(ra_w, dec_w, unit="deg").separation(SkyCoord(ra_m, dec_m, unit="deg"))
        assert sep.arcsec.max() < 1e-7
        # and differ from the spherical attitude model by < 0.1 mas anywhere on the chip
        v2, v3 = chip.sci_to_tel(x, y)
        ra_s, dec_s = v2v3_to_sky(att, v2, v3)
        sep = SkyCoord(ra_s, dec_s, unit="deg").separation(SkyCoord(ra_m, dec_m, unit="deg"))
        assert sep.arcsec.max() < 1e-4
        # sky -> pixel inverts pixel -> sky
        xb, yb = cmap.sky_to_pixel(ra_m, dec_m)
        assert np.abs(xb - x).max() < 1e-6
        assert np.abs(yb - y).max() < 1e-6


def test_far_away_sources_are_not_inverted():
    ap = camera("wfc3-ir")
    att = attitude(*(float(v) for v in ap.idl_to_tel(0.0, 0.0)), 150.0, 2.0, 0.0)
    cmap = ChipMap.from_attitude(ap, att)
    x, y = cmap.sky_to_pixel(np.array([150.0, 150.5]), np.array([2.0, 2.0]))
    assert np.isfinite(x[0])
    assert np.isnan(x[1])
    assert np.isnan(y[1])
