"""GuardedBackend forwards what describes the engine; the pool picks the least loaded healthy server."""

from __future__ import annotations

import inspect

import pytest

from voxtral_gateway.backends import SpeechBackend
from voxtral_gateway.backends.base import BackendHealth
from voxtral_gateway.backends.pool import VLLMPool
from voxtral_gateway.services.admission import AdmissionGate, AdmissionLimits
from voxtral_gateway.services.guarded_backend import GuardedBackend
from voxtral_gateway.settings import load_settings

_METHODS_GUARDED = {"transcribe", "chat", "chat_stream", "start", "close", "health"}


class _Engine(SpeechBackend):
    kind = "fake"
    supports_chat = True
    prefers_segments = True
    max_audio_seconds = 12.5

    def __init__(self) -> None:
        self.model_name = "fake-model"
        self.base_url = "http://fake:1"

    @property
    def supported_languages(self) -> frozenset[str] | None:
        return frozenset({"en"})

    async def transcribe(self, audio, options):  # pragma: no cover - not called
        raise NotImplementedError

    async def health(self) -> BackendHealth:
        return BackendHealth(ready=True)


def guarded(inner: SpeechBackend) -> GuardedBackend:
    return GuardedBackend(
        inner, AdmissionGate(AdmissionLimits(max_in_flight=1, queue_limit=0, max_wait_seconds=1))
    )


def test_every_descriptive_attribute_of_the_interface_is_the_inner_backends():
    inner, outer = _Engine(), guarded(_Engine())
    outer.inner = inner
    public = {name for name in dir(SpeechBackend) if not name.startswith("_")} | {"model_name"}
    for name in sorted(public - _METHODS_GUARDED):
        value = getattr(SpeechBackend, name, None)
        if inspect.isfunction(value):
            continue
        assert getattr(outer, name) == getattr(inner, name), name
    assert outer.base_url == "http://fake:1"  # the one server, when there is one (health reports it)


def pool(urls: str) -> VLLMPool:
    settings = load_settings({"VOXTRAL_BACKENDS": urls})
    return VLLMPool(settings.vllm, settings.timeouts)


def test_the_pool_prefers_healthy_then_least_loaded_servers():
    p = pool("http://a:1,http://b:2,http://c:3")
    a, b, c = p.members
    a.state, b.state, c.state = "healthy", "healthy", "unhealthy"
    a.in_flight, b.in_flight, c.in_flight = 3, 1, 0
    assert p._choose([]) is b
    assert p._choose([b]) is a
    assert p._choose([a, b]) is c  # only an unhealthy server left: still tried


def test_ties_rotate():
    p = pool("http://a:1,http://b:2")
    for member in p.members:
        member.state = "healthy"
    assert {p._choose([]).url for _ in range(4)} == {"http://a:1", "http://b:2"}


@pytest.mark.parametrize(
    ("urls", "base_url"), [("http://a:1", "http://a:1"), ("http://a:1,http://b:2", None)]
)
def test_base_url_is_reported_for_a_single_server_only(urls: str, base_url: str | None):
    assert pool(urls).base_url == base_url
