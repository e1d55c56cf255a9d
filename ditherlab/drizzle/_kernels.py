"""Pure array kernels of the drizzle: who gives how much weight to which output pixel.

:func:`block_pieces` takes a rectangular block of input pixels and returns, per input pixel,
the origin of a small window of output pixels and the kernel weight ``a`` on each pixel of
that window (for the square kernel the overlap area of the drop with the output pixel
divided by the drop's own area), as dense ``(gy, gx, n)`` arrays.  Nothing here knows about
data values, weight maps or accumulation; see :mod:`ditherlab.drizzle._tiles`.

The square kernel's exact overlap areas use a cumulative (corner-function) formulation:
for a drop whose bounding window spans ``kx x ky`` output pixels, the area of the drop
below and to the left of each interior grid corner is found from Green's theorem,
``A(X, Y) = |∮ min(y, Y) d min(x, X)|``, which has a closed form per polygon edge; the
pixel areas are the second differences of that table.  A 2x2 window therefore needs one
quadrant clip and two half-plane clips instead of four polygon clips.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "KERNELS",
    "block_pieces",
    "fortran_round",
    "quad_pixel_overlaps",
]

KERNELS = ("square", "point", "turbo", "gaussian", "lanczos2", "lanczos3", "tophat")

_GAUSS_FWHM = 2.3548
_AREA_RTOL = 1e-14
#: Drops whose 2x2 areas are computed together: their ~40 work arrays of 64 KiB stay in a
#: 2 MiB L2 cache, where a whole tile's (32768 drops) stream from memory; 15 % faster
#: (a tile as a whole is fastest at 32768 drops: fewer numpy calls elsewhere).
_AREAS_2X2_CHUNK = 8192


def fortran_round(x: np.ndarray) -> np.ndarray:
    """Round half away from zero (Fortran ``NINT``), returning ``intp``.

    Parameters
    ----------
    x : ndarray
        Values to round.

    Returns
    -------
    ndarray of intp
        Rounded values.

    Examples
    --------
    >>> fortran_round(np.array([-1.5, -0.5, 0.5, 1.49])).tolist()
    [-2, -1, 1, 1]
    """
    x = np.asarray(x, dtype=float)
    if x.size and x.min() >= 0:  # the common case: one pass less
        return np.floor(x + 0.5).astype(np.intp)
    return np.where(x >= 0, np.floor(x + 0.5), -np.floor(0.5 - x)).astype(np.intp)


def quad_pixel_overlaps(
    xq: np.ndarray, yq: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact overlap areas of quadrilaterals with the unit output pixels they touch.

    Output pixel ``(ii, jj)`` is the square ``[ii - 0.5, ii + 0.5] x [jj - 0.5, jj + 0.5]``.
    Areas are computed in float64 relative to each drop's window, so their error is a few
    ulp of one pixel area (~1e-15 px²) wherever the drop lies on the output grid.

    Parameters
    ----------
    xq, yq : ndarray, shape (n, 4)
        Vertices of ``n`` simple quadrilaterals, in order (either orientation).

    Returns
    -------
    k : ndarray of intp
        Index of the quadrilateral of each overlap.
    ii, jj : ndarray of intp
        Output pixel of each overlap.
    area : ndarray of float64
        Overlap areas (> 0).

    Examples
    --------
    A unit square centred on a pixel corner covers four pixels by a quarter each:

    >>> k, ii, jj, a = quad_pixel_overlaps(np.array([[-.5, .5, .5, -.5]]) + 0.5,
    ...                                    np.array([[-.5, -.5, .5, .5]]) + 0.5)
    >>> sorted(zip(ii.tolist(), jj.tolist(), a.tolist()))
    [(0, 0, 0.25), (0, 1, 0.25), (1, 0, 0.25), (1, 1, 0.25)]
    """
    xq = np.asarray(xq, dtype=float)
    yq = np.asarray(yq, dtype=float)
    n = xq.shape[0]
    ks, iis, jjs, areas = [], [], [], []
    if n:
        xs = [xq[:, v].copy() for v in range(4)]  # (square_pieces overwrites them)
        ys = [yq[:, v].copy() for v in range(4)]
        for sel, c0, r0, a in square_pieces(xs, ys):
            gy, gx = a.shape[:2]
            idx = np.arange(n) if sel is None else sel
            for q in range(gy):
                for p in range(gx):
                    good = a[q, p] > 0
                    ks.append(idx[good])
                    iis.append(c0[good] + p)
                    jjs.append(r0[good] + q)
                    areas.append(a[q, p][good])
    if not ks:
        e = np.zeros(0, np.intp)
        return e, e, e, np.zeros(0)
    k = np.concatenate(ks)
    order = np.argsort(k, kind="stable")
    return (
        k[order],
        np.concatenate(iis)[order],
        np.concatenate(jjs)[order],
        np.concatenate(areas)[order],
    )


