"""Which input pixels a drizzle pass processes: the C drizzle's bounding-polygon rule.

The C drizzle (STScI ``drizzle`` 3.x, ``cdrizzlemap.c``) does not test "pixel centre inside
the output".  It maps the outline of the input section ``[xmin, xmax] x [ymin, ymax]`` to the
output frame, clips it against the output rectangle, maps the clipped polygon back to the
input frame (with a golden-section search on the bilinearly interpolated pixmap, accurate to
0.03 px) and scan-converts it row by row with a small tolerance.  Pixels of a row outside the
resulting ``[x1, x2]`` range are skipped.  This module reproduces that rule with small scalar
computations (a handful of polygon vertices and one step per input row), so the kernels match
the C output also where an image hangs off the output edge.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bilinear_points", "scan_limits", "scan_rows", "shrink_to_valid"]

_VERTEX_ATOL = 1.0e-12
_APPROX_ZERO = 1.0e3 * np.finfo(float).tiny
_MAX_INV_ERR = 0.03
_GOLDEN = 0.6180339887498948482


def bilinear_points(pixmap: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Bilinearly interpolate ``pixmap`` at input positions, extrapolating past the border.

    The cell used is ``trunc(x)`` clipped to ``[0, nx - 2]`` (likewise in y), as in the C
    drizzle, so points outside the array are extrapolated linearly from the border cell.

    Parameters
    ----------
    pixmap : ndarray, shape (ny, nx, 2)
        Output x (``[..., 0]``) and y (``[..., 1]``) of every input pixel centre.
    x, y : ndarray
        Input positions (any matching shapes).

    Returns
    -------
    xo, yo : ndarray
        Output positions; NaN where a pixmap value used is NaN.
    """
    ny, nx = pixmap.shape[:2]
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    i0 = np.clip(np.trunc(x), 0, nx - 2).astype(np.intp)
    j0 = np.clip(np.trunc(y), 0, ny - 2).astype(np.intp)
    fx = x - i0
    fy = y - j0
    gx = 1.0 - fx
    gy = 1.0 - fy
    out = []
    for c in (0, 1):
        p = pixmap[..., c]
        v = (
            p[j0, i0] * gx * gy
            + p[j0, i0 + 1] * fx * gy
            + p[j0 + 1, i0] * gx * fy
            + p[j0 + 1, i0 + 1] * fx * fy
        )
        out.append(v)
    return out[0], out[1]


def _invert(pixmap, xo, yo, box):
    """Golden-section inversion of the pixmap (vectorised over points), as the C drizzle."""
    xmin, xmax, ymin, ymax = (float(b) for b in box)
    xmin -= 0.5
    ymin -= 0.5
    xmax += 0.5
    ymax += 0.5
    n = xo.size
    lo_x = np.full(n, xmin)
    hi_x = np.full(n, xmax)
    lo_y = np.full(n, ymin)
    hi_y = np.full(n, ymax)
    dx = xmax - xmin
    dy = ymax - ymin
    niter = 0
    while (dx > _MAX_INV_ERR or dy > _MAX_INV_ERR) and niter < 50:
        niter += 1
        wx = hi_x - lo_x
        wy = hi_y - lo_y
        x1 = hi_x - _GOLDEN * wx
        x2 = lo_x + _GOLDEN * wx
        y1 = hi_y - _GOLDEN * wy
        y2 = lo_y + _GOLDEN * wy
        ox, oy = bilinear_points(
            pixmap, np.concatenate([x1, x1, x2, x2]), np.concatenate([y1, y2, y1, y2])
        )
        d11, d12, d21, d22 = np.split((ox - np.tile(xo, 4)) ** 2 + (oy - np.tile(yo, 4)) ** 2, 4)
        c11 = (d11 < d12) & (d11 < d21) & (d11 < d22)
        c12 = ~c11 & (d12 < d11) & (d12 < d21) & (d12 < d22)
        c21 = ~c11 & ~c12 & (d21 < d11) & (d21 < d12) & (d21 < d22)
        c22 = ~(c11 | c12 | c21)
        hi_x = np.where(c11 | c12, x2, hi_x)
        lo_x = np.where(c21 | c22, x1, lo_x)
        hi_y = np.where(c11 | c21, y2, hi_y)
        lo_y = np.where(c12 | c22, y1, lo_y)
        if np.any(~np.isfinite(d11)):
            return None
        dx = float(np.max(hi_x - lo_x))
        dy = float(np.max(hi_y - lo_y))
    if niter == 50:
        return None
    return 0.5 * (lo_x + hi_x), 0.5 * (lo_y + hi_y)


