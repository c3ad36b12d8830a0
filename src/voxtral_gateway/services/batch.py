"""Transcribe many files concurrently (bounded), one result per file in input order."""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec
import structlog

from voxtral_gateway.errors import GatewayError, InvalidRequest, PayloadTooLarge
from voxtral_gateway.services.audio_files import AudioFile
from voxtral_gateway.services.concurrency import bounded_map
from voxtral_gateway.services.transcription import (
    TranscriptionOptions,
    TranscriptionResult,
    TranscriptionService,
)

__all__ = ["AudioFile", "BatchItem", "BatchOutcome", "BatchService", "TranscriptionOptions"]

log = structlog.get_logger(__name__)


class BatchItem(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    file: AudioFile


class BatchOutcome(msgspec.Struct, kw_only=True):
    """One file's outcome: its result, or the error `transcribe` would have raised for it alone."""

    id: str
    result: TranscriptionResult | None
    error: GatewayError | None
    processing_ms: float


class BatchService:
    def __init__(
        self, transcription: TranscriptionService, max_files: int, max_total_bytes: int, concurrency: int
    ):
        self.transcription = transcription
        self.max_files = max_files
        self.max_total_bytes = max_total_bytes
        self.concurrency = concurrency

    async def transcribe_batch(
        self, items: Sequence[BatchItem], options: TranscriptionOptions
    ) -> list[BatchOutcome]:
        """One outcome per item, in order; the whole batch is refused (raises) only before any work."""
        self._check(items, options.language)
        return await self._run(items, options)

    def _check(self, items: Sequence[BatchItem], language: str | None) -> None:
        """Refuse the whole batch before any work: too many files, too many bytes, duplicate ids."""
        if len(items) > self.max_files:
            raise InvalidRequest(
                f"audio_files has {len(items)} files; the limit is {self.max_files} (BATCH_MAX_FILES)",
                field="audio_files",
            )
        total_bytes = sum(len(item.file.data) for item in items)
        if total_bytes > self.max_total_bytes:
            raise PayloadTooLarge(
                f"audio_files total {total_bytes} bytes; the limit is {self.max_total_bytes} bytes "
                "(MAX_REQUEST_SIZE_MB)",
                field="audio_files",
            )
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item.id in seen:
                raise InvalidRequest(
                    f"audio_files[{index}].id {item.id!r} is a duplicate", field=f"audio_files[{index}].id"
                )
            seen.add(item.id)
        self.transcription.check_language(language)

    async def _run(self, items: Sequence[BatchItem], options: TranscriptionOptions) -> list[BatchOutcome]:
        async def one(item: BatchItem) -> BatchOutcome:
            started = time.perf_counter()
            try:
                result = await self.transcription.transcribe(item.file, options)
                error = None
            except GatewayError as exc:
                result, error = None, exc
            return BatchOutcome(
                id=item.id, result=result, error=error, processing_ms=(time.perf_counter() - started) * 1000
            )

        outcomes = await bounded_map((one(item) for item in items), self.concurrency)
        return [self._settled(item, outcome) for item, outcome in zip(items, outcomes, strict=True)]

    @staticmethod
    def _settled(item: BatchItem, outcome: BatchOutcome | BaseException) -> BatchOutcome:
        if isinstance(outcome, BatchOutcome):
            return outcome
        # Anything but a GatewayError is a bug; the file still gets its own entry, never a silent gap.
        log.error("batch_item_crashed", id=item.id, error=repr(outcome))
        return BatchOutcome(
            id=item.id,
            result=None,
            error=GatewayError(f"internal error: {type(outcome).__name__}"),
            processing_ms=0.0,
        )
