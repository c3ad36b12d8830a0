"""What a live session emits, in order: speech starting and stopping (as the VAD or the client's commits
find turns), partials of the open utterance, finals (in segment order), non-fatal errors, `TurnDone` once
every final of a turn the client ended is out, then `Done`, then at most one fatal `Error`. A protocol adapter turns each into its
own wire message; the fatal error's WebSocket close code comes from the error → wire mapping."""

from __future__ import annotations

from typing import Literal

import msgspec

from voxtral_gateway.errors import GatewayError


class SpeechStarted(msgspec.Struct, frozen=True, kw_only=True):
    """An utterance opened (the VAD heard speech, or audio arrived after a commit with no VAD)."""

    segment_id: int
    start: float
    """Stream seconds, the padding before the speech included."""


StopReason = Literal["silence", "max_length", "end_of_audio", "commit", "noise", "cleared"]


class SpeechStopped(msgspec.Struct, frozen=True, kw_only=True):
    """The utterance ended. `silence`, `max_length`, `end_of_audio` and `commit` (the client ended the
    turn): its transcription has started and a `Final` (or an `Error`) follows. `noise` (too little
    speech) and `cleared` (the client threw the audio away): nothing follows for it."""

    segment_id: int
    end: float
    """Stream seconds."""
    reason: StopReason

    @property
    def transcribed(self) -> bool:
        return self.reason not in ("noise", "cleared")


class Partial(msgspec.Struct, frozen=True, kw_only=True):
    """Tentative text of the utterance in progress; a later partial or the final of the same
    `segment_id` replaces it."""

    segment_id: int
    start: float
    """Stream seconds."""
    end: float
    text: str
    growing: bool = False
    """The text only grows (a streaming model's): every word but the last is final already."""


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


class TurnDone(msgspec.Struct, frozen=True, kw_only=True):
    """Every final of a turn is out: the turn the client ended (`LiveSession.end_turn`), or the last
    one when the input ends (then just before `Done`)."""

    text: str
    """The turn's finals, joined by spaces."""
    language: str | None
    segments: int
    """Finals in the turn."""
    audio_seconds: float
    """Audio received during the turn."""
    failed_segment_ids: list[int]


class Error(msgspec.Struct, frozen=True, kw_only=True):
    """Something went wrong. Not `fatal`: the session goes on (a lost utterance, an ignored input).
    `fatal`: the session has ended; nothing follows."""

    error: GatewayError
    fatal: bool = False
    mark: int | None = None
    """The adapter's mark of the audio concerned, when known."""
    segment_id: int | None = None


LiveEvent = SpeechStarted | SpeechStopped | Partial | Final | TurnDone | Done | Error
