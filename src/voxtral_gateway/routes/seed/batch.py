"""POST /transcribe/batch: many files, one result each, in order, failures included."""

from __future__ import annotations

import time
from typing import Annotated

from litestar import Controller, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body

from voxtral_gateway.routes.docs import error_responses
from voxtral_gateway.routes.error_wire import error_detail, status_of
from voxtral_gateway.routes.json_request import large_json_request_class
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.batch import BatchItemResult, BatchRequest, BatchResponse
from voxtral_gateway.services.batch import AudioFile, BatchItem, BatchOutcome, TranscriptionOptions

HTTP_207_MULTI_STATUS = 207

_BODY = Body(
    title="Batch transcription request",
    examples=[
        Example(
            summary="Two files",
            value={
                "audio_files": [
                    {"data": "SUQzBAAAAAAA...", "format": "mp3", "id": "file1"},
                    {"data": "UklGRiQAAABXQVZF...", "format": "wav", "id": "file2"},
                ],
                "language": "en",
                "temperature": 0.0,
            },
        )
    ],
)


def _item_result(outcome: BatchOutcome) -> BatchItemResult:
    processing_ms = round(outcome.processing_ms, 2)
    if outcome.error is not None or outcome.result is None:
        error = outcome.error
        assert error is not None
        return BatchItemResult(
            id=outcome.id,
            status="error",
            status_code=status_of(error),
            processing_time_ms=processing_ms,
            error=error_detail(error),
        )
    result = outcome.result
    return BatchItemResult(
        id=outcome.id,
        status="ok",
        status_code=200,
        transcription=result.text,
        language_detected=result.language,
        confidence=result.confidence,
        audio_duration_seconds=round(result.audio_seconds, 3),
        processing_time_ms=processing_ms,
    )


class BatchController(Controller):
    path = "/transcribe/batch"
    tags = ["transcription"]
    # A large body (its files' base64) is parsed on the decode pool, off the event loop.
    request_class = large_json_request_class(BatchRequest)

    @post(
        "/",
        operation_id="transcribe_batch",
        summary="Transcribe several audio files",
        description=(
            "Files are decoded and transcribed concurrently (BATCH_CONCURRENCY at once). There is one result "
            'per input file, in input order, carrying its `id` (assigned as the file\'s position, "0", '
            '"1", …, when omitted). A file that fails gets `status: error` with the same error `code`, '
            "message and `status_code` that `POST /transcribe/` would give it; the others still succeed. "
            "The response is **200** when every file succeeded and **207 Multi-Status** when at least one "
            "failed (the body has the same shape). Limits: BATCH_MAX_FILES files and MAX_REQUEST_SIZE_MB in "
            "total, checked before any work starts; duplicate ids are refused (422)."
        ),
        status_code=200,
        responses={
            HTTP_207_MULTI_STATUS: ResponseSpec(
                data_container=BatchResponse,
                description="Some files failed: see each result's `error`.",
                generate_examples=False,
            ),
            **error_responses(413, 422, 429),
        },
    )
    async def transcribe_batch(
        self, data: Annotated[BatchRequest, _BODY], runtime: NamedDependency[Runtime]
    ) -> Response[BatchResponse]:
        """Transcribe every file; 207 when at least one failed."""
        started = time.perf_counter()
        items = [
            BatchItem(
                id=item.id if item.id is not None else str(index),
                file=AudioFile(
                    data=item.data, declared_format=item.format, field=f"audio_files[{index}].data"
                ),
            )
            for index, item in enumerate(data.audio_files)
        ]
        outcomes = await runtime.batch.transcribe_batch(
            items, TranscriptionOptions(language=data.language, temperature=data.temperature)
        )
        results = [_item_result(outcome) for outcome in outcomes]
        failed = sum(result.status == "error" for result in results)
        body = BatchResponse(
            results=results,
            total_files=len(results),
            succeeded=len(results) - failed,
            failed=failed,
            total_audio_duration_seconds=round(sum(r.audio_duration_seconds or 0.0 for r in results), 3),
            processing_time_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return Response(body, status_code=HTTP_207_MULTI_STATUS if failed else 200)