def _max4(a):
    return np.maximum(np.maximum(a[0], a[1]), np.maximum(a[2], a[3]))


def _min4(a):
    return np.minimum(np.minimum(a[0], a[1]), np.minimum(a[2], a[3]))


def quad_area(xs, ys):
    """Absolute area of quadrilaterals given as four vertex arrays (the C drizzle's jaco).

    Parameters
    ----------
    xs, ys : sequence of 4 ndarray
        Vertex coordinates, in order.

    Returns
    -------
    ndarray
        ``|((x1 - x3)(y0 - y2) - (x0 - x2)(y1 - y3))| / 2``.
    """
    return 0.5 * np.abs((xs[1] - xs[3]) * (ys[0] - ys[2]) - (xs[0] - xs[2]) * (ys[1] - ys[3]))


def square_pieces(xs, ys, total=None):
    """Overlap areas of quads with output pixels, as dense per-window pieces.

    Parameters
    ----------
    xs, ys : list of 4 ndarray, each (n,)
        Quad vertices (finite) in output pixel coordinates.  **Overwritten** (they become
        the window-relative coordinates: no copies of them in the working set).
    total : ndarray, optional
        Quad areas (computed if not given).

    Returns
    -------
    list of (sel, c0, r0, a)
        ``sel`` is None (all quads) or the indices of the quads of this piece; ``(c0, r0)``
        the output pixel of each quad's window origin; ``a`` of shape ``(gy, gx, m)`` the
        overlap area with output pixel ``(r0 + q, c0 + p)``.
    """
    n = xs[0].size
    if total is None:
        total = quad_area(xs, ys)
    fc0 = np.floor(_min4(xs) + 0.5)
    fr0 = np.floor(_min4(ys) + 0.5)
    kx = np.floor(_max4(xs) + 0.5) - fc0
    ky = np.floor(_max4(ys) + 0.5) - fr0
    # Window size of each drop: g + 1 pixels on a side.  Every drop is computed at the size
    # that covers at least half of them (no compaction of the majority; the 2x2 window is
    # ~4x cheaper a drop than 3x3, so it pays even when ~half the drops need more); the
    # larger drops are zeroed there and computed again in windows of their own size.
    g = np.maximum(kx, ky)
    counts = np.bincount(g.astype(np.intp))
    g_main = int(np.searchsorted(np.cumsum(counts), 0.5 * n))
    big = g > g_main
    del g
    rest = []  # (their vertices before xs, ys are overwritten)
    if big.any():
        for sel in _wider_groups(kx, ky, big, g_main):
            c0, r0 = fc0[sel], fr0[sel]
            gx, gy = int(kx[sel].max()) + 1, int(ky[sel].max()) + 1
            xl = [v[sel] - (c0 - 0.5) for v in xs]
            yl = [v[sel] - (r0 - 0.5) for v in ys]
            rest.append((sel, c0, r0, xl, yl, gx, gy))
    del kx, ky
    # window-relative coordinates, in place
    shift = 0.5 if g_main <= 1 else -0.5  # 2x2: relative to the inner grid corner
    for vs, f0 in ((xs, fc0), (ys, fr0)):
        o = np.add(f0, shift)
        for v in vs:
            v -= o
        del o
    if g_main <= 1:
        a = _areas_2x2(xs, ys, total)
    else:
        a = window_areas(xs, ys, g_main + 1, g_main + 1, total)
    pieces = [(None, fc0.astype(np.intp), fr0.astype(np.intp), a)]
    if rest:
        a[:, :, big] = 0.0
    for sel, c0, r0, xl, yl, gx, gy in rest:
        a = window_areas(xl, yl, gx, gy, total[sel])
        pieces.append((sel, c0.astype(np.intp), r0.astype(np.intp), a))
    return pieces


def _wider_groups(kx, ky, big, g_main):
    """The drops ``big`` grouped by window shape: wider in y only, in x only, in both.

    Most of them are wider in one direction only (a rotated or sheared drop that just
    reaches a third row): a 2x3 window costs about half a 3x3 one.
    """
    wide_x, wide_y = kx > g_main, ky > g_main
    groups = (big & ~wide_x, big & ~wide_y, big & wide_x & wide_y)
    return [np.flatnonzero(m) for m in groups if m.any()]


