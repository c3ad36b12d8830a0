"""Where uploads wait for their job: a directory shared by every instance, or memory (in-process jobs).

An object store (S3, GCS) would implement `BlobStore` the same way: put, get, delete by key."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path
from typing import Protocol

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The blob, or None when there is none under `key`."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob; nothing happens when there is none."""
        ...

    async def problem(self) -> str | None:
        """Why blobs cannot be stored now (checked at start-up), or None."""
        ...


class DirectoryBlobStore:
    """Files in one directory (a volume every instance mounts). Writes are atomic: a reader on another
    instance sees the whole file or none. File work runs on a thread, off the event loop."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        if not _SAFE_KEY.match(key):
            raise ValueError(f"blob key {key!r} is not a plain name")
        return self.directory / key

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put, self._path(key), data)

    def _put(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
        try:
            with partial.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            partial.replace(path)
        except BaseException:  # a full disk, say: no half-written file is left behind
            partial.unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def problem(self) -> str | None:
        try:
            await self.put(".write-check", b"")
            await self.delete(".write-check")
        except OSError as exc:
            return f"JOBS_BLOB_DIR {self.directory.resolve()} is not writable ({exc.strerror or exc})"
        return None


class MemoryBlobStore:
    """Blobs in this process's memory (jobs run in process, bounded by their queue)."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    async def put(self, key: str, data: bytes) -> None:
        self._blobs[key] = data

    async def get(self, key: str) -> bytes | None:
        return self._blobs.get(key)

    async def delete(self, key: str) -> None:
        self._blobs.pop(key, None)

    async def problem(self) -> str | None:
        return None
