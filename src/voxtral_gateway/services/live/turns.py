"""How a session finds the end of a turn: our VAD with the client's parameters, or the client's commits.

Protocols describe their VAD in their own terms (OpenAI's `server_vad`, Mistral's `turn_detection`);
adapters translate them into `ServerVad`, and `endpoint_rules` maps that onto the WebRTC VAD's rules."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from voxtral_gateway.audio.vad import EndpointRules


class ServerVad(msgspec.Struct, frozen=True, kw_only=True):
    """The gateway's VAD ends turns; each field left None keeps the server's setting (STREAM_*)."""

    threshold: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None
    """How sure the VAD must be that a frame is speech, 0–1. WebRTC's VAD has four modes, not a
    probability: below 0.3 → mode 0 (lets the most through), below 0.5 → 1, below 0.75 → 2 (the
    default, what 0.5 gives), else 3 (the strictest)."""
    prefix_padding_seconds: Annotated[float, Meta(ge=0.0, le=5.0)] | None = None
    """Audio kept before the first speech (and after the last, at most the silence)."""
    silence_seconds: Annotated[float, Meta(ge=0.03, le=10.0)] | None = None
    """Silence that ends a turn."""


class ClientTurns(msgspec.Struct, frozen=True):
    """No VAD: the audio between two commits is one turn (cut at the longest utterance length)."""


TurnDetection = ServerVad | ClientTurns


def aggressiveness_of(threshold: float) -> int:
    """WebRTC VAD mode for a 0–1 speech threshold (see `ServerVad.threshold`)."""
    if threshold < 0.3:
        return 0
    if threshold < 0.5:
        return 1
    if threshold < 0.75:
        return 2
    return 3


def endpoint_rules(base: EndpointRules, detection: TurnDetection) -> EndpointRules:
    """The VAD rules of `detection` over the server's `base` rules."""
    if isinstance(detection, ClientTurns):
        return base
    changes: dict[str, object] = {}
    if detection.threshold is not None:
        changes["aggressiveness"] = aggressiveness_of(detection.threshold)
    if detection.prefix_padding_seconds is not None:
        changes["padding_seconds"] = detection.prefix_padding_seconds
    if detection.silence_seconds is not None:
        changes["silence_seconds"] = detection.silence_seconds
    return msgspec.structs.replace(base, **changes)
