"""The one interface every speech backend implements, and the typed results it returns."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from typing import ClassVar, Literal

import msgspec
import numpy as np

from voxtral_gateway.audio import DecodedAudio
from voxtral_gateway.backends.chat import Answer, AnswerDelta, ChatMessage, SamplingParams
from voxtral_gateway.errors import GatewayError, NotSupportedByBackend

UNDERSTANDING_NEEDS_VOXTRAL = (
    "audio understanding needs the Voxtral backend: serve mistralai/Voxtral-Mini-3B-2507 with vLLM "
    "(vllm serve mistralai/Voxtral-Mini-3B-2507 --tokenizer_mode mistral --config_format mistral "
    "--load_format mistral) and start the gateway with --voxtral-host HOST (or VOXTRAL_HOST)"
)


class TranscriptionOptions(msgspec.Struct, kw_only=True, frozen=True):
    language: str | None = None
    temperature: float = 0.0


class TranscriptSegment(msgspec.Struct, kw_only=True):
    start: float
    end: float
    text: str


class Transcript(msgspec.Struct, kw_only=True):
    text: str
    language: str | None
    """What the model reported, when it reports one."""
    confidence: float | None
    """Mean token probability, when the model exposes token probabilities."""
    segments: list[TranscriptSegment]


class TranscriptDelta(msgspec.Struct, kw_only=True, frozen=True):
    """Text a streamed transcription adds to what came before it (never empty)."""

    text: str


class BackendMemberHealth(msgspec.Struct, kw_only=True):
    """One server of a pool of backends, as the pool sees it."""

    url: str
    state: Literal["healthy", "unhealthy", "unknown"]
    """`unhealthy`: taken out of the pool (its probe or a request failed) until a probe succeeds."""
    in_flight: int
    detail: str | None = None
    checked_seconds_ago: float | None = None


class BackendHealth(msgspec.Struct, kw_only=True):
    ready: bool
    detail: str | None = None
    members: list[BackendMemberHealth] = msgspec.field(default_factory=list)
    """Each server of a pool (empty for a single engine)."""


REALTIME_SAMPLE_RATE = 16_000
"""The rate of the audio a realtime session takes (Voxtral Realtime's)."""


class RealtimeUsage(msgspec.Struct, kw_only=True, frozen=True):
    """The model's token counts for one turn."""

    prompt_tokens: int = 0
    completion_tokens: int | None = 0
    total_tokens: int = 0


class RealtimeDelta(msgspec.Struct, kw_only=True, frozen=True):
    """Text the model added to the turn in progress (may be empty: a step that produced no word)."""

    text: str


class RealtimeDone(msgspec.Struct, kw_only=True, frozen=True):
    """The turn is finished: its whole text (the deltas joined) and usage."""

    text: str
    usage: RealtimeUsage | None = None


class RealtimeTurnFailed(msgspec.Struct, kw_only=True, frozen=True):
    """The model failed the turn in progress (a committed one if any is waiting, else the one being
    appended): no done will come for it. The session goes on; the next audio starts a new turn."""

    error: GatewayError


RealtimeEvent = RealtimeDelta | RealtimeDone | RealtimeTurnFailed


class RealtimeSession(abc.ABC):
    """A streaming transcription with a realtime model: audio in as it comes, text out as it is decoded.

    A session is already open when a backend returns it; use it as `async with session:` to close it.
    Per turn: `append` audio (several times), then `commit`; `events` yields `RealtimeDelta`s as text is
    decoded and a `RealtimeDone` once the turn's audio is all transcribed, or `RealtimeTurnFailed` when
    the model failed that turn. Audio appended after `commit` belongs to the next turn. A session that
    cannot go on raises a `GatewayError` (`UpstreamUnavailable`, `UpstreamError`...) from whichever call
    meets it."""

    async def __aenter__(self) -> RealtimeSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def append(self, samples: np.ndarray) -> None:
        """More audio of the current turn: float32 mono at `REALTIME_SAMPLE_RATE`."""

    @abc.abstractmethod
    async def commit(self) -> None:
        """The current turn's audio is complete: its `RealtimeDone` follows its last deltas."""

    @abc.abstractmethod
    def events(self) -> AsyncIterator[RealtimeEvent]:
        """The deltas and dones of every turn, in order; ends when the session is closed."""

    @abc.abstractmethod
    async def close(self) -> None:
        """End the session (a turn in progress is abandoned)."""

    @property
    def held_samples(self) -> int:
        """Audio appended that the session holds back from the model for now (samples at
        `REALTIME_SAMPLE_RATE`): the caller counts it as waiting, for backpressure."""
        return 0


class SpeechBackend(abc.ABC):
    """A speech engine the gateway can send decoded audio to."""

    kind: ClassVar[str]
    model_name: str
    supports_chat: ClassVar[bool] = False
    """Whether `chat`/`chat_stream` work: questions about audio need an audio LLM (Voxtral)."""
    prefers_segments: ClassVar[bool] = False
    """Whether long audio should be cut into segments and sent concurrently (an HTTP model server),
    rather than in one piece (an engine such as faster-whisper that windows long audio itself)."""
    max_audio_seconds: float | None = None
    """The longest audio one request may carry, or None for no limit of the backend's own."""
    base_url: str | None = None
    """The one server the backend talks to, when there is one (None: in process, or a pool)."""

    async def start(self) -> None:
        """Acquire long-lived resources (connections, model weights)."""

    async def close(self) -> None:
        """Release what `start` acquired."""

    @property
    def supported_languages(self) -> frozenset[str] | None:
        """Languages the model can be asked for, or None for all the API accepts."""
        return None

    @abc.abstractmethod
    async def transcribe(self, audio: DecodedAudio, options: TranscriptionOptions) -> Transcript:
        """Transcribe one decoded clip."""

    async def transcribe_stream(
        self, audio: DecodedAudio, options: TranscriptionOptions
    ) -> AsyncIterator[TranscriptDelta | Transcript]:
        """The same transcription as it is generated: `TranscriptDelta`s whose texts join to the
        transcript's text, then the `Transcript` itself, last. An engine that cannot stream tokens
        gives its whole text as one delta."""
        transcript = await self.transcribe(audio, options)
        if transcript.text:
            yield TranscriptDelta(text=transcript.text)
        yield transcript

    @abc.abstractmethod
    async def health(self) -> BackendHealth:
        """Whether the backend can serve requests now."""

    async def chat(self, messages: list[ChatMessage], sampling: SamplingParams) -> Answer:
        """Answer a conversation that carries audio; only backends with an audio LLM can."""
        raise NotSupportedByBackend(UNDERSTANDING_NEEDS_VOXTRAL)

    def chat_stream(
        self, messages: list[ChatMessage], sampling: SamplingParams
    ) -> AsyncIterator[AnswerDelta]:
        """The same answer, as it is generated."""
        raise NotSupportedByBackend(UNDERSTANDING_NEEDS_VOXTRAL)

    async def serves_realtime(self) -> bool:
        """Whether `realtime_session` would open a session (asking the model server once if needed):
        the gateway admits a session before it is opened."""
        return False

    async def realtime_session(self, options: TranscriptionOptions) -> RealtimeSession | None:
        """An open streaming session with a realtime model, or None when the backend has none (then
        live audio is cut into utterances, each transcribed whole)."""
        return None