def _areas_2x2(x, y, total):
    """:func:`window_areas` for 2x2 windows, coordinates relative to the inner grid corner.

    Same formulas, written with in-place operations and without masked (branching)
    operations, which cost several times a plain pass when their masks are irregular:
    this is the hot loop of the square kernel at output scales >= 1.
    """
    n = total.size
    out = np.zeros((2, 2, n))
    bufs: list[np.ndarray] = []
    for a in range(0, n, _AREAS_2X2_CHUNK):
        sl = slice(a, min(a + _AREAS_2X2_CHUNK, n))
        m = sl.stop - a
        if not bufs or bufs[0].size != m:
            bufs = [np.empty(m) for _ in range(8)]  # dx, dy, t1, t2, t3, t4, z, t5
        _areas_2x2_chunk([v[sl] for v in x], [v[sl] for v in y], total[sl], out[:, :, sl], bufs)
    return out


def _areas_2x2_chunk(x, y, total, out, bufs):
    """:func:`_areas_2x2` of some drops, into ``out`` (2, 2, m), zero on entry."""
    xb = x[1:] + x[:1]
    yb = y[1:] + y[:1]
    px = [np.maximum(v, 0.0) for v in x]
    py = [np.maximum(v, 0.0) for v in y]
    pxb = px[1:] + px[:1]
    pyb = py[1:] + py[:1]
    # the accumulators live in the result's cells (no copies into it at the end):
    # q = area in x <= 0, y <= 0 (cell (0, 0)), by = area in y <= 0, lx = area in x <= 0
    q, by, lx = out[0, 0], out[0, 1], out[1, 0]
    for e in range(4):
        _x_clip_2x2((x[e], xb[e], y[e], yb[e]), (px[e], pxb[e]), lx, q, bufs)
        _y_clip_2x2((x[e], xb[e], y[e], yb[e]), (py[e], pyb[e]), by, bufs)
    _finish_2x2(out, x, y, total, bufs)


def _x_clip_2x2(edge, clipped, lx, q, bufs):
    """One edge's terms of the areas left of x = 0 (``lx``) and in the quadrant (``q``)."""
    xe, xbe, ye, ybe = edge
    pxe, pxbe = clipped
    dx, dy, t1, t2, t3, t4, z, t5 = bufs
    np.subtract(xbe, xe, out=dx)
    np.subtract(ybe, ye, out=dy)
    # x-clip at x = 0: the part of the edge with x <= 0 runs over du in x, from height
    # va to vb.  A vertical edge (dx = 0) has du = 0 whatever its slope, so dividing by
    # 1 instead of 0 there keeps everything finite without a mask.
    np.equal(dx, 0.0, out=z)
    slope = np.add(dx, z, out=t3)
    np.divide(dy, slope, out=slope)
    du = np.subtract(dx, pxbe, out=t4)
    du += pxe
    va = np.multiply(slope, pxe, out=t1)
    np.subtract(ye, va, out=va)
    vb = np.multiply(slope, pxbe, out=t2)
    np.subtract(ybe, vb, out=vb)
    s = np.add(va, vb, out=t3)
    s *= du
    lx += s
    # quadrant x <= 0, y <= 0: mean of max(-v, 0) along the clipped edge is
    # t (ra + rb) / 2 with t = (ra - rb) / (vb - va) the fraction of it below y = 0
    # (exactly 1 when both ends are below; for vb = va, t = 1, harmless above).  Formed
    # from min(v, 0) = -r: every term is exactly the negated one, and q's sign goes
    # with its absolute value at the end (two passes fewer than negating).
    dv = np.subtract(vb, va, out=t3)
    np.equal(dv, 0.0, out=z)
    dv += z
    np.minimum(va, 0.0, out=va)  # -ra
    np.minimum(vb, 0.0, out=vb)  # -rb
    tt = np.subtract(vb, va, out=t5)  # ra - rb
    tt /= dv
    tt += z
    va += vb  # -(ra + rb)
    tt *= va
    tt *= du
    q += tt


def _y_clip_2x2(edge, clipped, by, bufs):
    """One edge's term of the area below y = 0 (the x-clip with the axes swapped)."""
    xe, xbe, _, _ = edge
    pye, pybe = clipped
    dx, dy, t1, t2, t3, t4, z, _ = bufs  # dx, dy: this edge's, from the x-clip
    np.equal(dy, 0.0, out=z)
    slope = np.add(dy, z, out=t3)
    np.divide(dx, slope, out=slope)
    dw = np.subtract(dy, pybe, out=t4)
    dw += pye
    ua = np.multiply(slope, pye, out=t1)
    np.subtract(xe, ua, out=ua)
    ub = np.multiply(slope, pybe, out=t2)
    np.subtract(xbe, ub, out=ub)
    ua += ub
    ua *= dw
    by += ua


