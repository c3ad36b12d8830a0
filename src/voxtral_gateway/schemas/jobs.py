"""Asynchronous transcription jobs on the wire (/v1/audio/transcriptions/jobs), in OpenAI's resource
style: an `object` name, unix-second times, lists as `{"object": "list", "data", "has_more"}`."""

from __future__ import annotations

from typing import Literal

import msgspec

JobStatusName = Literal["queued", "running", "completed", "failed", "cancelled"]


class JobProgress(msgspec.Struct, kw_only=True):
    segments_done: int
    """Segments of the audio transcribed so far (long audio is cut at pauses)."""
    segments_total: int | None
    """Known once the audio is decoded and cut; null before."""


class JobErrorInfo(msgspec.Struct, kw_only=True):
    """Why the job failed: the error a synchronous request would have answered."""

    code: str
    message: str
    param: str | None
    status: int
    """The HTTP status the synchronous request would have had."""


class JobWebhook(msgspec.Struct, kw_only=True):
    url: str
    state: Literal["none", "pending", "delivered", "failed"]
    attempts: int
    secret: str | None = None
    """Only in the answer to the submission, and only when the gateway made the secret."""


class TranscriptionJob(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["transcription.job"] = "transcription.job"
    status: JobStatusName
    model: str
    response_format: str
    """The default format of `result_url` (`?response_format=` picks another)."""
    created_at: int
    started_at: int | None
    finished_at: int | None
    attempts: int
    """Runs started; above 1 when a worker died and another took the job over."""
    progress: JobProgress
    error: JobErrorInfo | None
    webhook: JobWebhook | None
    result_url: str


class TranscriptionJobList(msgspec.Struct, kw_only=True):
    object: Literal["list"] = "list"
    data: list[TranscriptionJob]
    has_more: bool
    first_id: str | None
    last_id: str | None
