"""Registers the suite's fixtures; they are defined in tests/support/fixtures.py."""

from tests.support.fixtures import (  # noqa: F401
    audio_fixtures,
    client,
    embedded_client,
    embedded_gateway,
    gateway,
    standin,
    vllm_app_client,
)
