"""The health report is cached once, for HEALTH_CACHE_SECONDS, whoever asks (fast path or controller)."""

from __future__ import annotations

import asyncio
import time

import msgspec

from voxtral_gateway.backends.base import BackendHealth, SpeechBackend
from voxtral_gateway.routes.health import HealthReporter
from voxtral_gateway.services.admission import AdmissionGate, AdmissionLimits
from voxtral_gateway.services.health import HealthService


class _Engine(SpeechBackend):
    kind = "fake"

    def __init__(self) -> None:
        self.model_name = "fake-model"
        self.probes = 0
        self.ready = True

    async def transcribe(self, audio, options):  # pragma: no cover - not called
        raise NotImplementedError

    async def health(self) -> BackendHealth:
        self.probes += 1
        await asyncio.sleep(0.01)
        return BackendHealth(ready=self.ready, detail=None if self.ready else "down")


class _Runtime:
    def __init__(self) -> None:
        self.backend = _Engine()
        admission = AdmissionGate(AdmissionLimits(max_in_flight=2, queue_limit=3, max_wait_seconds=1))
        self.health = HealthService(self.backend, admission, time.monotonic())


async def test_the_report_is_reused_for_the_cache_time_and_built_once_for_concurrent_callers():
    runtime = _Runtime()
    reporter = HealthReporter(runtime.health, cache_seconds=60)
    reports = await asyncio.gather(*(reporter.report() for _ in range(5)))
    assert runtime.backend.probes == 1
    assert {report.status for report in reports} == {200}
    body = msgspec.json.decode(reports[0].body)
    assert body["backend"]["model"] == "fake-model" and body["admission"]["queue_limit"] == 3
    runtime.backend.ready = False
    assert (await reporter.report()).status == 200  # still the cached answer
    assert runtime.backend.probes == 1


async def test_zero_cache_seconds_probes_every_time():
    runtime = _Runtime()
    reporter = HealthReporter(runtime.health, cache_seconds=0)
    assert (await reporter.report()).status == 200
    runtime.backend.ready = False
    report = await reporter.report()
    assert report.status == 503 and msgspec.json.decode(report.body)["backend"]["detail"] == "down"
    assert runtime.backend.probes == 2
