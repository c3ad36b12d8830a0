"""The API keys a gateway accepts: verified by hash in constant time, re-read when the file changes."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from voxtral_gateway.auth._keys import ApiKeyRecord, KeysFileError, read_keys_file

log = structlog.get_logger(__name__)

_RECHECK_SECONDS = 1.0


class ApiKeyStore:
    """Keys from one file. A file that changes is re-read within a second (so `keys disable` works on
    a running gateway); a file that becomes unreadable or invalid keeps the keys last read."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic):
        self.path = path
        self._clock = clock
        self._entries: tuple[tuple[bytes, ApiKeyRecord], ...] = ()
        self._stamp: tuple[int, int, int] | None = None
        self._checked_at = clock()
        self._load()

    @property
    def records(self) -> tuple[ApiKeyRecord, ...]:
        return tuple(record for _, record in self._entries)

    def verify(self, key: str) -> ApiKeyRecord | None:
        """The record whose hash matches `key` (disabled ones included: the caller refuses them)."""
        self._maybe_reload()
        digest = hashlib.sha256(key.encode()).digest()
        found: ApiKeyRecord | None = None
        # Every record is compared, each in constant time: the time taken says nothing about the key.
        for stored, record in self._entries:
            if hmac.compare_digest(stored, digest):
                found = record
        return found

    def _load(self) -> None:
        stat = _stat(self.path)
        keys = read_keys_file(self.path)
        self._entries = tuple((bytes.fromhex(record.sha256), record) for record in keys.keys)
        self._stamp = stat
        log.info(
            "api_keys_loaded",
            file=str(self.path),
            keys=len(self._entries),
            enabled=sum(not record.disabled for _, record in self._entries),
        )

    def _maybe_reload(self) -> None:
        now = self._clock()
        if now - self._checked_at < _RECHECK_SECONDS:
            return
        self._checked_at = now
        try:
            stamp = _stat(self.path)
        except KeysFileError as exc:
            log.error("api_keys_file_unreadable", error=str(exc), keeping=len(self._entries))
            return
        if stamp == self._stamp:
            return
        try:
            self._load()
        except KeysFileError as exc:
            log.error("api_keys_reload_failed", error=str(exc), keeping=len(self._entries))


def _stat(path: Path) -> tuple[int, int, int]:
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise KeysFileError(f"cannot read API keys file {path}: {exc.strerror or exc}") from exc
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)
