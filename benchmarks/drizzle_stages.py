"""Where the square kernel's time goes, per drop, stage by stage (not a test).

Usage (from the repository root)::

    python benchmarks/drizzle_stages.py          # output scales 1 and 0.5

Takes one tile of 128 x 256 = 32768 drops from the middle of the benchmark chip of
``drizzle_vs_c.py`` (pixfrac 0.8) and times, on one thread, each stage of a tile: drop
corners, exact overlap areas, weights/indices/``bincount`` and the merge into the outputs.
Each figure is the minimum of 15 repetitions, in ns per drop.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from drizzle_vs_c import make_inputs

from ditherlab.drizzle import _kernels as K
from ditherlab.drizzle import _merge as M
from ditherlab.drizzle import _parallel as P
from ditherlab.drizzle import _tiles as T

PIXFRAC = 0.8
ROWS, COLS = (2000, 2128), (1000, 1255)


def _best(f, n=15):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def stages(s):
    data, pixmap, out_shape = make_inputs((4096, 2048), s)
    ja, jb = ROWS
    xa, xb = COLS
    m = (jb - ja) * (xb - xa + 1)
    ns = 1e9 / m
    corners = _best(lambda: K._square_corners(pixmap, ja, jb, xa, xb, PIXFRAC))
    pieces = _best(
        lambda: K.block_pieces("square", pixmap, ja, jb, xa, xb, pixfrac=PIXFRAC, pscale_ratio=s)
    )
    rows = np.arange(ja, jb)
    x1, x2 = np.full(rows.size, xa), np.full(rows.size, xb)
    args = ("square", pixmap, data, None, np.float32(1), np.float32(1), rows, x1, x2)
    tail = ((0, rows.size, xa, xb), out_shape, PIXFRAC, s, False, False)
    sums = _best(lambda: T.tile_sums(*args, *tail))
    (box, sw, swd, pos, touched), _ = T.tile_sums(*args, *tail)
    img = np.full(out_shape, np.nan, np.float32)
    wht = np.zeros(out_shape, np.float32)
    ctx = np.zeros(out_shape, np.int32)
    merge = _best(
        lambda: M.merge_box(img, wht, ctx, np.int32(1), box, sw, swd, pos, touched, np.nan)
    )
    return {
        "drop corners": corners * ns,
        "overlap areas (with window extents)": (pieces - corners) * ns,
        "weights, indices, bincount": (sums - pieces) * ns,
        "merge": merge * ns,
        "total": (sums + merge) * ns,
    }


def main():
    P._raise_malloc_thresholds()  # as add_image does (else each temporary page-faults)
    res = {s: stages(s) for s in (1.0, 0.5)}
    print("| stage (ns per drop) | s = 1 | s = 0.5 |")
    print("|---|---|---|")
    for key in res[1.0]:
        print(f"| {key} | {res[1.0][key]:.0f} | {res[0.5][key]:.0f} |")


if __name__ == "__main__":
    main()
