"""The job submission's form: read from multipart, URL-encoded or JSON bodies, checked field by field,
and described for the OpenAPI document (the handler parses the body itself, so Litestar cannot)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import get_args

import msgspec
from litestar import Request
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

from voxtral_gateway.errors import InvalidRequest
from voxtral_gateway.schemas.openai import ResponseFormat
from voxtral_gateway.services.language import SUPPORTED_LANGUAGES

RESPONSE_FORMATS = get_args(ResponseFormat)
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


async def read_job_form(request: Request) -> tuple[JobForm, UploadFile | None]:
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
        "response_format": Schema(type=OpenAPIType.STRING, enum=list(RESPONSE_FORMATS), default="json"),
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
class SubmissionOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _submission_body()


def _check_url(value: str | None, field: str) -> None:
    if value is None:
        return
    if len(value) > _MAX_URL_CHARS:
        raise InvalidRequest(f"{field} is longer than {_MAX_URL_CHARS} characters", field=field)
    if not value.lower().startswith(("http://", "https://")):
        raise InvalidRequest(f"{field} must be an http or https URL", field=field)


def validate_job_form(form: JobForm, file: UploadFile | None) -> None:
    if (file is None) == (form.file_url is None):
        raise InvalidRequest("send exactly one of `file` (an upload) and `file_url`", field="file")
    _check_url(form.file_url, "file_url")
    _check_url(form.webhook_url, "webhook_url")
    if form.response_format not in RESPONSE_FORMATS:
        raise InvalidRequest(
            f"response_format {form.response_format!r} is not one of {', '.join(RESPONSE_FORMATS)}",
            field="response_format",
        )
    if form.language is not None and form.language not in SUPPORTED_LANGUAGES:
        raise InvalidRequest(
            f"language {form.language!r} is not one of {', '.join(SUPPORTED_LANGUAGES)}", field="language"
        )
    if not 0.0 <= form.temperature <= 2.0:
        raise InvalidRequest(f"temperature {form.temperature} is outside 0.0–2.0", field="temperature")
