"""API keys at rest: the keys file's shape, key generation and hashing. Only hashes are stored."""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

KEY_PREFIX = "vxg_"
DEFAULT_KEYS_FILE = Path("config/api_keys.json")

Limit = Annotated[int, Meta(ge=1)]


class KeyLimits(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Per-key overrides of the tier limits (requests per window) and of the concurrent streams cap;
    a field left out keeps the gateway's default."""

    general: Limit | None = None
    transcription: Limit | None = None
    understanding: Limit | None = None
    batch: Limit | None = None
    max_streams: Limit | None = None


class ApiKeyRecord(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    id: str
    """Public and stable: names the key in logs and rate-limit buckets (never the key itself)."""
    name: str
    sha256: Annotated[str, Meta(pattern="^[0-9a-f]{64}$")]
    """Hex SHA-256 of the key; enough for 256-bit random keys (nothing to brute-force)."""
    created_at: str
    disabled: bool = False
    limits: KeyLimits | None = None


class ApiKeyFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    version: int = 1
    keys: list[ApiKeyRecord] = msgspec.field(default_factory=list)


class KeysFileError(ValueError):
    """The keys file cannot be read or is not valid; the message names the file."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A new random key: the prefix and 256 bits, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_record(name: str, key: str, limits: KeyLimits | None = None) -> ApiKeyRecord:
    return ApiKeyRecord(
        id="key_" + secrets.token_hex(6),
        name=name,
        sha256=hash_key(key),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        limits=limits,
    )


def read_keys_file(path: Path) -> ApiKeyFile:
    try:
        return msgspec.json.decode(path.read_bytes(), type=ApiKeyFile)
    except OSError as exc:
        raise KeysFileError(f"cannot read API keys file {path}: {exc.strerror or exc}") from exc
    except msgspec.ValidationError as exc:
        raise KeysFileError(f"invalid API keys file {path}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise KeysFileError(f"API keys file {path} is not JSON: {exc}") from exc


def write_keys_file(path: Path, keys: ApiKeyFile) -> None:
    """Replace the file atomically (a running gateway never reads half of it), readable by owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = msgspec.json.format(msgspec.json.encode(keys), indent=2) + b"\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
