"""Where tile tasks run: in-process, a local process pool, or a Dask distributed cluster.

All three are used through the ``concurrent.futures.Executor`` interface (Dask's
``Client.get_executor()`` provides it), so the pipeline has one code path. Dask workers
must share the build's work and staging folders (a shared file system), because tasks
exchange files, not arrays.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import multiprocessing
import os
from typing import Iterator

from tiles.errors import TilesError


#: glibc mallopt parameters (malloc.h): arrays from 1 MB up are mmapped and go back to
#: the system when freed, and free heap above 1 MB is trimmed.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_HEAP_LIMIT = 1 << 20


def bound_heap() -> None:
    """Pool worker initializer: keep a long-lived worker's RSS from creeping up.

    glibc raises its mmap threshold each time a large array is freed, so after a few
    200k-triangle tasks the big numpy temporaries come from the heap, which fragments
    and keeps growing with the number of tasks (measured: 40 M triangles took 75 % more
    RSS than 10 M). A fixed threshold keeps big arrays in mmap, returned when freed.
    No-op where glibc is not the allocator.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _HEAP_LIMIT)
        libc.mallopt(_M_TRIM_THRESHOLD, _HEAP_LIMIT)
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Give free heap pages back to the system (after a large task; glibc only)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class InlineExecutor(cf.Executor):
    """Runs tasks at submit time in this process (workers=1, and easy debugging)."""

    def submit(self, fn, /, *args, **kwargs):
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller through the future
            future.set_exception(exc)
        return future


def worker_count(workers: int) -> int:
    """``workers`` or, for 0, the number of cores this process may use."""
    if workers > 0:
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def open_executor(workers: int, dask_scheduler: str = "") -> Iterator[cf.Executor]:
    """An executor for tile tasks, closed on exit."""
    if dask_scheduler:
        try:
            from distributed import Client  # deferred: optional, heavy (Dask)
        except ImportError as exc:
            raise TilesError("dask_scheduler is set but dask.distributed is not installed: "
                             "pip install 'dask[distributed]' or clear dask_scheduler") from exc
        try:
            client = Client(dask_scheduler, timeout="20s")
        except OSError as exc:
            raise TilesError(f"cannot reach the Dask scheduler at {dask_scheduler!r}: {exc}. "
                             "Check the address in [tiles] dask_scheduler") from exc
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
        return
    count = worker_count(workers)
    if count == 1:
        yield InlineExecutor()
        return
    context = multiprocessing.get_context("spawn" if os.name == "nt" else "forkserver")
    with cf.ProcessPoolExecutor(max_workers=count, mp_context=context,
                                initializer=bound_heap) as pool:
        yield pool
