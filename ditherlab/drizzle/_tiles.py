"""Tiles: cutting a drizzle scan into pieces and the weighted sums of one piece.

A drizzle pass processes, row by row, the input pixels the scan rule keeps (see
:mod:`._scan`).  This module cuts those pixels into tiles of bounded working set
(:func:`plan_tiles`) and computes, for one tile, the per-output-pixel sums the merge needs
(:func:`tile_sums`, and :func:`fast_tile_sums` for clean point/turbo tiles): ``Σ a·w`` and
``Σ a·w·d`` over a box of the output, where ``a`` is the kernel weight, ``w`` the input
weight and ``d`` the scaled data.  Pure functions: arrays in, arrays out (large temporaries
come from the running task's work buffers, :mod:`._buffers`).
"""

from __future__ import annotations

import math

import numpy as np

from ditherlab.drizzle._buffers import copy_to, scratch
from ditherlab.drizzle._kernels import block_pieces

__all__ = [
    "F32_TINY",
    "block_geometry",
    "box_pixels",
    "cells",
    "extra_sums",
    "fast_tile_sums",
    "plan_tiles",
    "row_chunks",
    "split_tiles",
    "tile_sums",
]

#: Target number of kernel contributions handled at once (bounds the working set).
_CHUNK_CONTRIBUTIONS = 1 << 18
#: Least contributions of a tile of a small image (see :func:`split_tiles`).
_MIN_TILE_CONTRIBUTIONS = 1 << 15
#: Input pixels of a square-kernel tile (see :func:`split_tiles`).
_SQUARE_TILE_PIXELS = 1 << 15
#: Half the smallest float32 subnormal: smaller weights round to 0 in ``out_wht``.
F32_TINY = 2.0**-150


def cells(kernel: str, pixfrac: float, s: float) -> float:
    """Rough number of output pixels one input pixel touches (sizes the tiles)."""
    if kernel == "point":
        return 1.0
    if kernel in ("square", "turbo", "tophat"):
        return (pixfrac / s + 1.0) ** 2
    if kernel == "gaussian":
        return (2 * max(2.5 * pixfrac / 2.3548 / s, 1.2 / s) + 1.0) ** 2
    order = 2 if kernel == "lanczos2" else 3
    return (2 * order / s + 1.0) ** 2


def row_chunks(rows, x1, x2, ncells):
    """Split the processed rows into consecutive blocks of bounded working set."""
    width = int(x2.max() - x1.min() + 1)
    # at least 16 rows (while under 4x the budget): fewer, taller blocks waste less of each
    # merge on the output rows that a rotated block only partly covers
    per = max(1, int(_CHUNK_CONTRIBUTIONS / (ncells * width)))
    per = max(per, min(16, int(4 * _CHUNK_CONTRIBUTIONS / (ncells * width))))
    return [(a, min(a + per, rows.size)) for a in range(0, rows.size, per)]


def plan_tiles(kernel, rows, x1, x2, pixfrac, s):
    """The tiles of a drizzle pass (see :func:`split_tiles`); square tiles by drop count."""
    pixels = None
    if kernel == "square" and _SQUARE_TILE_PIXELS is not None:
        pixels = min(_SQUARE_TILE_PIXELS, 4 * _CHUNK_CONTRIBUTIONS / cells("square", pixfrac, s))
    return split_tiles(rows, x1, x2, cells(kernel, pixfrac, s), pixels)