def _orient_ccw(v: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(v) < 3:
        return v
    cx = sum(p[0] for p in v) / len(v)
    cy = sum(p[1] for p in v) / len(v)
    ax, ay = v[0][0] - cx, v[0][1] - cy
    bx, by = v[1][0] - cx, v[1][1] - cy
    if ax * by - ay * bx >= 0.0:
        return v
    return v[::-1]


def _append(poly, p):
    for q in (poly[-1:] + poly[:1]) if poly else []:
        if abs(q[0] - p[0]) < _VERTEX_ATOL and abs(q[1] - p[1]) < _VERTEX_ATOL:
            return
    poly.append(p)


def _simplify(v):
    n = len(v)
    if n < 3:
        return v
    out = []
    for k in range(n):
        prev, cur, nxt = v[k - 1], v[k], v[(k + 1) % n]
        dpx, dpy = nxt[0] - prev[0], nxt[1] - prev[1]
        dqx, dqy = cur[0] - prev[0], cur[1] - prev[1]
        if abs(dpx * dqy - dpy * dqx) > _APPROX_ZERO and math.hypot(dpx, dpy) > _VERTEX_ATOL:
            out.append(cur)
    return out


def _clip(p, w):
    """Sutherland-Hodgman clip of polygon ``p`` by the convex window ``w``."""
    p = _orient_ccw(p)
    w = _orient_ccw(w)
    out = list(p)
    for k in range(len(w)):
        a, b = w[k - 1], w[k]
        src, out = out, []
        if not src:
            break
        for j in range(len(src)):
            s, e = src[j - 1], src[j]

            def inside(pt, a=a, b=b):
                return (b[0] - a[0]) * (pt[1] - a[1]) - (b[1] - a[1]) * (pt[0] - a[0]) > 0.0

            s_in, e_in = inside(s), inside(e)
            if s_in != e_in:
                dpx, dpy = e[0] - s[0], e[1] - s[1]
                dwx, dwy = b[0] - a[0], b[1] - a[1]
                d = dpx * dwy - dpy * dwx
                app = e[0] * s[1] - e[1] * s[0]
                aww = b[0] * a[1] - b[1] * a[0]
                _append(out, ((app * dwx - aww * dpx) / d, (app * dwy - aww * dpy) / d))
                if e_in:
                    _append(out, e)
            elif e_in:
                _append(out, e)
    return _simplify(_orient_ccw(out))


def _edge(v1, v2, position):
    """Left/right polygon edge with the C drizzle's slope and shifted intercept (IEEE division)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        dy = np.float64(v2[1] - v1[1])
        m = float(np.float64(v2[0] - v1[0]) / dy)
        b = float(np.float64(v1[0] * v2[1] - v1[1] * v2[0]) / dy)
    c = b - math.copysign(0.5 + 0.5 * abs(m), position)
    return (v1, v2, m, c)


def scan_limits(
    pixmap: np.ndarray,
    out_shape: tuple[int, int],
    box: tuple[int, int, int, int],
    *,
    shortcut: bool = True,
) -> tuple[int, np.ndarray, np.ndarray]:
    """Per-row ranges of input pixels processed by the C drizzle.

    Parameters
    ----------
    pixmap : ndarray, shape (ny, nx, 2)
        The pixel map.
    out_shape : tuple of int
        Output shape ``(ny_out, nx_out)``.
    box : tuple of int
        ``(xmin, xmax, ymin, ymax)``, inclusive input section.
    shortcut : bool
        Return every pixel of every row at once when the section's corners map well inside
        the output (the rule's result then); False always runs the full rule (for tests).

    Returns
    -------
    y0 : int
        First input row of the returned ranges.
    x1, x2 : ndarray of int
        Inclusive x range of each row ``y0 + k``; ``x1 > x2`` marks a skipped row.
    """
    xmin, xmax, ymin, ymax = box
    inp = [
        (xmin - 0.5, ymin - 0.5),
        (xmax + 0.5, ymin - 0.5),
        (xmax + 0.5, ymax + 0.5),
        (xmin - 0.5, ymax + 0.5),
    ]
    vx, vy = bilinear_points(pixmap, np.array([p[0] for p in inp]), np.array([p[1] for p in inp]))
    poly = inp
    ny_o, nx_o = out_shape
    if (
        shortcut
        and min(vx.min(), vy.min()) > 0.5
        and vx.max() < nx_o - 1.5
        and vy.max() < ny_o - 1.5
        and ymax > ymin
        and xmax > xmin
    ):
        # The outline's corners map inside the output (with a pixel to spare, NaN fails):
        # clipping leaves the polygon unchanged, its inversion returns the section's corners
        # to 0.03 px and the scan, widened by 0.5 px and clipped to the section, keeps every
        # pixel of every row -- so skip the inversion and the scan.
        nrow = ymax - ymin + 1
        return ymin, np.full(nrow, xmin, np.intp), np.full(nrow, xmax, np.intp)
    if np.all(np.isfinite(vx)) and np.all(np.isfinite(vy)):
        win = [(-0.5, -0.5), (nx_o - 0.5, -0.5), (nx_o - 0.5, ny_o - 0.5), (-0.5, ny_o - 0.5)]
        pq = _clip(list(zip(vx.tolist(), vy.tolist(), strict=True)), win)
        if len(pq) < 3:
            return 0, np.zeros(0, np.intp), np.zeros(0, np.intp)
        inv = _invert(pixmap, np.array([p[0] for p in pq]), np.array([p[1] for p in pq]), box)
        if inv is not None:
            poly = _orient_ccw(list(zip(inv[0].tolist(), inv[1].tolist(), strict=True)))
    return _scan_polygon(poly, box)


def _scan_polygon(p, box):
    """Scan-convert the polygon ``p`` (input pixel coordinates) row by row, as C does."""
    xmin, xmax, ymin_b, ymax_b = box
    empty = (0, np.zeros(0, np.intp), np.zeros(0, np.intp))
    sides = _polygon_sides(p) if len(p) >= 3 else None
    if sides is None:
        return empty
    left, right, min_y, max_y = sides
    y_first = max(0, int(min_y + 0.5 + 2.0 * _MAX_INV_ERR))
    y_last = min(ymax_b, int(max_y + 2.0 * _MAX_INV_ERR))
    if y_last < y_first:
        return empty
    nrow = y_last - y_first + 1
    x1 = np.ones(nrow, np.intp)
    x2 = np.zeros(nrow, np.intp)
    il = ir = 0
    for k in range(nrow):
        y = y_first + k
        if ymax_b >= ymin_b and (y < 0 or y > ymax_b):
            continue
        pyb, pyt = y - 0.5, y + 0.5
        if pyt <= min_y or pyb >= max_y + 1:
            continue
        # the edges at the bottom and at the top of the row (the scan ends with an edge list)
        il, done = _advance(left, il, pyb, top=False)
        if not done:
            ir, done = _advance(right, ir, pyb, top=False)
        if done:
            break
        xlb = left[il][2] * y + left[il][3] - _MAX_INV_ERR
        xrb = right[ir][2] * y + right[ir][3] + _MAX_INV_ERR
        il, done = _advance(left, il, pyt, top=True)
        if not done:
            ir, done = _advance(right, ir, pyt, top=True)
        if done:
            break
        xlt = left[il][2] * y + left[il][3] - _MAX_INV_ERR
        xrt = right[ir][2] * y + right[ir][3] + _MAX_INV_ERR
        span = _row_span((xlb, xrb, xlt, xrt), xmin, xmax)
        if span is not None:
            x1[k], x2[k] = span
    return y_first, x1, x2


def _polygon_sides(p):
    """The left and right chains of edges of ``p``, from its lowest to its highest vertex.

    Returns ``(left, right, min_y, max_y)`` (edges as :func:`_edge`); None if a chain is
    empty.
    """
    n = len(p)
    ys = [v[1] for v in p]
    min_y = min(ys)
    min_left = ys.index(min_y)
    i1, i2 = (min_left - 1) % n, (min_left + 1) % n
    min_right = i1 if p[i1][1] < p[i2][1] else i2
    if p[min_right][1] <= min_y * (1.0 + math.copysign(_VERTEX_ATOL, min_y)):
        if p[min_left][0] > p[min_right][0]:
            min_left, min_right = min_right, min_left
    else:
        min_right = min_left
    max_y = max(ys)
    max_right = ys.index(max_y)
    i1, i2 = (max_right - 1) % n, (max_right + 1) % n
    max_left = i1 if p[i1][1] > p[i2][1] else i2
    if p[max_left][1] >= max_y * (1.0 - math.copysign(_VERTEX_ATOL, max_y)):
        if p[max_left][0] > p[max_right][0]:
            max_left, max_right = max_right, max_left
    else:
        max_left = max_right
    if max_left > min_left:
        min_left += n
    left = []
    for k in range(min_left - max_left):
        a = (min_left - k) % n
        left.append(_edge(p[a], p[(a - 1) % n], -1))
    if max_right < min_right:
        max_right += n
    right = []
    for k in range(max_right - min_right):
        a = (min_right + k) % n
        right.append(_edge(p[a], p[(a + 1) % n], 1))
    if not left or not right:
        return None
    return left, right, min_y, max_y


def _advance(edges, i, y, top):
    """Move along a chain to the edge that spans height ``y``.

    ``top``: ``y`` is a row's top, compared with C's tolerance.  Returns ``(i, True)`` when
    the chain ends first (the scan is over).
    """
    while (y > edges[i][1][1] + 0.5 + _MAX_INV_ERR) if top else (y > edges[i][1][1]):
        if i == len(edges) - 1:
            return i, True
        i += 1
    return i, False


def _row_span(limits, xmin, xmax):
    """The columns ``(x1, x2)`` of a row from its left/right limits at bottom and top.

    Clipped to the section; None for an empty or undefined row.
    """
    xlb, xrb, xlt, xrt = limits
    # comparisons written as in C so that NaN (degenerate edges) behaves the same
    if xmax >= xmin:
        xlb = xmin if xlb < xmin else xlb
        xlt = xmin if xlt < xmin else xlt
        xrb = xmax if xrb > xmax else xrb
        xrt = xmax if xrt > xmax else xrt
    if xlt >= xrt:
        if xlb >= xrb:
            return None
        a, b = xlb, xrb
    elif xlb >= xrb:
        a, b = xlt, xrt
    else:
        a = xlb if xlb > xlt else xlt
        b = xrb if xrb < xrt else xrt
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    return _cround(a), _cround(b)


def _cround(v: float) -> int:
    """C ``round``: half away from zero."""
    return math.floor(v + 0.5) if v >= 0 else -math.floor(0.5 - v)


def shrink_to_valid(pixmap, box, finite=False):
    """The section ``box`` shrunk to the rows and columns with a finite mapping, or None.

    ``finite``: the caller knows the whole pixmap is finite (no pass over it).  None when
    fewer than two rows or columns have one.
    """
    x0, x1, y0, y1 = box
    block = pixmap[y0 : y1 + 1, x0 : x1 + 1]
    if finite or np.isfinite(block.sum()):
        return box if (x1 > x0 and y1 > y0) else None
    sub = np.isfinite(block[..., 0]) & np.isfinite(block[..., 1])
    cols = np.flatnonzero(sub.any(axis=0))
    rws = np.flatnonzero(sub.any(axis=1))
    if cols.size < 2 or rws.size < 2:
        return None
    return x0 + int(cols[0]), x0 + int(cols[-1]), y0 + int(rws[0]), y0 + int(rws[-1])


def scan_rows(pixmap, out_shape, box, finite=False):
    """The rows a drizzle pass processes and each row's column range, by the C rule.

    Parameters
    ----------
    pixmap : ndarray, shape (ny, nx, 2)
        The pixel map (non-finite mappings marked NaN in both coordinates).
    out_shape : tuple of int
        Output shape ``(ny_out, nx_out)``.
    box : tuple of int
        ``(xmin, xmax, ymin, ymax)``, inclusive input section.
    finite : bool
        The caller knows the whole pixmap is finite.

    Returns
    -------
    (rows, x1, x2, nskip) or None
        Processed input rows, their inclusive column limits and the number of section rows
        skipped; None when too few pixmap values of the section are finite.
    """
    bbox = shrink_to_valid(pixmap, box, finite)
    if bbox is None:
        return None
    y_first, x1, x2 = scan_limits(pixmap, out_shape, bbox)
    rows = y_first + np.arange(x1.size)
    keep = (x2 >= x1) & (rows >= bbox[2]) & (rows <= bbox[3])
    rows, x1, x2 = rows[keep], x1[keep], x2[keep]
    return rows, x1, x2, (box[3] - box[2] + 1) - rows.size
