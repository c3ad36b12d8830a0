"""Upstream timeouts per route kind: connect, first byte (the response's status line and headers) and
total (the whole exchange, body included), from the settings."""

from __future__ import annotations

from typing import Literal

import aiohttp
import msgspec

from voxtral_gateway.settings import Settings

RouteKind = Literal["transcription", "understanding"]
"""`transcription`: /transcribe, batch, OpenAI transcriptions and stream utterances;
`understanding`: /understand and OpenAI chat completions."""


class UpstreamTimeouts(msgspec.Struct, kw_only=True, frozen=True):
    kind: RouteKind
    connect: float
    first_byte: float
    total: float

    @property
    def setting_prefix(self) -> str:
        return self.kind.upper()

    def client_timeout(self) -> aiohttp.ClientTimeout:
        """aiohttp's part: connect and total (first byte is enforced around the request itself)."""
        return aiohttp.ClientTimeout(total=self.total, connect=self.connect)


def upstream_timeouts(settings: Settings, kind: RouteKind) -> UpstreamTimeouts:
    """The kind's own settings, falling back to UPSTREAM_CONNECT_TIMEOUT_SECONDS and UPSTREAM_TIMEOUT_SECONDS;
    first byte never exceeds total."""
    connect = (
        getattr(settings, f"{kind}_connect_timeout_seconds") or settings.upstream_connect_timeout_seconds
    )
    total = getattr(settings, f"{kind}_timeout_seconds") or settings.upstream_timeout_seconds
    first_byte = getattr(settings, f"{kind}_first_byte_timeout_seconds") or total
    return UpstreamTimeouts(kind=kind, connect=connect, first_byte=min(first_byte, total), total=total)
