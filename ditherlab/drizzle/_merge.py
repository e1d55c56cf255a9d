"""Merges: one tile's sums folded into the drizzle outputs.

The output image is a weighted mean, updated as the C drizzle does:
``out_img = (out_img · out_wht + Σ a·w·d) / (out_wht + Σ a·w)`` and
``out_wht += Σ a·w`` (float64 arithmetic, stored in float32), with the context bit of the
image set where it contributed.  The rules kept true by every merge:

- ``out_img == fill`` wherever ``out_wht == 0`` (so no pass over the output per image);
- a weight that rounds to 0 in float32 (``Σ a·w <= 2**-150``) does not touch a pixel;
- with the signed (lanczos) kernels, a touched pixel whose weight sums back to zero gets the
  fill value, and values that overflow float32 are not written.

:class:`MergeGate` records whether an add has started merging (so that a failed add can
be undone when it has not).
"""

from __future__ import annotations

import math
import threading

import numpy as np

from ditherlab.drizzle._buffers import scratch
from ditherlab.drizzle._tiles import F32_TINY

__all__ = [
    "AddAbandoned",
    "MergeGate",
    "merge_box",
    "merge_dense",
    "merge_direct",
    "merge_extras",
    "merge_flat",
    "merge_tile",
]

#: Output pixels merged at once by the tile merge (bounds its temporaries).
_MERGE_SLAB = 1 << 17
_FLT_MAX = float(np.finfo(np.float32).max)


def merge_tile(img, wht, ctx, bit, res, fill, trusted, extra_outputs=None):
    """Fold one tile's result (:func:`._tiles.tile_sums`) into the 2-D outputs.

    ``ctx`` is the image's context plane (or None) and ``bit`` its bit; ``trusted``: the
    rule ``img == fill where wht == 0`` holds (False for a caller's ``out_img`` that has
    not had its fill yet).  ``extra_outputs = (out_dq, out_img2s, fill2)`` receive the DQ
    bits and variance sums of a result that has them (see :func:`merge_extras`).
    """
    if extra_outputs is not None:  # DQ and variances first: they need the weights before
        merge_extras(wht, res, *extra_outputs)
        res = res[:5]
    if isinstance(res[0], str):
        flat_ctx = None if ctx is None else ctx.reshape(-1)
        merge_direct(img.reshape(-1), wht.reshape(-1), flat_ctx, bit, *res[1:])
    else:
        merge_box(img, wht, ctx, bit, *res, fill=fill, trusted=trusted)


def merge_direct(img, wht, ctxf, bit, dst, w, wscale, d, dscale):
    """Merge point-kernel values that land on distinct output pixels ``dst``.

    ``w`` is the float32 weight of each value (None: all ``wscale``); zero weights do not
    touch the output (as in :func:`merge_flat`).
    """
    if w is not None:
        nz = w > 0
        if not nz.all():
            dst, w, d = dst[nz], w[nz], d[nz]
    W = wht[dst]
    if not W.any():  # nothing there yet: the mean is the value itself
        img[dst] = d.astype(np.float64) * float(dscale)
        wht[dst] = wscale if w is None else w
    else:
        sw = np.full(dst.size, float(wscale)) if w is None else w.astype(np.float64)
        Im = img[dst]
        val = np.multiply(np.where(W != 0, Im, np.float32(0)), W, dtype=np.float64)
        val += sw * (d.astype(np.float64) * float(dscale))
        new_w = np.add(W, sw)
        val /= new_w
        img[dst] = val
        wht[dst] = new_w
    if ctxf is not None:
        ctxf[dst] |= bit


