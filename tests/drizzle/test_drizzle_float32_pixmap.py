"""A float32 pixmap is used as it is (no float64 copy of it): the outputs must be, bit for
bit, those of the same pixmap widened to float64, for every kernel, with NaN mappings,
pixel_scale_ratio estimated or given, and on forked workers."""

import warnings

import numpy as np
import pytest
from _drizzle_cases import make_pixmap, noisy_inputs, out_shape_for

from ditherlab.drizzle import Drizzle
from ditherlab.drizzle._kernels import KERNELS


def _drizzle(pixmap, data, weight, kernel, out_shape, n_threads, ratio):
    d = Drizzle(kernel=kernel, out_shape=out_shape, n_threads=n_threads)
    with np.errstate(all="ignore"):
        d.add_image(data, 2.0, pixmap, weight_map=weight, pixfrac=0.8, in_units="counts",
                    pixel_scale_ratio=ratio)  # fmt: skip
    return d


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(("n_threads", "ratio"), [(1, None), (2, 0.7)])
def test_float32_pixmap_gives_the_float64_results(kernel, n_threads, ratio):
    shape = (160, 150) if n_threads == 2 else (40, 50)
    pm32 = make_pixmap(shape, angle=17.0, scale=0.7, quad=1.5, shift=(0.3, -0.2))
    pm32 = pm32.astype(np.float32)
    pm32[5, 7] = np.nan  # an undefined mapping
    pm64 = pm32.astype(np.float64)
    data, weight = noisy_inputs(shape, 4)
    out_shape = out_shape_for(pm64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (lanczos ignores pixfrac: a warning)
        a = _drizzle(pm32, data, weight, kernel, out_shape, n_threads, ratio)
        b = _drizzle(pm64, data, weight, kernel, out_shape, n_threads, ratio)
    assert np.count_nonzero(b.out_wht) > 0.5 * data.size
    for x, y in ((a.out_img, b.out_img), (a.out_wht, b.out_wht), (a.out_ctx, b.out_ctx)):
        np.testing.assert_array_equal(x, y)
    assert pm32.dtype == np.float32  # the caller's pixmap untouched
    assert np.isnan(pm32[5, 7]).all()


@pytest.mark.parametrize("interp", ["nearest", "linear", "poly3", "poly5", "sinc"])
def test_blot_of_a_float32_pixmap_is_that_of_float64(interp):
    """The blot takes positions in float32: a float32 pixmap is used without a float64 copy,
    with the same result bit for bit."""
    from ditherlab.drizzle import blot_image

    rng = np.random.default_rng(2)
    data = rng.normal(10, 2, (30, 40)).astype(np.float32)
    pm32 = make_pixmap((36, 33), angle=-11.0, scale=1.2, quad=0.8, margin=-2.0)
    pm32 = pm32.astype(np.float32)
    a = blot_image(data, pm32, pix_ratio=1.2, exptime=3.0, interp=interp)
    b = blot_image(data, pm32.astype(np.float64), pix_ratio=1.2, exptime=3.0, interp=interp)
    assert np.isfinite(a).mean() > 0.5
    np.testing.assert_array_equal(a, b)
