"""The default PSF's filters and central-pixel fractions against published ACS tables.

Source of both tables: the ACS filter tables "ACS Filters and Dispersers" of a STScI
synphot user's-guide appendix (reStructuredText; found with the search tool, same family
as ``spacetelescope/crds`` ``docs/users_guide/examples/appendix_b_wfc3.rst``).  Its
"Central" column is synphot's BANDPAR pivot wavelength of the whole system throughput
(from the STScI CDBS tables); its "Fraction" column is "the fraction of light falling on
the central pixel, assuming the point source PSF is centered on that pixel as estimated by
Tiny Tim PSF simulations (3-gyro mode)".  See docs/simulate.md, "The default PSF".
"""

import numpy as np
import pytest

from ditherlab.simulate.filters import pivot_wavelength
from ditherlab.simulate.psf import HSTPSF, pixel_kernel, pixelated_psf

# filter: (pivot in Angstrom, Tiny Tim central-pixel fraction), WFC table rows
ACS_WFC = {
    "F435W": (4317.4, 0.217), "F475W": (4744.4, 0.213), "F502N": (5023.0, 0.210),
    "F550M": (5581.2, 0.216), "F555W": (5359.6, 0.214), "F606W": (5917.7, 0.219),
    "F625W": (6310.5, 0.22), "F658N": (6584.0, 0.22), "F660N": (6599.4, 0.22),
    "F775W": (7693.0, 0.206), "F814W": (8059.8, 0.197), "F850LP": (9054.8, 0.147),
    "F892N": (8914.9, 0.154),
}
ACS_HRC = {
    "F220W": (2255.4, 0.175), "F250W": (2715.9, 0.166), "F330W": (3362.7, 0.156),
    "F344N": (3433.7, 0.156), "F435W": (4311.0, 0.17), "F475W": (4775.7, 0.17),
    "F502N": (5022.9, 0.169), "F550M": (5579.9, 0.153), "F555W": (5356.0, 0.159),
    "F606W": (5888.0, 0.143), "F625W": (6295.5, 0.134), "F658N": (6583.8, 0.128),
    "F660N": (6599.1, 0.128), "F775W": (7665.1, 0.107), "F814W": (8115.3, 0.099),
    "F850LP": (9145.2, 0.086), "F892N": (8916.1, 0.091),
}
ACS_SBC = {"F115LP": 1406.1, "F122M": 1273.7, "F125LP": 1437.5, "F140LP": 1527.0,
           "F150LP": 1610.7, "F165LP": 1757.9}

# WFC3/IR filter-only pivots in air (nm; spacetelescope/crds appendix_b_wfc3.rst, IR table,
# "calculated here based only on the filter transmission").  The IR detector's QE is flat,
# so the system pivots in the data file must lie close to them.
WFC3_IR_FILTER_ONLY = {
    "F098M": 982.93, "F105W": 1048.95, "F110W": 1141.40, "F125W": 1245.90,
    "F126N": 1258.26, "F127M": 1273.64, "F128N": 1283.30, "F130N": 1300.62,
    "F132N": 1319.04, "F139M": 1383.80, "F140W": 1392.10, "F153M": 1533.31,
    "F160W": 1540.52, "F164N": 1645.13, "F167N": 1667.26,
}


@pytest.mark.parametrize(
    ("det", "table"),
    [("WFC", {k: v[0] for k, v in ACS_WFC.items()}),
     ("HRC", {k: v[0] for k, v in ACS_HRC.items()}), ("SBC", ACS_SBC)],
)
def test_acs_pivots_are_the_published_ones(det, table):
    for name, angstrom in table.items():
        assert pivot_wavelength("ACS", det, name) == pytest.approx(angstrom / 10.0, abs=0.006)


def test_wfc3_ir_pivots_agree_with_the_filter_only_pivots():
    for name, nm in WFC3_IR_FILTER_ONLY.items():
        assert pivot_wavelength("WFC3", "IR", name) == pytest.approx(nm, rel=0.011)


def _centre(det, name, discrete, residual=None):
    """Central-pixel fraction of a star centred on a pixel, and its side neighbours."""
    wave = ACS_WFC[name][0] / 10 if det == "WFC" else ACS_HRC[name][0] / 10
    psf = HSTPSF("ACS", det, name, charge_diffusion=not discrete, residual_blur=residual)
    kernel = pixel_kernel("ACS", det, wave) if discrete else None
    f = pixelated_psf(psf, 0.05 if det == "WFC" else 0.025, (0.0, 0.0), kernel)
    n = f.shape[0] // 2
    return float(f[n, n]), np.array([f[n - 1, n], f[n + 1, n], f[n, n - 1], f[n, n + 1]])


WFC_BROAD = ["F435W", "F475W", "F555W", "F606W", "F625W", "F775W", "F814W"]


