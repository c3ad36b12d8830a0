"""What the stand-in records of each request, for tests to assert on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedAudio:
    """One audio input as the stand-in received and decoded it."""

    byte_size: int
    container: str | None = None  # PyAV's demuxer name, e.g. "wav", "ogg", "mp3"
    codec: str | None = None
    sample_rate: int | None = None  # of the file, before resampling
    channels: int | None = None
    duration_s: float | None = None  # decoded at 16 kHz; None when decoding failed
    format_label: str | None = None  # chat: input_audio.format or the data URL's audio/<subtype>
    filename: str | None = None  # transcription: the multipart file name
    content_type: str | None = None  # transcription: the multipart part's Content-Type


@dataclass
class RecordedRequest:
    """One request to a model endpoint, whatever its outcome."""

    endpoint: str
    fields: dict[str, Any] = field(default_factory=dict)  # form / JSON, audio payloads elided
    audios: list[RecordedAudio] = field(default_factory=list)
    num_audio_parts: int = 0
    format_labels: list[str | None] = field(default_factory=list)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    status: int | None = None  # HTTP status answered (None while running or if aborted early)
    error: str | None = None  # the error message answered, if any
    injected: bool = False  # answered by fail_next()
    aborted: bool = False  # the client went away before the answer was complete
    started_at: float = 0.0  # time.monotonic()
    finished_at: float | None = None
