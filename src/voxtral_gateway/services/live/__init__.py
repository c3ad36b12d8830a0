"""Live transcription: audio bytes in, typed events out (partial, final, done, error), with VAD
endpointing, backpressure, limits and a graceful end. Protocol adapters (routes) convert their wire
messages into `LiveSession` inputs and its events into their wire messages."""

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
