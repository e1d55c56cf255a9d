"""``final_fillval=INDEF``: the values AstroDrizzle leaves in output pixels of zero weight.

drizzlepac's C drizzle (``cdriz.tdriz``) updates an output pixel for every input pixel whose
drop overlaps it, whatever that pixel's weight: where the output weight is still 0 the output
value becomes the input value (scaled to the output units), and a later contribution of
positive weight replaces it.  With a numeric ``fillval`` every pixel of zero weight is set to
it at the end; with ``INDEF`` nothing is filled, so a pixel of zero weight keeps the value of
the **last** zero-weight input pixel that overlapped it (in the order of the drizzle: input
images in turn, rows, then columns), and a pixel no drop overlapped keeps the initial value
of the output array, NaN (``final_maskval`` = None).  The DrizzlePac Handbook §6.3 says the
same in words ("the output pixel will be set to the value it would have had if the input had
a non-zero weight").  Verified on drizzlepac 3.11 (``adrizzle.do_driz``); tested against it.

The drizzle core fills every pixel of zero weight with NaN; :func:`indef_values` gives the
values to put back, looking only at the zero-weight input pixels near empty output pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ditherlab.drizzle._kernels import block_pieces
from ditherlab.drizzle.pipeline.masks import box_dilate

__all__ = ["indef_values"]

#: Input tiles (pixels on a side) in which the zero-weight candidates are boxed together.
_TILE = 32


def indef_values(
    out_wht: np.ndarray, inputs: Sequence[tuple[Any, ...]], kernel: str, pixfrac: float
) -> tuple[np.ndarray, np.ndarray]:
    """Flat output indices of zero weight that zero-weight inputs overlap, and their values.

    Parameters
    ----------
    out_wht : ndarray, shape (ny, nx)
        The final weight image.
    inputs : sequence of (data, weight, pixmap, exptime, iscale, pscale_ratio)
        Every input image in drizzling order: the data (``in_units="counts"``), the weights
        actually used (a pixel of weight 0 gave none), the pixmap, and the scaling as given to
        :meth:`~ditherlab.drizzle.Drizzle.add_image`.
    kernel, pixfrac : str, float
        The drizzle kernel and its ``pixfrac``.

    Returns
    -------
    index : ndarray of intp
        Flat indices into the output of the pixels that get a value.
    values : ndarray of float32
        The value of the last zero-weight input pixel overlapping each (``data / exptime ·
        iscale``, as the drizzle scales it).
    """
    empty = np.asarray(out_wht) == 0
    found_idx: list[np.ndarray] = []
    found_val: list[np.ndarray] = []
    if not empty.any():
        return np.zeros(0, np.intp), np.zeros(0, np.float32)
    near_cache: dict[int, np.ndarray] = {}
    for data, weight, pixmap, exptime, iscale, ratio in inputs:
        radius = _reach(kernel, pixfrac, ratio)
        if radius not in near_cache:
            near_cache[radius] = box_dilate(empty, radius)
        keys, outs, vals = [], [], []
        for block in _candidate_blocks(weight, pixmap, near_cache[radius]):
            got = _block_values(data, weight, pixmap, block, exptime, iscale, ratio, kernel,
                                pixfrac, empty)  # fmt: skip
            if got is not None:
                keys.append(got[0])
                outs.append(got[1])
                vals.append(got[2])
        if keys:  # the drizzle's order within an image: input rows, then columns
            order = np.argsort(np.concatenate(keys), kind="stable")
            found_idx.append(np.concatenate(outs)[order])
            found_val.append(np.concatenate(vals)[order])
    if not found_idx:
        return np.zeros(0, np.intp), np.zeros(0, np.float32)
    idx = np.concatenate(found_idx)
    val = np.concatenate(found_val)
    # the last write wins: keep each pixel's last entry in drizzling order
    rev = idx[::-1]
    _, first = np.unique(rev, return_index=True)
    keep = idx.size - 1 - first
    return idx[keep], val[keep]


def _reach(kernel: str, pixfrac: float, ratio: float) -> int:
    """Output pixels from a drop's mapped centre to the farthest output pixel it can touch.

    Square and turbo drops are ``pixfrac`` input pixels wide (``pixfrac / ratio`` output
    pixels; ×√2 for a rotated one), a point drop touches the pixel it lands in; the
    gaussian, lanczos and tophat windows reach up to ~3 / ratio.  One pixel more covers the
    rounding of the centre and the distortion across a drop.
    """
    r = max(ratio, 1e-3)
    if kernel == "point":
        return 1
    if kernel in ("square", "turbo"):
        return math.ceil(0.75 * pixfrac / r) + 1
    return math.ceil(3.0 * max(pixfrac, 1.0) / r) + 2


def _candidate_blocks(weight, pixmap, near):
    """Boxes ``(j0, j1, i0, i1)`` around the zero-weight inputs near empty output pixels.

    Rows ``j0..j1-1``, columns ``i0..i1``: the bounding box of such pixels in each
    ``_TILE`` × ``_TILE`` tile of the input.
    """
    ny, nx = near.shape
    zw = np.asarray(weight) == 0
    if not zw.any():
        return []
    jj, ii = np.divmod(np.flatnonzero(zw), zw.shape[1])  # (half the time of np.nonzero)
    x = np.rint(pixmap[jj, ii, 0])
    y = np.rint(pixmap[jj, ii, 1])
    ok = np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
    jj, ii = jj[ok], ii[ok]
    hit = near[y[ok].astype(np.intp), x[ok].astype(np.intp)]
    jj, ii = jj[hit], ii[hit]
    if jj.size == 0:
        return []
    tile = (jj // _TILE) * (np.shape(weight)[1] // _TILE + 1) + ii // _TILE
    order = np.argsort(tile, kind="stable")
    tile, jj, ii = tile[order], jj[order], ii[order]
    cuts = np.flatnonzero(np.diff(tile)) + 1
    return [(int(a.min()), int(a.max()) + 1, int(b.min()), int(b.max()))
            for a, b in zip(np.split(jj, cuts), np.split(ii, cuts), strict=True)]  # fmt: skip


def _block_values(data, weight, pixmap, block, exptime, iscale, ratio, kernel, pixfrac, empty):
    """``(input index, output index, value)`` of empty pixels zero-weight drops overlap.

    The drops are those of ``block``; None if they overlap no empty pixel.
    """
    ny, nx = empty.shape
    j0, j1, i0, i1 = block
    width = i1 - i0 + 1
    pieces, valid = block_pieces(kernel, pixmap, j0, j1, i0, i1, pixfrac=pixfrac,
                                 pscale_ratio=ratio)  # fmt: skip
    d = np.asarray(data[j0:j1, i0 : i1 + 1], np.float32).ravel()
    if exptime != 1.0:  # as the drizzle core (and C): data / exptime in float32, then iscale
        d = d * np.float32(1.0 / exptime)
    d = (d.astype(np.float64) * float(np.float32(iscale))).astype(np.float32)
    zero = (np.asarray(weight[j0:j1, i0 : i1 + 1]).ravel() == 0) & valid & np.isfinite(d)
    flat_empty = empty.reshape(-1)
    src, outs = [], []
    for sel, c0, r0, a in pieces:
        idx = np.arange(zero.size) if sel is None else sel
        gy, gx = a.shape[:2]
        for q in range(gy):
            for p in range(gx):
                m = (a[q, p] > 0) & zero[idx]
                if not m.any():
                    continue
                ox, oy = c0[m] + p, r0[m] + q
                inside = (ox >= 0) & (ox < nx) & (oy >= 0) & (oy < ny)
                flat = oy[inside] * nx + ox[inside]
                hit = flat_empty[flat]
                src.append(idx[m][inside][hit])
                outs.append(flat[hit])
    if not outs:
        return None
    k = np.concatenate(src)
    key = (j0 + k // width) * np.shape(weight)[1] + i0 + k % width
    return key, np.concatenate(outs), d[k]
