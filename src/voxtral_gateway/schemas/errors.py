"""The one JSON shape every error response has."""

from __future__ import annotations

from typing import Any

import msgspec


class ErrorDetail(msgspec.Struct, kw_only=True, omit_defaults=True):
    code: str
    """Machine-readable, stable: e.g. `audio_undecodable`, `payload_too_large`, `model_unavailable`."""
    message: str
    """Human-readable; names the field and the limit where there is one."""
    field: str | None = None
    details: dict[str, Any] | None = None
    request_id: str | None = None


class ErrorResponse(msgspec.Struct):
    error: ErrorDetail
