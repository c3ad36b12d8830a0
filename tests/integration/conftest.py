from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.gateway_process import GatewayProcess


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