def merge_flat(img, wht, ctxf, bit, lo, sw, swd, pos, touched, fill=None):
    """Fold one block's sums of a signed kernel (lanczos) into the float32 outputs.

    ``img``, ``wht`` are the flat outputs, ``ctxf`` the flat context plane (or None); the
    sums cover output pixels ``lo : lo + sw.size``.  ``pos`` marks the pixels with a
    positive contribution (they get the context bit), ``touched`` those with any.  Weighted
    mean as the C update; a touched pixel's weight can sum back to zero: it gets ``fill``
    (None: left as it is), so that ``img == fill`` wherever ``wht == 0`` stays true, and
    values that overflow are not written.  A sparsely touched block (e.g. one spanning
    empty output rows) is merged by index, others with plain full-range passes: ufuncs
    with ``where=`` are several times slower than a pass here.  (The non-negative kernels
    go to :func:`merge_dense`.)
    """
    n = sw.size
    idx = None
    if np.count_nonzero(touched) < n // 4:  # sparse
        idx = np.flatnonzero(touched)
        sw, swd, pos = sw[idx], swd[idx], pos[idx]
        sl = idx + lo
        W, Im = wht[sl], img[sl]
    else:
        W, Im = wht[lo : lo + n], img[lo : lo + n]
    # old contribution Im*W, zero where W == 0 (Im may hold the fill value, e.g. NaN)
    val = np.multiply(np.where(W != 0, Im, np.float32(0)), W, dtype=np.float64)
    val += swd
    new_w = np.add(W, sw)  # float64
    den = np.where(new_w == 0, 1.0, new_w)
    np.divide(val, den, out=val)
    upd = (new_w != 0) & np.isfinite(val)
    if idx is None:
        upd &= touched
    if fill is not None:
        zero = new_w.astype(np.float32) == 0
        if idx is None:
            zero &= touched
        val[zero] = fill
        upd |= zero
    if idx is None:
        np.copyto(Im, val.astype(np.float32), where=upd)
        np.copyto(W, new_w, casting="same_kind")
        if ctxf is not None:
            C = ctxf[lo : lo + n]
            t = pos.astype(np.int32)
            t *= bit
            C |= t
    else:
        img[sl[upd]] = val[upd]
        wht[sl] = new_w
        if ctxf is not None:
            ctxf[sl[pos]] |= bit


def merge_dense(Im, W, ctxf, bit, lo, sw, swd, touched=None):
    """The update of :func:`merge_flat` for a non-negative kernel on a range of output pixels.

    ``Im``, ``W`` are the range's float32 views of ``out_img``, ``out_wht``; ``ctxf`` the
    whole flat context plane (or None), ``lo`` the range's first pixel.  ``touched``
    (``sw > F32_TINY``: weights that round to 0 in float32 do not touch a pixel, as in
    ``add_image``) is computed when not given.  Same arithmetic as :func:`merge_flat`
    (``(Im·W + swd) / (W + sw)`` in float64, the products of two float32 exact), but in
    same-dtype passes over reused work buffers, with the few pixels where that
    formula does not apply fixed up by index instead of masked passes over the range.
    Where a pixel has weight (``W > 0``) and no contribution (``sw == swd == 0``) the
    formula gives ``Im·W / W == Im`` exactly, so only pixels without weight need care: a
    contributed one gets ``swd / sw`` (``Im`` may hold the fill value, e.g. NaN), the others
    keep ``Im``.
    """
    n = sw.size
    if touched is None:
        touched = np.greater(sw, F32_TINY, out=scratch("m_t", n, np.bool_))
    nt = np.count_nonzero(touched)
    if nt == 0 and not sw.any():  # (weights below F32_TINY still add to W, as in add_image)
        return
    empty = np.equal(W, 0, out=scratch("m_z", n, np.bool_))
    nempty = np.count_nonzero(empty)
    val = scratch("m_val", n, np.float64)
    fix = mask = None
    if nempty == n:  # no weight yet anywhere (first image): the mean is swd / sw
        new_w = sw
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(swd, sw, out=val)  # NaN where untouched: fixed below
        if 4 * (n - nt) <= n:
            fix = np.flatnonzero(~touched) if nt < n else None
        else:
            mask = touched
    else:
        new_w = scratch("m_w", n, np.float64)
        np.copyto(new_w, W)
        np.copyto(val, Im)
        if 4 * nempty > n:
            np.putmask(val, empty, 0.0)
            mask = touched
        elif nempty:
            fix = np.flatnonzero(empty)
        val *= new_w
        val += swd
        new_w += sw
        if nempty:
            with np.errstate(invalid="ignore", divide="ignore"):
                val /= new_w  # 0/0 where no weight and no contribution: fixed below
        else:
            val /= new_w
    if fix is not None:
        t = touched[fix]
        val[fix] = np.where(t, swd[fix] / np.where(t, sw[fix], 1.0), Im[fix])
    if mask is None:
        np.copyto(Im, val, casting="same_kind")
    else:
        v32 = scratch("m_v32", n, np.float32)
        with np.errstate(over="ignore", invalid="ignore"):  # stale values where untouched
            np.copyto(v32, val, casting="same_kind")
        np.putmask(Im, mask, v32)
    np.copyto(W, new_w, casting="same_kind")
    if ctxf is not None:
        C = ctxf[lo : lo + n]
        if nt == n:
            C |= bit
        else:
            C |= np.multiply(touched, bit, out=scratch("m_c", n, np.int32), dtype=np.int32)


