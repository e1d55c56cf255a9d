"""Wall and CPU time of every step of run_pipeline on some flt files (not a test).

Usage (from the repository root)::

    ditherlab simulate --pattern 4 --aperture acs-wfc --exptime 500 --nstars 20000 \\
        --field-size 290 --sky 50 --seed 11 --outdir /tmp/sim
    python benchmarks/pipeline_steps.py /tmp/sim/dlsim0?_flt.fits --preset acs-wfc

Runs :func:`~ditherlab.drizzle.run_pipeline` once, in this process, and prints per step (as
the pipeline reports its progress) the wall time and the CPU time of this process *and* of
its finished worker processes (``os.times``; a worker's CPU is counted when it is reaped,
at the end of the step that forked it), then the totals and the peak resident memory of this
process and of the largest worker.  ``--num-cores 1`` runs everything in one process.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    from ditherlab.drizzle import PipelineConfig, run_pipeline

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="*_flt.fits files")
    ap.add_argument("--preset", choices=["acs-wfc", "wfc3-uvis"], default=None,
                    help="the MDRIZTAB values of the camera (observed 2024-03-01)")
    ap.add_argument("--num-cores", type=int, default=None, help="workers (default: up to 2)")
    args = ap.parse_args()
    cfg = PipelineConfig()
    if args.preset:
        inst, det = {"acs-wfc": ("ACS", "WFC"), "wfc3-uvis": ("WFC3", "UVIS")}[args.preset]
        cfg = PipelineConfig.for_instrument(inst, det, "2024-03-01")
    last = [time.perf_counter(), _cpu()]
    rows = []

    def progress(step, done, total):
        if done == total:
            now, cpu = time.perf_counter(), _cpu()
            rows.append((step, now - last[0], cpu - last[1]))
            last[0], last[1] = now, cpu

    t0, c0 = time.perf_counter(), _cpu()
    run_pipeline(args.inputs, cfg, progress=progress, num_cores=args.num_cores)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    print(f"{'step':14s} {'wall s':>7s} {'cpu s':>7s}")
    for step, w, c in rows:
        print(f"{step:14s} {w:7.1f} {c:7.1f}")
    print(f"{'total':14s} {wall:7.1f} {cpu:7.1f}   (load average {os.getloadavg()[0]:.1f})")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: this process {own:.0f} MB, largest worker {kids:.0f} MB")


if __name__ == "__main__":
    main()
