"""What audio the gateway takes, for files and streams alike: the target rate, the limits, the checks."""

from __future__ import annotations

import msgspec

from voxtral_gateway.errors import AudioRejected, AudioTooLong

TARGET_SAMPLE_RATE = 16_000
"""Every decoder's output rate: what the VAD and the models take (mono)."""

# A file may decode a little short of what its header declares (encoder padding, a last partial frame);
# more than this, in seconds or as a fraction, and it is refused as truncated.
_TRUNCATION_TOLERANCE_SECONDS = 0.5
_TRUNCATION_TOLERANCE_RATIO = 0.10


class AudioLimits(msgspec.Struct, kw_only=True, frozen=True):
    max_bytes: int
    max_duration_seconds: float
    min_sample_rate: int = 8_000
    max_sample_rate: int = 48_000
    max_channels: int = 2
    field: str = "audio_file"
    """The request field the audio came from, named in every error message about a file."""


def check_source_format(
    sample_rate: int, channels: int, limits: AudioLimits, *, stream: bool = False
) -> None:
    """Raise `AudioRejected` when the source's sample rate or channel count is outside `limits`.

    `stream`: the audio is a live stream (the message names the stream, not the request field)."""
    field = None if stream else limits.field
    if not limits.min_sample_rate <= sample_rate <= limits.max_sample_rate:
        described = (
            f"the stream's sample rate is {sample_rate} Hz"
            if stream
            else f"{limits.field} has a sample rate of {sample_rate} Hz"
        )
        raise AudioRejected(
            f"{described}; supported: {limits.min_sample_rate}–{limits.max_sample_rate} Hz",
            field=field,
            details={"sample_rate": sample_rate},
        )
    if not 1 <= channels <= limits.max_channels:
        raise AudioRejected(
            f"{'the stream' if stream else limits.field} has {channels} channels; "
            f"supported: 1–{limits.max_channels}",
            field=field,
            details={"channels": channels},
        )


def check_duration(seconds: float, limits: AudioLimits) -> None:
    """Raise `AudioTooLong` when `seconds` (declared or decoded) is over the limit."""
    if seconds > limits.max_duration_seconds:
        raise AudioTooLong(
            f"{limits.field} is {seconds:.1f} s long; the limit is {limits.max_duration_seconds:g} s",
            field=limits.field,
            details={"duration_seconds": round(seconds, 3), "limit_seconds": limits.max_duration_seconds},
        )


def check_decoded(declared: float | None, decoded: float, label: str, limits: AudioLimits) -> None:
    """Raise `AudioRejected` when a `label` file gave no audio, or clearly less than it declares."""
    if decoded == 0:
        raise AudioRejected(f"{limits.field} contains no decodable audio ({label})", field=limits.field)
    if declared is not None and declared - decoded > max(
        _TRUNCATION_TOLERANCE_SECONDS, declared * _TRUNCATION_TOLERANCE_RATIO
    ):
        raise AudioRejected(
            f"{limits.field} is truncated: the {label} file declares {declared:.2f} s "
            f"but only {decoded:.2f} s could be decoded",
            field=limits.field,
            details={"declared_seconds": round(declared, 3), "decoded_seconds": round(decoded, 3)},
        )
