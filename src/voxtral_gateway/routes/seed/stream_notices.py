"""What the client is told about its own messages: ordering notices and unreadable messages."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec

from voxtral_gateway.routes.seed.stream_ordering import SequenceNotice
from voxtral_gateway.schemas.stream import ErrorMessage

_WARNINGS = {
    "duplicate": ("duplicate_chunk", "chunk {} was already received; this copy is ignored"),
    "late": ("late_chunk", "chunk {} arrived after it was declared missing; ignored"),
    "after_final": ("chunk_after_final", "chunk {} comes after the final chunk; ignored"),
}


class _ChunkIdProbe(msgspec.Struct):
    chunk_id: Any = None


def chunk_id_of(text: str) -> int | None:
    """The chunk id of a message that failed validation, when it can still be read."""
    with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        value = msgspec.json.decode(text, type=_ChunkIdProbe).chunk_id
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return None


def notice_message(notice: SequenceNotice) -> ErrorMessage:
    """A gap is an `error` (audio is lost); duplicates, late and extra chunks are `warning`s."""
    if notice.kind == "gap":
        missing = notice.missing or []
        return ErrorMessage(
            code="chunk_gap",
            message=f"chunks {_id_ranges(missing)} never arrived; their audio is missing from the transcript",
            missing_chunk_ids=missing,
            chunk_id=missing[0] if missing else None,
        )
    code, text = _WARNINGS[notice.kind]
    return ErrorMessage(
        code=code, message=text.format(notice.chunk_id), severity="warning", chunk_id=notice.chunk_id
    )


def _id_ranges(ids: list[int]) -> str:
    if len(ids) <= 3:
        return ", ".join(map(str, ids))
    return f"{ids[0]}–{ids[-1]}"
