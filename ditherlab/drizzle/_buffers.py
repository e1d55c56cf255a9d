"""Work buffers reused across the tiles of one drizzle call.

Fresh multi-MiB temporaries cost a page fault per 4 KiB page on every tile (about as much
as the arithmetic that fills them), so the large per-tile arrays of the tile sums and the
merges are taken from a set of buffers that the running task holds.  The parallel module
gives each task its set (:data:`SCRATCH` ``.bufs``); outside a task a buffer is a
throw-away array.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["SCRATCH", "copy_to", "scratch"]

#: ``SCRATCH.bufs``: the buffer set (a dict) of the task running on this thread, or None.
SCRATCH = threading.local()


def scratch(name: str, size: int, dtype) -> np.ndarray:
    """A work buffer of at least ``size`` elements, reused across the tiles of one call.

    Examples
    --------
    >>> scratch("x", 3, np.float64).shape
    (3,)
    """
    bufs = getattr(SCRATCH, "bufs", None)
    if bufs is None:  # called outside a drizzle task: a throw-away buffer
        return np.empty(max(size, 1), dtype)[:size]
    buf = bufs.get(name)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = bufs[name] = np.empty(max(size, 1), dtype)
    return buf[:size]


def copy_to(buf: np.ndarray, a: np.ndarray) -> np.ndarray:
    """``a`` (any strides) copied into the flat work buffer ``buf`` of its size; returns it."""
    np.copyto(buf.reshape(a.shape), a)
    return buf
