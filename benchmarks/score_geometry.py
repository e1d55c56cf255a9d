"""Speed of ditherlab.score.phase_coverage on batches of four-point POS TARG patterns.

Scores P random compact four-point patterns (POS TARGs uniform in ±0.3″, the size of the
ACS/WFC3 sub-pixel boxes) on a 16 × 16 grid over both ACS/WFC chips, and reports patterns
per second:

* ``fast maps``: η / efficiency, both phase gaps and the hot-pixel clearance
  (``metrics=("eta", "gap_x", "gap_y", "clearance")``), what an optimiser iterates on;
* ``all maps``: the same plus the exact covering radius (the default), on fewer patterns.

Usage::

    PYTHONPATH=$PWD python benchmarks/score_geometry.py [--patterns 20000] [--repeat 3]
"""

import argparse
import time

import numpy as np

from ditherlab.planner import get_aperture
from ditherlab.score import phase_coverage

FAST = ("eta", "gap_x", "gap_y", "clearance")


def rate(posts, ap, metrics, repeat):
    """Best wall time and the CPU time of that run (the machine may be shared)."""
    best, cpu = np.inf, np.inf
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        phase_coverage(posts, ap, grid=16, metrics=metrics)
        wall, used = time.perf_counter() - t0, time.process_time() - c0
        if wall < best:
            best, cpu = wall, used
    return posts.shape[0] / best, best, cpu


def main():
    ap_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap_.add_argument("--patterns", type=int, default=20000)
    ap_.add_argument("--repeat", type=int, default=3)
    ap_.add_argument("--aperture", default="acs-wfc")
    args = ap_.parse_args()
    ap = get_aperture(args.aperture)
    rng = np.random.default_rng(0)
    posts = rng.uniform(-0.3, 0.3, (args.patterns, 4, 2))
    r, t, cpu = rate(posts, ap, FAST, args.repeat)
    print(
        f"{ap.name} 16x16, fast maps: {args.patterns} patterns in {t:.2f} s wall "
        f"({cpu:.2f} s CPU) = {r:,.0f} /s ({args.patterns / cpu:,.0f} per CPU second)"
    )
    few = posts[: max(1, args.patterns // 100)]
    r, t, cpu = rate(few, ap, None, 1)
    print(
        f"{ap.name} 16x16, all maps:  {few.shape[0]} patterns in {t:.2f} s wall "
        f"({cpu:.2f} s CPU) = {r:,.1f} /s"
    )
    with open("/proc/loadavg") as f:
        print("load average:", f.read().split()[0])


if __name__ == "__main__":
    main()