def _finish_2x2(out, x, y, total, bufs):
    """Halve the accumulated areas, fix whole drops, and turn them into the four cells."""
    t1, z = bufs[2], bufs[6]
    q, by, lx = out[0, 0], out[0, 1], out[1, 0]
    # drops wholly left of / below a grid line: exact values (no rounding noise in cells
    # they do not touch)
    xfull = _max4(x) <= 0.0
    yfull = _max4(y) <= 0.0
    np.abs(lx, out=lx)
    lx *= 0.5
    np.abs(by, out=by)
    by *= 0.5
    np.abs(q, out=q)
    q *= 0.5
    if xfull.any():
        np.copyto(lx, total, where=xfull)
        np.copyto(q, by, where=xfull)
    if yfull.any():
        np.copyto(by, total, where=yfull)
        np.copyto(q, lx, where=yfull)
    a11 = out[1, 1]
    np.subtract(total, lx, out=a11)
    a11 -= by
    a11 += q
    by -= q  # cell (0, 1)
    lx -= q  # cell (1, 0)
    # rounding noise, not overlap: zero (a multiply by the mask: no branches)
    thr = np.multiply(total, _AREA_RTOL, out=t1)
    for a in (q, by, lx, a11):
        np.greater(a, thr, out=z)
        a *= z


def _blend(a, b, mask, tmp):
    """``a[mask] = b[mask]`` without branching: ``a += mask * (b - a)``.

    Exact where ``mask`` is False; where True the result is ``b`` to within one rounding
    of ``|b - a|``, which is exact when the two agree to a factor of two (Sterbenz), as
    they do here (the same area from two formulas).
    """
    np.subtract(b, a, out=tmp)
    tmp *= mask
    a += tmp


def window_areas(x, y, gx, gy, total):
    """Areas of quads (local coordinates) inside the unit cells of a ``gx x gy`` window.

    Parameters
    ----------
    x, y : list of 4 ndarray
        Vertices relative to the window's lower-left corner; each quad must lie inside
        ``[0, gx] x [0, gy]``.
    gx, gy : int
        Window size in cells.
    total : ndarray
        Quad areas.

    Returns
    -------
    ndarray, shape (gy, gx, n)
        Area of each quad in cell ``(q, p)`` (row ``q``, column ``p``).
    """
    n = total.size
    if gx == 1 and gy == 1:
        return total[None, None, :].copy()
    xb = x[1:] + x[:1]
    yb = y[1:] + y[:1]
    xmax, ymax = _max4(x), _max4(y)
    dx = [b - a for a, b in zip(x, xb, strict=True)]
    dy = [b - a for a, b in zip(y, yb, strict=True)]
    # slopes; an edge parallel to an axis gets a finite dummy slope (its clipped length
    # along that axis is 0), so that no masked operation is needed
    sx = [ddy / (ddx + (ddx == 0.0)) for ddx, ddy in zip(dx, dy, strict=True)]
    sy = [ddx / (ddy + (ddy == 0.0)) for ddx, ddy in zip(dx, dy, strict=True)]
    # cum[p, q]: area with x <= p and y <= q (grid-line indices); row/column 0 stay zero
    cum = np.zeros((gx + 1, gy + 1, n))
    cum[gx, gy] = total
    bufs = [np.empty(n) for _ in range(5)]
    for p in range(1, gx):
        # area left of x = p, and the clipped edges for the corners on that line
        X = float(p)
        pv = [np.maximum(v - X, 0.0) for v in x]
        clipped = _marginal(cum[p, gy], (x, xb, y, yb, dx), sx, pv, bufs[0])
        _blend(cum[p, gy], total, xmax <= X, bufs[0])
        for q in range(1, gy):
            _corner(cum[p, q], float(q), clipped, bufs)
    for q in range(1, gy):
        # area below y = q (the same with the axes swapped)
        Y = float(q)
        qv = [np.maximum(v - Y, 0.0) for v in y]
        _marginal(cum[gx, q], (y, yb, x, xb, dy), sy, qv, bufs[0])
        _blend(cum[gx, q], total, ymax <= Y, bufs[0])
    # drops entirely left of / below a grid line: exact values from the marginals
    for p in range(1, gx):
        xfull = xmax <= float(p)
        for q in range(1, gy):
            _blend(cum[p, q], cum[gx, q], xfull, bufs[0])
            _blend(cum[p, q], cum[p, gy], ymax <= float(q), bufs[0])
    out = np.empty((gy, gx, n))
    thr = _AREA_RTOL * total
    t1 = bufs[0]
    for q in range(gy):
        for p in range(gx):
            a = out[q, p]
            np.subtract(cum[p + 1, q + 1], cum[p, q + 1], out=a)
            a -= cum[p + 1, q]
            a += cum[p, q]
            np.greater(a, thr, out=t1)  # rounding noise, not overlap: zero, branch-free
            a *= t1
    return out