def merge_box(img, wht, ctx, bit, box, sw, swd, pos, touched, fill, trusted=True):
    """Fold one tile's sums into the outputs, in slabs of at most ``_MERGE_SLAB`` pixels.

    See :func:`_merge_slab`.  (Slabs of 16k pixels keep the temporaries in the L2 cache and
    are faster on one thread, but their many short numpy calls cost more in contention
    for the GIL with the worker thread than they save.)
    """
    r0, r1, c0, c1 = box
    bw = c1 - c0
    step = max(1, _MERGE_SLAB // bw)
    if r1 - r0 <= step:
        _merge_slab(img, wht, ctx, bit, box, sw, swd, pos, touched, fill, trusted)
        return
    signed = pos is not touched
    for ra in range(r0, r1, step):
        rb = min(ra + step, r1)
        sl = slice((ra - r0) * bw, (rb - r0) * bw)
        t = touched[sl]
        _merge_slab(
            img,
            wht,
            ctx,
            bit,
            (ra, rb, c0, c1),
            sw[sl],
            swd[sl],
            pos[sl] if signed else t,
            t,
            fill,
            trusted,
        )


def _merge_slab(img, wht, ctx, bit, box, sw, swd, pos, touched, fill, trusted=True):
    """Fold one tile's sums into the float32 outputs on ``box`` (weighted mean, as C).

    ``img``, ``wht``, ``ctx`` are the 2-D outputs (``ctx`` the context plane or None);
    ``sw``, ``swd``, ``pos``, ``touched`` are raveled over ``box = (r0, r1, c0, c1)``.
    ``pos is touched`` marks the non-negative kernels (``sw > 0`` exactly where touched);
    otherwise ``pos`` marks the pixels with a positive contribution (context bits).
    Relies on ``img == fill`` wherever ``wht == 0`` (kept true by every merge) and uses
    branch-free full-box passes: masked numpy operations are several times slower.
    """
    r0, r1, c0, c1 = box
    signed = pos is not touched
    Im = img[r0:r1, c0:c1]
    W = wht[r0:r1, c0:c1]
    shape = Im.shape
    sw = sw.reshape(shape)
    swd = swd.reshape(shape)
    touched = touched.reshape(shape)
    pos = touched if not signed else pos.reshape(shape)
    # With a NaN fill the untouched pixels can be written unmasked: Im·W / W == Im where
    # W > 0 and 0/0 gives NaN where W == 0 -- unless some weight sum is too small for
    # float32 (0 < sw <= 2**-150: not touched, but swd / sw would be finite there)
    nan_fill = (
        trusted
        and fill is not None
        and math.isnan(fill)
        and (signed or np.count_nonzero(sw) == np.count_nonzero(touched))
    )
    if not signed and not W.any():
        # nothing merged here yet (e.g. the first image): the mean is the tile's own; the
        # general formula below gives the same values ((Im·0 + swd) / (0 + sw)) in 4 more passes
        with np.errstate(invalid="ignore", divide="ignore"):
            val = np.divide(swd, sw)  # NaN (0/0) where untouched
        if nan_fill:
            np.copyto(Im, val, casting="same_kind")
        else:
            np.copyto(Im, val, where=touched, casting="same_kind")
        np.copyto(W, sw, casting="same_kind")
        _merge_ctx(ctx, bit, box, pos)
        return
    # old sum Im*W: 0 where W == 0 although Im holds the fill value there (NaN, ±inf)
    if trusted:
        Imf = np.fmax(Im, -_FLT_MAX)
        if fill is not None and fill > _FLT_MAX:  # +inf, or a value float32 rounds to it
            np.fmin(Imf, _FLT_MAX, out=Imf)
    else:  # a caller's out_img: anything may sit where W == 0, NaN/inf may sit elsewhere
        Imf = np.where(W != 0, Im, np.float32(0))
    val = np.multiply(Imf, W, dtype=np.float64)
    del Imf
    val += swd
    new_w = np.add(W, sw)  # float64
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(val, new_w, out=val)
    if signed:
        # weights of either sign: a touched pixel whose weight sums back to zero gets the
        # fill value; overflowing values are not written
        upd = np.isfinite(val)
        upd &= new_w != 0
        upd &= touched
        if fill is not None:
            zero = new_w.astype(np.float32) == 0
            zero &= touched
            val[zero] = fill
            upd |= zero
        np.copyto(Im, val, where=upd, casting="same_kind")
    elif nan_fill:  # untouched pixels come out unchanged (see above)
        np.copyto(Im, val, casting="same_kind")
    else:
        np.copyto(Im, val, where=touched, casting="same_kind")
    np.copyto(W, new_w, casting="same_kind")
    _merge_ctx(ctx, bit, box, pos)


def _merge_ctx(ctx, bit, box, pos):
    """Set context bit ``bit`` on the pixels of ``box`` marked in ``pos`` (2-D, the box's shape)."""
    if ctx is not None:
        r0, r1, c0, c1 = box
        C = ctx[r0:r1, c0:c1]
        C |= np.multiply(pos, bit, dtype=np.int32)


def merge_extras(wht, res, out_dq, out_img2s, fill2):
    """Fold a tile's DQ bits and variance sums into ``out_dq`` and the ``out_img2`` arrays.

    ``res = (box, sw, swd, pos, touched, dq_or, *sv)`` (:func:`._tiles.tile_sums`); call
    before the tile's merge into ``wht``.  ``out_dq |= dq_or``.  Each ``out_img2`` holds
    the variance of the weighted mean, ``Σ (a·w)² v / (Σ a·w)²``, updated as
    ``(out2 · W² + sv) / (W + sw)²`` with ``W`` the weight before this tile (a None
    variance adds weight only, as the C drizzle treats a None ``data2`` entry); a touched
    pixel whose weight sums back to zero (signed kernels) gets ``fill2`` (None: left).
    """
    (r0, r1, c0, c1), sw, _, pos, touched, dq_or, *svs = res
    signed = pos is not touched
    shape = (r1 - r0, c1 - c0)
    if out_dq is not None and dq_or is not None:
        D = out_dq[r0:r1, c0:c1]
        D |= dq_or.reshape(shape)
    if not out_img2s:
        return
    W = wht[r0:r1, c0:c1].astype(np.float64)
    new_w = W + sw.reshape(shape)
    touched = touched.reshape(shape)
    den = np.square(new_w)
    upd = touched & (new_w != 0)
    zero = None
    if signed and fill2 is not None:
        zero = touched & (new_w.astype(np.float32) == 0)
    W2 = np.square(W)
    for out2, sv in zip(out_img2s, svs, strict=True):
        I2 = out2[r0:r1, c0:c1]
        val = np.where(W != 0, I2, 0.0) * W2  # (I2 may hold the fill value where W == 0)
        if sv is not None:
            val += sv.reshape(shape)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            val /= den
            np.copyto(I2, val, where=upd, casting="same_kind")
        if zero is not None:
            I2[zero] = fill2


class AddAbandoned(Exception):  # an internal signal, never reaches a caller
    """A task of an add that was given up tried to merge (see :class:`MergeGate`)."""


class MergeGate:
    """Records whether an add has started merging into the outputs, and stops it doing so.

    Every merge into ``out_img``/``out_wht``/``out_ctx`` calls :meth:`enter` first; when the
    add fails, :meth:`close` tells whether any merge started (the outputs may then hold part
    of the image) and makes later :meth:`enter` calls raise, so that pool tasks still running
    cannot start merging after the failure was handled.
    """

    __slots__ = ("_closed", "_lock", "merged")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self.merged = False

    def enter(self) -> None:
        with self._lock:
            if self._closed:
                raise AddAbandoned
            self.merged = True

    def close(self) -> bool:
        with self._lock:
            self._closed = True
            return self.merged
