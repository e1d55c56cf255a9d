"""Running drizzle work on several workers: threads, or forked worker processes.

Why this module exists: numpy releases the GIL only inside its loops, and the GIL
hand-offs around the ~500 short numpy calls of a square-kernel tile held two threads to
~1.05-1.2x the speed of one (1.19x at best in our measurements on 2 vCPUs), where two
forked worker processes reach 1.4-1.9x.  So the tiles of a multi-worker ``add_image`` are
computed in forked processes where that is possible (Linux), and merged here, in order, so
that the outputs are bit for bit those of one worker.  Set ``DITHERLAB_DRIZZLE_FORK=0`` in
the environment (before ditherlab is imported) to use threads only; ``n_threads=1`` uses
neither.

Everything about ``fork``, shared memory, signals, ``madvise`` and the C allocator lives
here.  The rest of the package calls two functions:

- :func:`map_tiles` -- ``take(work(tile))`` for every tile, in order (``add_image``);
- :func:`run_tasks` -- ``body(task)`` for every task, in any order, on threads (the
  prepared operator, whose tasks merge into disjoint output ranges).
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from ditherlab.drizzle._buffers import SCRATCH

__all__ = [
    "WorkerError",
    "default_threads",
    "map_tiles",
    "run_tasks",
    "shared_arrays",
    "worker_count",
]

#: Compute the tiles of a multi-worker ``add_image`` in forked processes where possible
#: (see the module docstring).  ``DITHERLAB_DRIZZLE_FORK=0`` in the environment keeps threads.
_USE_FORK = os.environ.get("DITHERLAB_DRIZZLE_FORK", "1").strip() != "0"
_CAN_FORK = sys.platform.startswith("linux") and hasattr(os, "fork")
#: Results each worker may have waiting for their merge (slots of shared memory).
_FORK_SLOTS = 2
#: Input pixels below which ``add_image`` uses one worker unless ``n_threads`` is given:
#: measured on 2 vCPUs, a second worker saved nothing on 512² and 768² images, 0-25 % on
#: 1024² (noisy) and 10-25 % from 1448², while it adds a tile's working set (~14 MiB for
#: square).
_THREADS_MIN_PIXELS = 1 << 20
# Python 3.12+ warns on every fork of a process with threads; the workers run numpy code on
# their own tiles only (no locks of other threads), so not for the forks made here.
warnings.filterwarnings(
    "ignore",
    message=r".*multi-threaded, use of fork\(\) may lead to deadlocks",
    category=DeprecationWarning,
    module=r"ditherlab\.drizzle\._parallel",
)


class WorkerError(RuntimeError):
    """A forked worker failed with an exception that could not be sent, or died."""


def default_threads() -> int:
    """Workers used when the caller does not say: up to 2 (the machines we measured)."""
    return min(2, os.cpu_count() or 1)


def worker_count(n_threads: int | None, npixels: float, ntiles: int) -> int:
    """Workers for a drizzle pass of ``npixels`` input pixels cut into ``ntiles`` tiles."""
    if n_threads is None:
        n_threads = default_threads() if npixels >= _THREADS_MIN_PIXELS else 1
    return 1 if ntiles == 1 else n_threads


def map_tiles(work, tiles, take, nworkers, *, processes=False, slot_pixels=None, outputs=()):
    """``take(work(tile))`` for every tile, in the order of ``tiles``, on ``nworkers``.

    Parameters
    ----------
    work : callable
        ``work(tile) -> (result, nhit)``; ``result`` is None or a tuple whose array items
        are handed to ``take`` (from shared memory when computed in a forked worker).
    tiles : list
        The work items.
    take : callable
        Called in this thread with each ``(result, nhit)``, in order.
    nworkers : int
        Workers (1: everything here).
    processes : bool
        Compute in forked worker processes where possible (Linux, ``DITHERLAB_DRIZZLE_FORK``
        not 0, at least ``2 * nworkers`` tiles); else threads.
    slot_pixels : callable, optional
        ``slot_pixels() -> (pixels, bytes_per_pixel)``: the size of a shared-memory result
        slot of a forked worker (a result that does not fit goes through a pipe).
    outputs : sequence of ndarray
        Arrays the workers never read (the outputs): their pages are dropped in the workers
        so that merging into them does not copy them.
    """
    _raise_malloc_thresholds()
    if nworkers > 1 and processes and _fork_workers(nworkers, len(tiles)):
        pixels, per_pixel = slot_pixels() if slot_pixels is not None else (1 << 16, 18)
        _forked_tiles(work, tiles, nworkers, take, pixels, per_pixel, outputs)
        return
    task = _buffered(work, nworkers)
    if nworkers == 1:
        for tile in tiles:
            take(task(tile))
        return
    _threaded_tiles(task, tiles, nworkers, take)


def shared_arrays(count: int, shape, dtype) -> list[np.ndarray]:
    """``count`` zeroed arrays in one shared anonymous mapping (``MAP_SHARED``).

    What a forked worker writes into them, the caller sees: workers can put their results
    straight into outputs made before the fork.  Each array starts on a page boundary; the
    mapping lives as long as any of the arrays.
    """
    import mmap

    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    size = max(1, -(-n * dtype.itemsize // mmap.PAGESIZE)) * mmap.PAGESIZE
    buf = mmap.mmap(-1, size * max(count, 1))  # anonymous: zero pages until written
    return [np.frombuffer(buf, dtype, n, k * size).reshape(shape) for k in range(count)]


def run_tasks(body, tasks, n_threads: int) -> None:
    """Call ``body(task)`` for every task, on up to ``n_threads`` pool threads.

    Each running task holds one set of work buffers (see :mod:`._buffers`); the sets live
    for this call only, and there are ``n_threads`` of them: that bounds the tasks running
    at once when the process-wide pool has more workers.
    """
    _raise_malloc_thresholds()
    nthreads = max(1, min(n_threads, len(tasks)))
    run = _buffered(body, nthreads)
    if nthreads == 1:
        for task in tasks:
            run(task)
        return
    futures = [_submit(nthreads, run, task) for task in tasks]
    try:
        for fut in futures:
            fut.result()
    finally:  # an error: cancel what has not started, let the rest finish
        for fut in futures:
            fut.cancel()
        wait(futures)


def _threaded_tiles(task, tiles, nthreads, take):
    """:func:`map_tiles` on threads: this thread computes tiles too, and merges in order.

    The calling thread computes tiles next to ``nthreads - 1`` pool workers, and merges: a
    third thread contending for the GIL made two threads no faster than one on short
    tiles.  At most ``nthreads + 1`` computed tiles wait for their merge (bounded memory).
    One more tile than workers is queued, so a worker never waits for the caller; the
    process-wide pool may have more workers than this call's ``nthreads - 1``, so a
    semaphore keeps the rest of the queued tiles waiting.
    """
    running = threading.Semaphore(nthreads - 1)

    def pooled(tile):
        with running:
            return task(tile)

    nflight = nthreads + 1
    n = len(tiles)
    futs: dict[int, Any] = {}
    here: dict[int, Any] = {}
    nxt = 0
    try:
        for k in range(n):
            while True:
                while nxt < n and len(futs) < nthreads and len(futs) + len(here) < nflight:
                    futs[nxt] = _submit(nthreads - 1, pooled, tiles[nxt])
                    nxt += 1
                if k in here:
                    res = here.pop(k)
                    break
                fut = futs[k]
                if not fut.done() and nxt < n and len(futs) + len(here) < nflight:
                    here[nxt] = task(tiles[nxt])  # tile k is still running: help
                    nxt += 1
                    continue
                res = fut.result()
                del futs[k]
                break
            take(res)
    finally:
        for fut in futs.values():  # an error: cancel what has not started
            fut.cancel()
        wait(list(futs.values()))


# ---------------------------------------------------------------- forked workers
def _fork_workers(nworkers: int, ntiles: int) -> bool:
    """Whether to compute the tiles in forked worker processes (see :func:`_forked_tiles`)."""
    return _USE_FORK and _CAN_FORK and nworkers > 1 and ntiles >= 2 * nworkers


def _release_in_child(arrays) -> None:
    """In a forked worker: drop its mappings of the caller's output pages (never read there).

    Otherwise every output page the caller merges into while workers live is copied on
    write (up to the outputs' size again).  ``MADV_DONTNEED`` on the whole pages inside
    each array; it changes nothing for the caller.
    """
    import ctypes
    import mmap

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no libc: the pages are copied instead
        return
    page = mmap.PAGESIZE
    for a in arrays:
        if a is None:
            continue
        start = -(-a.ctypes.data // page) * page
        end = (a.ctypes.data + a.nbytes) // page * page
        if end > start:
            libc.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), 4)


def _pack(items, buf):
    """Copy the arrays of a result tuple into the slot ``buf``; its layout, or None.

    Arrays are stored 8-byte aligned; an item that *is* an earlier array is stored as a
    reference to it (the merges tell the non-negative kernels by ``pos is touched``);
    other items travel in the layout.  None when the arrays do not fit.
    """
    layout, off = [], 0
    for k, it in enumerate(items):
        if not isinstance(it, np.ndarray):
            layout.append(("value", it))
            continue
        same = next((j for j in range(k) if items[j] is it), None)
        if same is not None:
            layout.append(("same", same))
            continue
        off = -(-off // 8) * 8
        end = off + it.nbytes
        if end > buf.size:
            return None
        buf[off:end].view(it.dtype).reshape(it.shape)[...] = it
        layout.append(("array", off, it.dtype.str, it.shape))
        off = end
    return layout


def _unpack(layout, buf):
    """The result tuple of :func:`_pack`, its arrays as views of ``buf``."""
    items = []
    for entry in layout:
        if entry[0] == "value":
            items.append(entry[1])
        elif entry[0] == "same":
            items.append(items[entry[1]])
        else:
            _, off, dtype, shape = entry
            dt = np.dtype(dtype)
            n = int(np.prod(shape, dtype=np.int64))
            items.append(buf[off : off + n * dt.itemsize].view(dt).reshape(shape))
    return tuple(items)


def _forked_tiles(work, tiles, nproc, take, cap, per_pixel, outputs=()):
    """``take(work(tile))`` for every tile in order, with the work done in ``nproc`` forks.

    Worker ``w`` computes tiles ``w, w + nproc, ...`` in a forked copy of this process (the
    inputs are shared copy-on-write: nothing is copied up front; its mappings of the
    ``outputs`` arrays are dropped at once) and writes each tile's arrays into one of its
    ``_FORK_SLOTS`` slots of a shared anonymous mapping (``cap`` output pixels of
    ``per_pixel`` bytes each), then sends a short message; this process merges the tiles in
    order from the slots, so the outputs are bit for bit those of one thread, and hands the
    slot back.  A result that does not fit a slot goes through the pipe instead.  Working
    set: one tile per worker plus ``nproc · _FORK_SLOTS · per_pixel · cap`` bytes of slots.
    An error in a worker is raised here (the same exception with the worker's traceback as
    a note, or :class:`WorkerError` with it); a worker that dies is reported with its exit
    status; on any error or interrupt the workers are killed.  SIGINT and SIGALRM are held
    back while workers are forked and while they are reaped, so they are always reaped.
    """
    import mmap

    slot_bytes = per_pixel * cap + 64
    shm = mmap.mmap(-1, max(1, nproc * _FORK_SLOTS * slot_bytes))  # MAP_SHARED | ANONYMOUS

    def slot(w, j):
        o = (w * _FORK_SLOTS + j % _FORK_SLOTS) * slot_bytes
        return np.frombuffer(shm, np.uint8, slot_bytes, o)

    def child(w, out, acks):
        _release_in_child(outputs)
        SCRATCH.bufs = {}
        _worker_loop(work, tiles[w::nproc], range(w, len(tiles), nproc), slot, w, out, acks)

    procs = _Workers()
    try:
        procs.start(nproc, child)
        _collect(procs, len(tiles), nproc, slot, take)
        procs.done = True
    finally:
        procs.reap()
        with contextlib.suppress(BufferError):  # views still referenced (an error's frames)
            shm.close()  # else the mapping goes with the last view


def _worker_loop(work, tiles, indices, slot, w, out, acks):
    """A forked worker: compute its tiles, send each through a slot (or the pipe), in order."""
    import pickle
    import traceback

    for j, (k, tile) in enumerate(zip(indices, tiles, strict=True)):
        try:
            res, nhit = work(tile)
        except BaseException as exc:
            tb = traceback.format_exc()
            try:
                pickle.loads(pickle.dumps(exc))
            except Exception:
                exc = WorkerError(f"drizzle worker process failed:\n{tb}")
            out.send((k, "error", (exc, tb)))
            return
        if j >= _FORK_SLOTS:
            acks.recv_bytes()  # tile j - _FORK_SLOTS (this slot's last user) is merged
        layout = None
        if res is not None and not isinstance(res[0], str):
            layout = _pack(res, slot(w, j))
        if layout is not None:
            out.send((k, "slot", (layout, nhit)))
        else:
            out.send((k, "pipe", (res, nhit)))


def _collect(procs, ntiles, nproc, slot, take):
    """Receive the workers' tiles in order and ``take`` them; hand each slot back."""
    for k in range(ntiles):
        w = k % nproc
        try:
            kk, kind, payload = procs.readers[w].recv()
        except EOFError:
            pid = procs.pids[w]
            _, status = os.waitpid(pid, 0)
            procs.reaped.add(pid)
            code = os.waitstatus_to_exitcode(status)
            how = f"was killed by signal {-code}" if code < 0 else f"exited ({code})"
            raise WorkerError(
                f"drizzle worker process {pid} {how} before sending tile {k}"
            ) from None
        if kind == "error":
            exc, tb = payload
            exc.add_note(f"(raised in drizzle worker process {procs.pids[w]}:\n{tb})")
            raise exc
        if kk != k:  # pragma: no cover - the protocol sends tiles in order
            raise RuntimeError(f"worker sent tile {kk}, expected {k}")
        if kind == "pipe":
            take(payload)
        else:
            layout, nhit = payload
            res = _unpack(layout, slot(w, k // nproc))
            take((res, nhit))
            del res
        # the worker reads one ack per tile from its _FORK_SLOTS-th on, whatever its kind;
        # one that has failed or died is gone (its error or end is read next, in order)
        if k + nproc * _FORK_SLOTS < ntiles:
            with contextlib.suppress(OSError):
                procs.ackers[w].send_bytes(b"")


class _Workers:
    """The forked worker processes of one call, their pipes, and their reaping."""

    def __init__(self) -> None:
        self.readers: list = []
        self.ackers: list = []
        self.pids: list[int] = []
        self.reaped: set[int] = set()
        self.done = False

    @staticmethod
    def _held():
        import signal

        return {signal.SIGINT, signal.SIGALRM}  # (KeyboardInterrupt, timeouts)

    def start(self, nproc, child) -> None:
        """Fork ``nproc`` workers running ``child(w, results_pipe, acks_pipe)``."""
        import multiprocessing
        import signal

        for w in range(nproc):
            r, wr = multiprocessing.Pipe(duplex=False)
            self.readers.append(r)
            ar, aw = multiprocessing.Pipe(duplex=False)
            self.ackers.append(aw)
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, self._held())
            try:
                pid = os.fork()
                if pid == 0:  # the worker (SIGINT stays held: the caller kills it)
                    code = 0
                    try:
                        for c in (*self.readers, *self.ackers):
                            c.close()
                        child(w, wr, ar)
                    except BaseException:
                        code = 1
                    finally:
                        os._exit(code)
                self.pids.append(pid)
            finally:
                wr.close()
                ar.close()
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def reap(self) -> None:
        """Close the pipes, kill the workers unless they finished, and wait for them."""
        import signal

        mask = signal.pthread_sigmask(signal.SIG_BLOCK, self._held())
        try:
            for c in self.readers + self.ackers:
                c.close()
            for pid in self.pids:
                if pid in self.reaped:
                    continue
                if not self.done:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


# ---------------------------------------------------------------- threads
#: The process-wide worker pool (see :func:`_submit`), its size, and the lock guarding both.
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _forget_pool_after_fork() -> None:
    """A forked child has none of the parent's pool threads: start afresh there."""
    global _POOL, _POOL_SIZE, _POOL_LOCK
    _POOL, _POOL_SIZE = None, 0
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _buffered(fn, n_tasks: int):
    """``fn`` wrapped so that each call holds one of ``n_tasks`` sets of work buffers.

    The sets (see :mod:`._buffers`) belong to the wrapper, so they live as long as the
    caller keeps it (one drizzle call); at most ``n_tasks`` calls run at once (a further
    call waits for a set).
    """
    buffers = queue.SimpleQueue()
    for _ in range(n_tasks):
        buffers.put({})

    def call(arg):
        bufs = buffers.get()
        SCRATCH.bufs = bufs
        try:
            return fn(arg)
        finally:
            SCRATCH.bufs = None
            buffers.put(bufs)

    return call


def _submit(n_workers: int, fn, arg):
    """Run ``fn(arg)`` on the process-wide pool, which has at least ``n_workers`` workers.

    One pool serves every call (starting threads costs ~1 ms a call); it is replaced by a
    larger one when a call asks for more workers than it has.  The old pool is shut down
    without waiting: tasks already given to it still run, then its threads end.  Submitting
    under the lock means no call can submit to a pool that was just shut down.  A call must
    bound how many of its tasks run at once itself (the pool may be larger than it asked).
    At interpreter exit ``concurrent.futures`` joins the workers, which are idle by then.
    """
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or n_workers > _POOL_SIZE:
            old = _POOL
            _POOL = ThreadPoolExecutor(n_workers, thread_name_prefix="ditherlab-drizzle")
            _POOL_SIZE = n_workers
            if old is not None:
                old.shutdown(wait=False)
        return _POOL.submit(fn, arg)


def _raise_malloc_thresholds() -> None:
    """Let the C allocator keep freed tile temporaries instead of unmapping them.

    glibc maps every block above its mmap threshold (128 KiB at start) afresh and returns
    freed memory above its trim threshold to the system, so the per-tile temporaries
    (hundreds of KiB each) cost a page fault per 4 KiB page on every tile: ~700 000
    faults and +60 % wall time for one 2048x4096 chip.  Freeing one large mapped block
    makes glibc raise both thresholds to its size (blocks above 32 MiB are ignored), the
    same thing any program does when it frees a large array.  Elsewhere this is a no-op.
    """
    block = np.empty(1 << 21)  # 16 MiB, never touched
    del block
