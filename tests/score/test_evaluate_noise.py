"""R(p, s) measured on drizzled white noise against the formula (must reproduce, issue 13)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ditherlab.drizzle import Drizzle
from ditherlab.errors import DitherlabValueError
from ditherlab.score import correlated_noise_ratio
from ditherlab.score.evaluate import measure_noise_ratio


def _drizzled_noise(pixfrac, scale, rng, size=160, n_side=6):
    """White noise drizzled from n_side² jittered-grid dithers (densely dithered)."""
    out = int(np.ceil((size + 4) / scale))
    d = Drizzle(kernel="square", out_shape=(out, out), fillval=0, disable_ctx=True)
    y, x = np.indices((size, size), float)
    for i in range(n_side):
        for j in range(n_side):
            dx, dy = (i + rng.random()) / n_side, (j + rng.random()) / n_side
            pixmap = np.dstack([(x + 1 + dx) / scale, (y + 1 + dy) / scale])
            noise = rng.standard_normal((size, size)).astype(np.float32)
            d.add_image(noise, 1.0, pixmap, pixfrac=pixfrac, pixel_scale_ratio=scale)
    m = int(np.ceil(4 / scale))  # drop the ragged edges
    return d.out_img[m:-m, m:-m].astype(float)


@pytest.mark.parametrize(
    ("pixfrac", "scale"),
    # about 1-1.5 s each (36 drizzles of 160 x 160 px, three times); measured 1.487, 2.016
    # and 1.643 against 1.500, 2.021 and 1.662, with a spread of 1 % between draws
    [(1.0, 1.0), (0.8, 0.5), (0.6, 0.5)],
)
def test_measured_R_matches_formula_within_5_percent(pixfrac, scale):
    rng = np.random.default_rng(2026)
    lag = int(np.ceil(pixfrac / scale - 1e-9))
    measured = [measure_noise_ratio(_drizzled_noise(pixfrac, scale, rng), lag) for _ in range(3)]
    formula = correlated_noise_ratio(pixfrac, scale)
    assert np.mean(measured) == pytest.approx(formula, rel=0.05)


def test_white_noise_is_uncorrelated_and_lags_beyond_reach_add_nothing():
    rng = np.random.default_rng(3)
    white = rng.standard_normal((256, 256))
    assert measure_noise_ratio(white, 0) == pytest.approx(1.0, abs=1e-12)
    assert measure_noise_ratio(white, 3) == pytest.approx(1.0, abs=0.05)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.1, 0.9), st.integers(0, 3))
def test_known_correlation_gives_known_R(c, lag):
    # x_i = w_i + c w_{i+1}: C(0) = 1 + c², C(±1) = c along one axis -> R² = (1 + c)² / (1 + c²)
    rng = np.random.default_rng(int(c * 1e6))
    w = rng.standard_normal((300, 301))
    img = w[:, :-1] + c * w[:, 1:]
    expected = (1 + c) / np.sqrt(1 + c**2) if lag >= 1 else 1.0
    assert measure_noise_ratio(img, lag) == pytest.approx(expected, rel=0.04)


def test_bad_input_names_the_argument():
    with pytest.raises(DitherlabValueError, match="max_lag"):
        measure_noise_ratio(np.zeros((10, 10)) + np.arange(10), 5)
    with pytest.raises(DitherlabValueError, match="variance"):
        measure_noise_ratio(np.ones((10, 10)), 1)
