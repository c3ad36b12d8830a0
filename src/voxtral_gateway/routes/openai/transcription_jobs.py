"""/v1/audio/transcriptions/jobs: OpenAI's transcription request, run later, read when done.

Submit the same multipart form as `POST /v1/audio/transcriptions` (or a `file_url` instead of `file`),
plus an optional `webhook_url`; read the job, its result in any response format, the caller's list;
cancel with DELETE."""

from __future__ import annotations

import math
from typing import Annotated

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter

from voxtral_gateway.errors import InvalidRequest
from voxtral_gateway.routes.docs import openai_error_responses
from voxtral_gateway.routes.openai.job_form import (
    RESPONSE_FORMATS,
    SubmissionOperation,
    read_job_form,
    validate_job_form,
)
from voxtral_gateway.routes.openai.transcriptions import transcription_response
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.jobs import (
    JobErrorInfo,
    JobProgress,
    JobWebhook,
    TranscriptionJob,
    TranscriptionJobList,
)
from voxtral_gateway.services.jobs import JobRecord, JobSubmission

PATH = "/v1/audio/transcriptions/jobs"


def job_location(job_id: str) -> str:
    return f"{PATH}/{job_id}"


def _seconds(value: float | None) -> int | None:
    return None if value is None else math.floor(value)


def wire_job(record: JobRecord, secret: str | None = None) -> TranscriptionJob:
    spec, state = record.spec, record.state
    error = state.error
    return TranscriptionJob(
        id=spec.id,
        status=state.status,
        model=spec.model,
        response_format=spec.response_format,
        created_at=math.floor(spec.created_at),
        started_at=_seconds(state.started_at),
        finished_at=_seconds(state.finished_at),
        attempts=state.attempts,
        progress=JobProgress(segments_done=state.segments_done, segments_total=state.segments_total),
        error=JobErrorInfo(code=error.code, message=error.message, param=error.field, status=error.status)
        if error
        else None,
        webhook=JobWebhook(
            url=spec.webhook.url, state=state.webhook_state, attempts=state.webhook_attempts, secret=secret
        )
        if spec.webhook
        else None,
        result_url=f"{job_location(spec.id)}/result",
    )


def _owner(runtime: NamedDependency[Runtime], request: Request) -> str:
    return runtime.access.principal(request.scope).identity


class TranscriptionJobsController(Controller):
    path = PATH
    tags = ["openai", "jobs"]

    @post(
        "/",
        operation_id="create_transcription_job",
        summary="Submit an asynchronous transcription job",
        description=(
            "The form of `POST /v1/audio/transcriptions` (`file`, `model`, `language`, `prompt`, "
            "`response_format`, `temperature`; no `stream`), or `file_url` instead of `file` (then the same "
            "fields may come URL-encoded or as a JSON object), plus optional "
            "`webhook_url` and `webhook_secret`. Answers **202** with the job and a `Location`. Counts "
            "against the transcription rate-limit tier; at most JOBS_MAX_QUEUED_PER_KEY jobs of one caller "
            "wait at once (429 `too_many_jobs`), and JOBS_MAX_RUNNING_PER_KEY run at once."
        ),
        status_code=202,
        responses=openai_error_responses(404, 413, 422, 429, 503),
        operation_class=SubmissionOperation,
    )
    async def create_job(
        self, request: Request, runtime: NamedDependency[Runtime]
    ) -> Response[TranscriptionJob]:
        """Queue a transcription of `file` or `file_url`."""
        data, file = await read_job_form(request)
        runtime.models.resolve(data.model)
        validate_job_form(data, file)
        audio = None
        if file is not None:
            audio = await file.read()
            await file.close()
        submitted = await runtime.jobs.submit(
            JobSubmission(
                owner=_owner(runtime, request),
                model=data.model,
                audio=audio,
                file_url=data.file_url,
                filename=file.filename if file is not None else None,
                language=data.language,
                temperature=data.temperature,
                response_format=data.response_format,
                webhook_url=data.webhook_url,
                webhook_secret=data.webhook_secret,
            )
        )
        job = wire_job(submitted.record, submitted.generated_secret)
        return Response(job, status_code=202, headers={"Location": job_location(job.id)})

    @get(
        "/",
        operation_id="list_transcription_jobs",
        summary="List the caller's transcription jobs",
        description="Newest first; `after` (a job id) continues from the end of a previous page.",
    )
    async def list_jobs(
        self,
        request: Request,
        runtime: NamedDependency[Runtime],
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        after: FromQuery[str | None] = None,
    ) -> TranscriptionJobList:
        """The caller's jobs (per API key, else per client address)."""
        owner = _owner(runtime, request)
        before = None
        if after is not None:
            before = (await runtime.jobs.status(owner, after)).spec.created_at
        records = await runtime.jobs.owned(owner, limit + 1, before)
        page = [wire_job(r) for r in records[:limit]]
        return TranscriptionJobList(
            data=page,
            has_more=len(records) > limit,
            first_id=page[0].id if page else None,
            last_id=page[-1].id if page else None,
        )

    @get(
        "/{job_id:str}",
        operation_id="get_transcription_job",
        summary="Read a transcription job",
        description="Its status and progress (segments done out of the total, once known).",
    )
    async def get_job(
        self, job_id: FromPath[str], request: Request, runtime: NamedDependency[Runtime]
    ) -> TranscriptionJob:
        """The job's status, progress, error and webhook delivery state."""
        return wire_job(await runtime.jobs.status(_owner(runtime, request), job_id))

    @get(
        "/{job_id:str}/result",
        operation_id="get_transcription_job_result",
        summary="Read a completed job's transcription",
        description=(
            "In `response_format` (`json`, `text`, `srt`, `vtt`, `verbose_json`; default: the one given at "
            "submission), exactly as `POST /v1/audio/transcriptions` answers. 409 until the job completed."
        ),
        responses=openai_error_responses(409),
    )
    async def get_result(
        self,
        job_id: FromPath[str],
        request: Request,
        runtime: NamedDependency[Runtime],
        response_format: FromQuery[str | None] = None,
    ) -> Response:
        """The transcription, formatted."""
        if response_format is not None and response_format not in RESPONSE_FORMATS:
            raise InvalidRequest(
                f"response_format {response_format!r} is not one of {', '.join(RESPONSE_FORMATS)}",
                field="response_format",
            )
        record, result = await runtime.jobs.result(_owner(runtime, request), job_id)
        return transcription_response(
            result, response_format or record.spec.response_format, record.spec.model
        )

    @delete(
        "/{job_id:str}",
        operation_id="cancel_transcription_job",
        summary="Cancel a transcription job",
        description="A queued job never runs; a running one stops within seconds. 409 once it has finished.",
        status_code=200,
        responses=openai_error_responses(409),
    )
    async def cancel_job(
        self, job_id: FromPath[str], request: Request, runtime: NamedDependency[Runtime]
    ) -> TranscriptionJob:
        """Cancel the job; its webhook (if any) reports `transcription.job.cancelled`."""
        return wire_job(await runtime.jobs.cancel(_owner(runtime, request), job_id))
