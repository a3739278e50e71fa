"""Process-wide settings for the commands that run the network.

:func:`retain_freed_memory`: glibc's ``malloc`` gives large freed blocks back to the kernel
(``munmap`` of blocks above its mmap threshold, trimming of the heap top), so every large
tensor the next forward pass allocates is new memory whose pages fault in and are zeroed
again. A forward pass of the segmenter allocates tens of MB this way, and on a small CPU that
refaulting is a visible part of its time (BENCHMARKS.md, "Where the time of propagation
goes"). Keeping freed memory in the process removes it; the cost is that the process's
resident memory stays at its peak instead of shrinking between passes.

:func:`core_for_flow`: propagation computes the next frame's optical flow on a worker thread
while the network runs (:meth:`pipeline.engine.flow.FlowWarper.ahead`); on a CPU and with
one object, the network's threads leave one core to it.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from contextlib import contextmanager
from typing import Iterator

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's upper bound on 64-bit
_KEEP = 1 << 30


def retain_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse (blocks up to 32 MB come from the heap,
    which is never trimmed); whether it took effect (``False`` off glibc, e.g. macOS or musl,
    where nothing is changed)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX), (_M_TRIM_THRESHOLD, _KEEP), (_M_TOP_PAD, 64 << 20)))


@contextmanager
def core_for_flow(device: str = "cpu", objects: int = 1) -> Iterator[None]:
    """On a CPU and with one object, torch's intra-op threads one fewer (at least one) within
    the block, so that the flow thread of propagation has a core of its own rather than
    taking turns with the network's spin-waiting threads; the count is restored after.
    With several objects the network's clips (one per object) outweigh the flow, which is
    computed once for all, and keep every thread. Nothing changes on a GPU. (Float sums may
    round differently with another thread count; the masks of the bus benchmark did not
    change, BENCHMARKS.md.)"""
    import torch

    threads = torch.get_num_threads()
    if torch.device(device).type != "cpu" or threads < 2 or objects > 1:
        yield
        return
    torch.set_num_threads(threads - 1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
