"""The gateway in process: `create_app(settings)` served by Litestar's test clients, no server, no socket.

The app's lifespan runs as it does under granian, so the Redis and aiohttp clients, the backends and the
embedded model are the real ones. Use it for route behaviour; use `GatewayProcess` only where granian,
signals, several workers or real sockets matter.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import openai
from litestar import Litestar
from litestar.testing import AsyncTestClient, TestClient

from voxtral_gateway.app import create_app
from voxtral_gateway.settings import load_settings

BASE_URL = "http://testserver.local"


def gateway_app(env: Mapping[str, str]) -> Litestar:
    """The app as `run_server.py` builds it from these environment variables (and nothing else)."""
    return create_app(load_settings(dict(env)))


def sync_client(app: Litestar, timeout: float = 120) -> TestClient[Litestar]:
    """A blocking client (an `httpx.Client`); its own thread runs the app's event loop and lifespan.
    Like a real server, an unhandled error is a 500 response, not an exception in the test."""
    return TestClient(app, base_url=BASE_URL, timeout=timeout, raise_server_exceptions=False)


def async_client(app: Litestar, timeout: float = 120) -> AsyncTestClient[Litestar]:
    """An `httpx.AsyncClient` running the app on the test's own event loop."""
    return AsyncTestClient(app, base_url=BASE_URL, timeout=timeout, raise_server_exceptions=False)


def openai_sdk(client: httpx.Client, timeout: float = 600) -> openai.OpenAI:
    """The official SDK talking through `client` (an in-process app's, or one on a real server)."""
    return openai.OpenAI(
        base_url=f"{str(client.base_url).rstrip('/')}/v1",
        api_key="not-needed",
        max_retries=0,
        timeout=timeout,
        http_client=client,
    )
