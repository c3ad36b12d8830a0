from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.gateway_process import GatewayProcess
from tests.support.standin_thread import ThreadedStandIn


@pytest.fixture(scope="session")
def embedded_gateway() -> Iterator[GatewayProcess]:
    """The server on its embedded defaults, as a user starts it (but without rate limits: the suite
    sends more transcriptions a minute than the default limit; test_rate_limits.py tests the limits)."""
    with GatewayProcess(env={"BACKEND": "embedded", "RATE_LIMIT_ENABLED": "false"}) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def embedded_client(embedded_gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=embedded_gateway.base_url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def standin(request: pytest.FixtureRequest) -> Iterator[ThreadedStandIn]:
    """A stand-in vLLM for the module; options from the module's `STANDIN_OPTIONS` (a dict), if any."""
    with ThreadedStandIn(**getattr(request.module, "STANDIN_OPTIONS", {})) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(request: pytest.FixtureRequest, standin: ThreadedStandIn) -> Iterator[GatewayProcess]:
    """A gateway on the vLLM backend, talking to `standin`; extra settings from the module's `GATEWAY_ENV`."""
    env = {**standin.gateway_env(), **getattr(request.module, "GATEWAY_ENV", {})}
    with GatewayProcess(env=env) as process:
        yield process
