"""Spreading a pipeline step's independent items over worker processes.

The exposures of the separate drizzle, the chips of blot + driz_cr and of the statistics,
and the row blocks of the median are independent: :func:`map_items` computes them in forked
worker processes (the drizzle core's :func:`~ditherlab.drizzle._parallel.map_tiles`), and the
results are exactly those of one process.
"""

from __future__ import annotations

import warnings

__all__ = ["map_items", "output_arrays", "will_fork", "worker_split"]


#: Pixels per work item (a chip, an exposure) from which the items of a step are spread
#: over forked worker processes when ``num_cores`` is not given: below it a fork costs
#: more than it saves.
_FORK_MIN_PIXELS = 1 << 20


def worker_split(cfg, nitems: int, npixels: int) -> tuple[int, int]:
    """``(outer, inner)``: processes for a step's items, and threads inside each item.

    Independent items (the exposures of the separate drizzle, the chips of driz_cr) go
    to ``num_cores`` forked processes (default: up to 2 for items of at least
    ``_FORK_MIN_PIXELS`` pixels), each item then on one thread; a single item keeps the
    core's own parallelism.
    """
    from ditherlab.drizzle._parallel import default_threads

    if cfg.num_cores is not None:
        n = cfg.num_cores
    else:
        n = default_threads() if npixels >= _FORK_MIN_PIXELS else 1
    outer = max(1, min(n, nitems))
    return outer, (cfg.num_cores if outer == 1 else 1)


def will_fork(nworkers: int, nitems: int) -> bool:
    """Whether :func:`map_items` computes ``nitems`` items in forked worker processes."""
    from ditherlab.drizzle._parallel import _fork_workers

    return nworkers > 1 and _fork_workers(nworkers, nitems)


def output_arrays(count: int, shape, dtype, fill, shared: bool) -> list:
    """``count`` arrays of ``shape`` holding ``fill``, for items to write in place.

    With ``shared`` they live in one shared anonymous mapping
    (:func:`~ditherlab.drizzle._parallel.shared_arrays`), so that forked workers write their
    results straight into them: no private copy of an output in each worker, no result
    slot, no copy back (for the single drizzles of four ACS/WFC exposures, ~0.5 GB less
    at the step's peak).  Without, plain arrays.
    """
    import numpy as np

    from ditherlab.drizzle._parallel import shared_arrays

    if not shared:
        return [np.full(shape, fill, dtype) for _ in range(count)]
    out = shared_arrays(count, shape, dtype)
    if fill != 0:
        for a in out:
            a[...] = fill
    return out


def map_items(work, items, take, nworkers: int, nbytes: int) -> None:
    """``take(work(item))`` for every item, in order, the work in ``nworkers`` processes.

    ``work`` returns a tuple of arrays of at most ``nbytes`` together; in ``take`` they may
    be views of a shared buffer that is reused afterwards (copy what is kept).  Uses the
    drizzle core's forked workers (threads where forking is unavailable), so the items are
    computed exactly as in one process.  Warnings raised by ``work`` are issued again here
    (a forked worker's own would be lost).
    """
    from ditherlab.drizzle._parallel import _fork_workers, map_tiles

    forked = nworkers > 1 and _fork_workers(nworkers, len(items))

    def recorded(item):
        if not forked:  # (catch_warnings is process-wide: not on threads)
            return (*work(item), []), 1
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = work(item)
        return (*res, [(str(w.message), w.category) for w in caught]), 1

    def taken(result):
        *res, caught = result[0]
        for message, category in caught:
            warnings.warn(message, category, stacklevel=4)
        take(tuple(res))

    map_tiles(recorded, items, taken, nworkers, processes=True,
              slot_pixels=lambda: (nbytes, 1))  # fmt: skip
