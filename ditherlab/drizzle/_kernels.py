"""Pure array kernels of the drizzle: who gives how much weight to which output pixel.

Every kernel takes a batch of input pixels (their 0-based ``(i, j)`` indices) and returns
contribution triples ``(k, dst, a)``: ``k`` indexes the batch, ``dst`` is the flat index of
an output pixel and ``a`` the kernel weight (for the square kernel the overlap area of the
drop with that output pixel divided by the drop's own area).  Nothing here knows about
data values, weight maps or accumulation; see :mod:`ditherlab.drizzle._resample`.

The square kernel's exact overlap areas use a cumulative (corner-function) formulation:
for a drop whose bounding window spans ``kx x ky`` output pixels, the area of the drop
below and to the left of each interior grid corner is found from Green's theorem,
``A(X, Y) = |∮ min(y, Y) d min(x, X)|``, which has a closed form per polygon edge; the
pixel areas are the second differences of that table.  A 2x2 window therefore needs one
quadrant clip and two half-plane clips instead of four polygon clips.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ditherlab.drizzle._scan import bilinear_points

__all__ = [
    "KERNELS",
    "fortran_round",
    "kernel_contributions",
    "quad_pixel_overlaps",
]

KERNELS = ("square", "point", "turbo", "gaussian", "lanczos2", "lanczos3", "tophat")

_GAUSS_FWHM = 2.3548
_AREA_RTOL = 1e-14


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
    return np.where(x >= 0, np.floor(x + 0.5), -np.floor(0.5 - x)).astype(np.intp)


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def quad_pixel_overlaps(
    xq: np.ndarray, yq: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact overlap areas of quadrilaterals with the unit output pixels they touch.

    Output pixel ``(ii, jj)`` is the square ``[ii - 0.5, ii + 0.5] x [jj - 0.5, jj + 0.5]``.
    Areas are computed in float64 relative to each drop's window, so they are exact to a few
    ulp of the drop's area wherever the drop lies.

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
    if n == 0:
        e = np.zeros(0, np.intp)
        return e, e, e, np.zeros(0)
    c0 = fortran_round(xq.min(axis=1))
    r0 = fortran_round(yq.min(axis=1))
    kx = fortran_round(xq.max(axis=1)) - c0 + 1
    ky = fortran_round(yq.max(axis=1)) - r0 + 1
    key = kx * 4096 + ky
    ks, iis, jjs, areas = [], [], [], []
    for kk in np.unique(key):
        sel = np.flatnonzero(key == kk)
        gx, gy = int(kk // 4096), int(kk % 4096)
        # local coordinates: the window's lower-left corner is at (0, 0)
        xl = xq[sel] - (c0[sel] - 0.5)[:, None]
        yl = yq[sel] - (r0[sel] - 0.5)[:, None]
        a = _window_areas(xl, yl, gx, gy)  # (m, gx, gy)
        m = sel.size
        col = c0[sel][:, None, None] + np.arange(gx)[None, :, None]
        row = r0[sel][:, None, None] + np.arange(gy)[None, None, :]
        good = a > 0
        ks.append(np.broadcast_to(sel[:, None, None], (m, gx, gy))[good])
        iis.append(np.broadcast_to(col, (m, gx, gy))[good])
        jjs.append(np.broadcast_to(row, (m, gx, gy))[good])
        areas.append(a[good])
    return (
        np.concatenate(ks),
        np.concatenate(iis),
        np.concatenate(jjs),
        np.concatenate(areas),
    )


def _window_areas(x: np.ndarray, y: np.ndarray, gx: int, gy: int) -> np.ndarray:
    """Overlap areas of quads (local coords, window [0, gx] x [0, gy]) with its unit cells."""
    m = x.shape[0]
    xa, ya = x, y
    xb = np.roll(x, -1, axis=1)
    yb = np.roll(y, -1, axis=1)
    total = 0.5 * np.abs((x[:, 1] - x[:, 3]) * (y[:, 0] - y[:, 2]) - (x[:, 0] - x[:, 2]) * (y[:, 1] - y[:, 3]))
    if gx == 1 and gy == 1:
        return total[:, None, None]
    xmax = x.max(axis=1)
    ymax = y.max(axis=1)
    cum = np.zeros((m, gx + 1, gy + 1))
    cum[:, gx, gy] = total
    dx = xb - xa
    dy = yb - ya
    with np.errstate(divide="ignore", invalid="ignore"):
        sx = np.where(dx != 0, dy / np.where(dx != 0, dx, 1.0), 0.0)  # dy/dx
        sy = np.where(dy != 0, dx / np.where(dy != 0, dy, 1.0), 0.0)  # dx/dy
    if gx > 1:
        X = np.arange(1, gx, dtype=float)  # interior vertical grid lines
        pa = _relu(xa[:, :, None] - X)  # (m, 4, gx-1)
        pb = _relu(xb[:, :, None] - X)
        du = (xb[:, :, None] - pb) - (xa[:, :, None] - pa)
        Va = ya[:, :, None] - sx[:, :, None] * pa
        Vb = yb[:, :, None] - sx[:, :, None] * pb
        lx = 0.5 * np.abs(np.sum(du * (Va + Vb), axis=1))  # (m, gx-1)
        lx = np.where(X[None, :] >= xmax[:, None], total[:, None], lx)
        cum[:, 1:gx, gy] = lx
    if gy > 1:
        Y = np.arange(1, gy, dtype=float)
        qa = _relu(ya[:, :, None] - Y)
        qb = _relu(yb[:, :, None] - Y)
        dw = (yb[:, :, None] - qb) - (ya[:, :, None] - qa)
        Ua = xa[:, :, None] - sy[:, :, None] * qa
        Ub = xb[:, :, None] - sy[:, :, None] * qb
        by = 0.5 * np.abs(np.sum(dw * (Ua + Ub), axis=1))
        by = np.where(Y[None, :] >= ymax[:, None], total[:, None], by)
        cum[:, gx, 1:gy] = by
    if gx > 1 and gy > 1:
        dv = Vb - Va  # (m, 4, gx-1)
        flat = dv == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            c = du / np.where(flat, 1.0, dv)
        Yb = Y[None, None, None, :]
        ra = _relu(Yb - Va[..., None])  # (m, 4, gx-1, gy-1)
        rb = _relu(Yb - Vb[..., None])
        term = np.where(flat[..., None], (2.0 * du)[..., None] * ra, c[..., None] * ((ra - rb) * (ra + rb)))
        q = 0.5 * np.abs(term.sum(axis=1))  # (m, gx-1, gy-1)
        xfull = X[None, :, None] >= xmax[:, None, None]
        yfull = Y[None, None, :] >= ymax[:, None, None]
        q = np.where(xfull, cum[:, gx, None, 1:gy], q)
        q = np.where(yfull, cum[:, 1:gx, gy, None], q)
        q = np.where(xfull & yfull, total[:, None, None], q)
        cum[:, 1:gx, 1:gy] = q
    area = cum[:, 1:, 1:] - cum[:, :-1, 1:] - cum[:, 1:, :-1] + cum[:, :-1, :-1]
    area[area <= _AREA_RTOL * total[:, None, None]] = 0.0
    return area


def _square(pixmap, i, j, pixfrac):
    dh = 0.5 * pixfrac
    fi = i.astype(float)
    fj = j.astype(float)
    # C drizzle corner order: (i-dh, j+dh), (i+dh, j+dh), (i+dh, j-dh), (i-dh, j-dh)
    xin = np.stack([fi - dh, fi + dh, fi + dh, fi - dh], axis=1)
    yin = np.stack([fj + dh, fj + dh, fj - dh, fj - dh], axis=1)
    xo, yo = bilinear_points(pixmap, xin, yin)
    ok = np.all(np.isfinite(xo), axis=1) & np.all(np.isfinite(yo), axis=1)
    jaco = 0.5 * np.abs((xo[:, 1] - xo[:, 3]) * (yo[:, 0] - yo[:, 2]) - (xo[:, 0] - xo[:, 2]) * (yo[:, 1] - yo[:, 3]))
    ok &= jaco > 0
    idx = np.flatnonzero(ok)
    k, ii, jj, a = quad_pixel_overlaps(xo[idx], yo[idx])
    k = idx[k]
    return k, ii, jj, a / jaco[k]


def _window(xc, yc, half):
    """Windows ``fround(c - half) .. fround(c + half)`` padded to a common size."""
    x0 = fortran_round(xc - half)
    x1 = fortran_round(xc + half)
    y0 = fortran_round(yc - half)
    y1 = fortran_round(yc + half)
    nx = int((x1 - x0).max(initial=0)) + 1
    ny = int((y1 - y0).max(initial=0)) + 1
    ii = x0[:, None] + np.arange(nx)[None, :]
    jj = y0[:, None] + np.arange(ny)[None, :]
    inx = ii <= x1[:, None]
    iny = jj <= y1[:, None]
    return ii, jj, inx, iny


def _expand(wx, wy, ii, jj, inx, iny):
    """Outer products of separable 1-D weights -> flat triples (k, ii, jj, w), w != 0."""
    w = wy[:, :, None] * wx[:, None, :]
    m = inx[:, None, :] & iny[:, :, None] & (w != 0)
    n, ny, nx = w.shape
    k = np.broadcast_to(np.arange(n)[:, None, None], w.shape)[m]
    iib = np.broadcast_to(ii[:, None, :], w.shape)[m]
    jjb = np.broadcast_to(jj[:, :, None], w.shape)[m]
    return k, iib, jjb, w[m]


def _lanczos(u: np.ndarray, order: int) -> np.ndarray:
    out = np.sinc(u) * np.sinc(u / order)
    out[np.abs(u) >= order] = 0.0
    return out


def kernel_contributions(
    kernel: str,
    pixmap: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    *,
    pixfrac: float,
    pscale_ratio: float,
    legacy: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kernel weights of a batch of input pixels on the (unbounded) output grid.

    Parameters
    ----------
    kernel : str
        One of :data:`KERNELS`.
    pixmap : ndarray, shape (ny, nx, 2)
        Pixel map (output x, y of each input pixel centre).
    i, j : ndarray of int
        Input pixel columns and rows of the batch.
    pixfrac : float
        Linear drop size in input pixels.
    pscale_ratio : float
        Output pixel size in input pixels (sizes the turbo, gaussian, lanczos and tophat
        kernels).
    legacy : bool
        Reproduce the C drizzle's (not flux-conserving) gaussian, lanczos and tophat
        weights instead of the normalised ones.

    Returns
    -------
    k : ndarray of intp
        Batch index of each contribution.
    ii, jj : ndarray of intp
        Output pixel (may lie outside the output; the caller clips).
    a : ndarray of float64
        Kernel weight.  For every kernel except ``legacy`` ones the weights of one input
        pixel sum to 1 over the whole output plane.
    """
    if kernel == "square":
        return _square(pixmap, i, j, pixfrac)
    xc = pixmap[j, i, 0]
    yc = pixmap[j, i, 1]
    ok = np.flatnonzero(np.isfinite(xc) & np.isfinite(yc))
    xc, yc = xc[ok], yc[ok]
    s = pscale_ratio
    if kernel == "point":
        return ok, fortran_round(xc), fortran_round(yc), np.ones(ok.size)
    if kernel == "turbo":
        pfo = pixfrac / s / 2.0
        ii, jj, inx, iny = _window(xc, yc, pfo)
        wx = np.minimum(xc[:, None] + pfo, ii + 0.5) - np.maximum(xc[:, None] - pfo, ii - 0.5)
        wy = np.minimum(yc[:, None] + pfo, jj + 0.5) - np.maximum(yc[:, None] - pfo, jj - 0.5)
        wx = np.where(wx > 0, wx, 0.0)
        wy = np.where(wy > 0, wy, 0.0)
        k, a, b, w = _expand(wx, wy, ii, jj, inx, iny)
        return ok[k], a, b, w * (s * s / (pixfrac * pixfrac))
    if kernel == "gaussian":
        sigma = pixfrac / _GAUSS_FWHM / s  # output pixels
        half = max(2.5 * sigma, 1.2 / s)
        ii, jj, inx, iny = _window(xc, yc, half)
        if legacy:
            efac = _GAUSS_FWHM**2 * s * s / (pixfrac * pixfrac) / 2.0
            es = efac / np.pi
            wx = np.exp(-((xc[:, None] - ii) ** 2) * efac)
            wy = np.exp(-((yc[:, None] - jj) ** 2) * efac) * es
        else:
            wx = ndtr((ii + 0.5 - xc[:, None]) / sigma) - ndtr((ii - 0.5 - xc[:, None]) / sigma)
            wy = ndtr((jj + 0.5 - yc[:, None]) / sigma) - ndtr((jj - 0.5 - yc[:, None]) / sigma)
            wx, wy = _normalise(wx, inx, xc, ii), _normalise(wy, iny, yc, jj)
        return _finish(ok, *_expand(wx, wy, ii, jj, inx, iny))
    if kernel in ("lanczos2", "lanczos3"):
        order = 2 if kernel == "lanczos2" else 3
        if legacy:
            # approximates C drizzle 3.x (look-up table, step 0.01, pixfrac ignored): ~2 % in weight
            pfo = order / s
            sdp = s / 0.01
            ii, jj, inx, iny = _window(xc, yc, pfo)
            lut = _lanczos(np.arange(512) * 0.01, order).astype(np.float32)
            lut[0] = 1.0
            ix = np.minimum(fortran_round(np.abs(xc[:, None] - ii) * sdp), 511)
            iy = np.minimum(fortran_round(np.abs(yc[:, None] - jj) * sdp), 511)
            wx = lut[ix].astype(float)
            wy = lut[iy].astype(float)
        else:
            half = order / s
            ii, jj, inx, iny = _window(xc, yc, half)
            wx = _lanczos((xc[:, None] - ii) * s, order)
            wy = _lanczos((yc[:, None] - jj) * s, order)
            wx, wy = _normalise(wx, inx, xc, ii), _normalise(wy, iny, yc, jj)
        return _finish(ok, *_expand(wx, wy, ii, jj, inx, iny))
    if kernel == "tophat":
        pfo = pixfrac / s / 2.0
        ii, jj, inx, iny = _window(xc, yc, pfo)
        r2 = (xc[:, None, None] - ii[:, None, :]) ** 2 + (yc[:, None, None] - jj[:, :, None]) ** 2
        hit = (r2 <= pfo * pfo) & inx[:, None, :] & iny[:, :, None]
        w = hit.astype(float)
        if not legacy:
            nhit = w.sum(axis=(1, 2))
            none = nhit == 0
            if np.any(none):  # radius smaller than the grid spacing: behave as the point kernel
                pi_ = fortran_round(xc[none])
                pj_ = fortran_round(yc[none])
                sel = np.flatnonzero(none)
                w[sel, pj_ - jj[sel, 0], pi_ - ii[sel, 0]] = 1.0
                nhit[none] = 1.0
            w /= nhit[:, None, None]
        m = w != 0
        k = np.broadcast_to(np.arange(w.shape[0])[:, None, None], w.shape)[m]
        iib = np.broadcast_to(ii[:, None, :], w.shape)[m]
        jjb = np.broadcast_to(jj[:, :, None], w.shape)[m]
        return ok[k], iib, jjb, w[m]
    raise ValueError(f"kernel={kernel!r}")  # pragma: no cover - validated by callers


def _normalise(w, inside, c, idx):
    """Scale 1-D kernel weights so that each row sums to 1 (fall back to the nearest pixel)."""
    w = np.where(inside, w, 0.0)
    tot = w.sum(axis=1)
    bad = ~(tot > 0)
    if np.any(bad):
        near = fortran_round(c[bad])
        w[bad] = (idx[bad] == near[:, None]).astype(float)
        tot[bad] = 1.0
    return w / tot[:, None]


def _finish(ok, k, ii, jj, w):
    return ok[k], ii, jj, w
