"""Upstream timeouts per route kind: connect, first byte (the status line and headers) and total."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

PositiveFloat = Annotated[float, Meta(gt=0)]

RouteKind = Literal["transcription", "understanding"]
"""`transcription`: /transcribe, batch, OpenAI transcriptions and stream utterances;
`understanding`: /understand and OpenAI chat completions."""


class UpstreamTimeouts(msgspec.Struct, kw_only=True, frozen=True):
    """One route kind's resolved timeouts; first byte never exceeds total."""

    kind: RouteKind
    connect: float
    first_byte: float
    total: float

    @property
    def setting_prefix(self) -> str:
        """The prefix of the kind's own variables, for error messages (`TRANSCRIPTION`)."""
        return self.kind.upper()


class TimeoutSettings(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    rename={
        "connect_seconds": "upstream_connect_timeout_seconds",
        "total_seconds": "upstream_timeout_seconds",
        "transcription_connect_seconds": "transcription_connect_timeout_seconds",
        "transcription_first_byte_seconds": "transcription_first_byte_timeout_seconds",
        "transcription_total_seconds": "transcription_timeout_seconds",
        "understanding_connect_seconds": "understanding_connect_timeout_seconds",
        "understanding_first_byte_seconds": "understanding_first_byte_timeout_seconds",
        "understanding_total_seconds": "understanding_timeout_seconds",
    },
):
    """UPSTREAM_* defaults, and each route kind's own (unset: connect falls back to
    UPSTREAM_CONNECT_TIMEOUT_SECONDS, first byte and total to UPSTREAM_TIMEOUT_SECONDS)."""

    connect_seconds: PositiveFloat = 5.0
    total_seconds: PositiveFloat = 300.0
    transcription_connect_seconds: PositiveFloat | None = None
    transcription_first_byte_seconds: PositiveFloat | None = None
    transcription_total_seconds: PositiveFloat | None = None
    understanding_connect_seconds: PositiveFloat | None = None
    understanding_first_byte_seconds: PositiveFloat | None = None
    """Until the first streamed token (or the whole answer, unstreamed)."""
    understanding_total_seconds: PositiveFloat | None = None

    @property
    def transcription(self) -> UpstreamTimeouts:
        return self._resolved(
            "transcription",
            self.transcription_connect_seconds,
            self.transcription_first_byte_seconds,
            self.transcription_total_seconds,
        )

    @property
    def understanding(self) -> UpstreamTimeouts:
        return self._resolved(
            "understanding",
            self.understanding_connect_seconds,
            self.understanding_first_byte_seconds,
            self.understanding_total_seconds,
        )

    def _resolved(
        self, kind: RouteKind, connect: float | None, first_byte: float | None, total: float | None
    ) -> UpstreamTimeouts:
        total = total or self.total_seconds
        return UpstreamTimeouts(
            kind=kind,
            connect=connect or self.connect_seconds,
            first_byte=min(first_byte or total, total),
            total=total,
        )
