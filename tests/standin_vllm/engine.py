"""The engine's state as vLLM 0.33's API server reports it: admission (``--max-num-queued-reqs``,
``v1/engine/async_llm.py check_admission``: 503 ``QueueOverflowError``), a dead engine
(``EngineDeadError``: 503 on ``/health``, 500 on every request), and connections dropped as they
arrive, which is what a client sees when the server closed its idle keep-alive connection
(``VLLM_HTTP_TIMEOUT_KEEP_ALIVE``, 5 s) just as the request went out."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from tests.standin_vllm.errors import VLLMError

KEEP_ALIVE_SECONDS = 5.0  # VLLM_HTTP_TIMEOUT_KEEP_ALIVE's default
QUEUE_OVERFLOW = (
    "The engine is currently busy and cannot accept new requests. "
    "Please try again later or on a different instance."
)
ENGINE_DEAD = "The server had an error while processing your request."


@dataclass
class EngineState:
    max_num_queued_reqs: int | None = None
    """Waiting + running requests admitted at most (None: vLLM's default, no limit)."""
    dead: bool = False
    """The engine died: /health answers 503, model requests 500."""
    drop_next: int = 0
    """Model requests whose connection is closed on arrival, without a response byte."""
    dropped: int = 0

    def preflight(self, unfinished: int) -> None:
        """vLLM's checks before any work: a dead engine, then admission. `unfinished`: requests
        already waiting or running, this one excluded."""
        if self.dead:
            raise VLLMError(ENGINE_DEAD, 500, "InternalServerError")
        if self.max_num_queued_reqs is not None and unfinished + 1 > self.max_num_queued_reqs:
            raise VLLMError(QUEUE_OVERFLOW, 503, "Service Unavailable")

    def maybe_drop(self, request: web.Request) -> bool:
        """Close the request's connection unanswered if a drop is queued; whether it was."""
        if self.drop_next <= 0 or request.transport is None:
            return False
        self.drop_next -= 1
        self.dropped += 1
        request.transport.close()
        return True

    def health_status(self) -> int:
        return 503 if self.dead else 200
