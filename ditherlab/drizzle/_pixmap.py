"""Pixel maps: where each input pixel centre lands on the output grid.

A pixmap is a float64 array of shape ``(ny, nx, 2)``; ``[..., 0]`` is the output x and
``[..., 1]`` the output y of input pixel ``[j, i]`` (0-based, integer = pixel centre), the
convention of STScI's ``drizzle``.

Evaluating a distortion model (a WCS, a SIAF polynomial) at every pixel dominates the run
time of mosaics, so both builders here can evaluate the transform on a sparse grid and
interpolate it with a bicubic spline.  The grid is refined until the spline's error,
measured against the exact transform at the centre of every grid cell (where interpolation
errors peak), is below ``tolerance`` pixels; that measured error is returned when asked for.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ditherlab._validation import as_choice, as_float, as_int
from ditherlab.errors import DitherlabTypeError, DitherlabValueError

__all__ = ["pixmap_from_functions", "pixmap_from_wcs"]

_MIN_STEP = 4
_START_STEP = 64
_ROWS_PER_CALL = 256


def _bbox_intervals(wcs: Any) -> tuple | None:
    """A WCS's ``bounding_box`` as ``((x_lo, x_hi), (y_lo, y_hi), ...)``, or None."""
    bbox = getattr(wcs, "bounding_box", None)
    if bbox is None:
        return None
    try:
        bbox = bbox.bounding_box(order="F")  # astropy.modeling's ModelBoundingBox
    except AttributeError:
        bbox = tuple(bbox)
    if np.ndim(bbox) != 2:
        return None
    return tuple((float(lo), float(hi)) for lo, hi in bbox)


def _shape_of(shape: Any, wcs_in: Any = None) -> tuple[int, int]:
    """``(ny, nx)``: ``shape``, else ``wcs_in.array_shape``, else its bounding box.

    From a bounding box ``((x_lo, x_hi), (y_lo, y_hi))`` the shape reaches the pixel that
    holds ``x_hi`` and ``y_hi``: ``(ceil(y_hi + 0.5), ceil(x_hi + 0.5))``, as the C
    drizzle's ``calc_pixmap``.
    """
    if shape is None:
        arr = getattr(wcs_in, "array_shape", None) if wcs_in is not None else None
        bbox = _bbox_intervals(wcs_in) if arr is None and wcs_in is not None else None
        if bbox is not None:
            arr = tuple(math.ceil(hi + 0.5) for _, hi in bbox[::-1])
        if arr is None:
            raise DitherlabValueError(
                "shape=None but the input WCS has neither array_shape nor bounding_box; "
                "pass shape=(ny, nx)"
            )
        shape = arr
    try:
        ny, nx = (as_int("shape", v, minimum=1) for v in shape)
    except (TypeError, ValueError):
        raise DitherlabValueError(f"shape={shape!r} must be (ny, nx) positive integers") from None
    return ny, nx


def _apply(func, x, y):
    ox, oy = func(x, y)
    return np.asarray(ox, dtype=float), np.asarray(oy, dtype=float)


def _exact(func, shape):
    ny, nx = shape
    out = np.empty((ny, nx, 2))
    xs = np.arange(nx, dtype=float)
    for r0 in range(0, ny, _ROWS_PER_CALL):
        r1 = min(r0 + _ROWS_PER_CALL, ny)
        y, x = np.meshgrid(np.arange(r0, r1, dtype=float), xs, indexing="ij")
        ox, oy = _apply(func, x.ravel(), y.ravel())
        out[r0:r1, :, 0] = ox.reshape(r1 - r0, nx)
        out[r0:r1, :, 1] = oy.reshape(r1 - r0, nx)
    return out


def _nodes(n: int, step: int) -> np.ndarray:
    nodes = np.arange(0, n, step, dtype=float)
    if nodes[-1] != n - 1:
        nodes = np.append(nodes, n - 1.0)
    return nodes


def _sparse(func, shape, tolerance):
    """Spline interpolation of ``func`` on a grid refined until its error < tolerance."""
    from scipy.interpolate import RectBivariateSpline  # lazy: heavy import

    ny, nx = shape
    step = _START_STEP
    while True:
        gx, gy = _nodes(nx, step), _nodes(ny, step)
        if gx.size < 4 or gy.size < 4:
            return None
        yy, xx = np.meshgrid(gy, gx, indexing="ij")
        ox, oy = _apply(func, xx.ravel(), yy.ravel())
        ox = ox.reshape(yy.shape)
        oy = oy.reshape(yy.shape)
        if not (np.all(np.isfinite(ox)) and np.all(np.isfinite(oy))):
            return None  # undefined somewhere: evaluate exactly
        sx = RectBivariateSpline(gy, gx, ox, kx=3, ky=3)
        sy = RectBivariateSpline(gy, gx, oy, kx=3, ky=3)
        cx = 0.5 * (gx[:-1] + gx[1:])
        cy = 0.5 * (gy[:-1] + gy[1:])
        myy, mxx = np.meshgrid(cy, cx, indexing="ij")
        ex, ey = _apply(func, mxx.ravel(), myy.ravel())
        err = np.hypot(sx(cy, cx, grid=True).ravel() - ex, sy(cy, cx, grid=True).ravel() - ey)
        err_max = float(np.max(err)) if err.size else 0.0
        if err_max <= tolerance:
            break
        if step // 2 < _MIN_STEP:
            return None
        step //= 2
    out = np.empty((ny, nx, 2))
    for k, spline in enumerate((sx, sy)):
        _spline_grid(spline, out[..., k])
    return out, err_max


