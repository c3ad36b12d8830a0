"""Live transcription: audio bytes in, typed events out (speech started/stopped, partial, final, turn
done, done, error), with VAD endpointing (or the client's own turns), backpressure, limits and a graceful
end. Protocol adapters (routes: the seed's stream, OpenAI Realtime, Mistral realtime) convert their wire
messages into `LiveSession` inputs and its events into their wire messages.

The seam: adapters use only the session's inputs (`declare_audio`, `set_language`,
`set_turn_detection`, `feed`, `commit`, `clear`, `end_turn`, `run`) and the `LiveEvent` types. How the
text is made stays inside the session: today the VAD ends each utterance and the backend transcribes it
(`transcriber.py`); a model that streams its own text (Voxtral Realtime on vLLM) would replace that step
and emit the same events."""

from voxtral_gateway.services.live import limits
from voxtral_gateway.services.live.events import (
    Done,
    Error,
    Final,
    LiveEvent,
    Partial,
    SpeechStarted,
    SpeechStopped,
    TurnDone,
)
from voxtral_gateway.services.live.service import LiveTranscription
from voxtral_gateway.services.live.session import (
    FORMATS,
    RAW_ENCODINGS,
    SAMPLE_RATE,
    AudioInput,
    LiveCollaborators,
    LiveSession,
    SessionEnded,
)
from voxtral_gateway.services.live.stats import LatencyHistogram
from voxtral_gateway.services.live.turns import ClientTurns, ServerVad, TurnDetection

__all__ = [
    "FORMATS",
    "RAW_ENCODINGS",
    "SAMPLE_RATE",
    "AudioInput",
    "ClientTurns",
    "Done",
    "Error",
    "Final",
    "LatencyHistogram",
    "LiveCollaborators",
    "LiveEvent",
    "LiveSession",
    "LiveTranscription",
    "Partial",
    "ServerVad",
    "SessionEnded",
    "SpeechStarted",
    "SpeechStopped",
    "TurnDetection",
    "TurnDone",
    "limits",
]