def _marginal(acc, edges, slopes, pv, t1):
    """Area on the low side of the grid line ``u = U`` of the quads (``acc``, halved).

    ``edges = (u, u_next, v, v_next, du_edge)`` per vertex (``u`` the axis clipped),
    ``slopes`` dv/du per edge, ``pv = max(u - U, 0)``.  Returns, per edge, the clipped
    length along ``u`` and the heights ``v`` at its two clipped ends (for :func:`_corner`).
    """
    _, _, v, vnext, du_edge = edges
    pb_ = pv[1:] + pv[:1]
    clipped = []
    for e in range(4):
        du = du_edge[e] - pb_[e]
        du += pv[e]
        va = np.multiply(slopes[e], pv[e])
        np.subtract(v[e], va, out=va)
        vb = np.multiply(slopes[e], pb_[e])
        np.subtract(vnext[e], vb, out=vb)
        np.add(va, vb, out=t1)
        t1 *= du
        acc += t1
        clipped.append((du, va, vb))
    np.abs(acc, out=acc)
    acc *= 0.5
    return clipped


def _corner(acc, Y, clipped, bufs):
    """Area with x <= X and y <= Y (``acc``) from the edges clipped at x = X."""
    t1, t2, t3, t4, t5 = bufs
    for du, va, vb in clipped:
        # mean of max(Y - v, 0) along the clipped edge = t (ra + rb) / 2, with
        # t = (ra - rb) / (Y - va - (Y - vb)) the fraction of the edge below Y:
        # exactly 1 when both ends are below (the same operation on the same
        # operands), and 1 for a level edge (dv = 0), which is harmless above Y
        ra = np.subtract(Y, va, out=t1)
        rb = np.subtract(Y, vb, out=t2)
        dv = np.subtract(ra, rb, out=t4)
        np.equal(dv, 0.0, out=t5)
        dv += t5
        np.maximum(ra, 0.0, out=ra)
        np.maximum(rb, 0.0, out=rb)
        t = np.subtract(ra, rb, out=t3)
        t /= dv
        t += t5
        ra += rb
        t *= ra
        t *= du
        acc += t
    np.abs(acc, out=acc)
    acc *= 0.5


def _ext_block(pixmap, c, ja, jb, xa, xb):
    """Pixmap component ``c`` on rows ``ja-1..jb`` and columns ``xa-1..xb+1``.

    Rows and columns beyond the array are linearly extrapolated from the border, which makes
    the fixed-weight interpolation below identical to the C drizzle's bilinear
    interpolation with extrapolation.
    """
    ny, nx = pixmap.shape[:2]
    r0, r1 = max(ja - 1, 0), min(jb + 1, ny)
    q0, q1 = max(xa - 1, 0), min(xb + 2, nx)
    out = np.empty((jb - ja + 2, xb - xa + 3))
    ro, co = r0 - (ja - 1), q0 - (xa - 1)
    out[ro : ro + r1 - r0, co : co + q1 - q0] = pixmap[r0:r1, q0:q1, c]
    rows = slice(ro, ro + r1 - r0)
    if co:
        out[rows, 0] = 2.0 * out[rows, 1] - out[rows, 2]
    if xb + 2 > nx:
        out[rows, -1] = 2.0 * out[rows, -2] - out[rows, -3]
    if ro:
        out[0] = 2.0 * out[1] - out[2]
    if jb + 1 > ny:
        out[-1] = 2.0 * out[-2] - out[-3]
    return out


def _square_corners(pixmap, ja, jb, xa, xb, pixfrac):
    """Drop corners of the block's pixels, in the C drizzle's order, as flat arrays."""
    dh = 0.5 * pixfrac
    xs, ys = [], []
    if dh == 0.5:
        return _square_corners_pixfrac1(pixmap, ja, jb, xa, xb)
    for c, dest in ((0, xs), (1, ys)):
        e = _ext_block(pixmap, c, ja, jb, xa, xb)
        hl = dh * e[:, :-2] + (1.0 - dh) * e[:, 1:-1]  # at i - dh
        hr = (1.0 - dh) * e[:, 1:-1] + dh * e[:, 2:]  # at i + dh
        # corners: (i-dh, j+dh), (i+dh, j+dh), (i+dh, j-dh), (i-dh, j-dh)
        for h, up in ((hl, True), (hr, True), (hr, False), (hl, False)):
            v = (1.0 - dh) * h[1:-1] + dh * h[2:] if up else dh * h[:-2] + (1.0 - dh) * h[1:-1]
            dest.append(v.ravel())
    return xs, ys


