"""Metrics on drizzled products: weight-map uniformity and correlated noise.

References
----------
DrizzlePac Handbook §6.3 ("Selecting the Optimal Scale and Pixfrac") and §7.3: the
RMS/median of the drizzled weight image over the main part of the field should stay
below ~0.2 (ignoring the weight map in photometry then costs little S/N).
Casertano et al. 2000, AJ 120, 2747 / Fruchter & Hook 2002: the noise-correlation ratio R.
"""

from __future__ import annotations

import numpy as np

from ditherlab._validation import as_array, as_float

__all__ = ["correlated_noise_ratio", "weight_uniformity"]


def weight_uniformity(wht: np.ndarray, trim: float = 0.1) -> dict[str, float]:
    """RMS/median of a drizzled weight image over its well-covered interior.

    Parameters
    ----------
    wht : ndarray, shape (ny, nx)
        Drizzled weight image.
    trim : float, optional
        Fraction of the covered bounding box to drop on each side (default 0.1) so the
        ragged edges of the dithered footprint do not dominate.

    Returns
    -------
    dict
        ``rms_over_median``, ``median``, ``holes`` (fraction of interior pixels with zero
        weight) and ``n_pixels`` used.  The DrizzlePac rule of thumb is
        ``rms_over_median ≲ 0.2``.

    Examples
    --------
    >>> w = np.ones((20, 20)); w[5, 5] = 0
    >>> weight_uniformity(w, trim=0)["holes"]
    0.0025
    """
    w = as_array("wht", wht, ndim=2, finite=False)
    t = as_float("trim", trim, minimum=0, maximum=0.45)
    covered = np.argwhere(w > 0)
    if covered.size == 0:
        return {"rms_over_median": float("inf"), "median": 0.0, "holes": 1.0, "n_pixels": 0.0}
    (y0, x0), (y1, x1) = covered.min(axis=0), covered.max(axis=0)
    dy, dx = int((y1 - y0) * t), int((x1 - x0) * t)
    inner = w[y0 + dy : y1 - dy + 1, x0 + dx : x1 - dx + 1]
    inner = inner[np.isfinite(inner)]
    med = float(np.median(inner))
    rms = float(np.std(inner))
    return {
        "rms_over_median": rms / med if med > 0 else float("inf"),
        "median": med,
        "holes": float(np.mean(inner <= 0)),
        "n_pixels": float(inner.size),
    }


def correlated_noise_ratio(pixfrac: float, scale: float) -> float:
    """Ratio R of true to naive (per-pixel × √N) noise in a drizzled image.

    With ``r = pixfrac / scale`` (drop size over output pixel size)::

        R = 1 / (1 − r/3)          for r ≤ 1
        R = r / (1 − 1/(3 r))      for r ≥ 1

    Parameters
    ----------
    pixfrac : float
        ``final_pixfrac`` (linear drop size in input pixels), > 0.
    scale : float
        Output pixel size in input pixels, > 0.

    Returns
    -------
    float
        R ≥ 1 (R = 1.5 at pixfrac = scale).

    Examples
    --------
    >>> round(correlated_noise_ratio(0.6, 0.5), 3), round(correlated_noise_ratio(0.8, 1.0), 3)
    (1.662, 1.364)
    """
    p = as_float("pixfrac", pixfrac, minimum=0, min_inclusive=False)
    s = as_float("scale", scale, minimum=0, min_inclusive=False)
    r = p / s
    return 1.0 / (1.0 - r / 3.0) if r <= 1 else r / (1.0 - 1.0 / (3.0 * r))
