"""Audio input as vLLM reads it (``multimodal/media/audio.py``, ``envs.py``): upload size cap,
decode to 16 kHz mono float32, the decode duration cap, and base64 data URLs, with vLLM's messages."""

from __future__ import annotations

import base64
import binascii
import io
import itertools
from typing import Any

import av
import numpy as np

from tests.standin_vllm.errors import VLLMError, validation_error
from tests.standin_vllm.records import RecordedAudio
from tests.standin_vllm.voxtral import MODEL_SAMPLE_RATE

MIB = 1024 * 1024
INVALID_AUDIO = (
    "Invalid or corrupted audio data. Ensure the input is a valid audio or video file "
    "(e.g. a complete WAV, MP3, or MP4)."
)


def _seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def _too_long(max_seconds: float, detail: str) -> VLLMError:
    return VLLMError(
        f"Audio exceeds maximum allowed duration of {_seconds_text(max_seconds)}s ({detail}). "
        "Set VLLM_MAX_AUDIO_DECODE_DURATION_S to increase this limit."
    )


def _metadata_seconds(container: Any, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _resample_all(container: Any, stream: Any, max_seconds: float) -> np.ndarray:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=MODEL_SAMPLE_RATE)
    limit = int(MODEL_SAMPLE_RATE * max_seconds)
    chunks: list[np.ndarray] = []
    total = 0
    for frame in itertools.chain(container.decode(stream), [None]):  # None flushes
        for out in resampler.resample(frame):
            chunk = out.to_ndarray().reshape(-1)
            chunks.append(chunk)
            total += chunk.size
        if total > limit:
            raise _too_long(max_seconds, f"decoded {total} samples at {MODEL_SAMPLE_RATE}Hz")
    if not total:
        raise VLLMError("No audio found in the input.")
    return np.concatenate(chunks).astype(np.float32, copy=False)


def decode_audio(data: bytes, info: RecordedAudio, max_seconds: float) -> np.ndarray:
    """Decode to 16 kHz mono float32 like vLLM's load_audio, filling ``info`` as it goes."""
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except av.FFmpegError as exc:
        raise VLLMError(INVALID_AUDIO) from exc
    with container:
        info.container = container.format.name
        if not container.streams.audio:
            raise VLLMError(INVALID_AUDIO)
        stream = container.streams.audio[0]
        info.codec = stream.codec_context.name
        info.sample_rate = stream.codec_context.sample_rate
        info.channels = stream.codec_context.channels
        reported = _metadata_seconds(container, stream)
        if reported is not None and reported > max_seconds:
            raise _too_long(max_seconds, f"metadata reports {reported:.1f}s")
        try:
            samples = _resample_all(container, stream, max_seconds)
        except av.FFmpegError as exc:
            raise VLLMError(INVALID_AUDIO) from exc
    info.duration_s = samples.size / MODEL_SAMPLE_RATE
    return samples


def check_file_size(size: int, max_file_size_mb: float) -> None:
    if size > int(max_file_size_mb * MIB):
        raise validation_error("Maximum file size exceeded", "audio_filesize_mb", size / MIB)


def data_url_bytes(url: str | None, max_file_size_mb: float) -> bytes:
    """MediaConnector.load_from_url + AudioMediaIO.load_base64, for the URLs the stand-in can serve."""
    if not url:
        raise VLLMError(INVALID_AUDIO)  # vLLM would fail later, in the model's processor
    if url[:5].lower() != "data:":
        if url.startswith(("http://", "https://")):
            raise VLLMError("The stand-in vLLM does not fetch remote audio; send a data: URL.")
        if url.startswith("file:"):
            raise VLLMError(
                "Cannot load local files without `--allowed-local-media-path`.", 500, "InternalServerError"
            )
        raise VLLMError("The URL must be either a HTTP, data or file URL.")
    spec, sep, data = url[5:].partition(",")
    if not sep:
        raise VLLMError(f"Invalid data URL {url[:32]!r}: missing ',' separator.")
    _, sep, encoding = spec.rpartition(";")
    if not sep or encoding != "base64":
        raise VLLMError("Only base64 data URLs are supported for now.", 501, "NotImplementedError")
    max_bytes = int(max_file_size_mb * MIB)
    if len(data) > 4 * ((max_bytes + 2) // 3):
        raise validation_error("Maximum file size exceeded", "audio_filesize_mb", (len(data) * 3 / 4) / MIB)
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise VLLMError(str(exc)) from exc
    check_file_size(len(raw), max_file_size_mb)
    return raw
