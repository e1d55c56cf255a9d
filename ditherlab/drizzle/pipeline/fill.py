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

#: Zero-weight input pixels of one row farther apart than this are handled as separate runs.
_RUN_GAP = 32


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
        # a drop reaches at most ~pixfrac/ratio output pixels from its centre (lanczos3: 3/ratio)
        radius = math.ceil(3.0 * max(pixfrac, 1.0) / max(ratio, 1e-3)) + 2
        if radius not in near_cache:
            near_cache[radius] = box_dilate(empty, radius)
        near = near_cache[radius]
        for j, i0, i1 in _candidate_runs(weight, pixmap, near):
            got = _run_values(data, weight, pixmap, j, i0, i1, exptime, iscale, ratio, kernel,
                              pixfrac, empty)  # fmt: skip
            if got is not None:
                found_idx.append(got[0])
                found_val.append(got[1])
    if not found_idx:
        return np.zeros(0, np.intp), np.zeros(0, np.float32)
    idx = np.concatenate(found_idx)
    val = np.concatenate(found_val)
    # the last write wins: keep each pixel's last entry in drizzling order
    rev = idx[::-1]
    _, first = np.unique(rev, return_index=True)
    keep = idx.size - 1 - first
    return idx[keep], val[keep]


def _candidate_runs(weight, pixmap, near):
    """``(row, first, last)`` runs of zero-weight input pixels that map near empty output."""
    ny, nx = near.shape
    zw = np.asarray(weight) == 0
    if not zw.any():
        return []
    jj, ii = np.nonzero(zw)
    x = np.rint(pixmap[jj, ii, 0])
    y = np.rint(pixmap[jj, ii, 1])
    ok = np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
    jj, ii = jj[ok], ii[ok]
    hit = near[y[ok].astype(np.intp), x[ok].astype(np.intp)]
    jj, ii = jj[hit], ii[hit]
    runs = []
    start = 0
    for k in range(1, jj.size + 1):
        if k == jj.size or jj[k] != jj[start] or ii[k] - ii[k - 1] > _RUN_GAP:
            runs.append((int(jj[start]), int(ii[start]), int(ii[k - 1])))
            start = k
    return runs


def _run_values(data, weight, pixmap, j, i0, i1, exptime, iscale, ratio, kernel, pixfrac, empty):
    """The empty output pixels the zero-weight drops of row ``j``, columns ``i0..i1`` overlap."""
    ny, nx = empty.shape
    pieces, valid = block_pieces(kernel, pixmap, j, j + 1, i0, i1, pixfrac=pixfrac,
                                 pscale_ratio=ratio)  # fmt: skip
    d = np.asarray(data[j, i0 : i1 + 1], np.float32)
    if exptime != 1.0:  # as the drizzle core (and C): data / exptime in float32, then iscale
        d = d * np.float32(1.0 / exptime)
    d = (d.astype(np.float64) * float(np.float32(iscale))).astype(np.float32)
    zero = (np.asarray(weight[j, i0 : i1 + 1]) == 0) & valid & np.isfinite(d)
    cols, outs, vals = [], [], []
    for sel, c0, r0, a in pieces:
        idx = np.arange(i1 - i0 + 1) if sel is None else sel
        gy, gx = a.shape[:2]
        for q in range(gy):
            for p in range(gx):
                m = (a[q, p] > 0) & zero[idx]
                if not m.any():
                    continue
                ox, oy = c0[m] + p, r0[m] + q
                inside = (ox >= 0) & (ox < nx) & (oy >= 0) & (oy < ny)
                flat = oy[inside] * nx + ox[inside]
                hit = empty.reshape(-1)[flat]
                cols.append(idx[m][inside][hit])
                outs.append(flat[hit])
                vals.append(d[idx[m][inside][hit]])
    if not outs:
        return None
    col = np.concatenate(cols)
    order = np.argsort(col, kind="stable")  # drizzling order within the row: by column
    return np.concatenate(outs)[order], np.concatenate(vals)[order]
