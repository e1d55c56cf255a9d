"""A prepared (sparse-matrix) drizzle operator for frames that share one geometry.

Drizzling is linear in the data *and* in the weights once the geometry (pixmap, kernel,
pixfrac, output grid) is fixed: with ``A[o, i]`` the kernel weight of input pixel ``i`` on
output pixel ``o``, one frame contributes ``Σ_i A[o, i]·w_i`` to ``out_wht`` and
``Σ_i A[o, i]·w_i·d_i`` to the weighted sum behind ``out_img``.  Both are sparse
matrix-vector products, so a Monte Carlo of noise or cosmic-ray realisations, each with its
own weight map (CR masks), costs two sparse products per frame once ``A`` is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ditherlab._validation import as_choice, as_float
from ditherlab.drizzle._kernels import KERNELS, block_pieces
from ditherlab.drizzle._resample import (
    _block_geometry,
    _cells,
    _finite_pixmap,
    _row_chunks,
    _section,
    _shrink_to_valid,
    estimate_pixel_scale_ratio,
)
from ditherlab.drizzle._scan import scan_limits
from ditherlab.errors import DitherlabValueError

__all__ = ["DrizzleOperator", "prepare"]


@dataclass(frozen=True, eq=False)
class DrizzleOperator:
    """The linear map of one drizzle geometry (build it with :func:`prepare`).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (ny_out * nx_out, ny_in * nx_in)
        Kernel weights ``A[o, i]`` (for ``square``: overlap area / drop area).
    in_shape, out_shape : tuple of int
        ``(ny, nx)`` of the input and output images.
    kernel : str
        Kernel name.
    signed : bool
        Whether weights can be negative (lanczos).
    nmiss, nskip : int
        Input pixels / rows of the section that reach no output pixel.
    """

    matrix: Any  # scipy.sparse.csr_matrix
    in_shape: tuple[int, int]
    out_shape: tuple[int, int]
    kernel: str
    signed: bool
    nmiss: int
    nskip: int

    def sums(
        self,
        data: np.ndarray,
        weight_map: np.ndarray | None = None,
        wht_scale: float = 1.0,
        iscale: float = 1.0,
        expscale: float = 1.0,
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

        Returns
        -------
        sw, swd : ndarray of float64, flat (ny_out * nx_out)
            Weight sum and weighted data sum.
        pos, touched : ndarray of bool
            Output pixels with a positive / any non-zero contribution.
        """
        d = np.asarray(data, dtype=np.float32).ravel()
        if weight_map is None:
            w = np.full(d.size, np.float32(wht_scale), np.float32)
        else:
            w = np.asarray(weight_map, dtype=np.float32).ravel() * np.float32(wht_scale)
        good = np.isfinite(d)
        if not good.all():
            d = np.where(good, d, np.float32(0))
            w = np.where(good, w, np.float32(0))
        if expscale != 1.0:
            d = d * np.float32(1.0 / expscale)
        d = d * np.float32(iscale)
        x = np.empty((d.size, 2))
        x[:, 0] = w
        np.multiply(w, d, out=x[:, 1], dtype=np.float64)
        res = self.matrix @ x
        sw, swd = res[:, 0], res[:, 1]
        if self.signed:
            pattern = self.matrix.copy()
            pattern.data = (pattern.data > 0).astype(float)
            pos = (pattern @ (w > 0).astype(float)) > 0
            pattern.data = np.ones_like(pattern.data)
            touched = (pattern @ (w != 0).astype(float)) > 0
        else:
            pos = touched = sw > 0
        return sw, swd, pos, touched


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
    pixmap = np.asarray(pixmap, dtype=np.float64)
    if pixmap.ndim != 3 or pixmap.shape[2] != 2 or min(pixmap.shape[:2]) < 2:
        raise DitherlabValueError(f"pixmap must have shape (ny>=2, nx>=2, 2), got {pixmap.shape}")
    pixmap = _finite_pixmap(pixmap)
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
    box = _section(nx, ny, xmin, xmax, ymin, ymax)
    nout = out_shape[0] * out_shape[1]
    signed = kernel in ("lanczos2", "lanczos3")
    nbox = (box[1] - box[0] + 1) * (box[3] - box[2] + 1)
    empty = sp.csr_matrix((nout, ny * nx))
    bbox = _shrink_to_valid(pixmap, box)
    if bbox is None:
        return DrizzleOperator(
            empty, (ny, nx), out_shape, kernel, signed, nbox, box[3] - box[2] + 1
        )
    y_first, x1, x2 = scan_limits(pixmap, out_shape, bbox)
    rows = y_first + np.arange(x1.size)
    keep = (x2 >= x1) & (rows >= bbox[2]) & (rows <= bbox[3])
    rows, x1, x2 = rows[keep], x1[keep], x2[keep]
    nskip = (box[3] - box[2] + 1) - rows.size
    if rows.size == 0:
        return DrizzleOperator(empty, (ny, nx), out_shape, kernel, signed, nbox, nskip)
    out_ny, out_nx = out_shape
    # Built column by column (CSC: one column per input pixel; converted to CSR at the end),
    # chunk by chunk, so that the working set stays bounded: chunks visit input pixels in
    # increasing order.
    idx_parts, val_parts = [], []
    counts = np.zeros(ny * nx, np.int64)
    nhit = 0
    for chunk in _row_chunks(rows, x1, x2, _cells(kernel, pixfrac, s)):
        ja, jb, xa, xb, cols, processed = _block_geometry(rows, x1, x2, chunk)
        pieces, valid = block_pieces(
            kernel, pixmap, ja, jb, xa, xb, pixfrac=pixfrac, pscale_ratio=s, legacy=legacy_kernels
        )
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
        nhit += int(np.count_nonzero(hit & valid))
        if not dsts:
            continue
        src = np.concatenate(srcs)
        if src.size == 0:
            continue
        order = np.argsort(src, kind="stable")
        idx_parts.append(np.concatenate(dsts)[order].astype(np.int32 if nout < 2**31 else np.int64))
        val_parts.append(np.concatenate(vals)[order])
        s_lo = int(src_all[0])
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
    return DrizzleOperator(mat, (ny, nx), out_shape, kernel, signed, nbox - nhit, nskip)
