"""A prepared (sparse-matrix) drizzle operator for frames that share one geometry.

Drizzling is linear in the data *and* in the weights once the geometry (pixmap, kernel,
pixfrac, output grid) is fixed: with ``A[o, i]`` the kernel weight of input pixel ``i`` on
output pixel ``o``, one frame contributes ``Σ_i A[o, i]·w_i`` to ``out_wht`` and
``Σ_i A[o, i]·w_i·d_i`` to the weighted sum behind ``out_img``.  Both are sparse
matrix-vector products, so a Monte Carlo of noise or cosmic-ray realisations, each with its
own weight map (CR masks), costs two sparse products per frame once ``A`` is built.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from ditherlab._validation import as_choice, as_float, as_int
from ditherlab.drizzle import _merge, _parallel
from ditherlab.drizzle._buffers import scratch
from ditherlab.drizzle._checks import (
    estimate_pixel_scale_ratio,
    finite_pixmap,
    section,
    warn_ignored_pixfrac,
)
from ditherlab.drizzle._kernels import KERNELS, block_pieces
from ditherlab.drizzle._scan import scan_rows
from ditherlab.drizzle._tiles import F32_TINY, block_geometry, cells, row_chunks
from ditherlab.errors import DitherlabValueError

__all__ = ["DrizzleOperator", "prepare"]


#: Output pixels per product + merge step (its float64 sums and the merge's buffers stay in
#: the CPU caches).
_SUB_BLOCK = 1 << 16
#: Matrix entries per task: a task's sub-blocks share the slice of the input frame they
#: read (its weights and weighted data are formed once per task, in a work buffer).
_TASK_NNZ = 1 << 20
#: Runs of empty output pixels (rows of the matrix) longer than this split a sub-block.
_GAP = 1 << 14


class DrizzleOperator:
    """The linear map of one drizzle geometry (build it with :func:`prepare`).

    The matrix is stored split by ranges of output pixels into sub-blocks of at most
    ``2**16`` pixels (long runs of output pixels that no input reaches are left out), and
    the sub-blocks are grouped into tasks of about ``2**20`` entries that each read one
    contiguous slice of the input.  A frame is applied task by task, on up to ``n_threads``
    threads: for each sub-block, two sparse products into cache-sized buffers and the
    merge into the outputs, so that no array of the output's size is formed.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array, shape (ny_out * nx_out, ny_in * nx_in)
        Kernel weights ``A[o, i]`` (its index arrays are copied, its values shared if they
        are float64 and the matrix is CSR; it is never modified).
    in_shape, out_shape : tuple of int
        ``(ny, nx)`` of the input and output images.
    kernel : str
        Kernel name.
    signed : bool
        Whether weights can be negative (lanczos).
    nmiss, nskip : int
        Input pixels / rows of the section that reach no output pixel.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        The full matrix, **rebuilt on each access** from the stored blocks: a new matrix of
        the same size as the blocks (12 bytes per entry, 4 per output pixel).
    nnz : int
        Number of stored entries.
    in_shape, out_shape, kernel, signed, nmiss, nskip
        As the parameters.
    """

    __slots__ = (
        "_dtype",
        "_in_shape",
        "_kernel",
        "_nmiss",
        "_nnz",
        "_nskip",
        "_out_shape",
        "_signed",
        "_tasks",
    )

    def __init__(
        self,
        matrix: Any,
        in_shape: tuple[int, int],
        out_shape: tuple[int, int],
        kernel: str,
        signed: bool,
        nmiss: int,
        nskip: int,
        *,
        _owned: bool = False,
    ) -> None:
        # _owned (prepare): matrix is a CSR matrix nobody else holds; its index array is
        # rebased in place instead of copied
        self._in_shape = (int(in_shape[0]), int(in_shape[1]))
        self._out_shape = (int(out_shape[0]), int(out_shape[1]))
        nin = self._in_shape[0] * self._in_shape[1]
        nout = self._out_shape[0] * self._out_shape[1]
        if tuple(matrix.shape) != (nout, nin):
            raise DitherlabValueError(
                f"matrix shape {matrix.shape} does not match out_shape {out_shape} and "
                f"in_shape {in_shape}: expected {(nout, nin)}"
            )
        self._kernel = str(kernel)
        self._signed = bool(signed)
        self._nmiss = int(nmiss)
        self._nskip = int(nskip)
        self._tasks, self._nnz, self._dtype = _split(matrix, owned=_owned)

    def __repr__(self) -> str:
        return (
            f"DrizzleOperator(kernel={self._kernel!r}, in_shape={self._in_shape}, "
            f"out_shape={self._out_shape}, nnz={self._nnz}, blocks="
            f"{sum(len(t[2]) for t in self._tasks)}, nmiss={self._nmiss}, nskip={self._nskip})"
        )

    # ------------------------------------------------------------------ attributes
    in_shape = property(lambda self: self._in_shape, doc="``(ny, nx)`` of the input.")
    out_shape = property(lambda self: self._out_shape, doc="``(ny, nx)`` of the output.")
    kernel = property(lambda self: self._kernel, doc="Kernel name.")
    signed = property(lambda self: self._signed, doc="Whether weights can be negative.")
    nmiss = property(lambda self: self._nmiss, doc="Input pixels that reach no output.")
    nskip = property(lambda self: self._nskip, doc="Input rows skipped entirely.")
    nnz = property(lambda self: self._nnz, doc="Number of stored matrix entries.")

    @property
    def matrix(self) -> Any:
        """The full CSR matrix ``A``, rebuilt from the blocks on each access (see class)."""
        import scipy.sparse as sp

        nout = self._out_shape[0] * self._out_shape[1]
        nin = self._in_shape[0] * self._in_shape[1]
        idx_dtype = np.int32 if max(nout, nin, self._nnz) < 2**31 else np.int64
        indptr = np.empty(nout + 1, idx_dtype)
        indices = np.empty(self._nnz, idx_dtype)
        datas = []
        done = count = 0  # indptr[: done + 1] is set; count entries so far
        for c0, _, subs in self._tasks:
            for lo, hi, blk in subs:
                indptr[done : lo + 1] = count
                np.add(blk.indptr[1:], count, out=indptr[lo + 1 : hi + 1])
                np.add(blk.indices, c0, out=indices[count : count + blk.nnz])
                datas.append(blk.data)
                count += blk.nnz
                done = hi
        indptr[done:] = count
        data = np.concatenate(datas) if datas else np.zeros(0, self._dtype)
        return sp.csr_matrix((data, indices, indptr), shape=(nout, nin))

    # ------------------------------------------------------------------ frames
    def _inputs(self, data, weight_map, wht_scale, iscale, expscale):
        """Flat views of the frame and the scale factors, in add_image's float32 rounding."""
        d = np.asarray(data)
        if d.shape != self._in_shape:
            raise DitherlabValueError(
                f"data shape {d.shape} is not the operator's input shape {self._in_shape}"
            )
        d = d.reshape(-1)
        w = None
        if weight_map is not None:
            w = np.asarray(weight_map, np.float32)
            if w.shape != self._in_shape:
                raise DitherlabValueError(
                    f"weight_map shape {w.shape} is not the operator's input shape {self._in_shape}"
                )
            w = w.reshape(-1)
        dscale = None if expscale == 1.0 else np.float32(1.0 / expscale)
        return d, w, np.float32(wht_scale), dscale, float(np.float32(iscale))

    def _run(self, body, n_threads):
        """Call ``body(task)`` for every task, on up to ``n_threads`` threads."""
        _parallel.run_tasks(body, self._tasks, n_threads)

    def _frame(self, task, d, w, wscale, dscale, iscale):
        """Weights and weighted data (float64) of the input slice a task reads.

        The arithmetic of :meth:`Drizzle.add_image`: ``d = data`` in float32, times
        ``float32(1/expscale)`` in float32, then ``w · (d · float32(iscale))`` in float64,
        with ``w = weight_map · float32(wht_scale)`` in float32; non-finite data get
        ``w = d = 0``.  Per-thread buffers of the slice's size, nothing of the frame's.
        """
        c0, c1, _ = task
        n = c1 - c0
        ds = scratch("x_d32", n, np.float32)
        np.copyto(ds, d[c0:c1], casting="unsafe")
        ws = scratch("x_w32", n, np.float32)
        if w is None:
            ws.fill(wscale)
        else:
            np.multiply(w[c0:c1], wscale, out=ws)
        good = np.isfinite(ds)
        if not good.all():
            np.logical_not(good, out=good)
            np.putmask(ds, good, np.float32(0))
            np.putmask(ws, good, np.float32(0))
        if dscale is not None:
            ds *= dscale
        xw = scratch("x_w", n, np.float64)
        np.copyto(xw, ws)
        xwd = scratch("x_wd", n, np.float64)
        np.copyto(xwd, ds)
        if iscale != 1.0:
            xwd *= iscale
        xwd *= xw
        return xw, xwd

    def _indicators(self, xw):
        """Per task, for signed kernels: float64 indicators of ``w > 0`` and ``w != 0``."""
        if not self._signed:
            return None
        return (xw > 0).astype(np.float64), (xw != 0).astype(np.float64)

    def _block_sums(self, blk, xw, xwd, indicators):
        """``Σ a·w``, ``Σ a·w·d`` and (signed kernels) the pos / touched masks of a block.

        ``pos``: some entry ``a > 0`` meets ``w > 0``; ``touched``: some ``a != 0`` meets
        ``w != 0`` (products of 0/1 patterns, exact).
        """
        sw = blk @ xw
        swd = blk @ xwd
        if indicators is None:
            return sw, swd, None, None
        import scipy.sparse as sp

        vals = blk.data
        ind = sp.csr_matrix(((vals > 0).astype(np.float64), blk.indices, blk.indptr), blk.shape)
        pos = (ind @ indicators[0]) > 0
        ind.data = (vals != 0).astype(np.float64)
        touched = (ind @ indicators[1]) > 0
        return sw, swd, pos, touched

    def _apply(
        self,
        img: np.ndarray,
        wht: np.ndarray,
        ctx: np.ndarray | None,
        bit: Any,
        fill: float | None,
        data: np.ndarray,
        weight_map: np.ndarray | None = None,
        wht_scale: float = 1.0,
        iscale: float = 1.0,
        expscale: float = 1.0,
        n_threads: int = 1,
        gate: Any = None,
    ) -> None:
        """Merge one frame into flat outputs (the work of :meth:`Drizzle.add_prepared`).

        ``img``, ``wht`` (float32) and ``ctx`` (int32 context plane, or None, with ``bit``
        the image's bit) are flat views of the outputs; ``fill`` as in ``Drizzle``.  The
        other arguments as :meth:`sums`, checked by the caller.  ``gate`` (a
        ``_merge.MergeGate``, optional) is entered before every merge into the outputs.
        """
        d, w, wscale, dscale, iscale = self._inputs(data, weight_map, wht_scale, iscale, expscale)

        def body(task):
            xw, xwd = self._frame(task, d, w, wscale, dscale, iscale)
            ind = self._indicators(xw)
            for lo, hi, blk in task[2]:
                sw, swd, pos, touched = self._block_sums(blk, xw, xwd, ind)
                if gate is not None:
                    gate.enter()
                if pos is None:
                    _merge.merge_dense(img[lo:hi], wht[lo:hi], ctx, bit, lo, sw, swd)
                else:
                    _merge.merge_flat(img, wht, ctx, bit, lo, sw, swd, pos, touched, fill)

        self._run(body, n_threads)

    def _products(self, data: np.ndarray, n_threads: int | None = None) -> None:
        """The per-block products of :meth:`_apply` without the merge (for benchmarks)."""
        d, w, wscale, dscale, iscale = self._inputs(data, None, 1.0, 1.0, 1.0)

        def body(task):
            xw, xwd = self._frame(task, d, w, wscale, dscale, iscale)
            ind = self._indicators(xw)
            for _, _, blk in task[2]:
                self._block_sums(blk, xw, xwd, ind)

        self._run(body, _threads(n_threads))

    def sums(
        self,
        data: np.ndarray,
        weight_map: np.ndarray | None = None,
        wht_scale: float = 1.0,
        iscale: float = 1.0,
        expscale: float = 1.0,
        n_threads: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-output-pixel ``Σ a·w`` and ``Σ a·w·d`` of one frame.

        Parameters
        ----------
        data : ndarray, shape in_shape
            Input frame (NaN/inf get zero weight).
        weight_map : ndarray, optional
            Finite non-negative weights (default 1).
        wht_scale : float
            Weight factor.
        iscale : float
            Data factor.
        expscale : float
            Data divisor (the exposure time for data in counts).
        n_threads : int, optional
            Threads (default: up to 2).

        Returns
        -------
        sw, swd : ndarray of float64, flat (ny_out * nx_out)
            Weight sum and weighted data sum.
        pos, touched : ndarray of bool
            Output pixels with a positive / any non-zero contribution.  For the non-negative
            kernels both are the same array, True where ``sw`` does not round to 0 in
            float32 (as ``add_image`` counts a pixel as touched).

        Notes
        -----
        These are arrays of the output's size (18 bytes per output pixel);
        :meth:`Drizzle.add_prepared` merges block by block without forming them.
        """
        nout = self._out_shape[0] * self._out_shape[1]
        sw, swd = np.zeros(nout), np.zeros(nout)
        pos = np.zeros(nout, bool)
        touched = pos if not self._signed else np.zeros(nout, bool)
        d, w, wscale, dscale, iscale = self._inputs(data, weight_map, wht_scale, iscale, expscale)

        def body(task):
            xw, xwd = self._frame(task, d, w, wscale, dscale, iscale)
            ind = self._indicators(xw)
            for lo, hi, blk in task[2]:
                bsw, bswd, bpos, btouched = self._block_sums(blk, xw, xwd, ind)
                sw[lo:hi], swd[lo:hi] = bsw, bswd
                if bpos is None:  # weights that round to 0 in float32 do not count
                    np.greater(bsw, F32_TINY, out=pos[lo:hi])
                else:
                    pos[lo:hi], touched[lo:hi] = bpos, btouched

        self._run(body, _threads(n_threads))
        return sw, swd, pos, touched


def _threads(n_threads):
    if n_threads is None:
        return _parallel.default_threads()
    return as_int("n_threads", n_threads, minimum=1)


def _runs(indptr, gap, step=1 << 22):
    """``[(start, end), ...]`` of the runs of non-empty rows of a CSR matrix.

    Runs of more than ``gap`` empty rows separate runs; shorter ones are kept inside.
    Scans ``indptr`` ``step`` rows at a time (no temporaries of the matrix's height).
    """
    runs: list[list[int]] = []
    for a in range(0, indptr.size - 1, step):
        b = min(a + step, indptr.size - 1)
        rows = np.flatnonzero(indptr[a + 1 : b + 1] != indptr[a:b])
        if rows.size == 0:
            continue
        rows += a
        cut = np.flatnonzero(np.diff(rows) > gap + 1)
        starts = rows[np.concatenate([[0], cut + 1])].tolist()
        ends = (rows[np.concatenate([cut, [rows.size - 1]])] + 1).tolist()
        for lo, hi in zip(starts, ends, strict=True):
            if runs and lo - runs[-1][1] <= gap:
                runs[-1][1] = hi
            else:
                runs.append([lo, hi])
    return [(lo, hi) for lo, hi in runs]


def _split(matrix, owned=False):
    """Sub-blocks and tasks of a sparse matrix (see :class:`DrizzleOperator`).

    Returns ``(tasks, nnz, dtype)``; each task is ``(c0, c1, [(lo, hi, block), ...])`` with
    ``block`` the CSR rows ``lo:hi`` of ``matrix`` restricted to the columns ``c0:c1`` (its
    column indices relative to ``c0``).  The blocks are views of one values array and one
    column-index array (rebased in place per task: in ``matrix``'s own array when
    ``owned``, else in a copy), each with its own ``indptr``.  They are assembled through
    their public ``data``/``indices``/``indptr`` attributes: the constructor would copy
    every small view of a large array, i.e. the whole matrix once more (fresh memory: a
    page fault per 4 KiB).
    """
    import scipy.sparse as sp

    mat = matrix if owned else sp.csr_matrix(matrix)
    if mat.format != "csr":
        mat, owned = mat.tocsr(), True
    indptr, indices, vals = mat.indptr, mat.indices, mat.data
    if vals.dtype != np.float64:
        vals = vals.astype(np.float64)
    if not owned:
        indices = indices.copy()
    nnz = int(indptr[-1])
    # sub-blocks: runs of non-empty rows (gaps below _GAP kept), cut every _SUB_BLOCK rows
    runs = _runs(indptr, _GAP)
    if not runs:
        return [], 0, vals.dtype
    subs = []
    for a, b in runs:
        k = -(-(b - a) // _SUB_BLOCK)
        edges = np.linspace(a, b, k + 1).round().astype(np.int64).tolist()
        subs.extend(pairwise(edges))
    # tasks: consecutive sub-blocks up to about _TASK_NNZ entries
    tasks, group, count = [], [], 0
    for lo, hi in subs:
        group.append((lo, hi))
        count += int(indptr[hi] - indptr[lo])
        if count >= _TASK_NNZ:
            tasks.append(group)
            group, count = [], 0
    if group:
        tasks.append(group)
    out = []
    for group in tasks:
        a, b = int(indptr[group[0][0]]), int(indptr[group[-1][1]])
        if b == a:
            continue
        seg = indices[a:b]
        c0, c1 = int(seg.min()), int(seg.max()) + 1
        seg -= seg.dtype.type(c0)
        blocks = []
        for lo, hi in group:
            ia, ib = int(indptr[lo]), int(indptr[hi])
            if ib == ia:
                continue
            blk = sp.csr_matrix((hi - lo, c1 - c0))
            blk.indptr = np.subtract(indptr[lo : hi + 1], ia, dtype=indices.dtype)
            blk.indices = indices[ia:ib]
            blk.data = vals[ia:ib]
            blocks.append((lo, hi, blk))
        out.append((c0, c1, blocks))
    return out, nnz, vals.dtype


def _chunk_entries(pieces, geom, nx, out_shape):
    """The matrix entries of one chunk of input rows: ``(dst, src, a, first src)``, hit.

    ``dst``/``src`` are flat output/input pixel indices of the non-zero kernel weights
    ``a`` that land in the output (None when there are none); ``hit`` marks the chunk's
    pixels (raveled over its box) that reached the output.
    """
    ja, jb, xa, _, cols, processed = geom
    out_ny, out_nx = out_shape
    src_all = ((ja + np.arange(jb - ja))[:, None] * nx + (xa + cols)[None, :]).ravel()
    hit = np.zeros(src_all.size, bool)
    dsts, srcs, vals = [], [], []
    for sel, c0, r0, a in pieces:
        gy, gx = a.shape[:2]
        idx = np.arange(src_all.size) if sel is None else sel
        for q in range(gy):
            for p in range(gx):
                ac = a[q, p]
                ii, jj = c0 + p, r0 + q
                m = (ac != 0) & (ii >= 0) & (ii < out_nx) & (jj >= 0) & (jj < out_ny)
                m &= processed[idx]
                k = idx[m]
                hit[k] = True
                dsts.append(jj[m] * out_nx + ii[m])
                srcs.append(src_all[k])
                vals.append(ac[m])
    if not dsts:
        return None, hit
    src = np.concatenate(srcs)
    if src.size == 0:
        return None, hit
    return (np.concatenate(dsts), src, np.concatenate(vals), int(src_all[0])), hit


def prepare(
    pixmap: np.ndarray,
    out_shape: tuple[int, int],
    *,
    kernel: str = "square",
    pixfrac: float = 1.0,
    pixel_scale_ratio: float | None = 1.0,
    xmin: int | None = None,
    xmax: int | None = None,
    ymin: int | None = None,
    ymax: int | None = None,
    legacy_kernels: bool = False,
) -> DrizzleOperator:
    """Build the sparse drizzle operator of one geometry, for reuse on many frames.

    Use it with :meth:`Drizzle.add_prepared`; the result equals :meth:`Drizzle.add_image`
    with the same arguments.

    Parameters
    ----------
    pixmap : array_like, shape (ny, nx, 2)
        Pixel map of the frames.
    out_shape : tuple of int
        ``(ny_out, nx_out)``.
    kernel : str
        Kernel name (see :class:`Drizzle`).
    pixfrac : float
        Drop size.
    pixel_scale_ratio : float or None
        Output pixel size in input pixels (None: estimate from the pixmap).
    xmin, xmax, ymin, ymax : int, optional
        Input section.
    legacy_kernels : bool
        C drizzle weights for gaussian/lanczos/tophat.

    Returns
    -------
    DrizzleOperator
        The operator; its matrix holds about ``(pixfrac/s + 1)**2`` entries per input pixel.

    Warns
    -----
    DitherlabWarning
        ``pixfrac != 1`` with the lanczos kernels, which ignore it (as C does).

    Examples
    --------
    >>> y, x = np.indices((30, 40), dtype=float)
    >>> op = prepare(np.dstack([x + 0.3, y + 0.6]), (32, 42))
    >>> op.matrix.shape, round(float(op.matrix.sum()), 9)
    ((1344, 1200), 1200.0)
    """
    import scipy.sparse as sp  # lazy: keeps `import ditherlab.drizzle` light

    kernel = as_choice("kernel", kernel, KERNELS)
    pixfrac = as_float("pixfrac", pixfrac, minimum=0.0, min_inclusive=False)
    warn_ignored_pixfrac(kernel, pixfrac, legacy_kernels)
    pixmap = np.asarray(pixmap, dtype=np.float64)
    if pixmap.ndim != 3 or pixmap.shape[2] != 2 or min(pixmap.shape[:2]) < 2:
        raise DitherlabValueError(f"pixmap must have shape (ny>=2, nx>=2, 2), got {pixmap.shape}")
    checked = finite_pixmap(pixmap)
    finite, pixmap = checked is pixmap, checked
    try:
        out_shape = (int(out_shape[0]), int(out_shape[1]))
    except (TypeError, ValueError, IndexError):
        raise DitherlabValueError(f"out_shape={out_shape!r} must be (ny, nx)") from None
    if min(out_shape) < 1:
        raise DitherlabValueError(f"out_shape={out_shape!r} must be positive")
    if pixel_scale_ratio is None:
        pixel_scale_ratio = estimate_pixel_scale_ratio(pixmap)
    s = as_float("pixel_scale_ratio", pixel_scale_ratio, minimum=0.0, min_inclusive=False)
    ny, nx = pixmap.shape[:2]
    box = section(nx, ny, xmin, xmax, ymin, ymax)
    nout = out_shape[0] * out_shape[1]
    signed = kernel in ("lanczos2", "lanczos3")
    nbox = (box[1] - box[0] + 1) * (box[3] - box[2] + 1)
    empty = sp.csr_matrix((nout, ny * nx))
    scan = scan_rows(pixmap, out_shape, box, finite)
    if scan is None:
        return DrizzleOperator(
            empty, (ny, nx), out_shape, kernel, signed, nbox, box[3] - box[2] + 1
        )
    rows, x1, x2, nskip = scan
    if rows.size == 0:
        return DrizzleOperator(empty, (ny, nx), out_shape, kernel, signed, nbox, nskip)
    # Built column by column (CSC: one column per input pixel; converted to CSR at the end),
    # chunk by chunk, so that the working set stays bounded: chunks visit input pixels in
    # increasing order.
    idx_parts, val_parts = [], []
    counts = np.zeros(ny * nx, np.int64)
    nhit = 0
    for chunk in row_chunks(rows, x1, x2, cells(kernel, pixfrac, s)):
        geom = block_geometry(rows, x1, x2, chunk)
        pieces, valid = block_pieces(
            kernel, pixmap, *geom[:4], pixfrac=pixfrac, pscale_ratio=s, legacy=legacy_kernels
        )
        part, hit = _chunk_entries(pieces, geom, nx, out_shape)
        nhit += int(np.count_nonzero(hit & valid))
        if part is None:
            continue
        dst, src, vals, s_lo = part
        order = np.argsort(src, kind="stable")
        idx_parts.append(dst[order].astype(np.int32 if nout < 2**31 else np.int64))
        val_parts.append(vals[order])
        bc = np.bincount(src - s_lo)
        counts[s_lo : s_lo + bc.size] += bc
    indptr = np.zeros(ny * nx + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    del counts
    indices = np.concatenate(idx_parts) if idx_parts else np.zeros(0, np.int32)
    data = np.concatenate(val_parts) if val_parts else np.zeros(0)
    del idx_parts, val_parts
    mat = sp.csc_matrix((data, indices, indptr), shape=(nout, ny * nx))
    del data, indices, indptr
    mat = mat.tocsr()  # row-major products are ~3x faster than column-major ones here
    return DrizzleOperator(
        mat, (ny, nx), out_shape, kernel, signed, nbox - nhit, nskip, _owned=True
    )
