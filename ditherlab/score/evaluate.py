r"""Product scores: what a pattern gives after simulation and drizzling, against the truth.

:func:`measure_noise_ratio` measures the correlated-noise ratio R of a drizzled image of
pure noise, to set beside the formula R(p, s) of
:func:`ditherlab.score.correlated_noise_ratio`.

References
----------
Casertano, S. et al. 2000, AJ 120, 2747 (the noise-correlation ratio of drizzled images);
Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144; DrizzlePac Handbook §6.3.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ditherlab._validation import as_array, as_int
from ditherlab.errors import DitherlabValueError

__all__ = ["measure_noise_ratio"]


def measure_noise_ratio(image: Any, max_lag: int) -> float:
    r"""Measured ratio R of the true noise of a large aperture to the per-pixel estimate.

    For a noise image with pixel covariance :math:`C(\Delta)` (averaged over the image),
    the variance of a sum over a large aperture of :math:`N_{pix}` pixels is
    :math:`N_{pix}\sum_\Delta C(\Delta)`, while the naive estimate is
    :math:`N_{pix}\,C(0)`; so

    .. math:: R^2 = \sum_{|\Delta_x|, |\Delta_y| \le L} C(\Delta) / C(0).

    The covariance is estimated with FFTs (zero-padded, divided by the number of pixel
    pairs at each lag) and summed over lags up to ``max_lag``, the reach of the
    correlation: drizzled pixels correlate only when one drop overlaps both, so
    ``ceil(pixfrac / scale)`` output pixels suffices for undistorted data.  Summing the
    covariance instead of taking block sums avoids the bias of finite blocks.

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        Finite noise image (a drizzled science image of noise-only inputs, cut to the
        area every input covers).
    max_lag : int
        Largest lag L (pixels) summed, ≥ 0.

    Returns
    -------
    float
        R ≥ 0 (1 for uncorrelated noise).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> white = rng.standard_normal((200, 200))
    >>> round(measure_noise_ratio(white, 2), 1)
    1.0
    >>> smooth = white + np.roll(white, 1, axis=1)  # neighbours share half their noise
    >>> round(measure_noise_ratio(smooth, 2), 1)  # R² = (2 + 1 + 1) / 2
    1.4
    """
    a = as_array("image", image, ndim=2)
    L = as_int("max_lag", max_lag, minimum=0)
    ny, nx = a.shape
    if min(ny, nx) // 2 <= L:
        raise DitherlabValueError(
            f"max_lag={max_lag!r} must be below half the image size {a.shape}"
        )
    a = a - a.mean()
    shape = (2 * ny, 2 * nx)
    acf = np.fft.irfft2(np.abs(np.fft.rfft2(a, s=shape)) ** 2, s=shape)
    # number of pixel pairs at each lag (ny - |dy|)(nx - |dx|), in FFT order
    py = ny - np.abs(np.fft.fftfreq(shape[0], 1.0 / shape[0]))
    px = nx - np.abs(np.fft.fftfreq(shape[1], 1.0 / shape[1]))
    lags_y = np.r_[0 : L + 1, shape[0] - L : shape[0]]
    lags_x = np.r_[0 : L + 1, shape[1] - L : shape[1]]
    cov = acf[np.ix_(lags_y, lags_x)] / np.outer(py[lags_y], px[lags_x])
    c0 = acf[0, 0] / (ny * nx)
    if c0 <= 0:
        raise DitherlabValueError("image has no variance: R is undefined")
    return float(np.sqrt(max(cov.sum() / c0, 0.0)))
