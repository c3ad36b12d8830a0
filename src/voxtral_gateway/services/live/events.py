"""What a live session emits, in order: partials of the open utterance, finals (in segment order),
non-fatal errors, then `Done`, then at most one fatal `Error`. A protocol adapter turns each into its
own wire message; the fatal error's WebSocket close code comes from the error → wire mapping."""

from __future__ import annotations

import msgspec

from voxtral_gateway.errors import GatewayError


class Partial(msgspec.Struct, frozen=True, kw_only=True):
    """Tentative text of the utterance in progress; a later partial or the final of the same
    `segment_id` replaces it."""

    segment_id: int
    start: float
    """Stream seconds."""
    end: float
    text: str


class Final(msgspec.Struct, frozen=True, kw_only=True):
    """Committed text of one utterance; finals come in `segment_id` order (dense from 1)."""

    segment_id: int
    start: float
    end: float
    text: str
    language: str | None
    confidence: float | None
    mark: int | None
    """The adapter's mark (chunk id, frame number) of the audio that carried the utterance's last sample."""
    backend_ms: float
    """Time the model took for this utterance."""


class Done(msgspec.Struct, frozen=True, kw_only=True):
    """The whole transcript, once the input has ended and every final is out."""

    text: str
    language: str | None
    segments: int
    audio_seconds: float
    processing_ms: float
    failed_segment_ids: list[int]
    """Utterances the model failed to transcribe (each was reported by an `Error`)."""


class Error(msgspec.Struct, frozen=True, kw_only=True):
    """Something went wrong. Not `fatal`: the session goes on (a lost utterance, an ignored input).
    `fatal`: the session has ended; nothing follows."""

    error: GatewayError
    fatal: bool = False
    mark: int | None = None
    """The adapter's mark of the audio concerned, when known."""
    segment_id: int | None = None


LiveEvent = Partial | Final | Done | Error