def _spline_grid(spline, out: np.ndarray) -> None:
    """A bicubic ``RectBivariateSpline`` (first coordinate y) at every pixel, into ``out``.

    The tensor-product spline on a grid is ``B_y · (C · B_xᵀ)`` with the B-spline design
    matrices of the pixel rows and columns (4 non-zero entries per row): one sparse
    product per block of rows, ~4x faster than FITPACK's ``bispev``, single-threaded (the
    same values to ~1e-12 px).
    """
    from scipy.interpolate import BSpline

    ny, nx = out.shape
    ty, tx, c = spline.tck
    coef = c.reshape(len(ty) - 4, len(tx) - 4)
    right = np.ascontiguousarray((BSpline.design_matrix(np.arange(nx, dtype=float), tx, 3)
                                  @ coef.T).T)  # (ncy, nx)  # fmt: skip
    left = BSpline.design_matrix(np.arange(ny, dtype=float), ty, 3).tocsr()
    for r0 in range(0, ny, 256):
        out[r0 : r0 + 256] = left[r0 : r0 + 256] @ right


def pixmap_from_functions(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    inverse_out: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    shape: tuple[int, int],
    *,
    method: str = "auto",
    tolerance: float = 1e-3,
    return_error: bool = False,
) -> np.ndarray | tuple[np.ndarray, float]:
    """Pixmap composed of "input pixel -> common frame" and "common frame -> output pixel".

    For example ``forward = aperture.sci_to_postarg`` (flt pixels -> POS TARG arcsec, shifted
    by the exposure's pointing) and ``inverse_out`` the output grid's arcsec -> pixel map.
    Both callables take and return arrays ``(x, y)``.

    Parameters
    ----------
    forward : callable
        ``forward(x_in, y_in) -> (u, v)``, vectorised over arrays.
    inverse_out : callable
        ``inverse_out(u, v) -> (x_out, y_out)``, vectorised over arrays.
    shape : tuple of int
        ``(ny, nx)`` of the input image.
    method : {"auto", "sparse", "exact"}
        ``"exact"`` evaluates the callables at every pixel; ``"sparse"`` on a grid refined
        until the interpolation error is below ``tolerance`` (error if it cannot be);
        ``"auto"`` tries ``"sparse"`` and falls back to ``"exact"``.
    tolerance : float
        Largest interpolation error accepted, in output pixels (default 0.001).
    return_error : bool
        Also return the measured interpolation error (0 for exact evaluation).

    Returns
    -------
    pixmap : ndarray, shape (ny, nx, 2)
        Output x, y of every input pixel centre.
    error : float
        Only with ``return_error``: maximum interpolation error found, in output pixels.

    Raises
    ------
    DitherlabValueError
        Bad ``shape``/``method``/``tolerance``, or ``method="sparse"`` impossible.

    Examples
    --------
    >>> fwd = lambda x, y: (0.05 * x, 0.05 * y)           # pixels -> arcsec
    >>> inv = lambda u, v: (u / 0.025 + 3.0, v / 0.025)   # arcsec -> 2x finer output grid
    >>> pm = pixmap_from_functions(fwd, inv, (100, 120))
    >>> pm.shape, pm[10, 20].round(6).tolist()
    ((100, 120, 2), [43.0, 20.0])
    """
    if not (callable(forward) and callable(inverse_out)):
        raise DitherlabTypeError("forward and inverse_out must be callables (x, y) -> (u, v)")
    shape = _shape_of(shape)
    method = as_choice("method", method, ("auto", "sparse", "exact"))
    tolerance = as_float("tolerance", tolerance, minimum=0.0, min_inclusive=False)

    def func(x, y):
        u, v = _apply(forward, x, y)
        return inverse_out(u, v)

    return _build(func, shape, method, tolerance, return_error)


