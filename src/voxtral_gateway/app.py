"""create_app(): the one place where the gateway is wired together."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Controller, Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from voxtral_gateway import __version__
from voxtral_gateway.observability.logging import configure_logging
from voxtral_gateway.routes.batch import BatchController
from voxtral_gateway.routes.error_handlers import EXCEPTION_HANDLERS
from voxtral_gateway.routes.health import HealthController
from voxtral_gateway.routes.transcribe import TranscribeController
from voxtral_gateway.routes.understand import UnderstandController
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.settings import Settings, load_settings

# JSON framing and the small fields around one base64 file.
_JSON_OVERHEAD_BYTES = 64 * 1024
DEFAULT_BODY_LIMIT = 1024 * 1024

API_DESCRIPTION = """\
Speech-to-text and audio understanding in front of Mistral's Voxtral (served by vLLM), with an
embedded faster-whisper engine when no GPU is configured.

Every error has one JSON shape: `{"error": {"code", "message", "field", "details"}}`.
"""


def base64_body_limit(file_bytes: int, files: int = 1) -> int:
    """The body size that carries `files` base64 files of `file_bytes` each."""
    return files * (math.ceil(file_bytes / 3) * 4) + _JSON_OVERHEAD_BYTES


def _with_body_limit(controller: type[Controller], limit: int) -> type[Controller]:
    # A subclass per app keeps the limit out of the shared class (tests build several apps).
    return type(controller.__name__, (controller,), {"request_max_body_size": limit})


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    configure_logging(settings.debug)
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    single_file_limit = base64_body_limit(settings.max_file_size_bytes)
    many_files_limit = base64_body_limit(settings.max_request_size_bytes)
    return Litestar(
        route_handlers=[
            HealthController,
            _with_body_limit(TranscribeController, single_file_limit),
            _with_body_limit(BatchController, many_files_limit),
            _with_body_limit(UnderstandController, many_files_limit),
        ],
        dependencies={"runtime": Provide(lambda: runtime, sync_to_thread=False, use_cache=True)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=State({"runtime": runtime}),
        request_max_body_size=DEFAULT_BODY_LIMIT,
        debug=settings.debug,
        openapi_config=OpenAPIConfig(
            title="voxtral-gateway",
            version=__version__,
            description=API_DESCRIPTION,
            path="/docs",
            render_plugins=[SwaggerRenderPlugin(path="/")],
        ),
    )
