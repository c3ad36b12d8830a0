"""Every shared pytest fixture of the suite, in one place; the conftest files only register them.

Modules tune the module-scoped ones with attributes: `STANDIN_OPTIONS` (a dict of `StandInVLLM` options)
and `GATEWAY_ENV` (extra environment variables for the gateway on the stand-in).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.audio_fixtures import FixtureSet, build_fixture_set
from tests.support.gateway_app import gateway_app, sync_client
from tests.support.gateway_process import GatewayProcess
from tests.support.standin_thread import ThreadedStandIn

FIXTURE_CACHE_DIR = Path(__file__).resolve().parents[1] / ".fixture-cache"
EMBEDDED_ENV = {"BACKEND": "embedded", "RATE_LIMIT_ENABLED": "false"}
"""The server on its embedded defaults, as a user starts it, but without rate limits: the suite sends more
transcriptions a minute than the default limit (test_rate_limits.py tests the limits)."""


@pytest.fixture(scope="session")
def audio_fixtures() -> FixtureSet:
    """Real audio files (espeak-ng speech in many containers, edge cases), built once and cached."""
    return build_fixture_set(FIXTURE_CACHE_DIR)


# --------------------------------------------------------------------------- the embedded engine


@pytest.fixture(scope="session")
def embedded_gateway() -> Iterator[GatewayProcess]:
    """The server on its embedded defaults as a real process, shared by the session: the smoke CLI and
    the WebSocket tests need its socket, and the model's CPU-heavy transcriptions measured faster in
    their own process than inside the test process, so the embedded route tests use it too."""
    with GatewayProcess(env=EMBEDDED_ENV) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def embedded_client(embedded_gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=embedded_gateway.base_url, timeout=120) as client:
        yield client


# --------------------------------------------------------------------------- the vLLM backend


@pytest.fixture(scope="module")
def standin(request: pytest.FixtureRequest) -> Iterator[ThreadedStandIn]:
    """A stand-in vLLM for the module; options from the module's `STANDIN_OPTIONS` (a dict), if any."""
    with ThreadedStandIn(**getattr(request.module, "STANDIN_OPTIONS", {})) as server:
        yield server


def _vllm_env(request: pytest.FixtureRequest, standin: ThreadedStandIn) -> dict[str, str]:
    return {**standin.gateway_env(), **getattr(request.module, "GATEWAY_ENV", {})}


@pytest.fixture(scope="module")
def vllm_app_client(
    request: pytest.FixtureRequest, standin: ThreadedStandIn
) -> Iterator[TestClient[Litestar]]:
    """The gateway on the vLLM backend, in process, talking to `standin`; extra settings from the
    module's `GATEWAY_ENV`."""
    with sync_client(gateway_app(_vllm_env(request, standin))) as client:
        yield client


@pytest.fixture
def client(
    request: pytest.FixtureRequest, vllm_app_client: TestClient[Litestar], standin: ThreadedStandIn
) -> httpx.Client:
    """`vllm_app_client`, with the stand-in's records and failures cleared and its delay back to the
    module's `STANDIN_OPTIONS` for this test."""
    standin.server.reset()
    standin.server.delay_seconds = getattr(request.module, "STANDIN_OPTIONS", {}).get("delay_seconds", 0.0)
    return vllm_app_client


@pytest.fixture(scope="module")
def gateway(request: pytest.FixtureRequest, standin: ThreadedStandIn) -> Iterator[GatewayProcess]:
    """The gateway on the vLLM backend as a real granian process, for what needs one (WebSockets, real
    sockets, several workers); `run_server.py` flags from the module's `GATEWAY_ARGS` (a list)."""
    args = list(getattr(request.module, "GATEWAY_ARGS", []))
    with GatewayProcess(env=_vllm_env(request, standin), args=args) as process:
        yield process
