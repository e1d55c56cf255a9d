"""Pure kernels: pixel integration of profiles, stamps, cosmic-ray morphology."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from ditherlab.simulate import _kernels, detector_model


def _gauss_pixel_integrals(sigma, fx, fy, half):
    edges = np.arange(-half, half + 2) - 0.5
    cx = np.diff(0.5 * erf((edges - fx) / (sigma * np.sqrt(2))))
    cy = np.diff(0.5 * erf((edges - fy) / (sigma * np.sqrt(2))))
    return np.outer(cy, cx)


@pytest.mark.parametrize(
    ("sigma", "fx", "fy"), [(0.42, 0.0, 0.0), (0.42, 0.3, -0.45), (0.8, 0.5, 0.1)]
)
def test_render_profile_matches_exact_pixel_integrals(sigma, fx, fy):
    half = 8
    prof = lambda x, y: np.exp(-0.5 * (x * x + y * y) / sigma**2)  # noqa: E731
    stamp = _kernels.render_profile(prof, np.eye(2), (fx, fy), half, os=12)
    exact = _gauss_pixel_integrals(sigma, fx, fy, half)
    exact /= exact.sum()
    # undersampled (FWHM ~ 1 px): point sampling would be off by ~10 % at the peak
    assert np.abs(stamp - exact).max() < 3e-3 * exact.max()
    assert stamp.sum() == pytest.approx(1.0, abs=1e-12)


def test_render_profile_centroid_and_area_under_a_sheared_jacobian():
    jac = np.array([[0.049, 0.0], [0.0044, 0.0486]])  # ACS/WFC1-like, arcsec/px
    prof = lambda x, y: np.exp(-0.5 * (x * x + y * y) / 0.03**2)  # noqa: E731
    fx, fy = 0.23, -0.31
    stamp = _kernels.render_profile(prof, jac, (fx, fy), 10, os=10)
    yy, xx = np.mgrid[-10:11, -10:11]
    assert (stamp * xx).sum() == pytest.approx(fx, abs=2e-3)
    assert (stamp * yy).sum() == pytest.approx(fy, abs=2e-3)
    # the skew shows up as a covariance between x and y
    cov = (stamp * (xx - fx) * (yy - fy)).sum()
    assert cov < 0


def test_render_convolved_small_source_approaches_the_psf():
    psf = lambda x, y: np.exp(-0.5 * (x * x + y * y) / 0.6**2)  # noqa: E731
    point = _kernels.render_profile(psf, np.eye(2), (0.1, 0.2), 6, os=9)
    conv = _kernels.render_convolved(
        lambda x, y: np.exp(-0.5 * (x * x + y * y) / 0.05**2),
        psf,
        np.eye(2),
        (0.1, 0.2),
        6,
        6,
        os=9,
    )
    assert conv.sum() == pytest.approx(1.0)
    assert np.abs(conv - point).max() < 0.01 * point.max()


def test_add_stamp_clips_at_the_edges():
    img = np.zeros((5, 6))
    _kernels.add_stamp(img, np.ones((3, 3)), -1, 3, 2.0)
    assert img.sum() == pytest.approx(2.0 * 4)
    assert img[3:5, 0:2].tolist() == [[2.0, 2.0], [2.0, 2.0]]
    _kernels.add_stamp(img, np.ones((3, 3)), 10, 10)
    assert img.sum() == pytest.approx(8.0)


def test_cosmic_ray_morphology_follows_the_acs_handbook():
    """Sizes peak at 4-5 pixels with a long tail; median charge ~1000 e-, little below 500."""
    m = detector_model("ACS", "WFC")
    sizes, charges = _kernels.event_sizes_and_charges(
        20000,
        thickness=m.cr_thickness,
        diffusion=m.cr_diffusion,
        charge_loc=m.cr_charge_loc,
        charge_scale=m.cr_charge_scale,
        floor=m.cr_floor,
        max_length=m.cr_max_length,
        rng=np.random.default_rng(5),
    )
    hist = np.bincount(sizes)
    assert hist.argmax() in (4, 5)
    assert np.percentile(sizes, 99) >= 15  # a tail of long tracks
    assert sizes.max() > 40
    assert np.median(charges) == pytest.approx(1000.0, rel=0.1)
    assert (charges < 500).mean() < 0.02
    assert sizes.mean() == pytest.approx(m.mean_pixels_per_event, rel=0.03)


@given(
    a=st.floats(0.02, 0.15),
    b=st.floats(-0.01, 0.01),
    c=st.floats(-0.01, 0.01),
    d=st.floats(0.02, 0.15),
    fx=st.floats(-0.5, 0.5),
    fy=st.floats(-0.5, 0.5),
)
@settings(max_examples=40)
def test_render_profile_properties(a, b, c, d, fx, fy):
    """Unit sum, non-negative, and the centroid is the source position for any Jacobian.

    (The profile is >= 0.8 px wide: binning an undersampled profile shifts its centroid,
    which is physics, not an error.)
    """
    jac = np.array([[a, b], [c, d]])
    prof = lambda x, y: np.exp(-0.5 * (x * x + y * y) / 0.12**2)  # noqa: E731
    half = int(np.ceil(0.8 / min(a, d))) + 2
    stamp = _kernels.render_profile(prof, jac, (fx, fy), half, os=10, core_half=half)
    assert stamp.sum() == pytest.approx(1.0, abs=1e-12)
    assert stamp.min() >= 0
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    assert (stamp * xx).sum() == pytest.approx(fx, abs=1e-4)
    assert (stamp * yy).sum() == pytest.approx(fy, abs=1e-4)


def test_convolve_same_by_blocks_equals_one_fft():
    from scipy.signal import fftconvolve

    rng = np.random.default_rng(1)
    g = rng.random((2100, 700))
    k = rng.random((31, 45))
    a = _kernels._convolve_same(g, k)
    assert np.allclose(a, fftconvolve(g, k, mode="same"), rtol=0, atol=1e-9 * a.max())
