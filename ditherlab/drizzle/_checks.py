"""Checks and conversions of the drizzle arguments, shared by ``Drizzle`` and ``prepare``.

Everything here runs before an add changes any state: a bad argument raises a one-line
:mod:`ditherlab.errors` error that names it and its value.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

from ditherlab._validation import as_float, as_int
from ditherlab.errors import (
    DitherlabTypeError,
    DitherlabValueError,
    DitherlabWarning,
    OutputTooLargeError,
)

__all__ = [
    "caller_img2",
    "caller_output",
    "check_output_memory",
    "dq_of",
    "estimate_pixel_scale_ratio",
    "fill_value",
    "finite_pixmap",
    "pixmap_array",
    "section",
    "too_large",
    "variances_of",
    "warn_ignored_pixfrac",
    "weight_map_of",
    "wht_scale_of",
]


def estimate_pixel_scale_ratio(pixmap: np.ndarray) -> float:
    """Output pixel size in input pixels, from the pixmap's Jacobian at the image centre.

    The C drizzle's estimate is the inverse of this (``sqrt(|det J|)``); ours is
    ``1 / sqrt(|det J|)``, which is the ``s`` its documentation asks for.

    Parameters
    ----------
    pixmap : ndarray, shape (ny, nx, 2)
        Pixel map.

    Returns
    -------
    float
        ``s`` (0.5 for an output grid twice as fine as the input).

    Examples
    --------
    >>> y, x = np.indices((10, 10), dtype=float)
    >>> estimate_pixel_scale_ratio(np.dstack([2 * x, 2 * y]))
    0.5
    """
    ny, nx = pixmap.shape[:2]
    j = min(max(ny // 2, 0), ny - 2)
    i = min(max(nx // 2, 0), nx - 2)
    block = np.asarray(pixmap[j : j + 2, i : i + 2], dtype=np.float64)
    dxdi = block[0, 1] - block[0, 0]
    dxdj = block[1, 0] - block[0, 0]
    det = abs(dxdi[0] * dxdj[1] - dxdi[1] * dxdj[0])
    if not (det > 0 and math.isfinite(det)):
        raise DitherlabValueError(
            "pixel_scale_ratio=None cannot be estimated: the pixmap is degenerate or NaN "
            "at the image centre; pass pixel_scale_ratio explicitly"
        )
    return 1.0 / math.sqrt(det)


def fill_value(fillval: Any, have_img: bool, name: str = "fillval") -> float | None:
    """The fill value as a float; None means 'do not fill' (leave a caller's array as it is)."""
    if fillval is None or (isinstance(fillval, str) and fillval.strip().upper() in ("", "INDEF")):
        return None if have_img else math.nan
    if isinstance(fillval, str):
        try:
            return float(fillval)
        except ValueError:
            raise DitherlabValueError(f"{name}={fillval!r} is not a number or 'INDEF'") from None
    return as_float(name, fillval) if math.isfinite(float(fillval)) else float(fillval)


def caller_output(name: str, arr: Any, dtype) -> np.ndarray:
    """A caller's ``out_img``/``out_wht``/``out_ctx``... as the array to update.

    An ndarray of ``dtype`` is used in place, so it must be writeable and C-contiguous (the
    merges write through flat views: a Fortran-ordered or sliced array would be copied by
    them and the writes lost).  Anything else is converted to a new C-ordered array.
    """
    if isinstance(arr, np.ndarray) and arr.dtype == dtype:
        if not arr.flags.writeable:
            raise DitherlabValueError(
                f"{name} is read-only (flags.writeable=False) and cannot be updated in place; "
                f"pass a writeable array, e.g. {name}.copy()"
            )
        if not arr.flags.c_contiguous:
            raise DitherlabValueError(
                f"{name} (shape {arr.shape}, strides {arr.strides}) is not C-contiguous "
                f"(Fortran-ordered or a slice), so it cannot be updated in place; pass "
                f"np.ascontiguousarray({name}) and read the results from Drizzle.{name}"
            )
        return np.asarray(arr)
    return np.asarray(arr, dtype=dtype, order="C")


def wht_scale_of(value: Any) -> float:
    """``wht_scale`` checked: > 0 also in float32, where the weights are formed (as C)."""
    v = as_float("wht_scale", value, minimum=0.0, min_inclusive=False)
    if np.float32(v) == 0:
        raise DitherlabValueError(
            f"wht_scale={value!r} is 0 in float32 (the weights' precision); it must be > 0"
        )
    return v


def weight_map_of(weight_map: Any, shape: tuple[int, int]) -> np.ndarray | None:
    """``weight_map`` as float32 of ``shape``, finite and non-negative (None stays None)."""
    if weight_map is None:
        return None
    weight_map = np.asarray(weight_map, dtype=np.float32)
    if weight_map.shape != shape:
        raise DitherlabValueError(
            f"weight_map shape {weight_map.shape} is not consistent with data shape {shape}"
        )
    bad = ~(np.isfinite(weight_map) & (weight_map >= 0))
    if np.any(bad):
        pos = tuple(int(v) for v in np.argwhere(bad)[0])
        raise DitherlabValueError(
            f"weight_map must be finite and >= 0; element {pos} is {weight_map[pos]}"
        )
    return weight_map


def warn_ignored_pixfrac(kernel: str, pixfrac: float, legacy: bool) -> None:
    """Warn (once per call) that the lanczos kernels ignore ``pixfrac != 1``.

    Both ours and the legacy (C) lanczos span ``order / s`` output pixels whatever
    ``pixfrac`` is; C drizzle 3.0.0 warns "In lanczos kernel, pixel_fraction is ignored and
    assumed to be 1.0" on every ``add_image`` call.
    """
    if kernel in ("lanczos2", "lanczos3") and pixfrac != 1.0:
        which = "legacy " if legacy else ""
        warnings.warn(
            f"pixfrac={pixfrac!r} is ignored by the {which}{kernel} kernel, as by the C "
            f"drizzle: its size is set by pixel_scale_ratio alone (as if pixfrac=1)",
            DitherlabWarning,
            stacklevel=3,
        )


def section(nx, ny, xmin, xmax, ymin, ymax):
    """The inclusive input section ``(x0, x1, y0, y1)``, clipped to the image."""

    def get(name, v, default, hi):
        if v is None:
            return default
        v = as_int(name, v)
        return min(max(v, 0), hi)

    x0 = get("xmin", xmin, 0, nx - 1)
    x1 = get("xmax", xmax, nx - 1, nx - 1)
    y0 = get("ymin", ymin, 0, ny - 1)
    y1 = get("ymax", ymax, ny - 1, ny - 1)
    if x1 < x0 or y1 < y0:
        raise DitherlabValueError(
            f"empty input section: xmin={xmin!r}, xmax={xmax!r}, ymin={ymin!r}, ymax={ymax!r}"
        )
    return x0, x1, y0, y1


def pixmap_array(pixmap: Any) -> np.ndarray:
    """A pixmap as an array: float32 kept as it is, anything else as float64.

    The pipeline stores its pixmaps as float32 and every reader widens the values it takes
    to float64 (exactly), so no float64 copy is made: 134 MB and 50 ms for a 2048 x 4096
    chip.
    """
    pixmap = np.asarray(pixmap)
    return pixmap if pixmap.dtype == np.float32 else np.asarray(pixmap, dtype=np.float64)


def finite_pixmap(pixmap: np.ndarray) -> np.ndarray:
    """Mark pixels with any non-finite pixmap coordinate as undefined (both NaN)."""
    if math.isfinite(float(np.add.reduce(pixmap, axis=None))):  # one cheap pass, usual case
        return pixmap
    bad = ~np.isfinite(pixmap).all(axis=-1)
    if not bad.any():
        return pixmap
    out = pixmap.copy()
    out[bad] = np.nan
    return out


def _physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def check_output_memory(shape: tuple[int, int], bytes_per_pixel: int, what: str) -> None:
    """Raise :class:`OutputTooLargeError` if arrays of ``shape`` cannot fit in memory.

    ``bytes_per_pixel`` is the sum over the arrays to allocate.  Arrays larger than the
    machine's physical memory are refused before any allocation (numpy would raise a bare
    ``MemoryError``, or the system would start swapping).

    Examples
    --------
    >>> try:
    ...     check_output_memory((10**6, 10**6), 12, "out_shape=(1000000, 1000000)")
    ... except MemoryError as exc:
    ...     print(str(exc)[:46])
    out_shape=(1000000, 1000000) needs 12 TB for t
    """
    need = int(shape[0]) * int(shape[1]) * int(bytes_per_pixel)
    have = _physical_memory()
    if have is not None and need > have:
        raise OutputTooLargeError(
            f"{what} needs {_size(need)} for the output arrays ({shape[0]} x {shape[1]} "
            f"pixels, {bytes_per_pixel} bytes each), more than this machine's "
            f"{_size(have)} of memory; use a smaller output grid"
        )


def too_large(shape: tuple[int, int], bytes_per_pixel: int, what: str) -> OutputTooLargeError:
    """The error for an allocation of output arrays that failed with ``MemoryError``."""
    need = int(shape[0]) * int(shape[1]) * int(bytes_per_pixel)
    return OutputTooLargeError(
        f"{what} needs {_size(need)} for the output arrays ({shape[0]} x {shape[1]} pixels, "
        f"{bytes_per_pixel} bytes each), and allocating them failed; use a smaller output grid"
    )


def _size(nbytes: int) -> str:
    for unit, k in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= k:
            return f"{nbytes / k:.3g} {unit}"
    return f"{nbytes} bytes"


def dq_of(name: str, dq: Any, shape: tuple[int, ...] | None = None, *, in_place=False):
    """A DQ array (``dq``/``out_dq``) as uint32: integer of at most 32 bits, of ``shape``.

    ``in_place``: a C-contiguous writeable uint32 array is used as it is (``out_dq``).
    """
    arr = np.asarray(dq)
    if arr.dtype.kind not in "iu" or arr.dtype.itemsize > 4:
        raise DitherlabTypeError(
            f"{name} has dtype {arr.dtype}; it must be an integer type of at most 32 bits "
            f"(DQ bit flags, stored as uint32)"
        )
    if arr.ndim != 2 or (shape is not None and arr.shape != tuple(shape)):
        want = "2-D" if shape is None else f"shape {tuple(shape)}"
        raise DitherlabValueError(f"{name} shape {arr.shape} is not consistent: expected {want}")
    if in_place:
        return caller_output(name, dq, np.uint32)
    return arr.astype(np.uint32, copy=False)


def variances_of(data2: Any, shape: tuple[int, int]) -> tuple | None:
    """``data2`` (one array or a list, None entries allowed) as float32 arrays of ``shape``.

    None when ``data2`` is None; an entry that is None or empty stays None.
    """
    if data2 is None:
        return None
    items = [data2] if isinstance(data2, np.ndarray) else list(data2)
    out = []
    for k, v in enumerate(items):
        if v is None or np.size(v) == 0:
            out.append(None)
            continue
        v = np.asarray(v, dtype=np.float32)
        if v.shape != tuple(shape):
            name = "data2" if isinstance(data2, np.ndarray) else f"data2[{k}]"
            raise DitherlabValueError(
                f"{name} shape {v.shape} is not consistent with data shape {tuple(shape)}"
            )
        out.append(v)
    if not out:
        raise DitherlabValueError("data2=[] holds no arrays; pass None or one array per out_img2")
    return tuple(out)


def caller_img2(out_img2: Any) -> tuple[list | None, dict]:
    """A caller's ``out_img2`` (an array or a list, None entries allowed) and its shapes."""
    if out_img2 is None:
        return None, {}
    items = [out_img2] if isinstance(out_img2, np.ndarray) else list(out_img2)
    arrays, shapes = [], {}
    for k, a in enumerate(items):
        if a is None:
            arrays.append(None)
            continue
        a = caller_output(f"out_img2[{k}]", a, np.float32)
        if a.ndim != 2:
            raise DitherlabValueError(f"out_img2[{k}] must be 2-D, got shape {a.shape}")
        arrays.append(a)
        shapes[f"out_img2[{k}]"] = a.shape
    return arrays, shapes
