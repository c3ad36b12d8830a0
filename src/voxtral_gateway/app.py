"""create_app(): the one place where the gateway is wired together."""

from __future__ import annotations

import gc
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Controller, Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig

from voxtral_gateway import __version__
from voxtral_gateway.lifecycle import GatewayMiddleware
from voxtral_gateway.observability.logging import configure_logging
from voxtral_gateway.ratelimit import AccessMiddleware
from voxtral_gateway.routes.docs_assets import OfflineSwaggerRenderPlugin
from voxtral_gateway.routes.error_handlers import BODY_LIMIT_SETTING, EXCEPTION_HANDLERS
from voxtral_gateway.routes.health import HealthController, HealthReporter
from voxtral_gateway.routes.health_fast_path import HealthFastPath
from voxtral_gateway.routes.metrics import MetricsController
from voxtral_gateway.routes.openai import (
    AudioTranscriptionsController,
    ChatCompletionsController,
    ModelsController,
    TranscriptionJobsController,
)
from voxtral_gateway.routes.playground import PlaygroundController
from voxtral_gateway.routes.realtime import mistral_realtime, openai_realtime
from voxtral_gateway.routes.seed import BatchController, TranscribeController, UnderstandController
from voxtral_gateway.routes.seed.stream import stream_transcribe
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.settings import Settings, load_settings

# JSON framing and the small fields around one base64 file.
_JSON_OVERHEAD_BYTES = 64 * 1024
DEFAULT_BODY_LIMIT = 1024 * 1024

API_DESCRIPTION = """\
Speech-to-text and audio understanding in front of Mistral's Voxtral (served by vLLM), with an
embedded faster-whisper engine when no GPU is configured.

Every error has one JSON shape: `{"error": {"code", "message", "field", "details"}}` (OpenAI's shape on
`/v1/*`). Live transcription is a WebSocket, `/stream/transcribe`, which OpenAPI cannot describe; so
are the realtime protocols voice agents speak, OpenAI's (`/v1/realtime`) and Mistral's
(`/v1/audio/transcriptions/realtime`).

The reference (the API, the streaming protocol, OpenAI compatibility, limits, settings) is in the
repository's `docs/` folder: `docs/api.md`, `docs/streaming.md`, `docs/realtime.md`, `docs/openai.md`.

Try it in a browser: [the playground](/playground) (a file, the microphone, questions about audio).
"""


def base64_body_limit(file_bytes: int, files: int = 1) -> int:
    """The body size that carries `files` base64 files of `file_bytes` each."""
    return files * (math.ceil(file_bytes / 3) * 4) + _JSON_OVERHEAD_BYTES


def _with_body_limit(controller: type[Controller], limit: int, setting: str) -> type[Controller]:
    """`controller` with a body size limit; `setting` (the environment variable it comes from) is named
    when a body is refused for it. A subclass per app keeps both out of the shared class (tests build
    several apps)."""
    options = {BODY_LIMIT_SETTING: setting}
    return type(controller.__name__, (controller,), {"request_max_body_size": limit, "opt": options})


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    debug = settings.observability.debug
    configure_logging(debug)
    runtime = Runtime(settings)
    health = HealthReporter(runtime.health, settings.observability.health_cache_seconds)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await runtime.start()
        # What start-up built (modules, routes, the runtime) lives as long as the worker: kept out of the
        # cyclic collector's full passes, which otherwise scan it all while every stream on the loop waits
        # (under 200 live streams a full pass took 100-200 ms, the worst per-message delays).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await runtime.close()

    max_file_bytes = settings.limits.max_file_size_bytes
    single_file_limit = base64_body_limit(max_file_bytes)
    many_files_limit = base64_body_limit(settings.limits.max_request_size_bytes)
    # API keys and rate limits; left out when neither is configured (it costs nothing then).
    access = runtime.access
    access_middleware = [DefineMiddleware(AccessMiddleware, access=access)] if access.active else []
    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            _with_body_limit(TranscribeController, single_file_limit, "MAX_FILE_SIZE_MB"),
            _with_body_limit(BatchController, many_files_limit, "MAX_REQUEST_SIZE_MB"),
            _with_body_limit(UnderstandController, many_files_limit, "MAX_REQUEST_SIZE_MB"),
            ModelsController,
            _with_body_limit(
                AudioTranscriptionsController, max_file_bytes + _JSON_OVERHEAD_BYTES, "MAX_FILE_SIZE_MB"
            ),
            _with_body_limit(ChatCompletionsController, many_files_limit, "MAX_REQUEST_SIZE_MB"),
            _with_body_limit(
                TranscriptionJobsController, max_file_bytes + _JSON_OVERHEAD_BYTES, "MAX_FILE_SIZE_MB"
            ),
            stream_transcribe,
            openai_realtime,
            mistral_realtime,
            PlaygroundController,
        ],
        dependencies={
            "runtime": Provide(lambda: runtime, sync_to_thread=False, use_cache=True),
            "health_reporter": Provide(lambda: health, sync_to_thread=False, use_cache=True),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=access_middleware,
        lifespan=[lifespan],
        state=State({"runtime": runtime}),
        request_max_body_size=DEFAULT_BODY_LIMIT,
        debug=debug,
        # Logging is configure_logging's (structlog, JSON): Litestar's default config would replace the
        # root handler with plain text. Nothing logs request bodies (no LoggingMiddleware).
        logging_config=None,
        openapi_config=OpenAPIConfig(
            title="voxtral-gateway",
            version=__version__,
            description=API_DESCRIPTION,
            path="/docs",
            # Swagger UI's files come from the package, not a CDN: /docs works without internet.
            render_plugins=[OfflineSwaggerRenderPlugin(docs_path="/docs", path="/")],
        ),
    )
    # Around everything, so every response (404s, errors, 503 while draining) carries X-Request-ID and
    # Server-Timing: request context, metrics, access log, cancellation on disconnect, draining.
    app.asgi_handler = GatewayMiddleware(app.asgi_handler, runtime.shutdown)
    app.asgi_handler = HealthFastPath(app.asgi_handler, health, runtime.shutting_down)
    return app
