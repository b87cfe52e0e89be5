"""Keep freed image buffers in the process instead of returning them to the kernel.

Rendering allocates and frees buffers of 0.1-10 MB per image (objects, crops, encoder
input). glibc serves those from fresh ``mmap`` pages and gives them back on ``free``,
so every image faults in its memory again: 1.35 million page faults and a quarter of
the CPU time of a size-subset build (measured with ``perf stat -e page-faults``). Raising
glibc's mmap and trim thresholds lets those buffers be reused. The resident memory
stays bounded by the renderer's caches plus at most :data:`TRIM` bytes kept free.

Only processes that siscore owns and that render are tuned: ``siscore build``, its worker
processes and the data-loader workers that siscore's evaluation starts for on-the-fly
images (through their ``worker_init_fn``, :func:`siscore.evaluate.data.worker_init`).
:func:`tune` is a no-op elsewhere than glibc; a library call in your own process, and a
DataLoader of your own over rendered images, leave your allocator alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import platform

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
MMAP = 64 << 20  # allocations at least this large still get their own mapping
TRIM = 128 << 20  # free memory kept at the top of the heap before it is returned
TOP_PAD = 16 << 20  # extra heap asked for at each growth

_tuned = False


def tune() -> bool:
    """Raise this process's glibc malloc thresholds (once); whether it was done."""
    global _tuned
    if _tuned:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        _tuned = all(libc.mallopt(param, value) == 1 for param, value in
                     ((M_MMAP_THRESHOLD, MMAP), (M_TRIM_THRESHOLD, TRIM), (M_TOP_PAD, TOP_PAD)))
    return _tuned