# The default PSF (continuous charge diffusion and the 15 mas residual blur) against the
# Tiny Tim fractions, F435W-F814W: 4-9 % below them (the blur also stands for the focus
# breathing and field that the Tiny Tim models leave out); issue 10's tolerance is 10 %.
@pytest.mark.parametrize("name", WFC_BROAD)
def test_wfc_default_psf_central_pixel_within_ten_percent(name):
    centre, sides = _centre("WFC", name, discrete=False)
    assert centre == pytest.approx(ACS_WFC[name][1], rel=0.10)
    assert centre < ACS_WFC[name][1]  # no sharper than the model without breathing
    assert sides.sum() + centre < 0.6  # the neighbours are not a second core


# The Tiny Tim way (bare optics integrated over the pixels, then the 3 x 3 kernel, no
# residual blur), the way the published fractions were made, also reproduces them.
@pytest.mark.parametrize("name", WFC_BROAD)
def test_wfc_central_pixel_with_the_kernel_after_pixelation(name):
    centre, _ = _centre("WFC", name, discrete=True, residual=0.0)
    assert centre == pytest.approx(ACS_WFC[name][1], rel=0.10)


def _gaussian_fwhm(psf, scale):
    """FWHM (arcsec) of a 2-D Gaussian fitted to the pixels, mean over 5 sub-pixel phases."""
    from astropy.modeling import fitting, models

    out = []
    for off in [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5), (0.25, 0.25)]:
        f = pixelated_psf(psf, scale, off)
        n, h = f.shape[0] // 2, 5
        y, x = np.mgrid[-h : h + 1, -h : h + 1]
        g = fitting.LevMarLSQFitter()(models.Gaussian2D(f.max(), off[0], off[1], 1, 1),
                                      x, y, f[n - h : n + h + 1, n - h : n + h + 1])
        out.append(2.3548 * np.sqrt(abs(g.x_stddev.value * g.y_stddev.value)) * scale)
    return float(np.mean(out))


# ACS IHB (Cycle 14, 2005) section 5.6.6: "The PSF FWHM in F550M, for example, can vary by
# 20% (0.10 to 0.13 arcseconds) over the field" (WFC); "The HRC FWHM is 0.060 to 0.073
# arcseconds in F550M".  The default is a field-centre model: within 10 % of the WFC range's
# sharp end, and inside the HRC range.  The bare model is ~20 % too narrow on both.
def test_f550m_fwhm_matches_the_handbooks_on_orbit_range():
    wfc = _gaussian_fwhm(HSTPSF("ACS", "WFC", "F550M"), 0.05)
    hrc = _gaussian_fwhm(HSTPSF("ACS", "HRC", "F550M"), 0.025)
    assert wfc == pytest.approx(0.10, rel=0.10)
    assert 0.060 <= hrc <= 0.073
    assert _gaussian_fwhm(HSTPSF("ACS", "WFC", "F550M", residual_blur=0.0), 0.05) < 0.09
    assert _gaussian_fwhm(HSTPSF("ACS", "HRC", "F550M", residual_blur=0.0), 0.025) < 0.054


# Open misses (docs/simulate.md): WFC F850LP, the CCD's red halo is not modelled (+15 %);
# the HRC's Tiny Tim fractions are 23-40 % above the default, which matches the HRC's
# on-orbit FWHM instead (the two published HRC numbers disagree with each other).
@pytest.mark.xfail(strict=True, reason="red halo not modelled; HRC Tiny Tim vs on-orbit FWHM")
@pytest.mark.parametrize(("det", "name"), [("WFC", "F850LP"), ("HRC", "F220W"),
                                           ("HRC", "F606W"), ("HRC", "F814W")])
def test_open_misses_red_wfc_and_hrc(det, name):
    centre, _ = _centre(det, name, discrete=False)
    table = ACS_WFC if det == "WFC" else ACS_HRC
    assert centre == pytest.approx(table[name][1], rel=0.10)


# Held out of every fit: the MultiDrizzle Handbook's WFC3 section (§6.6, stsci.edu
# HST_overview/documents/multidrizzle/ch67.html): UVIS "the point spread function (PSF) has
# FWHM 1.6 to 2.3 pixels, depending on wavelength"; IR "FWHM of 1.0 to 1.2 pixels".  How
# the widths were measured is not said, so the model is held to those ranges within 10 %:
# UVIS on the pixels (Gaussian fit), IR before the pixels (as Table 7.5 gives it).
def test_wfc3_widths_within_the_multidrizzle_handbook_ranges():
    uvis = [_gaussian_fwhm(HSTPSF("WFC3", "UVIS", wavelength=w), 0.0396) / 0.0396
            for w in (300.0, 500.0, 700.0, 1000.0)]
    assert min(uvis) >= 0.9 * 1.6
    assert max(uvis) <= 1.1 * 2.3
    assert uvis == sorted(uvis)  # wider to the red
    ir = [HSTPSF("WFC3", "IR", wavelength=w).fwhm / 0.1283 for w in (1000.0, 1300.0, 1600.0)]
    assert min(ir) >= 0.9 * 1.0
    assert max(ir) <= 1.1 * 1.2
