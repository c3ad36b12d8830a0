"""Subtitle files (SRT, WebVTT) from timed transcript segments."""

from __future__ import annotations

from collections.abc import Sequence

from voxtral_gateway.backends import TranscriptSegment


def _timestamp(seconds: float, decimal: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def to_srt(segments: Sequence[TranscriptSegment]) -> str:
    blocks = [
        f"{number}\n{_timestamp(s.start, ',')} --> {_timestamp(s.end, ',')}\n{s.text.strip()}\n"
        for number, s in enumerate((s for s in segments if s.text.strip()), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Sequence[TranscriptSegment]) -> str:
    blocks = [
        f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}\n{s.text.strip()}\n"
        for s in segments
        if s.text.strip()
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)