def _square_corners_pixfrac1(pixmap, ja, jb, xa, xb):
    """:func:`_square_corners` for ``pixfrac = 1``: neighbouring drops share corners.

    With ``dh = 0.5`` the two weights are equal, so the left corners of column ``i`` are
    the right corners of column ``i - 1`` and the lower corners of row ``j`` the upper
    corners of row ``j - 1`` (the same two products, added in either order: the same
    float64 value).  Each corner is computed once: 9 passes instead of 18.
    """
    xs, ys = [], []
    for c, dest in ((0, xs), (1, ys)):
        e = _ext_block(pixmap, c, ja, jb, xa, xb)
        h = 0.5 * e[:, :-1] + 0.5 * e[:, 1:]  # at i - 0.5 for columns xa .. xb + 1
        v = 0.5 * h[:-1] + 0.5 * h[1:]  # and at j - 0.5 for rows ja .. jb
        # corners: (i-dh, j+dh), (i+dh, j+dh), (i+dh, j-dh), (i-dh, j-dh)
        hi, lo = slice(1, None), slice(None, -1)
        for rows, cols in ((hi, lo), (hi, hi), (lo, hi), (lo, lo)):
            dest.append(v[rows, cols].flatten())  # a copy always: the callers overwrite them
    return xs, ys


def _window(xc, yc, half):
    """Windows ``fround(c - half) .. fround(c + half)`` padded to a common size.

    Returns the window origins and ``(K, n)`` arrays of the pixel indices and of whether
    they are inside each drop's own window.
    """
    x0 = fortran_round(xc - half)
    x1 = fortran_round(xc + half)
    y0 = fortran_round(yc - half)
    y1 = fortran_round(yc + half)
    nx = int((x1 - x0).max(initial=0)) + 1
    ny = int((y1 - y0).max(initial=0)) + 1
    ii = x0[None, :] + np.arange(nx)[:, None]
    jj = y0[None, :] + np.arange(ny)[:, None]
    inx = ii <= x1[None, :]
    iny = jj <= y1[None, :]
    return x0, y0, ii, jj, inx, iny


def _lanczos(u: np.ndarray, order: int) -> np.ndarray:
    out = np.sinc(u) * np.sinc(u / order)
    out[np.abs(u) >= order] = 0.0
    return out


# The C drizzle's lanczos kernel (drizzle 3.0.0, src/cdrizzlebox.c, do_kernel_lanczos) looks
# the weights up in a table of step 0.003 built by create_lanczos_lut (src/cdrizzleutil.c).
_C_LANCZOS_STEP = 0.003
_C_LANCZOS_LUTS: dict[int, np.ndarray] = {}
# float32 rounds magnitudes up to this to 0; zeroing kernel products below it reproduces
# C's float32 ``dow`` exactly for weights up to 1 (only lut[1000]² ~ 2e-66 gets there)
_F32_HALF_TINY = 2.0**-150


def _c_lanczos_lut(order: int) -> np.ndarray:
    """The C drizzle's Lanczos table: ``ceil(order / 0.003) + 1`` float64 entries.

    Entry ``i`` is ``sin(πx) sin(πx/order) / (πx · πx/order)`` at ``x = i · 0.003``, 1 at 0
    and 0 beyond ``order``, computed with the same operations as ``create_lanczos_lut``.
    """
    lut = _C_LANCZOS_LUTS.get(order)
    if lut is None:
        n = int(np.ceil(order / _C_LANCZOS_STEP)) + 1
        x = np.arange(n) * _C_LANCZOS_STEP
        poff = np.pi * x
        r = poff / float(order)
        with np.errstate(divide="ignore", invalid="ignore"):
            lut = np.sin(poff) * np.sin(r) / (poff * r)
        lut[0] = 1.0
        lut[x > order] = 0.0
        lut.flags.writeable = False
        _C_LANCZOS_LUTS[order] = lut
    return lut


def _c_lanczos_1d(c, half, sdp, lut):
    """One axis of the C lanczos kernel: window origins and ``(k, n)`` table weights.

    The window is ``floor(c - half) + 1 .. floor(c + half)``; pixel ``i`` gets
    ``lut[round(|c - i| · sdp)]`` (``round`` half away from zero, as C's ``nintd``), or 0
    (no contribution at all in C) when that index is past the end of the table.
    """
    lo = np.floor(c - half).astype(np.intp) + 1
    hi = np.floor(c + half).astype(np.intp)
    k = int((hi - lo).max(initial=0)) + 1
    idx = lo[None, :] + np.arange(k)[:, None]
    u = np.abs(c[None, :] - idx) * sdp
    fl = np.floor(u)
    ix = fl.astype(np.intp) + (u - fl >= 0.5)
    use = (idx <= hi[None, :]) & (ix < lut.size)
    w = np.where(use, lut[np.minimum(ix, lut.size - 1)], 0.0)
    return lo, w


