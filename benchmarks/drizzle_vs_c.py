"""Speed and peak memory of ditherlab.drizzle against STScI's C drizzle (not a test).

Usage (from the repository root)::

    python benchmarks/drizzle_vs_c.py            # full table (~5 min on 2 cores)
    python benchmarks/drizzle_vs_c.py --quick    # 512x512 case only

Inputs: a 2048x4096 float32 chip (one ACS/WFC chip) with a pixmap of 0.3 deg rotation, a
(0.37, -0.61) px shift and a quadratic distortion of ~8 px at the corners, drizzled onto an
output grid of scale 1 and 0.5 (output pixel size in input pixels), and a 512x512 input.
Wall times alternate ours and C, three repetitions, and report medians and the ratio of the
medians.  Peak memory is the peak resident set (VmHWM) of a fresh child process that builds the
same inputs and runs one call, plus the peak private memory of the worker processes the
call forks (sampled every 5 ms from ``/proc/<pid>/smaps_rollup``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = {
    "chip s=1": ((4096, 2048), 1.0),
    "chip s=0.5": ((4096, 2048), 0.5),
    "512^2 s=1": ((512, 512), 1.0),
}
KERNELS = [
    ("square", 1.0),
    ("square", 0.8),
    ("turbo", 1.0),
    ("point", 1.0),
]


def make_inputs(shape, s):
    """Data and pixmap, built in row blocks so that the baseline is just these arrays."""
    ny, nx = shape
    pixmap = np.empty((ny, nx, 2))
    rmax = np.hypot(nx / 2, ny / 2)
    a = np.radians(0.3)
    xs = np.arange(nx) - (nx - 1) / 2
    for r0 in range(0, ny, 256):
        v = (np.arange(r0, min(r0 + 256, ny)) - (ny - 1) / 2)[:, None]
        u = xs[None, :]
        r2 = (u * u + v * v) / ((nx / 2) ** 2 + (ny / 2) ** 2)
        ud = u + 8.0 * r2 * u / rmax
        vd = v + 8.0 * r2 * v / rmax
        pixmap[r0 : r0 + 256, :, 0] = (np.cos(a) * ud - np.sin(a) * vd + 0.37) / s
        pixmap[r0 : r0 + 256, :, 1] = (np.sin(a) * ud + np.cos(a) * vd - 0.61) / s
    margin = 20 / s
    lo = pixmap.reshape(-1, 2).min(axis=0)
    pixmap -= lo - margin
    hi = pixmap.reshape(-1, 2).max(axis=0)
    out_shape = (int(hi[1] + margin), int(hi[0] + margin))
    data = np.random.default_rng(0).normal(10.0, 1.0, shape).astype(np.float32)
    return data, pixmap, out_shape


def _vm_hwm_mib():
    """Peak resident set of this process (Linux VmHWM, reset by exec unlike ru_maxrss)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _children_private_mib():
    """Private (not shared) resident memory of this process's live children, in MiB.

    ``add_image`` may compute tiles in forked worker processes; their private pages are
    memory the call adds on top of this process's peak (the pages they share with this
    process copy-on-write, e.g. the inputs, are not counted twice).
    """
    total = 0
    try:
        pids = set()
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as f:
                pids.update(f.read().split())
        for pid in pids:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith(("Private_Clean:", "Private_Dirty:")):
                        total += int(line.split()[1])
    except OSError:
        pass
    return total / 1024


