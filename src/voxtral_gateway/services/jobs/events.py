"""What a webhook carries: the job's final state and, when it completed, its transcription."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import msgspec

from voxtral_gateway.store import JobError, JobRecord

JobEventType = Literal[
    "transcription.job.completed", "transcription.job.failed", "transcription.job.cancelled"
]


class JobEventData(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    status: str
    model: str
    created_at: int
    finished_at: int | None
    error: JobError | None = None
    result: msgspec.Raw | None = None
    """The transcription (`text`, timed `segments`, `language`, `confidence`, `audio_seconds`)."""


class JobEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The body of a webhook (Standard Webhooks' `type`, `timestamp`, `data` envelope)."""

    type: JobEventType
    timestamp: str
    data: JobEventData


_encoder = msgspec.json.Encoder()


def message_id(record: JobRecord) -> str:
    """The `webhook-id`: the same for every attempt and every worker that delivers this event, so a
    receiver that remembers the ids it processed handles each event once."""
    return f"msg_{record.id}_{record.state.status}"


def event_body(record: JobRecord, result: bytes | None) -> bytes:
    """The webhook body; the same bytes whenever it is built for the same finished job."""
    state = record.state
    finished = state.finished_at or state.updated_at
    event = JobEvent(
        type=f"transcription.job.{state.status}",  # type: ignore[arg-type]
        timestamp=datetime.fromtimestamp(finished, UTC).isoformat().replace("+00:00", "Z"),
        data=JobEventData(
            id=record.id,
            status=state.status,
            model=record.spec.model,
            created_at=int(record.spec.created_at),
            finished_at=int(state.finished_at) if state.finished_at else None,
            error=state.error,
            result=msgspec.Raw(result) if result is not None else None,
        ),
    )
    return _encoder.encode(event)
