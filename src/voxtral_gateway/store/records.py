"""What the job store keeps about a job: its immutable spec, its changing state, and the two together."""

from __future__ import annotations

from typing import Literal

import msgspec

JobStatus = Literal["queued", "running", "completed", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
WebhookState = Literal["none", "pending", "delivered", "failed"]


class WebhookTarget(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    secret: str
    """`whsec_<base64>`: the HMAC key, as the Standard Webhooks specification writes it."""


class JobSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What was submitted; never changes."""

    id: str
    owner: str
    """The caller's identity (`key:<id>` or `ip:<address>`): only they see the job."""
    created_at: float
    """Unix time of the submission."""
    model: str
    language: str | None = None
    temperature: float = 0.0
    response_format: str = "json"
    """The format `result` is served in when the reader names none."""
    file_url: str | None = None
    """Set: the audio is fetched from here when the job runs; unset: it is the job's upload (blob)."""
    filename: str | None = None
    webhook: WebhookTarget | None = None


class JobError(msgspec.Struct, frozen=True, kw_only=True):
    """Why a job failed, as the error a synchronous request would have given."""

    code: str
    message: str
    status: int
    field: str | None = None


class JobState(msgspec.Struct, frozen=True, kw_only=True):
    status: JobStatus
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    segments_done: int = 0
    segments_total: int | None = None
    """Unknown until the audio is decoded and cut."""
    attempts: int = 0
    """Runs started (a run that a dead worker left is taken over and counted again)."""
    error: JobError | None = None
    webhook_state: WebhookState = "none"
    webhook_attempts: int = 0


class JobRecord(msgspec.Struct, frozen=True, kw_only=True):
    spec: JobSpec
    state: JobState

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def finished(self) -> bool:
        return self.state.status in TERMINAL_STATUSES


StartOutcome = Literal["run", "wait", "finished", "gone"]
"""What `start_run` decided: run it now; the owner already runs its maximum (requeue it); the job is
already finished (deliver its webhook if still pending, then acknowledge); it no longer exists."""


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """One job handed to one worker; acknowledge it when the job and its webhook are done."""

    job_id: str
    message_id: str
    """The stream entry (Redis) or a local sequence number (in process)."""
    claimed: bool = False
    """Taken over from a worker that stopped renewing its claim."""