def _reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_once(impl, kernel, pixfrac, data, pixmap, out_shape, s, operator=None):
    if impl == "c":
        from drizzle.resample import Drizzle as CDrizzle

        d = CDrizzle(kernel=kernel, out_shape=out_shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            d.add_image(data, exptime=1.0, pixmap=pixmap, pixfrac=pixfrac, pixel_scale_ratio=s)
            return time.perf_counter() - t
    from ditherlab.drizzle import Drizzle

    d = Drizzle(kernel=kernel, out_shape=out_shape)
    t = time.perf_counter()
    if impl == "operator_sums":
        # the products of add_prepared without the merge: Σ a·w and Σ a·w·d of one frame,
        # block by block into cache-sized buffers (operator.sums would also fill arrays of
        # the output's size, which add_prepared never forms)
        operator._products(data)
    elif impl == "ours":
        d.add_image(data, exptime=1.0, pixmap=pixmap, pixfrac=pixfrac, pixel_scale_ratio=s)
    else:  # "operator": apply a prepared operator to one frame
        d.add_prepared(operator, data, exptime=1.0)
    return time.perf_counter() - t


def child(impl, case, kernel, pixfrac):
    """Run one call in this (fresh) process and print its memory figures in MiB."""
    shape, s = CASES[case]
    data, pixmap, out_shape = make_inputs(shape, s)
    operator = None
    if impl in ("operator", "operator_sums"):
        from ditherlab.drizzle import prepare

        operator = prepare(pixmap, out_shape, kernel=kernel, pixfrac=pixfrac, pixel_scale_ratio=s)
    # import the implementation before measuring the baseline
    if impl == "c":
        import drizzle.resample  # noqa: F401
    else:
        import ditherlab.drizzle  # noqa: F401
    prepare_peak = _vm_hwm_mib()
    reset = _reset_hwm()
    base = _vm_hwm_mib()
    workers = [0.0]  # peak of the summed private memory of worker processes, if any
    running = threading.Event()
    running.set()

    def sample():
        while running.is_set():
            workers[0] = max(workers[0], _children_private_mib())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    run_once(impl, kernel, pixfrac, data, pixmap, out_shape, s, operator)
    running.clear()
    sampler.join()
    peak = _vm_hwm_mib() + workers[0]
    print(
        json.dumps(
            {
                "base": base,
                "peak": peak,
                "workers": workers[0],
                "reset": reset,
                "prepare_peak": prepare_peak,
            }
        )
    )


def peak_memory(impl, case, kernel, pixfrac):
    out = subprocess.run(
        [sys.executable, __file__, "--child", impl, case, kernel, str(pixfrac)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="512x512 case only")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--child", nargs=4, metavar=("IMPL", "CASE", "KERNEL", "PIXFRAC"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2], float(args.child[3]))
        return
    cases = ["512^2 s=1"] if args.quick else list(CASES)
    rows = []
    for case in cases:
        shape, s = CASES[case]
        data, pixmap, out_shape = make_inputs(shape, s)
        for kernel, pixfrac in KERNELS:
            t_ours, t_c = [], []
            for _ in range(args.reps):  # alternate ours and C
                t_ours.append(run_once("ours", kernel, pixfrac, data, pixmap, out_shape, s))
                t_c.append(run_once("c", kernel, pixfrac, data, pixmap, out_shape, s))
            m_ours = peak_memory("ours", case, kernel, pixfrac)
            m_c = peak_memory("c", case, kernel, pixfrac)
            rows.append(
                (
                    case,
                    f"{kernel} pf {pixfrac}",
                    statistics.median(t_ours),
                    statistics.median(t_c),
                    m_ours["peak"],
                    m_c["peak"],
                    m_ours["peak"] - m_ours["base"],
                    m_c["peak"] - m_c["base"],
                )
            )
            print(_fmt(rows[-1]), flush=True)
        # a prepared operator applied to one more frame of the same geometry
        from ditherlab.drizzle import prepare

        t0 = time.perf_counter()
        op = prepare(pixmap, out_shape, kernel="square", pixfrac=0.8, pixel_scale_ratio=s)
        t_prep = time.perf_counter() - t0
        m_c = peak_memory("c", case, "square", 0.8)
        for impl, label in (
            ("operator_sums", "operator product only (square 0.8)"),
            ("operator", "add_prepared: product + merge (square 0.8)"),
        ):
            t_ours, t_c = [], []
            for _ in range(args.reps):
                t_ours.append(run_once(impl, "square", 0.8, data, pixmap, out_shape, s, op))
                t_c.append(run_once("c", "square", 0.8, data, pixmap, out_shape, s))
            m_ours = peak_memory(impl, case, "square", 0.8)
            rows.append(
                (
                    case,
                    (
                        f"{label}; prepare {t_prep:.2f} s, {op.nnz / 1e6:.1f}M nnz, "
                        f"prepare peak {m_ours['prepare_peak']:.0f} MiB"
                    ),
                    statistics.median(t_ours),
                    statistics.median(t_c),
                    m_ours["peak"],
                    m_c["peak"],
                    m_ours["peak"] - m_ours["base"],
                    m_c["peak"] - m_c["base"],
                )
            )
            print(_fmt(rows[-1]), flush=True)
        del data, pixmap, op
    print()
    print(
        "| case | kernel | ours s | C s | time ours/C | peak MiB ours | peak MiB C | mem ours/C "
        "| call adds MiB ours / C |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[2] / r[3]:.2f} | {r[4]:.0f} | "
            f"{r[5]:.0f} | {r[4] / r[5]:.2f} | {r[6]:.0f} / {r[7]:.0f} |"
        )
    print()
    print("Peak memory: VmHWM of a fresh process that holds the inputs and has imported the")
    print("implementation (its baseline), then runs one call, plus the peak private memory of")
    print("any worker processes it forks; 'call adds' = peak - baseline.")
    print("For the operator rows the peak is reset after prepare() (prepare's own peak is in")
    print("the row label) and includes the sparse matrix.")


def _fmt(r):
    return (
        f"{r[0]:12s} {r[1]:60s} ours {r[2]:.3f} s  C {r[3]:.3f} s  ratio {r[2] / r[3]:.2f}  "
        f"peak {r[4]:.0f}/{r[5]:.0f} MiB"
    )


if __name__ == "__main__":
    main()