def _normalise(w, inside, c, idx):
    """Scale 1-D kernel weights so that each row sums to 1 (fall back to the nearest pixel)."""
    w = np.where(inside, w, 0.0)
    tot = w.sum(axis=0)
    bad = ~(tot > 0)
    if np.any(bad):
        near = fortran_round(c[bad])
        w[:, bad] = (idx[:, bad] == near[None, :]).astype(float)
        tot[bad] = 1.0
    return w / tot


def block_pieces(
    kernel: str,
    pixmap: np.ndarray,
    ja: int,
    jb: int,
    xa: int,
    xb: int,
    *,
    pixfrac: float,
    pscale_ratio: float,
    legacy: bool = False,
) -> tuple[list, np.ndarray]:
    """Kernel weights of the input pixels of a block on the (unbounded) output grid.

    Parameters
    ----------
    kernel : str
        One of :data:`KERNELS`.
    pixmap : ndarray, shape (ny, nx, 2)
        Pixel map (output x, y of each input pixel centre).
    ja, jb : int
        Input rows ``ja .. jb - 1`` of the block.
    xa, xb : int
        Input columns ``xa .. xb`` (inclusive) of the block.
    pixfrac : float
        Linear drop size in input pixels.
    pscale_ratio : float
        Output pixel size in input pixels (sizes the turbo, gaussian, lanczos and tophat
        kernels).
    legacy : bool
        Reproduce the C drizzle's (not flux-conserving) gaussian, lanczos and tophat weights
        instead of the normalised ones.  For lanczos these are C 3.0.0's table values
        (step 0.003, nearest entry) on the window ``floor(c - order/s) + 1 ..
        floor(c + order/s)``, with ``pixfrac`` ignored as in C.

    Returns
    -------
    pieces : list of (sel, c0, r0, a)
        Block pixels are numbered row-major; ``sel`` is None (all) or the block indices
        of the piece, ``(c0, r0)`` the output pixel of each window origin and ``a`` of shape
        ``(gy, gx, m)`` the weight given to output pixel ``(r0 + q, c0 + p)``.  Except for
        ``legacy`` kernels the weights of one input pixel sum to 1 over the output plane.
    valid : ndarray of bool
        Block pixels whose mapping is defined (finite).
    """
    # The C drizzle keeps the scale ratio in single precision; doing the same reproduces its
    # windows exactly when a drop edge falls on a pixel boundary.
    s = float(np.float32(pscale_ratio))
    if kernel == "square":
        return _square_block(pixmap, ja, jb, xa, xb, pixfrac)
    xc = pixmap[ja:jb, xa : xb + 1, 0].astype(np.float64).ravel()  # (a float32 pixmap too)
    yc = pixmap[ja:jb, xa : xb + 1, 1].astype(np.float64).ravel()
    valid = np.isfinite(xc) & np.isfinite(yc)
    if not valid.all():
        xc = np.where(valid, xc, 0.0)
        yc = np.where(valid, yc, 0.0)
    vf = valid.astype(float)
    if kernel == "point":
        return [(None, fortran_round(xc), fortran_round(yc), vf[None, None, :])], valid
    centred = {
        "turbo": _turbo_window,
        "gaussian": _gaussian_window,
        "lanczos2": _lanczos_window,
        "lanczos3": _lanczos_window,
        "tophat": _tophat_window,
    }
    if kernel not in centred:  # pragma: no cover - validated by callers
        raise ValueError(f"kernel={kernel!r}")
    x0, y0, a = centred[kernel](kernel, xc, yc, vf, pixfrac, s, legacy)
    return [(None, x0, y0, a)], valid


def _square_block(pixmap, ja, jb, xa, xb, pixfrac):
    """Square kernel: exact overlaps of each drop with the output pixels / the drop's area."""
    xs, ys = _square_corners(pixmap, ja, jb, xa, xb, pixfrac)
    total = quad_area(xs, ys)
    valid = total > 0  # False for NaN too
    if not valid.all():
        bad = ~valid
        for v in xs + ys:
            v[bad] = 0.0
        total = np.where(valid, total, 0.0)
    pieces = square_pieces(xs, ys, total)
    inv = np.where(valid, 1.0 / np.where(valid, total, 1.0), 0.0)
    out = []
    for sel, c0, r0, a in pieces:
        a *= inv if sel is None else inv[sel]
        out.append((sel, c0, r0, a))
    return out, valid


