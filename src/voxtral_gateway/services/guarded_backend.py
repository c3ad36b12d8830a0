"""The backend every use case talks to: the configured engine behind the admission gate, measured.

`runtime.backend` is a `GuardedBackend`: each transcription or chat request first takes an admission
slot (or is refused with 503), then its latency, outcome, audio seconds, real-time factor and the
decoded bytes it carried are recorded. A realtime model session holds a slot for its whole life.
Everything else is the inner backend's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import numpy as np

from voxtral_gateway.audio import DecodedAudio
from voxtral_gateway.backends.base import (
    BackendHealth,
    RealtimeEvent,
    RealtimeSession,
    SpeechBackend,
    Transcript,
    TranscriptDelta,
    TranscriptionOptions,
)
from voxtral_gateway.backends.chat import Answer, AnswerDelta, AudioPart, ChatMessage, SamplingParams
from voxtral_gateway.errors import GatewayError
from voxtral_gateway.observability import metrics
from voxtral_gateway.observability.request_id import current_request
from voxtral_gateway.services.admission import AdmissionGate

_NO_ROUTE = "none"


class GuardedBackend(SpeechBackend):
    """Wraps `inner`; its descriptive attributes are the inner backend's (forwarded, not copied)."""

    def __init__(self, inner: SpeechBackend, gate: AdmissionGate):
        self.inner = inner
        self.gate = gate

    # The inner backend describes the engine (kind, model, limits, capabilities).
    @property  # type: ignore[override]
    def kind(self) -> str:
        return self.inner.kind

    @property  # type: ignore[override]
    def model_name(self) -> str:
        return self.inner.model_name

    @property  # type: ignore[override]
    def supports_chat(self) -> bool:
        return self.inner.supports_chat

    @property  # type: ignore[override]
    def prefers_segments(self) -> bool:
        return self.inner.prefers_segments

    @property  # type: ignore[override]
    def max_audio_seconds(self) -> float | None:
        return self.inner.max_audio_seconds

    @property  # type: ignore[override]
    def base_url(self) -> str | None:
        return self.inner.base_url

    @property
    def supported_languages(self) -> frozenset[str] | None:
        return self.inner.supported_languages

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def health(self) -> BackendHealth:
        return await self.inner.health()

    async def serves_realtime(self) -> bool:
        return await self.inner.serves_realtime()

    async def realtime_session(self, options: TranscriptionOptions) -> RealtimeSession | None:
        """A realtime model session holds an admission slot from before it is opened until it is closed
        (it is one stream of work on the model server for as long as its client speaks); refused with
        `Overloaded` as a request would be. Without a realtime model, no slot is taken."""
        if not await self.inner.serves_realtime():
            return None
        release = await self.gate.hold()
        try:
            session = await self.inner.realtime_session(options)
        except BaseException:
            release()
            raise
        if session is None:
            release()
            return None
        return _AdmittedSession(session, release)

    async def transcribe(self, audio: DecodedAudio, options: TranscriptionOptions) -> Transcript:
        async with self._measured("transcribe", [audio]):
            return await self.inner.transcribe(audio, options)

    async def transcribe_stream(
        self, audio: DecodedAudio, options: TranscriptionOptions
    ) -> AsyncIterator[TranscriptDelta | Transcript]:
        pieces = self.inner.transcribe_stream(audio, options)
        try:
            async with self._measured("transcribe", [audio]):
                async for piece in pieces:
                    yield piece
        finally:  # closed early: free the inner stream (its connection, its slot) now
            await pieces.aclose()

    async def chat(self, messages: list[ChatMessage], sampling: SamplingParams) -> Answer:
        async with self._measured("chat", _audios(messages)):
            return await self.inner.chat(messages, sampling)

    async def chat_stream(
        self, messages: list[ChatMessage], sampling: SamplingParams
    ) -> AsyncIterator[AnswerDelta]:
        deltas = self.inner.chat_stream(messages, sampling)  # an engine without chat refuses here
        try:
            async with self._measured("chat_stream", _audios(messages)):
                async for delta in deltas:
                    yield delta
        finally:  # closed early (the client left): end the upstream request now, not at collection
            await deltas.aclose()

    @asynccontextmanager
    async def _measured(self, operation: str, audios: Sequence[DecodedAudio]) -> AsyncIterator[None]:
        kind = self.inner.kind
        async with self.gate.slot():
            started = time.perf_counter()
            outcome = "error"
            try:
                yield
                outcome = "ok"
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            except GatewayError as exc:
                metrics.UPSTREAM_ERRORS.labels(kind, exc.code).inc()
                raise
            except Exception:
                metrics.UPSTREAM_ERRORS.labels(kind, "internal_error").inc()
                raise
            finally:
                elapsed = time.perf_counter() - started
                metrics.UPSTREAM_DURATION.labels(kind, operation, outcome).observe(elapsed)
                if outcome == "ok":
                    _count_audio(kind, audios, elapsed)


class _AdmittedSession(RealtimeSession):
    """A realtime session holding an admission slot; closing it gives the slot back (once, whatever
    closing the model's socket did)."""

    def __init__(self, inner: RealtimeSession, release: Callable[[], None]):
        self._inner = inner
        self._release = release

    async def append(self, samples: np.ndarray) -> None:
        await self._inner.append(samples)

    async def commit(self) -> None:
        await self._inner.commit()

    def events(self) -> AsyncIterator[RealtimeEvent]:
        return self._inner.events()

    @property
    def held_samples(self) -> int:
        return self._inner.held_samples

    async def close(self) -> None:
        try:
            await self._inner.close()
        finally:
            self._release()


def _audios(messages: Sequence[ChatMessage]) -> list[DecodedAudio]:
    return [part.audio for message in messages for part in message.content if isinstance(part, AudioPart)]


def _count_audio(kind: str, audios: Sequence[DecodedAudio], elapsed: float) -> None:
    context = current_request()
    route = context.route if context is not None else _NO_ROUTE
    seconds = sum(audio.duration_seconds for audio in audios)
    if seconds > 0:
        metrics.AUDIO_SECONDS.labels(route, kind).inc(seconds)
        metrics.REALTIME_FACTOR.labels(kind).observe(elapsed / seconds)
    for audio in audios:
        # Segments of one upload share its source: count the upload's bytes once per request.
        if context is not None:
            if id(audio.source) in context.decoded_sources:
                continue
            context.decoded_sources[id(audio.source)] = audio.source  # kept: its id stays unique
        metrics.AUDIO_BYTES_DECODED.labels(route).inc(audio.source.size_bytes)
