"""/v1/audio/transcriptions/jobs: OpenAI's transcription request, run later, read when done.

Submit the same multipart form as `POST /v1/audio/transcriptions` (or a `file_url` instead of `file`),
plus an optional `webhook_url`; read the job, its result in any response format, the caller's list;
cancel with DELETE."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, get_args

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Reference,
    RequestBody,
    Schema,
)
from litestar.params import Parameter

from voxtral_gateway.errors import InvalidRequest
from voxtral_gateway.routes.docs import openai_error_responses
from voxtral_gateway.routes.openai.transcriptions import transcription_response
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.jobs import (
    JobErrorInfo,
    JobProgress,
    JobWebhook,
    TranscriptionJob,
    TranscriptionJobList,
)
from voxtral_gateway.schemas.openai import ResponseFormat
from voxtral_gateway.services.jobs import JobRecord, JobSubmission
from voxtral_gateway.services.language import SUPPORTED_LANGUAGES
from voxtral_gateway.services.models import WHISPER_ALIAS, check_model

PATH = "/v1/audio/transcriptions/jobs"
_FORMATS = get_args(ResponseFormat)
_MAX_URL_CHARS = 2048
_KNOWN_FIELDS = {
    "file",
    "file_url",
    "model",
    "language",
    "prompt",
    "response_format",
    "temperature",
    "webhook_url",
    "webhook_secret",
}


class JobForm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/audio/transcriptions`'s fields (without `stream`), `file_url`, and the webhook."""

    model: str
    file_url: str | None = None
    """Fetched when the job runs (http/https; private addresses refused unless URL_FETCH_ALLOWLIST)."""
    language: str | None = None
    prompt: str | None = None
    """Accepted for compatibility and ignored, as on the synchronous route."""
    response_format: str = "json"
    temperature: float = 0.0
    webhook_url: str | None = None
    webhook_secret: str | None = None
    """`whsec_<base64>`; when absent the gateway's JOBS_WEBHOOK_SECRET, else one made for the job."""


_MEMBER = re.compile(r"`\$\.(\w+)`")


async def _read_form(request: Request) -> tuple[JobForm, UploadFile | None]:
    """The submission from a multipart or URL-encoded form, or a JSON object (a `file_url` job)."""
    content_type = request.headers.get("content-type", "")
    file: UploadFile | None = None
    try:
        if content_type.startswith("application/json"):
            form = msgspec.json.decode(await request.body(), type=JobForm, strict=False)
        else:
            raw = await request.form()
            unknown = sorted(set(raw.keys()) - _KNOWN_FIELDS)
            if unknown:
                raise InvalidRequest(f"unknown form field(s): {', '.join(unknown)}", field=unknown[0])
            upload = raw.get("file")
            if upload is not None and not isinstance(upload, UploadFile):
                raise InvalidRequest("`file` must be a file part of a multipart form", field="file")
            file = upload
            fields = {k: v for k, v in raw.items() if k != "file" and isinstance(v, str)}
            form = msgspec.convert(fields, JobForm, strict=False)
    except msgspec.ValidationError as exc:
        match = _MEMBER.search(str(exc))
        field = match.group(1) if match else None
        raise InvalidRequest(str(exc).split(" - at ")[0], field=field) from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"the body is not a JSON object: {exc}") from None
    return form, file


def _submission_body() -> RequestBody:
    """The submission's body for the OpenAPI document (the handler parses it itself: multipart,
    URL-encoded or JSON, so Litestar cannot infer it)."""
    text = Schema(type=OpenAPIType.STRING)
    fields: dict[str, Schema | Reference] = {
        "model": text,
        "file_url": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.URI),
        "language": Schema(type=OpenAPIType.STRING, enum=list(SUPPORTED_LANGUAGES)),
        "prompt": text,
        "response_format": Schema(type=OpenAPIType.STRING, enum=list(_FORMATS), default="json"),
        "temperature": Schema(type=OpenAPIType.NUMBER, minimum=0, maximum=2, default=0),
        "webhook_url": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.URI),
        "webhook_secret": Schema(type=OpenAPIType.STRING, pattern="^whsec_"),
    }
    upload = {"file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY), **fields}
    return RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.OBJECT, required=["model"], properties=upload)
            ),
            "application/json": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.OBJECT, required=["model", "file_url"], properties=fields)
            ),
        },
    )


@dataclass
class _SubmissionOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _submission_body()


def _check_url(value: str | None, field: str) -> None:
    if value is None:
        return
    if len(value) > _MAX_URL_CHARS:
        raise InvalidRequest(f"{field} is longer than {_MAX_URL_CHARS} characters", field=field)
    if not value.lower().startswith(("http://", "https://")):
        raise InvalidRequest(f"{field} must be an http or https URL", field=field)


def _validate(form: JobForm, file: UploadFile | None) -> None:
    if (file is None) == (form.file_url is None):
        raise InvalidRequest("send exactly one of `file` (an upload) and `file_url`", field="file")
    _check_url(form.file_url, "file_url")
    _check_url(form.webhook_url, "webhook_url")
    if form.response_format not in _FORMATS:
        raise InvalidRequest(
            f"response_format {form.response_format!r} is not one of {', '.join(_FORMATS)}",
            field="response_format",
        )
    if form.language is not None and form.language not in SUPPORTED_LANGUAGES:
        raise InvalidRequest(
            f"language {form.language!r} is not one of {', '.join(SUPPORTED_LANGUAGES)}", field="language"
        )
    if not 0.0 <= form.temperature <= 2.0:
        raise InvalidRequest(f"temperature {form.temperature} is outside 0.0–2.0", field="temperature")


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


def _owner(runtime: Runtime, request: Request) -> str:
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
        operation_class=_SubmissionOperation,
    )
    async def create_job(self, request: Request, runtime: Runtime) -> Response[TranscriptionJob]:
        """Queue a transcription of `file` or `file_url`."""
        data, file = await _read_form(request)
        check_model(runtime.backend, data.model, aliases=[WHISPER_ALIAS])
        _validate(data, file)
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
        runtime: Runtime,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        after: str | None = None,
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
    async def get_job(self, job_id: str, request: Request, runtime: Runtime) -> TranscriptionJob:
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
        self, job_id: str, request: Request, runtime: Runtime, response_format: str | None = None
    ) -> Response:
        """The transcription, formatted."""
        if response_format is not None and response_format not in _FORMATS:
            raise InvalidRequest(
                f"response_format {response_format!r} is not one of {', '.join(_FORMATS)}",
                field="response_format",
            )
        record, result = await runtime.jobs.result(_owner(runtime, request), job_id)
        return transcription_response(result, response_format or record.spec.response_format)

    @delete(
        "/{job_id:str}",
        operation_id="cancel_transcription_job",
        summary="Cancel a transcription job",
        description="A queued job never runs; a running one stops within seconds. 409 once it has finished.",
        status_code=200,
        responses=openai_error_responses(409),
    )
    async def cancel_job(self, job_id: str, request: Request, runtime: Runtime) -> TranscriptionJob:
        """Cancel the job; its webhook (if any) reports `transcription.job.cancelled`."""
        return wire_job(await runtime.jobs.cancel(_owner(runtime, request), job_id))