def pixmap_from_wcs(
    wcs_in: Any,
    wcs_out: Any,
    shape: tuple[int, int] | None = None,
    *,
    method: str = "auto",
    tolerance: float = 1e-3,
    return_error: bool = False,
    disable_bbox: str = "to",
) -> np.ndarray | tuple[np.ndarray, float]:
    """Pixmap from any two APE-14 WCS objects (input pixel -> world -> output pixel).

    Only ``wcs_in.pixel_to_world_values`` and ``wcs_out.world_to_pixel_values`` are used
    (duck typing), so astropy ``WCS``, gwcs and SIAF-backed WCS all work; neither object is
    modified.  A gwcs with a ``bounding_box`` returns NaN outside it; by default the output
    WCS's box is ignored (``disable_bbox="to"``, as STScI's ``calc_pixmap``), so that input
    pixels landing just outside the output grid still reach it with their drops.

    Parameters
    ----------
    wcs_in, wcs_out : APE-14 low-level WCS
        Input and output WCS.
    shape : tuple of int, optional
        ``(ny, nx)`` of the input; default ``wcs_in.array_shape``, else from
        ``wcs_in.bounding_box`` ``((x_lo, x_hi), (y_lo, y_hi))``:
        ``(ceil(y_hi + 0.5), ceil(x_hi + 0.5))``.
    method : {"auto", "sparse", "exact"}
        See :func:`pixmap_from_functions`.
    tolerance : float
        Largest interpolation error accepted, in output pixels (default 0.001).
    return_error : bool
        Also return the measured interpolation error.
    disable_bbox : {"to", "from", "both", "none"}
        Which WCS's bounding box to ignore while evaluating (``"to"``: the output's,
        ``"from"``: the input's).  A box that is used gives NaN (pixels that are not
        drizzled) outside it.  The WCS objects are not changed (a gwcs is evaluated with
        ``with_bounding_box=False``; other WCS with a bounding box through a copy).

    Returns
    -------
    pixmap : ndarray, shape (ny, nx, 2)
        Output x, y of every input pixel centre (0-based).
    error : float
        Only with ``return_error``.

    Raises
    ------
    DitherlabTypeError
        An argument lacks the APE-14 methods.
    DitherlabValueError
        No shape can be determined, or a bad option.

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=2)
    >>> w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    >>> w.wcs.crval = [10.0, 20.0]
    >>> w.wcs.crpix = [50.0, 40.0]
    >>> w.wcs.cdelt = [-1e-5, 1e-5]
    >>> w2 = w.deepcopy()
    >>> w2.wcs.crpix = [60.5, 45.0]
    >>> pm = pixmap_from_wcs(w, w2, (80, 100))
    >>> pm[0, 0].round(6).tolist()
    [10.5, 5.0]
    """
    if not hasattr(wcs_in, "pixel_to_world_values"):
        raise DitherlabTypeError(
            f"wcs_in={type(wcs_in).__name__} has no pixel_to_world_values (APE-14 WCS needed)"
        )
    if not hasattr(wcs_out, "world_to_pixel_values"):
        raise DitherlabTypeError(
            f"wcs_out={type(wcs_out).__name__} has no world_to_pixel_values (APE-14 WCS needed)"
        )
    shape = _shape_of(shape, wcs_in)
    method = as_choice("method", method, ("auto", "sparse", "exact"))
    tolerance = as_float("tolerance", tolerance, minimum=0.0, min_inclusive=False)
    disable_bbox = as_choice("disable_bbox", disable_bbox, ("to", "from", "both", "none"))
    to_world = _without_bbox(wcs_in, "forward") if disable_bbox in ("from", "both") else None
    to_pixel = _without_bbox(wcs_out, "backward") if disable_bbox in ("to", "both") else None
    to_world = to_world or wcs_in.pixel_to_world_values
    to_pixel = to_pixel or wcs_out.world_to_pixel_values

    def func(x, y):
        return to_pixel(*to_world(x, y))

    return _build(func, shape, method, tolerance, return_error)


def _without_bbox(wcs: Any, direction: str) -> Callable | None:
    """``wcs``'s pixel -> world (``"forward"``) or world -> pixel map, box ignored.

    ``wcs`` itself is not changed; None when it has no bounding box.
    """
    if getattr(wcs, "bounding_box", None) is None:
        return None
    if callable(wcs) and hasattr(wcs, "invert"):  # gwcs: evaluate with the box switched off
        if direction == "forward":
            return lambda *a: _plain(wcs(*a, with_bounding_box=False))
        return lambda *a: _plain(wcs.invert(*a, with_bounding_box=False))
    twin = copy.deepcopy(wcs)
    twin.bounding_box = None
    return twin.pixel_to_world_values if direction == "forward" else twin.world_to_pixel_values


def _plain(values):
    """A WCS result as a tuple of float arrays (quantities stripped)."""
    if not isinstance(values, tuple | list):
        values = (values,)
    return tuple(np.asarray(getattr(v, "value", v), dtype=float) for v in values)


def _build(func, shape, method, tolerance, return_error):
    res = None
    if method in ("auto", "sparse"):
        res = _sparse(func, shape, tolerance)
        if res is None and method == "sparse":
            raise DitherlabValueError(
                f"method='sparse' cannot reach tolerance={tolerance} px on shape {shape} "
                "(transform too rough, undefined somewhere, or image too small); "
                "use method='exact'"
            )
    if res is None:
        res = (_exact(func, shape), 0.0)
    return res if return_error else res[0]
