"""Clipped image statistics as AstroDrizzle computes them for the sky and the static mask.

References
----------
``stsci.imagestats.ImageStats`` (mean/stddev with ``nclip`` passes of ``lsig``/``usig``
clipping, histogram mode with bins of ``binwidth`` σ refined by a parabola through the
peak bin and its neighbours) and ``stsci.skypac`` ``SkyStats`` (the same clipping, then
the median, mode or mean of the pixels inside the final limits), as summarised in the
project reference ``detector_and_astrodrizzle.md`` §3.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["ClippedStats", "histogram_mode", "image_stats"]


@dataclasses.dataclass(frozen=True)
class ClippedStats:
    """Result of :func:`image_stats`."""

    mean: float
    stddev: float
    median: float
    mode: float
    npix: int
    nbins: int
    lower: float
    upper: float


def histogram_mode(
    values: np.ndarray, width: float, *, is_sorted: bool = False
) -> tuple[float, int]:
    """Mode of ``values`` from a histogram of bin ``width``, refined by a parabola.

    Returns ``(mode, nbins)``.  The bins start at the minimum value; the peak bin's
    centre is moved by ``0.5·(d1 − d2)/(d1 + d2)`` bins, ``d1``/``d2`` the drops to the
    left/right neighbours (the vertex of the parabola through the three counts).
    ``is_sorted=True`` promises ascending values: the counts are then found by bisection
    on the bin index (the same bins, without a pass over every value).

    Examples
    --------
    >>> v = np.r_[np.full(10, 1.0), np.full(30, 1.15), np.full(10, 1.25)]
    >>> round(histogram_mode(v, 0.1)[0], 6)
    1.15
    """
    v = np.asarray(values)
    if v.size == 0 or not width > 0:
        return float("nan"), 0
    lo, hi = (float(v[0]), float(v[-1])) if is_sorted else (float(v.min()), float(v.max()))
    nbins = int((hi - lo) / width) + 1
    if nbins > 1 << 22:  # a pathological spread (σ tiny against the range): coarser bins
        nbins = 1 << 22
        width = (hi - lo) / (nbins - 1)

    def index(x):
        return np.minimum(((x - lo) / width).astype(np.int64), nbins - 1)

    if is_sorted and nbins <= _BISECT_BINS:
        h = np.diff(_first_at_least(v, index, nbins)).astype(float)
    else:
        h = np.bincount(index(v), minlength=nbins).astype(float)
    p = int(np.argmax(h))
    centre = lo + (p + 0.5) * width
    if 0 < p < nbins - 1:
        d1, d2 = h[p] - h[p - 1], h[p] - h[p + 1]
        if d1 + d2 > 0:
            centre += width * 0.5 * (d1 - d2) / (d1 + d2)
    return float(centre), nbins


#: Histograms of sorted values with at most this many bins are counted by bisection.
_BISECT_BINS = 1 << 16


def _first_at_least(v: np.ndarray, index, nbins: int) -> np.ndarray:
    """For k = 0..nbins, the first position of the sorted ``v`` whose ``index`` is ≥ k.

    ``index`` is non-decreasing along ``v`` (a monotone float expression, truncated), so
    one vectorised bisection over all k finds the bin edges exactly (``n`` for k = nbins).
    """
    n = v.size
    k = np.arange(nbins + 1)
    lo = np.zeros(nbins + 1, np.int64)  # index(v[lo - 1]) < k (or lo = 0)
    hi = np.full(nbins + 1, n, np.int64)  # index(v[hi]) ≥ k (or hi = n)
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) // 2
        ok = index(v[np.minimum(mid, n - 1)]) >= k
        hi = np.where(open_ & ok, mid, hi)
        lo = np.where(open_ & ~ok, mid + 1, lo)


def _at_least(x: float) -> np.float32:
    """The smallest float32 ≥ ``x``: ``v >= x`` ⇔ ``v >= _at_least(x)`` for float32 ``v``."""
    with np.errstate(over="ignore"):
        f = np.float32(x)
    return np.nextafter(f, np.float32(np.inf)) if float(f) < x else f


def _at_most(x: float) -> np.float32:
    """The largest float32 ≤ ``x`` (see :func:`_at_least`)."""
    with np.errstate(over="ignore"):
        f = np.float32(x)
    return np.nextafter(f, np.float32(-np.inf)) if float(f) > x else f


def image_stats(
    data: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    lower: float | None = None,
    upper: float | None = None,
    nclip: int = 5,
    lsig: float = 4.0,
    usig: float = 4.0,
    binwidth: float = 0.1,
    want_median: bool = True,
    want_mode: bool = True,
) -> ClippedStats:
    """Sigma-clipped statistics of the finite, unmasked pixels in ``[lower, upper]``.

    The values are sorted once; each pass then costs two binary searches and prefix sums
    (float64), so the result is that of the direct passes.  Pass 0 computes the mean μ and
    standard deviation σ inside the limits; after each of
    the first ``nclip`` passes the limits become ``[max(lower, μ − lsig·σ),
    min(upper, μ + usig·σ)]``; the last pass (``nclip + 1`` in all) gives the reported
    mean and σ, and the median and histogram mode (bin ``binwidth·σ``) of the pixels
    inside the final limits (NaN, and ``nbins`` 0, when not wanted).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = rng.normal(50.0, 7.0, 100_000); d[:500] = 5000.0  # a few "stars"
    >>> st = image_stats(d)
    >>> abs(st.median - 50.0) < 0.1, abs(st.stddev - 7.0) < 0.2
    (True, True)
    """
    v = np.asarray(data, dtype=np.float32).ravel()
    keep = np.isfinite(v)
    if mask is not None:
        keep &= np.asarray(mask, bool).ravel()
    # one sort, then every pass is two binary searches and prefix sums (exact)
    vs = np.sort(v[keep] if not keep.all() else v)
    c1 = np.zeros(vs.size + 1)
    c2 = np.zeros(vs.size + 1)
    np.cumsum(vs, dtype=np.float64, out=c1[1:])
    np.cumsum(np.square(vs, dtype=np.float64), out=c2[1:])
    lo0 = -np.inf if lower is None else float(lower)
    hi0 = np.inf if upper is None else float(upper)
    lo, hi = lo0, hi0
    i0 = i1 = 0
    mean = std = float("nan")
    for k in range(nclip + 1):
        # float32 bounds: the same indices as comparing in float64, without casting vs
        i0 = int(np.searchsorted(vs, _at_least(lo), side="left"))
        i1 = int(np.searchsorted(vs, _at_most(hi), side="right"))
        n = i1 - i0
        if n <= 0:
            break
        mean = (c1[i1] - c1[i0]) / n
        std = float(np.sqrt(max((c2[i1] - c2[i0]) / n - mean * mean, 0.0)))
        if k < nclip:
            lo, hi = max(lo0, mean - lsig * std), min(hi0, mean + usig * std)
    n = i1 - i0
    if n <= 0:
        return ClippedStats(mean, std, float("nan"), float("nan"), 0, 0, lo, hi)
    sel = vs[i0:i1]
    med = 0.5 * (float(sel[(n - 1) // 2]) + float(sel[n // 2])) if want_median else float("nan")
    if not want_mode:
        mode, nbins = float("nan"), 0
    elif std > 0:
        mode, nbins = histogram_mode(sel, binwidth * std, is_sorted=True)
    else:
        mode, nbins = mean, 1
    return ClippedStats(float(mean), std, med, mode, int(n), nbins, lo, hi)
