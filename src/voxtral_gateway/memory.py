"""glibc malloc settings for a worker process, applied once at start-up.

A request's buffers (its body, the decoded samples, the WAV sent upstream) are each a few hundred
kB to a few MB. With glibc's defaults, blocks that size are mapped fresh from the kernel and handed
back when freed, or the heap top is trimmed after them, so every request paid for page faults and
zero-filling again: ~1 ms of a 10 s clip's request (benchmark P1). With a fixed threshold of
`MMAP_THRESHOLD_BYTES`, such blocks come from the heap and their pages are reused; up to
`TRIM_THRESHOLD_BYTES` of free heap top is kept. Larger blocks (a 100 MB upload) are still mapped
and returned to the kernel as soon as they are freed.

An operator's own `GLIBC_TUNABLES` malloc settings win: nothing is changed then."""

from __future__ import annotations

import ctypes
import os
from typing import Final

import structlog

log = structlog.get_logger(__name__)

MMAP_THRESHOLD_BYTES: Final = 4 * 1024 * 1024
TRIM_THRESHOLD_BYTES: Final = 16 * 1024 * 1024
# mallopt's parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3


def tune_allocator() -> bool:
    """Apply the settings; False when they are not applied (not glibc, or the operator's own)."""
    if "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False  # not glibc (musl, macOS): its own allocator, left alone
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    if not applied:
        log.warning("allocator_tuning_refused")
    return applied