def split_tiles(rows, x1, x2, ncells, pixels=None):
    """Split the processed pixels into tiles: runs of scan rows × ranges of columns.

    A tile holds about ``_CHUNK_CONTRIBUTIONS`` kernel contributions (the working-set
    bound) and is roughly square, so that its output box, which the sums and the merge
    cover in full, is barely larger than what it touches even when the image is rotated
    or distorted: a full-width strip of a 2048-column chip rotated by 0.3° spans 11 more
    output rows than it has input rows.  ``pixels`` fixes the input pixels of a tile
    instead: the square kernel's per-drop arithmetic wants ~32k drops per tile whatever
    the window size (fewer, longer numpy calls; its working set is per drop).  Small
    images are cut into at least ~8 tiles (of at least 2¹⁵ contributions), so that the
    working set stays small next to them.  A tile is ``(a, b, c0, c1)``: scan rows
    ``a:b``, columns ``c0..c1``.
    """
    lo, hi = int(x1.min()), int(x2.max())
    width = hi - lo + 1
    if pixels is None:
        total = float(np.sum(x2 - x1 + 1)) * ncells
        budget = min(_CHUNK_CONTRIBUTIONS, max(_MIN_TILE_CONTRIBUTIONS, total / 8))
        pixels = budget / ncells
    npix = max(1.0, pixels)
    side = max(32, int(math.sqrt(npix)))
    ncol = max(1, round(width / side))
    cw = -(-width // ncol)
    per = max(1, int(npix // cw))
    return [
        (a, min(a + per, rows.size), c, min(c + cw - 1, hi))
        for a in range(0, rows.size, per)
        for c in range(lo, hi + 1, cw)
    ]


def box_pixels(tiles, s: float, ncells: float, nout: int) -> int:
    """An upper estimate of the output box of the largest tile, in output pixels.

    A tile's output box spans its input rows and columns / ``s`` plus a kernel window
    (``ncells`` output pixels); twice that for rotation and distortion, at most the output.
    """
    side = math.sqrt(ncells)
    box = max(((c[1] - c[0]) / s + side) * ((c[3] - c[2] + 1) / s + side) for c in tiles)
    return int(min(nout, 2.0 * box + 1024))


def block_geometry(rows, x1, x2, chunk):
    """Bounding box ``ja:jb`` × ``xa:xb`` of a chunk of scan rows and its processed mask.

    ``rows``, ``x1``, ``x2`` are the scan rule's rows and inclusive column limits; a chunk
    is ``(a, b)`` (scan rows ``a:b``) or a tile ``(a, b, ca, cb)`` (also columns
    ``ca..cb`` only).  ``processed`` (raveled over the box) is True where the rule
    processes the pixel.  Returns None when the tile holds no processed pixel.
    """
    a_, b_ = chunk[:2]
    r, lo, hi = rows[a_:b_], x1[a_:b_], x2[a_:b_]
    if len(chunk) == 4:
        lo = np.maximum(lo, chunk[2])
        hi = np.minimum(hi, chunk[3])
        keep = hi >= lo
        if not keep.all():
            if not keep.any():
                return None
            r, lo, hi = r[keep], lo[keep], hi[keep]
    ja, jb = int(r[0]), int(r[-1]) + 1
    xa, xb = int(lo.min()), int(hi.max())
    ncol = xb - xa + 1
    lim_lo = np.full(jb - ja, ncol, np.intp)
    lim_hi = np.full(jb - ja, -1, np.intp)
    lim_lo[r - ja] = lo - xa
    lim_hi[r - ja] = hi - xa
    cols = np.arange(ncol)
    processed = ((cols >= lim_lo[:, None]) & (cols <= lim_hi[:, None])).ravel()
    return ja, jb, xa, xb, cols, processed


def fast_tile_sums(
    kernel, pixmap, data, weight_map, dscale, wscale, rows, x1, x2, chunk, out_shape, pixfrac, s
):
    """:func:`tile_sums` for point and turbo on a "clean" tile, else None.

    Clean: every row of the tile is processed over the same columns, the pixmap and data
    are finite and every kernel window lies inside the output -- the common case, where
    the masks of the general path are all-true and can be skipped.  Returns the same
    result as :func:`tile_sums`, or for point a ``("direct", ...)`` result when every
    input pixel has an output pixel of its own (see ``_merge.merge_direct``).
    """
    a_, b_ = chunk[:2]
    r, lo, hi = rows[a_:b_], x1[a_:b_], x2[a_:b_]
    if len(chunk) == 4:
        lo = np.maximum(lo, chunk[2])
        hi = np.minimum(hi, chunk[3])
    ja, jb = int(r[0]), int(r[-1]) + 1
    xa, xb = int(lo[0]), int(hi[0])
    if xb < xa or jb - ja != r.size or np.any(lo != xa) or np.any(hi != xb):
        return None
    out_ny, out_nx = out_shape
    d = data[ja:jb, xa : xb + 1]
    if not math.isfinite(d.sum(dtype=np.float64)):
        return None
    half = 0.0 if kernel == "point" else pixfrac / float(np.float32(s)) / 2.0
    # contiguous copies of the centres: reductions over the strided pixmap cost ~4x more
    m = d.size
    xc = copy_to(scratch("f_x", m, np.float64), pixmap[ja:jb, xa : xb + 1, 0])
    yc = copy_to(scratch("f_y", m, np.float64), pixmap[ja:jb, xa : xb + 1, 1])
    xmn, xmx, ymn, ymx = float(xc.min()), float(xc.max()), float(yc.min()), float(yc.max())
    # window pixels round(c - half) .. round(c + half), padded by one to a common size,
    # must lie in the output (NaN fails these tests)
    if not (xmn - half >= 0.0 and ymn - half >= 0.0):
        return None
    if not (xmx + half < out_nx - 1.5 and ymx + half < out_ny - 1.5):
        return None
    wm = None if weight_map is None else weight_map[ja:jb, xa : xb + 1]
    if kernel == "point":
        return _point_sums(xc, yc, (xmn, xmx, ymn, ymx), d, wm, dscale, wscale, out_nx)
    return _turbo_sums(xc, yc, half, d, wm, dscale, wscale)


def _point_sums(xc, yc, extremes, d, wm, dscale, wscale, out_nx):
    """Point kernel on a clean tile: each input pixel adds to output pixel ``floor(c + 0.5)``."""
    m = d.size
    xmn, xmx, ymn, ymx = extremes
    # output pixel floor(c + 0.5), monotonic in c: the box follows from the extremes
    c0, r0 = math.floor(xmn + 0.5), math.floor(ymn + 0.5)
    bw = math.floor(xmx + 0.5) + 1 - c0
    box = (r0, math.floor(ymx + 0.5) + 1, c0, c0 + bw)
    nbox = (box[1] - r0) * bw
    for c in (xc, yc):
        c += 0.5
        np.floor(c, out=c)
    # flat box index in float64 (integers, exact) and one conversion
    t = np.multiply(yc, bw, out=scratch("p_t", m, np.float64))
    t += xc
    t -= r0 * bw + c0
    dst = scratch("p_dst", m, np.intp)
    np.copyto(dst, t, casting="unsafe")
    cnt = np.bincount(dst, minlength=nbox)
    if nbox > 2 * m and cnt.max() <= 1:
        # one input pixel per output pixel (a finer output grid): no sums needed, the
        # values go straight to their pixels (see _merge.merge_direct)
        w = None if wm is None else wm.ravel() * wscale
        flat = np.multiply(yc, out_nx)  # a new array: work buffers go back to the pool
        flat += xc
        return ("direct", flat.astype(np.intp), w, wscale, d.ravel(), dscale), m
    if wm is None:
        sw = cnt * float(wscale)
        dd = copy_to(scratch("p_d", m, np.float64), d)  # bincount wants float64
        swd = np.bincount(dst, weights=dd, minlength=nbox)
        swd *= float(wscale) * float(dscale)
        pos = touched = cnt > 0
    else:
        w = wm.ravel() * wscale
        w = w.astype(np.float64)
        sw = np.bincount(dst, weights=w, minlength=nbox)
        w *= d.ravel()
        w *= float(dscale)
        swd = np.bincount(dst, weights=w, minlength=nbox)
        pos = touched = sw > F32_TINY  # weights that round to 0 in float32 do not count
    return (box, sw, swd, pos, touched), m


def _turbo_sums(xc, yc, half, d, wm, dscale, wscale):
    """Turbo on a clean tile: a separable box of half-width ``half`` output pixels.

    The weights are the overlap areas normalised to 1 (``1 / (2 half)²``).
    """
    m = d.size
    x0 = np.floor(xc - half + 0.5)
    y0 = np.floor(yc - half + 0.5)
    x1w = y1w = None
    if 2.0 * half <= 1.0:  # round(c + 2 h) <= round(c + 1) = round(c) + 1: two pixels
        gx = gy = 2
    else:
        x1w = np.floor(xc + half + 0.5)
        y1w = np.floor(yc + half + 0.5)
        gx = int((x1w - x0).max()) + 1
        gy = int((y1w - y0).max()) + 1
    norm = 1.0 / (4.0 * half * half)
    if wm is None:
        w = float(wscale) * norm
    else:
        w = wm.ravel() * wscale
        w = w.astype(np.float64)
        w *= norm
    c0, r0 = int(x0.min()), int(y0.min())
    bw = int(x0.max()) + gx - c0
    box = (r0, int(y0.max()) + gy, c0, c0 + bw)
    nbox = (box[1] - r0) * bw
    base = y0 - r0
    base *= bw
    base += x0
    base -= c0
    base = base.astype(np.intp)
    total = gx * gy * m
    dst_all = scratch("dst", total, np.intp)
    dow_all = scratch("dow", total, np.float64)
    dd = d.ravel().astype(np.float64)
    dd *= float(dscale)
    dow = dow_all.reshape(gy, gx, m)
    if gx <= 2 and gy <= 2:
        _turbo_weights_2x2(xc, yc, x0, y0, gx, gy, half, w, dow)
    else:
        # 1-D overlaps of the box [c - half, c + half] with the window pixels, all at once
        # (few, long numpy calls: the workers share the GIL with the merging thread);
        # when 2 h is an integer every window has the full size: no padding to zero
        wx = _turbo_overlaps(xc, x0, x1w, gx, half, bool((x1w - x0).min() == gx - 1))
        wy = _turbo_overlaps(yc, y0, y1w, gy, half, bool((y1w - y0).min() == gy - 1))
        wy *= w
        np.multiply(wy[:, None, :], wx[None, :, :], out=dow)
    offs = (np.arange(gy)[:, None] * bw + np.arange(gx)[None, :]).reshape(-1, 1)
    np.add(base, offs, out=dst_all.reshape(gy * gx, m))
    sw = np.bincount(dst_all, weights=dow_all, minlength=nbox)
    dow2 = dow_all.reshape(gx * gy, m)
    dow2 *= dd
    swd = np.bincount(dst_all, weights=dow_all, minlength=nbox)
    pos = touched = sw > F32_TINY  # weights that round to 0 in float32 do not count
    return (box, sw, swd, pos, touched), m


def _turbo_weights_2x2(xc, yc, x0, y0, gx, gy, half, w, out):
    """Turbo weights where a window spans at most two pixels a side (``pixfrac <= s``).

    The box ``[c - half, c + half]`` is cut by the pixel edge ``e = c0 + 0.5`` only; the
    same float operations as :func:`_turbo_overlaps`.  Writes ``out`` (gy, gx, m).
    """
    wxs = []
    wys = []
    for c, c0_, g, dest in ((xc, x0, gx, wxs), (yc, y0, gy, wys)):
        e = c0_ + 0.5
        hi_ = c + half
        v = np.minimum(hi_, e)
        v -= c - half
        dest.append(v)
        if g == 2:
            np.subtract(hi_, e, out=hi_)
            np.maximum(hi_, 0.0, out=hi_)
            dest.append(hi_)
    if not (np.isscalar(w) and w == 1.0):
        for v in wys:
            v *= w
    np.multiply(np.stack(wys)[:, None, :], np.stack(wxs)[None, :, :], out=out)


def _turbo_overlaps(c, c0_, c1w, g, half, full):
    """1-D overlaps ``(g, m)`` of the boxes ``[c - half, c + half]`` with their window pixels.

    ``c0_``/``c1w`` are the first/last window pixels; ``full``: every window has ``g`` pixels.
    """
    if full and g >= 3:
        # every window is exactly g pixels: the box [c - h, c + h] starts in the first,
        # ends in the last and covers the ones between; the same float operations as the
        # general formula below, without the (g, m) min/max
        v = np.empty((g, c.size))
        first = c0_ - 0.5  # left edge of the first pixel, then its right edge
        first += 1.0
        np.subtract(first, c - half, out=v[0])
        v[1:-1] = 1.0
        np.subtract(c + half, c0_ + (g - 1.5), out=v[-1])  # from the last left edge
        return v
    e = c0_[None, :] + (np.arange(g) - 0.5)[:, None]  # left edges, (g, m)
    v = np.minimum(c + half, e + 1.0)
    v -= np.maximum(c - half, e)
    np.maximum(v, 0.0, out=v)
    if not full:  # pixels beyond the drop's own window (padding)
        v *= e <= (c1w - 0.5)[None, :]
    return v


def tile_sums(
    kernel,
    pixmap,
    data,
    weight_map,
    dscale,
    wscale,
    rows,
    x1,
    x2,
    chunk,
    out_shape,
    pixfrac,
    s,
    legacy,
    signed,
    extras=None,
):
    """Σ a·w and Σ a·w·d of one tile of input pixels, on a box of the output.

    Returns ``((r0, r1, c0, c1), sw, swd, pos, touched), nhit``: the sums are raveled
    over ``out[r0:r1, c0:c1]`` (None when nothing lands in the output) and ``nhit``
    counts the tile's pixels that reached the output.  ``pos`` marks the output pixels
    with a positive contribution (context bits), ``touched`` those with any; for the
    non-negative kernels (``signed`` False) they are one array, ``sw > F32_TINY``.

    ``extras = (variances, vscale, dq)`` (see :func:`extra_sums`) appends the DQ bits and
    the variance sums to the result: ``(box, sw, swd, pos, touched, dq_or, *sv)``.
    """
    geom = block_geometry(rows, x1, x2, chunk)
    if geom is None:
        return None, 0
    ja, jb, xa, xb, _, processed = geom
    pieces, valid = block_pieces(
        kernel, pixmap, ja, jb, xa, xb, pixfrac=pixfrac, pscale_ratio=s, legacy=legacy
    )
    w, d = _tile_inputs(data, weight_map, dscale, wscale, (ja, jb, xa, xb), processed)
    box = _output_box(pieces, out_shape)
    if box is None:
        return None, 0
    normalised = not legacy or kernel in ("square", "turbo", "point")
    dst, dow, scale_later, hit, src = _contributions(
        pieces, w, d, box, out_shape, normalised, want_src=extras is not None
    )
    nhit = int(np.count_nonzero(hit & processed & valid))
    r0b, r1b, c0b, c1b = box
    nbox = (r1b - r0b) * (c1b - c0b)
    sw = np.bincount(dst, weights=dow, minlength=nbox + 1)[:nbox]
    if signed:
        pos = np.bincount(dst, weights=(dow > 0), minlength=nbox + 1)[:nbox] > 0
        touched = np.bincount(dst, minlength=nbox + 1)[:nbox] > 0
    else:
        pos = touched = sw > F32_TINY  # weights that round to 0 in float32 do not count
    more = () if extras is None else extra_sums(dst, dow, src, nbox, (ja, jb, xa, xb), *extras)
    for v, ds in scale_later:
        v *= ds  # a·w·d
    swd = np.bincount(dst, weights=dow, minlength=nbox + 1)[:nbox]
    return (box, sw, swd, pos, touched, *more), nhit


def extra_sums(dst, dow, src, nbox, block, variances, vscale, dq):
    """The DQ bits and the variance sums of a tile's contributions.

    ``dst``/``dow``/``src``: each contribution's flat box index, ``a·w`` (before it is
    multiplied by the data) and input pixel (flat over the tile's ``block``).  Returns
    ``(dq_or, sv_1, sv_2, ...)``: the bitwise OR of the ``dq`` of the input pixels that
    contribute (``a·w != 0``) to each box pixel (None without ``dq``), and per variance
    array ``Σ (a·w)² · v · vscale`` (None for a None entry): the numerator of the variance
    of the weighted mean, ``Σ (a·w)² v / (Σ a·w)²``.
    """
    ja, jb, xa, xb = block
    nz = dow != 0
    dq_or = None
    if dq is not None:
        dq_or = np.zeros(nbox + 1, np.uint32)
        q = dq[ja:jb, xa : xb + 1].ravel()
        np.bitwise_or.at(dq_or, dst[nz], q[src[nz]])
        dq_or = dq_or[:nbox]
    sq = np.square(dow)
    svs = []
    for var in variances:
        if var is None:
            svs.append(None)
            continue
        v = var[ja:jb, xa : xb + 1].ravel().astype(np.float64)
        v *= vscale
        t = np.zeros_like(sq)
        np.multiply(sq, v[src], out=t, where=nz)  # (a NaN variance of a zero weight adds 0)
        svs.append(np.bincount(dst, weights=t, minlength=nbox + 1)[:nbox])
    return (dq_or, *svs)


def _tile_inputs(data, weight_map, dscale, wscale, block, processed):
    """Weights and scaled data (float64, raveled) of a tile's input block.

    ``w = weight_map · wscale`` in float32 (as C), 0 where the data are not finite or the
    pixel is not processed; ``d = data · dscale`` with non-finite data set to 0.
    """
    ja, jb, xa, xb = block
    d = data[ja:jb, xa : xb + 1].ravel()
    if weight_map is None:
        w = np.full(d.size, wscale, np.float32)
    else:
        w = weight_map[ja:jb, xa : xb + 1].ravel() * wscale
    good = np.isfinite(d)
    if not good.all():
        d = np.where(good, d, np.float32(0))
        w = np.where(good, w, np.float32(0))
    if not processed.all():
        w = np.where(processed, w, np.float32(0))
    w = w.astype(np.float64)
    d = d.astype(np.float64) * float(dscale)
    return w, d


def _output_box(pieces, out_shape):
    """``(r0, r1, c0, c1)``: every window pixel of the tile, clipped to the output (or None)."""
    out_ny, out_nx = out_shape
    r0b = c0b = math.inf
    r1b = c1b = -math.inf
    for _, c0, r0, a in pieces:
        gy, gx, m = a.shape
        if m:
            r0b, r1b = min(r0b, int(r0.min())), max(r1b, int(r0.max()) + gy)
            c0b, c1b = min(c0b, int(c0.min())), max(c1b, int(c0.max()) + gx)
    r0b, c0b, r1b, c1b = max(r0b, 0), max(c0b, 0), min(r1b, out_ny), min(c1b, out_nx)
    if r1b <= r0b or c1b <= c0b:
        return None
    return r0b, r1b, c0b, c1b


def _contributions(pieces, w, d, box, out_shape, normalised, want_src=False):
    """Every kernel contribution of a tile: flat box index and ``a·w``.

    Returns ``dst``, ``dow`` (window pixels outside the output go to bin ``nbox`` with
    weight 0), ``scale_later`` (the runs of ``dow`` with the data they multiply to form
    ``a·w·d``, once ``Σ a·w`` is summed: one buffer fewer), ``hit`` (the input pixels
    that reached the output) and, with ``want_src``, each contribution's input pixel
    (flat over the tile; else None).
    """
    out_ny, out_nx = out_shape
    r0b, r1b, c0b, c1b = box
    bw = c1b - c0b
    nbox = (r1b - r0b) * bw
    hit = np.zeros(d.size, bool)
    total = sum(a.shape[0] * a.shape[1] * a.shape[2] for _, _, _, a in pieces)
    dst_all = np.empty(total, np.intp)
    dow_all = np.empty(total, np.float64)
    src_all = np.empty(total, np.intp) if want_src else None
    scale_later = []
    pos0 = 0
    for sel, c0, r0, a in pieces:
        gy, gx, m = a.shape
        if m == 0:
            continue
        ws = w if sel is None else w[sel]
        ds = d if sel is None else d[sel]
        base = (r0 - r0b) * bw + (c0 - c0b)
        cmin, cmax, rmin, rmax = int(c0.min()), int(c0.max()), int(r0.min()), int(r0.max())
        all_in = cmin >= 0 and cmax + gx <= out_nx and rmin >= 0 and rmax + gy <= out_ny
        hsel = None if all_in and normalised else np.zeros(m, bool)
        if all_in:  # every window pixel is in the output: all cells in three calls
            k = gy * gx * m
            a2 = a.reshape(gy * gx, m)
            dow = dow_all[pos0 : pos0 + k].reshape(gy * gx, m)
            np.multiply(a2, ws, out=dow)
            offs = (np.arange(gy)[:, None] * bw + np.arange(gx)[None, :]).reshape(-1, 1)
            np.add(base, offs, out=dst_all[pos0 : pos0 + k].reshape(gy * gx, m))
            if want_src:
                src_all[pos0 : pos0 + k].reshape(gy * gx, m)[...] = _src(sel, m)
            scale_later.append((dow, ds))
            pos0 += k
            if hsel is not None:
                hsel |= (a2 != 0).any(axis=0)
            hit[slice(None) if sel is None else sel] |= True if hsel is None else hsel
            continue
        for q in range(gy):
            for p in range(gx):
                sl = slice(pos0, pos0 + m)
                pos0 += m
                ac = a[q, p]
                dow = dow_all[sl]
                dst = dst_all[sl]
                np.multiply(ac, ws, out=dow)
                np.add(base, q * bw + p, out=dst)
                if want_src:
                    src_all[sl] = _src(sel, m)
                if not all_in:
                    ins = (c0 + p >= 0) & (c0 + p < out_nx) & (r0 + q >= 0) & (r0 + q < out_ny)
                    out = ~ins
                    dow[out] = 0.0
                    dst[out] = nbox
                    hsel |= (ac != 0) & ins
                elif hsel is not None:
                    hsel |= ac != 0
                scale_later.append((dow, ds))
        if hsel is None:
            hsel = True
        if sel is None:
            hit |= hsel
        else:
            hit[sel] |= hsel
    src = None if src_all is None else src_all[:pos0]
    return dst_all[:pos0], dow_all[:pos0], scale_later, hit, src


def _src(sel, m):
    """The input pixels (flat over the tile) of a piece's ``m`` drops."""
    return np.arange(m) if sel is None else sel