# The kernels centred on each drop's mapped centre ``(xc, yc)``: each returns the window
# origins ``(x0, y0)`` and the weights ``a`` (gy, gx, m); ``vf`` is 1 for a defined mapping.
def _turbo_window(kernel, xc, yc, vf, pixfrac, s, legacy):
    """Turbo: overlap of an axis-aligned box of side ``pixfrac / s``, normalised to 1."""
    pfo = pixfrac / s / 2.0
    x0, y0, ii, jj, inx, iny = _window(xc, yc, pfo)
    wx = np.minimum(xc + pfo, ii + 0.5) - np.maximum(xc - pfo, ii - 0.5)
    wy = np.minimum(yc + pfo, jj + 0.5) - np.maximum(yc - pfo, jj - 0.5)
    wx = np.where((wx > 0) & inx, wx, 0.0)
    wy = np.where((wy > 0) & iny, wy, 0.0) * (vf * (s * s / (pixfrac * pixfrac)))
    return x0, y0, wy[:, None, :] * wx[None, :, :]


def _gaussian_window(kernel, xc, yc, vf, pixfrac, s, legacy):
    """Gaussian of FWHM ``pixfrac`` input pixels, integrated over output pixels.

    Normalised to sum 1 (ours), or C's point-sampled weights (``legacy``).
    """
    sigma = pixfrac / _GAUSS_FWHM / s  # output pixels
    half = max(2.5 * sigma, 1.2 / s)
    x0, y0, ii, jj, inx, iny = _window(xc, yc, half)
    if legacy:
        efac = _GAUSS_FWHM**2 * s * s / (pixfrac * pixfrac) / 2.0
        wx = np.where(inx, np.exp(-((xc - ii) ** 2) * efac), 0.0)
        wy = np.where(iny, np.exp(-((yc - jj) ** 2) * efac) * (efac / np.pi), 0.0)
    else:
        from scipy.special import ndtr  # lazy: keeps `import ditherlab.drizzle` light

        wx = ndtr((ii + 0.5 - xc) / sigma) - ndtr((ii - 0.5 - xc) / sigma)
        wy = ndtr((jj + 0.5 - yc) / sigma) - ndtr((jj - 0.5 - yc) / sigma)
        wx, wy = _normalise(wx, inx, xc, ii), _normalise(wy, iny, yc, jj)
    wy = wy * vf
    return x0, y0, wy[:, None, :] * wx[None, :, :]


def _lanczos_window(kernel, xc, yc, vf, pixfrac, s, legacy):
    """Separable Lanczos of the input-pixel distance, normalised (ours) or C's table."""
    order = 2 if kernel == "lanczos2" else 3
    if legacy:
        # C drizzle 3.0.0 do_kernel_lanczos: pixfrac ignored, half-width order / s output
        # pixels, weight lut[round(|dx| s / 0.003)] · lut[round(|dy| s / 0.003)]
        lut = _c_lanczos_lut(order)
        half, sdp = order / s, s / _C_LANCZOS_STEP
        x0, wx = _c_lanczos_1d(xc, half, sdp, lut)
        y0, wy = _c_lanczos_1d(yc, half, sdp, lut)
    else:
        x0, y0, ii, jj, inx, iny = _window(xc, yc, order / s)
        wx = _normalise(_lanczos((xc - ii) * s, order), inx, xc, ii)
        wy = _normalise(_lanczos((yc - jj) * s, order), iny, yc, jj)
    wy = wy * vf
    a = wy[:, None, :] * wx[None, :, :]
    if legacy:
        # C rounds each weight to float32 (dow): the corner product of two lanczos3
        # table ends becomes 0 there, with no context bit
        a[np.abs(a) <= _F32_HALF_TINY] = 0.0
    return x0, y0, a


def _tophat_window(kernel, xc, yc, vf, pixfrac, s, legacy):
    """Tophat: the output pixels within radius ``pixfrac / (2 s)``, 1/n each (ours) or 1."""
    pfo = pixfrac / s / 2.0
    x0, y0, ii, jj, inx, iny = _window(xc, yc, pfo)
    r2 = (xc - ii)[None, :, :] ** 2 + (yc - jj)[:, None, :] ** 2
    w = ((r2 <= pfo * pfo) & inx[None, :, :] & iny[:, None, :]).astype(float)
    if not legacy:
        nhit = w.sum(axis=(0, 1))
        none = nhit == 0
        if np.any(none):  # radius below the grid spacing: behave as the point kernel
            sel = np.flatnonzero(none)
            w[fortran_round(yc[sel]) - y0[sel], fortran_round(xc[sel]) - x0[sel], sel] = 1.0
            nhit[none] = 1.0
        w /= nhit
    w *= vf
    return x0, y0, w
