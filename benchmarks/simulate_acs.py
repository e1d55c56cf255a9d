"""Benchmark: one full ACS/WFC exposure (two 2048 x 4096 chips, 500 stars).

Run from the repository root::

    python benchmarks/simulate_acs.py [--repeat 3] [--write DIR]

Prints the wall time of each ``observe`` call (median over repeats) and the peak resident
memory of the process.  Aim: under 10 s and 2 GB on one core.  Not part of the test suite.
"""

import argparse
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from ditherlab.planner import Pattern
from ditherlab.simulate import Scene, observe, write_exposure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--stars", type=int, default=500)
    ap.add_argument("--write", action="store_true", help="also time write_exposure")
    args = ap.parse_args()
    scene = Scene.random_field(args.stars, size=230.0, sky=40.0, rng=1)
    times = []
    for k in range(args.repeat):
        t0 = time.perf_counter()
        (exp,) = observe(scene, Pattern([[0.0, 0.0]], frame="postarg"), "acs-wfc", 500.0, rng=k)
        times.append(time.perf_counter() - t0)
        print(f"observe #{k + 1}: {times[-1]:.2f} s", flush=True)
    shapes = [c.shape for c in exp.chips]
    print(f"chips: {shapes}; stars in scene: {len(scene)}")
    print(f"median observe time: {np.median(times):.2f} s (min {min(times):.2f} s)")
    if args.write:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            write_exposure(exp, os.path.join(d, "bench_flt.fits"))
            print(f"write_exposure (flt + truth): {time.perf_counter() - t0:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"peak resident memory: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
