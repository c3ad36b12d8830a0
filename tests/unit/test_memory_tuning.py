"""The worker's malloc settings: a request-sized block comes from the heap, not a fresh mapping."""

from __future__ import annotations

import os
import subprocess
import sys

_PROBE = """
import ctypes
from voxtral_gateway.memory import tune_allocator

libc = ctypes.CDLL(None)

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"
    )]

libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)

def mapped_for_a_block():
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(2 * 1024 * 1024)
    mapped = libc.mallinfo2().hblkhd - before
    libc.free(block)
    return mapped > 0

print(mapped_for_a_block(), tune_allocator(), mapped_for_a_block())
"""


def _probe(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_a_two_megabyte_block_is_mapped_before_and_taken_from_the_heap_after():
    assert _probe({}) == "True True False"


def test_the_operators_own_glibc_tunables_are_left_alone():
    env = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072"}
    assert _probe(env) == "True False True"
