"""GET /health/ response."""

from __future__ import annotations

from typing import Literal

import msgspec


class BackendStatus(msgspec.Struct, kw_only=True):
    kind: str
    model: str
    ready: bool
    detail: str | None = None
    url: str | None = None


class HealthResponse(msgspec.Struct, kw_only=True):
    status: Literal["ok", "unavailable"]
    version: str
    uptime_seconds: float
    backend: BackendStatus
