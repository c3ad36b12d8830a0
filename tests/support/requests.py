"""Build request bodies from audio files the way clients do."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any


def b64(path: Path | bytes) -> str:
    data = path if isinstance(path, bytes) else Path(path).read_bytes()
    return base64.b64encode(data).decode("ascii")


def transcribe_body(path: Path | bytes, fmt: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"audio_file": b64(path), **fields}
    if fmt is not None:
        body["format"] = fmt
    return body
