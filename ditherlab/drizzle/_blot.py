"""Blot: interpolate a (drizzled) image back onto the pixels of an input image."""

from __future__ import annotations

import numpy as np

from ditherlab._validation import as_choice, as_float
from ditherlab.drizzle._checks import pixmap_array
from ditherlab.errors import DitherlabValueError

__all__ = ["BLOT_INTERPOLATIONS", "blot_image"]

BLOT_INTERPOLATIONS = ("nearest", "linear", "poly3", "poly5", "lanczos3", "sinc")
_ROWS_PER_CHUNK_POINTS = 1 << 17
#: Points interpolated at once: their ~20 float32/intp planes stay in the CPU caches
#: (2**17 points took 1.5 s per 2048 × 4096 chip, 2**14 1.0 s).
_CHUNK = 1 << 14
#: Points per thread task.
_TASK = 1 << 16
_SINC_HALF = 8


def blot_image(
    data: np.ndarray,
    pixmap: np.ndarray,
    pix_ratio: float = 1.0,
    exptime: float = 1.0,
    output_pixel_shape: tuple[int, int] | None = None,
    interp: str = "poly5",
    sinscl: float = 1.0,
    *,
    fillval: float = 0.0,
    iscale: float = 1.0,
) -> np.ndarray:
    """Resample ``data`` onto the grid described by ``pixmap`` by interpolation.

    The signature mirrors ``drizzle.resample.blot_image`` (drizzle 2.x keywords), so that
    AstroDrizzle-style code carries over: the result is
    ``interp(data)(pixmap) * exptime / pix_ratio**2 * iscale``.  Blotting is interpolation,
    not a flux-conserving resampling.

    Parameters
    ----------
    data : array_like, shape (ny_in, nx_in)
        Image to sample (typically the drizzled median, in cps).
    pixmap : array_like, shape (ny_out, nx_out, 2)
        For every output pixel, its ``(x, y)`` position in ``data`` (0-based, integer =
        pixel centre).  NaN or positions outside ``[0, nx_in) x [0, ny_in)`` give
        ``fillval``.
    pix_ratio : float
        Ratio of the ``data`` pixel scale to the output pixel scale; values are divided by
        ``pix_ratio**2``.
    exptime : float
        Exposure time the values are multiplied by (cps -> counts).
    output_pixel_shape : tuple of int, optional
        ``(nx_out, ny_out)`` (FITS order, as in drizzle); must agree with ``pixmap``.
    interp : {"nearest", "linear", "poly3", "poly5", "lanczos3", "sinc"}
        Interpolation.  ``nearest``, ``linear``, ``poly3`` and ``poly5`` follow the C
        drizzle's formulas (Everett central differences, point-reflected edges);
        ``lanczos3`` uses the exact Lanczos function (C: a look-up table); ``sinc`` is a
        tapered sinc of half-width 8 pixels scaled by ``sinscl``, normalised to unit sum.
    sinscl : float
        Width scale of the sinc kernel (``interp="sinc"`` only).
    fillval : float
        Value of output pixels that map outside ``data``.
    iscale : float
        Extra factor applied to the output.

    Returns
    -------
    ndarray of float32, shape (ny_out, nx_out)
        The blotted image.

    Raises
    ------
    DitherlabValueError
        Bad shapes, unknown interpolation, non-positive ``pix_ratio``/``exptime``/``sinscl``.

    References
    ----------
    Fruchter, A. S. & Hook, R. N. 2002, PASP 114, 144.

    Examples
    --------
    >>> y, x = np.indices((4, 5), dtype=float)
    >>> img = 2.0 * x + y
    >>> out = blot_image(img, np.dstack([x + 0.5, y]), interp="linear")
    >>> out[0, :3].tolist()
    [1.0, 3.0, 5.0]
    """
    interp = as_choice("interp", interp, BLOT_INTERPOLATIONS)
    pix_ratio = as_float("pix_ratio", pix_ratio, minimum=0.0, min_inclusive=False)
    exptime = as_float("exptime", exptime, minimum=0.0, min_inclusive=False)
    sinscl = as_float("sinscl", sinscl, minimum=0.0, min_inclusive=False)
    iscale = as_float("iscale", iscale)
    fillval = float(fillval)
    data = np.asarray(data)
    if data.ndim != 2 or data.dtype.kind not in "biuf":
        raise DitherlabValueError(f"data must be a 2-D numeric array, got shape {data.shape}")
    if data.shape[0] < 1 or data.shape[1] < 1:
        raise DitherlabValueError(f"data shape {data.shape} is empty")
    pixmap = pixmap_array(pixmap)  # (positions are taken in float32: no float64 copy)
    if pixmap.ndim != 3 or pixmap.shape[2] != 2:
        raise DitherlabValueError(f"pixmap must have shape (ny, nx, 2), got {pixmap.shape}")
    out_shape = pixmap.shape[:2]
    if output_pixel_shape is not None and tuple(output_pixel_shape)[::-1] != out_shape:
        raise DitherlabValueError(
            f"output_pixel_shape={tuple(output_pixel_shape)!r} (nx, ny) disagrees with the "
            f"pixmap shape {pixmap.shape}"
        )
    data32 = data.astype(np.float32, copy=False)
    factor = np.float32(exptime / (pix_ratio * pix_ratio) * iscale)
    if interp == "poly5" and min(data32.shape) >= 4:
        return blot_poly5(data32, pixmap, factor, fillval=fillval)
    out = np.empty(out_shape, np.float32)
    padded = None
    if interp in ("poly3", "poly5"):
        padded = np.pad(data32.astype(np.float64), 3, mode="reflect", reflect_type="odd")
        if min(data32.shape) < 4:  # too small to reflect 3 pixels: fall back to edge values
            padded = np.pad(data32.astype(np.float64), 3, mode="edge")
    ny_o, nx_o = out_shape
    rows = max(1, _ROWS_PER_CHUNK_POINTS // max(nx_o, 1))
    for r0 in range(0, ny_o, rows):
        sl = slice(r0, min(r0 + rows, ny_o))
        x = pixmap[sl, :, 0].astype(np.float32).ravel()
        y = pixmap[sl, :, 1].astype(np.float32).ravel()
        vals = _interpolate(interp, data32, padded, x, y, sinscl)
        vals *= factor
        ok = (x >= 0) & (x < data32.shape[1]) & (y >= 0) & (y < data32.shape[0])
        out[sl] = np.where(ok, vals, np.float32(fillval)).reshape(out[sl].shape)
    return out


def _interpolate(interp, data, padded, x, y, sinscl):
    ny, nx = data.shape
    inside = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
    xs = np.where(inside, x, 0).astype(np.float32)
    ys = np.where(inside, y, 0).astype(np.float32)
    if interp == "nearest":
        i = np.minimum((xs + np.float32(0.5)).astype(np.intp), nx - 1)
        j = np.minimum((ys + np.float32(0.5)).astype(np.intp), ny - 1)
        return data[j, i].astype(np.float32)
    i = xs.astype(np.intp)
    j = ys.astype(np.intp)
    sx = (xs - i.astype(np.float32)).astype(np.float64)
    sy = (ys - j.astype(np.float32)).astype(np.float64)
    if interp == "linear":
        i1 = np.minimum(i + 1, nx - 1)
        j1 = np.minimum(j + 1, ny - 1)
        sx = np.where(i == nx - 1, 0.0, sx)
        sy = np.where(j == ny - 1, 0.0, sy)
        d = data.astype(np.float64, copy=False)
        v = (1 - sx) * (1 - sy) * d[j, i] + sx * (1 - sy) * d[j, i1]
        v += (1 - sx) * sy * d[j1, i] + sx * sy * d[j1, i1]
        return v.astype(np.float32)
    if interp in ("poly3", "poly5"):
        order = 3 if interp == "poly3" else 5
        lo = 1 if order == 3 else 2
        n = order + 1
        tx, ty = 1.0 - sx, 1.0 - sy
        z = []
        for r in range(n):
            c = [padded[j + (r - lo + 3), i + (k - lo + 3)] for k in range(n)]
            z.append(_everett(c, lo, sx, tx, order))
        return _everett(z, lo, sy, ty, order).astype(np.float32)
    if interp == "lanczos3":
        return _separable(data, xs, ys, 3, lambda u: _lanczos(u, 3), normalise=False)
    return _separable(data, xs, ys, _SINC_HALF, lambda u: _sinc_taper(u, sinscl), normalise=True)


def _everett(c, lo, s, t, order):
    """Everett central-difference interpolation between c[lo] and c[lo+1]."""
    c0, c1 = c[lo], c[lo + 1]
    cm1, c2 = c[lo - 1], c[lo + 2]
    cd20 = (c1 - 2.0 * c0 + cm1) / 6.0
    cd21 = (c2 - 2.0 * c1 + c0) / 6.0
    if order == 3:
        return s * (c1 + (s * s - 1.0) * cd21) + t * (c0 + (t * t - 1.0) * cd20)
    cm2, c3 = c[lo - 2], c[lo + 3]
    cd40 = (cm2 - 4.0 * cm1 + 6.0 * c0 - 4.0 * c1 + c2) / 120.0
    cd41 = (cm1 - 4.0 * c0 + 6.0 * c1 - 4.0 * c2 + c3) / 120.0
    s2, t2 = s * s, t * t
    return s * (c1 + (s2 - 1.0) * (cd21 + (s2 - 4.0) * cd41)) + t * (
        c0 + (t2 - 1.0) * (cd20 + (t2 - 4.0) * cd40)
    )


def _lanczos(u, order):
    out = np.sinc(u) * np.sinc(u / order)
    out[np.abs(u) >= order] = 0.0
    return out


def _sinc_taper(u, sinscl):
    v = u / sinscl
    out = np.sinc(v) * (1.0 - (u / (_SINC_HALF + 1.0)) ** 2) ** 2
    out[np.abs(u) > _SINC_HALF] = 0.0
    return out


def _separable(data, xs, ys, half, kern, normalise):
    ny, nx = data.shape
    xd = xs.astype(np.float64)
    yd = ys.astype(np.float64)
    i0 = np.floor(xd - half).astype(np.intp) + 1
    j0 = np.floor(yd - half).astype(np.intp) + 1
    offs = np.arange(2 * half)
    ii = i0[:, None] + offs
    jj = j0[:, None] + offs
    wx = kern(xd[:, None] - ii)
    wy = kern(yd[:, None] - jj)
    if normalise:
        # out-of-image taps are clamped to the edge pixel
        wx /= wx.sum(axis=1, keepdims=True)
        wy /= wy.sum(axis=1, keepdims=True)
        ii = np.clip(ii, 0, nx - 1)
        jj = np.clip(jj, 0, ny - 1)
    else:
        wx[(ii < 0) | (ii >= nx)] = 0.0
        wy[(jj < 0) | (jj >= ny)] = 0.0
        ii = np.clip(ii, 0, nx - 1)
        jj = np.clip(jj, 0, ny - 1)
    d = data.astype(np.float64, copy=False)
    acc = np.zeros(xs.size)
    for b in range(2 * half):
        acc += wy[:, b] * np.einsum("nk,nk->n", d[jj[:, b][:, None], ii], wx)
    return acc.astype(np.float32)


def poly5_weights(s: np.ndarray) -> list[np.ndarray]:
    """Weights of the 6 samples ``c[-2..3]`` in the quintic Everett interpolation at ``s``.

    Everett's central-difference formula (the C drizzle's ``poly5``), with ``t = 1 − s``::

        f = s·(c1 + (s²−1)·(δ²c1/6 + (s²−4)·δ⁴c1/120))
          + t·(c0 + (t²−1)·(δ²c0/6 + (t²−4)·δ⁴c0/120))

    is linear in the samples; these are its coefficients (they sum to 1), in the dtype of
    ``s``.

    Examples
    --------
    >>> w = poly5_weights(np.array([0.0, 0.5]))
    >>> [abs(float(x[0])) for x in w], round(float(sum(x[1] for x in w)), 12)
    ([0.0, 0.0, 1.0, 0.0, 0.0, 0.0], 1.0)
    """
    s = np.asarray(s)
    one = s.dtype.type(1.0) if s.dtype.kind == "f" else 1.0
    t = one - s
    s2, t2 = s * s, t * t
    a = s * (s2 - 1) / 6
    b = a * (s2 - 4) / 20
    c = t * (t2 - 1) / 6
    d = c * (t2 - 4) / 20
    return [d, b + c - 4 * d, a - 4 * b + t - 2 * c + 6 * d,
            s - 2 * a + 6 * b + c - 4 * d, a - 4 * b + d, b]  # fmt: skip


def blot_poly5(
    data: np.ndarray,
    pixmap: np.ndarray,
    factor: np.float32,
    n_threads: int | None = None,
    fillval: float = 0.0,
) -> np.ndarray:
    """The ``poly5`` interpolation of :func:`blot_image`: separable weights, flat gathers.

    Same conventions as the core's poly5 (positions in float32, the image point-reflected
    about its edge pixels, 0 outside), in float32 arithmetic: the separable form needs 36
    gathers and 12 weights per point instead of Everett's nested differences, ~3-4× faster;
    it agrees with Everett's nested differences in float64 to ~1e-6 of the image's scale
    (and with the C blot to its float32 rounding).  ``factor`` multiplies the result;
    points outside the image get ``fillval``.  Images under 4 pixels on a side are not
    handled here (see :func:`blot_image`).
    The points are taken in cache-sized chunks (``np.take`` from 36 shifted views of the
    padded image, so no index arithmetic per gather) on up to ``n_threads`` threads (numpy
    releases the GIL in these loops); every point is computed alone, so the result does
    not depend on the chunking or the threads.
    """
    from ditherlab.drizzle._parallel import default_threads, run_tasks

    d = np.asarray(data, np.float32)
    ny, nx = d.shape
    pad = np.pad(d, 3, mode="reflect", reflect_type="odd").ravel()
    w = nx + 6
    views = [pad[(r + 1) * w + (k + 1) :] for r in range(6) for k in range(6)]
    shape = pixmap.shape[:2]
    out = np.empty(shape[0] * shape[1], np.float32)
    px = pixmap[..., 0].reshape(-1)
    py = pixmap[..., 1].reshape(-1)

    def task(lo: int) -> None:
        for a in range(lo, min(lo + _TASK, out.size), _CHUNK):
            b = min(a + _CHUNK, out.size)
            out[a:b] = _poly5_points(views, w, nx, ny, px[a:b], py[a:b], factor, fillval)

    nthreads = default_threads() if n_threads is None else n_threads
    run_tasks(task, list(range(0, out.size, _TASK)), nthreads)
    return out.reshape(shape)


def _poly5_points(views, w, nx, ny, px, py, factor, fillval) -> np.ndarray:
    """The separable poly5 at the points ``(px, py)`` (see :func:`blot_poly5`)."""
    x = np.asarray(px, np.float32)
    y = np.asarray(py, np.float32)
    inside = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
    x = np.where(inside, x, np.float32(0))
    y = np.where(inside, y, np.float32(0))
    i = x.astype(np.intp)
    j = y.astype(np.intp)
    wx = poly5_weights(x - i.astype(np.float32))
    wy = poly5_weights(y - j.astype(np.float32))
    base = j * w + i
    acc = np.zeros(x.size, np.float32)
    row = np.empty(x.size, np.float32)
    tmp = np.empty(x.size, np.float32)
    for r in range(6):
        np.take(views[6 * r], base, out=row)
        row *= wx[0]
        for k in range(1, 6):
            np.take(views[6 * r + k], base, out=tmp)
            tmp *= wx[k]
            row += tmp
        row *= wy[r]
        acc += row
    acc *= factor
    acc[~inside] = fillval
    return acc
