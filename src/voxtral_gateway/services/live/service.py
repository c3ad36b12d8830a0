"""The live transcription use case, as routes see it: open a session with the worker's collaborators."""

from __future__ import annotations

from collections.abc import Callable

from voxtral_gateway.services.live.config import StreamConfig
from voxtral_gateway.services.live.events import LiveEvent
from voxtral_gateway.services.live.session import LiveCollaborators, LiveSession
from voxtral_gateway.services.live.turns import TurnDetection


class LiveTranscription:
    """One per worker; every protocol adapter opens its sessions here."""

    def __init__(self, collaborators: LiveCollaborators, config: StreamConfig):
        self.collaborators = collaborators
        self.config = config
        """The limits and knobs every session gets (adapters read the socket limits from it)."""

    @property
    def backend_kind(self) -> str:
        return self.collaborators.backend.kind

    @property
    def model_name(self) -> str:
        return self.collaborators.backend.model_name

    def open(
        self,
        session_id: str,
        emit: Callable[[LiveEvent], None],
        turn_detection: TurnDetection | None = None,
    ) -> LiveSession:
        """A new session; `emit` receives its events, in order, on the event loop. Turns are found by
        the VAD with the server's rules unless `turn_detection` says otherwise."""
        return LiveSession(
            session_id=session_id,
            config=self.config,
            collaborators=self.collaborators,
            emit=emit,
            turn_detection=turn_detection,
        )
