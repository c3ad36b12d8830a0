"""Is the gateway, and the model behind it, ready to serve? One typed snapshot of the backend's health
and this worker's admission control, for the health route to put on the wire."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import msgspec

from voxtral_gateway.backends import BackendHealth, SpeechBackend
from voxtral_gateway.services.admission import AdmissionGate

ServerState = Literal["healthy", "unhealthy", "unknown"]


class ServerHealth(msgspec.Struct, kw_only=True, frozen=True):
    """One server behind the gateway: a vLLM of the pool, or the embedded engine."""

    url: str | None
    """None for the embedded engine."""
    state: ServerState
    in_flight: int | None = None
    """Requests this worker has in flight there (pool members only)."""
    detail: str | None = None
    checked_seconds_ago: float | None = None


class AdmissionSnapshot(msgspec.Struct, kw_only=True, frozen=True):
    in_flight: int
    queued: int
    max_in_flight: int
    queue_limit: int


class JobsSnapshot(msgspec.Struct, kw_only=True, frozen=True):
    """Where asynchronous jobs run."""

    engine: str
    """`redis` (a stream shared by every instance) or `in_process`."""
    durable: bool
    """False: queued and running jobs are lost when this process restarts."""
    workers: int
    """Jobs this worker process runs at once."""
    problem: str | None = None
    """Why jobs cannot be accepted now (e.g. an unwritable blob directory)."""


class GatewayHealth(msgspec.Struct, kw_only=True, frozen=True):
    ready: bool
    """Whether the backend can serve requests now."""
    detail: str | None
    backend_kind: str
    model: str
    url: str | None
    """The backend's base URL (None for the embedded engine)."""
    servers: list[ServerHealth]
    """Each server of a pool; a single engine reports itself as one member."""
    uptime_seconds: float
    admission: AdmissionSnapshot
    understanding: bool
    """Whether the backend answers questions about audio (Voxtral on vLLM; not the embedded engine)."""
    jobs: JobsSnapshot | None = None


class HealthService:
    def __init__(
        self,
        backend: SpeechBackend,
        admission: AdmissionGate,
        started_at: float,
        jobs: Callable[[], JobsSnapshot] | None = None,
    ):
        self._jobs = jobs
        self._backend = backend
        self._admission = admission
        self._started_at = started_at

    async def check(self) -> GatewayHealth:
        """Probe the backend now (callers cache the answer)."""
        backend = self._backend
        state = await backend.health()
        admission = self._admission
        return GatewayHealth(
            ready=state.ready,
            detail=state.detail,
            backend_kind=backend.kind,
            model=backend.model_name,
            url=backend.base_url,
            servers=_servers(backend, state),
            uptime_seconds=round(time.monotonic() - self._started_at, 3),
            understanding=backend.supports_chat,
            admission=AdmissionSnapshot(
                in_flight=admission.in_flight,
                queued=admission.queued,
                max_in_flight=admission.limits.max_in_flight,
                queue_limit=admission.limits.queue_limit,
            ),
            jobs=self._jobs() if self._jobs is not None else None,
        )


def _servers(backend: SpeechBackend, state: BackendHealth) -> list[ServerHealth]:
    if not state.members:  # one engine in process
        ready = "healthy" if state.ready else "unhealthy"
        return [ServerHealth(url=backend.base_url, state=ready, detail=state.detail)]
    return [
        ServerHealth(
            url=member.url,
            state=member.state,
            in_flight=member.in_flight,
            detail=member.detail,
            checked_seconds_ago=member.checked_seconds_ago,
        )
        for member in state.members
    ]
