"""The misregistration diagnostic: residual dipoles at stars and star-core CR flags."""

import numpy as np
import pytest
from _stacks import bench
from hypothesis import given, settings
from hypothesis import strategies as st

from ditherlab.drizzle.pipeline.diagnostics import (
    bright_stars,
    diagnose_misregistration,
    input_positions,
    residual_dipoles,
    robust_offset,
)
from ditherlab.errors import DitherlabValueError


def _gauss_field(shift=(0.0, 0.0), sigma=0.9, n=40, size=200, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(15, size - 15, (n, 2))
    flux = rng.uniform(2e3, 2e4, n)
    oy, ox = np.mgrid[-8:9, -8:9].astype(float)
    img = np.zeros((size, size))
    for (x, y), f in zip(xy + shift, flux, strict=True):
        ix, iy = round(x), round(y)
        r2 = (ox + ix - x) ** 2 + (oy + iy - y) ** 2
        img[iy - 8 : iy + 9, ix - 8 : ix + 9] += f / (2 * np.pi * sigma**2) * np.exp(
            -r2 / (2 * sigma**2)
        )
    return img, xy


@settings(max_examples=30)
@given(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5))
def test_dipole_of_a_shifted_star_is_the_shift(dx, dy):
    ref, _ = _gauss_field(seed=1)
    img, _ = _gauss_field((dx, dy), seed=1)
    xs, ys = bright_stars(ref, nsigma=5.0)
    mx, my, _err, n = robust_offset(*residual_dipoles(img, ref, xs, ys, half=3))
    assert n >= 5
    assert mx == pytest.approx(dx, abs=0.02 + 0.05 * abs(dx))
    assert my == pytest.approx(dy, abs=0.02 + 0.05 * abs(dy))


def test_bright_stars_are_isolated_peaks():
    img = np.zeros((60, 60))
    img[20, 20] = 100.0
    img[20, 23] = 50.0  # a close, comparable neighbour: neither is isolated
    img[45, 40] = 80.0
    xs, ys = bright_stars(img + np.random.default_rng(0).normal(0, 0.1, img.shape), nsigma=20)
    assert list(zip(xs.tolist(), ys.tolist(), strict=True)) == [(40.0, 45.0)]


@given(st.floats(0.3, 3.0), st.floats(-40, 40), st.floats(-0.3, 0.3))
def test_input_positions_invert_an_affine_pixmap(scale, off, rot):
    yy, xx = np.mgrid[0:80, 0:90].astype(float)
    c, s = np.cos(rot) / scale, np.sin(rot) / scale
    pm = np.dstack([c * xx - s * yy + off, s * xx + c * yy - off])
    pts = np.array([[10.2, 20.7], [55.0, 3.4], [89.4, 79.4]])
    ox = c * pts[:, 0] - s * pts[:, 1] + off
    oy = s * pts[:, 0] + c * pts[:, 1] - off
    back = input_positions(pm, ox, oy)
    np.testing.assert_allclose(back, pts, atol=1e-6)
    assert np.isnan(input_positions(pm, np.array([ox[0] + 500]), np.array([oy[0]]))).all()


def test_needs_singles_and_median():
    class P:
        singles = None
        median = None

    with pytest.raises(DitherlabValueError, match="clean=False"):
        diagnose_misregistration(P())


# -- on simulated stacks through the real pipeline --------------------------------------------
@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    from ditherlab.drizzle import PipelineConfig, run_pipeline

    b = bench()
    out = {}
    base = tmp_path_factory.mktemp("misreg")
    cfg = PipelineConfig.for_instrument("ACS", "WFC").replace(clean=False)
    for label, shift in (("ok", None), ("off", (2, 0.3, 0.0))):
        paths = b.simulate_stack(base / label, "acs-wfc", size=320, chips=[1], shift=shift)
        out[label] = run_pipeline(paths, cfg)
    return out


def test_fires_at_a_third_of_a_pixel(stacks):
    rep = diagnose_misregistration(stacks["off"])
    assert rep.fired, str(rep)
    assert rep.offender == 2
    # the size and direction of the offset: 0.3 px along the chip's x
    assert rep.offset_size[2] == pytest.approx(0.3, abs=0.06)
    assert rep.offsets[2, 0] == pytest.approx(0.3, abs=0.06)
    others = np.delete(rep.offset_size, 2)
    assert np.all(others < 0.1)  # below the threshold: noise of ~20 stars, asymmetric PSF
    assert "adzsim03" in str(rep)
    assert "off by" in str(rep)


def test_silent_when_accurately_pointed(stacks):
    rep = diagnose_misregistration(stacks["ok"])
    assert not rep.fired, str(rep)
    assert np.all(rep.offset_size < 0.05)
    assert np.all(rep.n_stars >= 10)
    assert rep.to_dict()["offender"] is None
