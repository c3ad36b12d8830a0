"""The directory blob store: atomic writes, and nothing half-written left behind when a write fails."""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import pytest

from voxtral_gateway.store.blobs import DirectoryBlobStore


def _names(directory: Path) -> list[str]:
    return [path.name for path in directory.iterdir()]


async def test_a_blob_is_written_whole_and_read_back(tmp_path: Path):
    store = DirectoryBlobStore(tmp_path)
    await store.put("job_1", b"audio bytes")
    assert await store.get("job_1") == b"audio bytes"
    await store.delete("job_1")
    assert await store.get("job_1") is None
    assert _names(tmp_path) == []


async def test_a_write_that_fails_leaves_no_partial_file(tmp_path: Path):
    """The disk refuses the write part way (here: a file size limit, as a full volume would)."""
    store = DirectoryBlobStore(tmp_path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(OSError):
            await store.put("job_2", b"x" * (256 * 1024))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert _names(tmp_path) == []
    assert await store.get("job_2") is None


async def test_a_key_that_is_not_a_plain_name_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="plain name"):
        await DirectoryBlobStore(tmp_path).put("../escape", b"")
