"""Combine the single drizzles into a clean median: AstroDrizzle's ``median`` step.

References
----------
drizzlepac ``createMedian.py`` and ``minmed.py::min_med`` (project reference
``detector_and_astrodrizzle.md`` §3 "Median / minmed"); DrizzlePac Handbook §6.3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ditherlab.errors import DitherlabValueError

__all__ = [
    "combine_masks", "combine_singles", "extend_edges", "masked_median", "median_masks", "minmed",
]

#: Fewest other singles that must pass ``combine_minweight`` for a partly empty one to be
#: left out of the median: ``minmed`` needs three values to reject a cosmic ray.  With
#: fewer, dropping a value let cosmic rays into the median (2- and 3-exposure stacks lost
#: 1-1.4 % of their recall before this rule).
MINWEIGHT_KEEP = 3

#: Rows combined at a time (bounds the temporaries to ~16 × N × rows × nx bytes).
_BLOCK_ROWS = 256


def combine_masks(
    weights: Sequence[np.ndarray],
    maskpt: float = 0.3,
    newmasks: bool = True,
    minweight: float = 0.0,
) -> list[np.ndarray]:
    """Bad-pixel masks of the singles (True = bad).

    With ``newmasks`` (AstroDrizzle's ``median_newmasks``), a pixel is bad in image k
    when its weight is below ``maskpt`` × the mean of that image's positive weights
    (``> 1e-8``); otherwise only pixels of zero weight are bad.

    ``minweight`` (ditherlab's ``combine_minweight``) also marks bad a pixel whose weight
    is below ``minweight`` × its image's mean, but only where at least
    :data:`MINWEIGHT_KEEP` (3) other images pass that cut: partly empty pixels are left
    out where enough full ones remain for the median to reject a cosmic ray, never
    otherwise (2- and 3-exposure stacks, and the edges of the footprint, keep
    AstroDrizzle's masks).  0 gives AstroDrizzle's masks.

    Examples
    --------
    >>> w1 = np.array([[10.0, 10.0, 2.0, 0.0, 6.0, 6.0]])
    >>> w2 = np.array([[10.0, 10.0, 10.0, 0.0, 10.0, 6.0]])
    >>> combine_masks([w1])[0].tolist()
    [[False, False, True, True, False, False]]
    >>> combine_masks([w1, w2, w2, w2], minweight=0.9)[0].tolist()
    [[False, False, True, True, True, False]]
    >>> combine_masks([w1, w2, w2], minweight=0.9)[0].tolist()  # only 2 others: kept
    [[False, False, True, True, False, False]]
    """
    base, means = [], []
    for w in weights:
        w = np.asarray(w)
        pos = w > 1e-8
        mean = float(w[pos].mean(dtype=np.float64)) if pos.any() else 0.0
        base.append((w < maskpt * mean if mean > 0 else ~pos) if newmasks else w <= 0)
        means.append(mean)
    if minweight <= 0:
        return base
    low = [np.asarray(w) < minweight * m for w, m in zip(weights, means, strict=True)]
    full = np.sum([~(b | lo) for b, lo in zip(base, low, strict=True)], axis=0) >= MINWEIGHT_KEEP
    return [b | (lo & full) for b, lo in zip(base, low, strict=True)]


def median_masks(weights: Sequence[np.ndarray], cfg: Any) -> list[np.ndarray]:
    """The pixels the median leaves out, per image (True = bad).

    :func:`combine_masks` with a configuration's ``median_newmasks``, ``combine_maskpt``
    and ``combine_minweight``.
    """
    return combine_masks(weights, cfg.combine_maskpt, cfg.median_newmasks,
                         cfg.combine_minweight)  # fmt: skip


def _sorted(values: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values sorted along axis 0 with the bad ones last (+inf), and the good counts.

    Few images (the usual case) are sorted with an odd-even transposition network of
    elementwise min/max over whole planes, much faster than ``np.sort`` along a short
    first axis.
    """
    v = np.where(bad, np.float32(np.inf), values)
    n = v.shape[0]
    if n <= 16:
        for r in range(n):
            for k in range(r % 2, n - 1, 2):
                lo = np.minimum(v[k], v[k + 1])
                np.maximum(v[k], v[k + 1], out=v[k + 1])
                v[k] = lo
    else:
        v.sort(axis=0)
    return v, (~bad).sum(axis=0)


def _take(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``v[idx[y, x], y, x]`` for every pixel."""
    out = v[0].copy()
    for k in range(1, v.shape[0]):
        np.copyto(out, v[k], where=idx == k)
    return out


def masked_median(
    values: np.ndarray,
    bad: np.ndarray,
    nlow: int = 0,
    nhigh: int = 0,
    *,
    mean: bool = False,
    empty: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Per-pixel median (or mean) of the good values after rejecting extremes.

    Of the ``n`` good values at a pixel, the ``nlow`` lowest and ``nhigh`` highest are
    dropped (fewer where that would leave none: at least one value is kept, dropping
    high values first); the median of an even count is the mean of the middle two.
    Pixels with no good value get ``empty``.

    Examples
    --------
    >>> v = np.array([1.0, 5.0, 3.0, 100.0])[:, None]
    >>> bad = np.zeros_like(v, bool)
    >>> float(masked_median(v, bad)[0]), float(masked_median(v, bad, nhigh=1)[0])
    (4.0, 3.0)
    >>> float(masked_median(v, bad, mean=True, nlow=1, nhigh=1)[0])
    4.0
    """
    v, n = _sorted(np.asarray(values, np.float32), np.asarray(bad, bool))
    hi = np.minimum(nhigh, np.maximum(n - 1, 0))
    lo = np.minimum(nlow, np.maximum(n - hi - 1, 0))
    k = n - lo - hi
    if mean:
        finite = np.where(np.isfinite(v), v, 0.0).astype(np.float64)
        csum = np.concatenate([np.zeros((1, *v.shape[1:])), np.cumsum(finite, axis=0)])
        total = _take(csum, lo + k) - _take(csum, lo)
        out = (total / np.maximum(k, 1)).astype(np.float32)
    else:
        a = _take(v, lo + np.maximum(k - 1, 0) // 2)
        b = _take(v, lo + k // 2)
        out = np.float32(0.5) * (a + b)
    return np.where(n > 0, out, np.asarray(empty, np.float32)).astype(np.float32)


def minmed(
    values: np.ndarray,
    weights: np.ndarray,
    bad: np.ndarray,
    sky: Sequence[float],
    exptime: Sequence[float],
    rdnoise: Sequence[float],
    nsigma: tuple[float, float] = (4.0, 3.0),
    grow: int = 1,
    *,
    empty: np.ndarray | float = 0.0,
) -> np.ndarray:
    """AstroDrizzle's ``minmed``: the median, or the minimum where the median is high.

    ``values`` (N, ny, nx) are the singles (e⁻/s), ``weights`` their weights
    (∝ exposure time), ``bad`` their masks; ``sky``, ``exptime``, ``rdnoise`` per image.

    * median M: for N = 2 the mean of the good values; for N ≥ 3 the median after
      rejecting the highest good value (one good value: that value);
    * minimum m of the good values (0 where none);
    * in electrons: ``Wsum = Σ W_k`` and ``B = Σ W_k·sky_k/t_k`` over all images (masked
      ones too, as drizzlepac's ``min_med``), ``R² = Σ RN_k²`` over the good images,
      ``σ = sqrt(max(M·Wsum + B + R², 0))``;
    * the minimum is used where ``m·Wsum < M·Wsum − nsigma[0]·σ``; with ``grow`` > 0 the
      map of such pixels is dilated by a (2·grow + 1)² box and, inside it, the lower
      threshold ``nsigma[1]`` applies (the faint wings of cosmic rays).

    Examples
    --------
    >>> v = np.full((3, 5, 5), 10.0, np.float32); v[2, 2, 2] = 500.0; v[1, 2, 2] = 300.0
    >>> w = np.full((3, 5, 5), 100.0, np.float32); bad = np.zeros(v.shape, bool)
    >>> out = minmed(v, w, bad, [0, 0, 0], [100.0] * 3, [4.0] * 3)
    >>> float(out[2, 2]), float(out[0, 0])
    (10.0, 10.0)
    """
    med, mini, gap, sig = _minmed_parts(
        np.asarray(values, np.float32), np.asarray(weights, np.float32),
        np.asarray(bad, bool), sky, exptime, rdnoise, empty,
    )  # fmt: skip
    return _choose(med, mini, gap, sig, nsigma, grow)


def _minmed_parts(v, w, bad, sky, exptime, rdnoise, empty):
    """Median M, minimum m, ``(M − m)·Wsum`` and σ of :func:`minmed` (per pixel)."""
    n = v.shape[0]
    if n == 2:
        med = masked_median(v, bad, mean=True, empty=empty)
    else:
        med = masked_median(v, bad, nhigh=1, empty=empty)
    good = ~bad
    mini = np.where(good, v, np.float32(np.inf)).min(axis=0)
    mini = np.where(np.isfinite(mini), mini, np.asarray(empty, np.float32)).astype(np.float32)
    # as drizzlepac's min_med: the weights (effective exposure time, sky) of every image,
    # masked or not; the read noise of the unmasked ones only
    wsum = w.sum(axis=0, dtype=np.float32)
    extra = np.zeros(wsum.shape, np.float32)
    for k in range(n):
        extra += w[k] * np.float32(sky[k] / exptime[k]) + good[k] * np.float32(rdnoise[k] ** 2)
    sig = np.sqrt(np.maximum(med * wsum + extra, 0.0)).astype(np.float32)
    return med, mini, ((med - mini) * wsum).astype(np.float32), sig


def _choose(med, mini, gap, sig, nsigma, grow):
    """The minimum where ``gap > nsigma·σ`` (the lower nsigma within ``grow`` of one)."""
    from ditherlab.drizzle.pipeline.masks import box_dilate

    use_min = gap > nsigma[0] * sig
    if grow > 0:
        near = box_dilate(use_min, grow)
        use_min = np.where(near, gap > nsigma[1] * sig, use_min)
    return np.where(use_min, mini, med).astype(np.float32)


def combine_singles(
    singles: Sequence[np.ndarray],
    weights: Sequence[np.ndarray],
    cfg,
    sky: Sequence[float],
    exptime: Sequence[float],
    rdnoise: Sequence[float],
) -> np.ndarray:
    """The median image from the singles, per ``cfg.combine_type`` (float32, e⁻/s).

    Masks: :func:`median_masks` (``median_newmasks``, ``combine_maskpt``,
    ``combine_minweight``), plus values
    outside ``[combine_lthresh, combine_hthresh]``.  ``minmed``/``iminmed``: :func:`minmed`
    with ``combine_nsigma``, ``combine_grow``; ``median``/``mean``: :func:`masked_median`
    with ``combine_nlow``, ``combine_nhigh``.  The ``i`` variants give pixels with no good
    value the last image's value instead of 0.  Rows are combined in blocks of 256 (the
    ``grow`` dilation is done on the whole image).
    """
    n = len(singles)
    if n == 0 or n != len(weights):
        raise DitherlabValueError(f"{n} singles and {len(weights)} weights: need as many of each")
    masks = median_masks(weights, cfg)
    ny, nx = np.shape(singles[0])
    out = np.empty((ny, nx), np.float32)
    kind = cfg.combine_type
    if kind in ("minmed", "iminmed"):
        return _minmed_blocks(singles, weights, masks, cfg, sky, exptime, rdnoise)

    def block(sl):
        v, bad = _block(singles, masks, sl, cfg)
        empty = np.nan_to_num(v[-1]) if kind.startswith("i") else 0.0
        return (masked_median(
            np.nan_to_num(v), bad, cfg.combine_nlow, cfg.combine_nhigh,
            mean=kind.endswith("mean"), empty=empty,
        ),)  # fmt: skip

    _by_blocks(block, [out], cfg, ny, nx, n)
    return out


def _by_blocks(block, outputs, cfg, ny: int, nx: int, nimages: int) -> None:
    """``outputs[k][rows] = block(rows)[k]`` for every block of ``_BLOCK_ROWS`` rows.

    The blocks are spread over worker processes (:mod:`.workers`): the same values as in
    one process.
    """
    from ditherlab.drizzle.pipeline.workers import map_items, worker_split

    blocks = [slice(r0, min(r0 + _BLOCK_ROWS, ny)) for r0 in range(0, ny, _BLOCK_ROWS)]
    outer, _ = worker_split(cfg, len(blocks), nimages * _BLOCK_ROWS * nx)
    done = [0]

    def take(res):
        sl = blocks[done[0]]
        for dst, src in zip(outputs, res, strict=True):
            dst[sl] = src
        done[0] += 1

    map_items(block, blocks, take, outer, 8 * len(outputs) * _BLOCK_ROWS * nx + 64)


def _block(singles, masks, sl, cfg) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``sl`` of the singles (N, rows, nx) and their bad pixels.

    Bad: masked, not finite, or outside ``[combine_lthresh, combine_hthresh]``.
    """
    v = np.stack([np.asarray(s[sl], np.float32) for s in singles])
    bad = np.stack([m[sl] for m in masks]) | ~np.isfinite(v)
    if cfg.combine_lthresh is not None:
        bad |= v < cfg.combine_lthresh
    if cfg.combine_hthresh is not None:
        bad |= v > cfg.combine_hthresh
    return v, bad


def _minmed_blocks(singles, weights, masks, cfg, sky, exptime, rdnoise) -> np.ndarray:
    """:func:`minmed` over the whole image, the per-pixel parts computed in row blocks."""
    ny, nx = np.shape(singles[0])
    parts = [np.empty((ny, nx), np.float32) for _ in range(4)]

    def block(sl):
        v, bad = _block(singles, masks, sl, cfg)
        v = np.nan_to_num(v)
        w = np.stack([np.asarray(x[sl], np.float32) for x in weights])
        empty = v[-1] if cfg.combine_type == "iminmed" else 0.0
        return tuple(_minmed_parts(v, w, bad, sky, exptime, rdnoise, empty))

    _by_blocks(block, parts, cfg, ny, nx, len(singles))
    return _choose(*parts, cfg.combine_nsigma, cfg.combine_grow)


def extend_edges(image: np.ndarray, covered: np.ndarray, width: int = 3) -> np.ndarray:
    """Fill uncovered pixels within ``width`` of the covered area from their neighbours.

    Each pass gives every uncovered pixel that touches covered ones (8-neighbours) the
    mean of those; ``width`` passes extend the image by ``width`` pixels.  Used on the
    median before blotting (*ditherlab*, not AstroDrizzle): the 6 × 6 stencil of the
    ``poly5`` blot would otherwise pull input pixels at the edge of the coverage towards
    the 0 of the empty median, and flag the stars there as cosmic rays.

    Examples
    --------
    >>> img = np.array([[0.0, 0.0, 5.0, 7.0]]); cov = np.array([[False, False, True, True]])
    >>> extend_edges(img, cov, 1).tolist()
    [[0.0, 5.0, 5.0, 7.0]]
    """
    from ditherlab.drizzle.pipeline.masks import box_dilate

    ny, nx = np.shape(image)
    # padded by one empty pixel, so that every neighbour of an image pixel is a flat index
    out = np.zeros((ny + 2, nx + 2), np.float32)
    out[1:-1, 1:-1] = image
    cov = np.zeros((ny + 2, nx + 2), bool)
    cov[1:-1, 1:-1] = covered
    out, cov = out.ravel(), cov.ravel()
    w = nx + 2
    # the 8 neighbours in the order their sums were always accumulated (bit for bit)
    steps = [dy * w + dx for dy in (1, 0, -1) for dx in (1, 0, -1) if dy or dx]
    for _ in range(width):
        edge = box_dilate(cov.reshape(ny + 2, nx + 2), 1) & ~cov.reshape(ny + 2, nx + 2)
        edge[[0, -1], :] = edge[:, [0, -1]] = False  # the padding stays empty
        idx = np.flatnonzero(edge)
        if idx.size == 0:
            break
        total = np.zeros(idx.size, np.float32)
        count = np.zeros(idx.size, np.float32)
        for k in steps:
            c = cov[idx + k]
            total += np.where(c, out[idx + k], np.float32(0))
            count += c
        out[idx] = total / count
        cov[idx] = True
    return out.reshape(ny + 2, nx + 2)[1:-1, 1:-1].copy()
