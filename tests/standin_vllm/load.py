"""The stand-in's own load, published as vLLM 0.33 publishes it: ``GET /metrics`` (Prometheus text, the
scheduler gauges of ``v1/metrics/loggers.py``) and ``GET /load`` (``entrypoints/serve/instrumentator/
basic.py``: ``{"server_load": n}``, counted only with ``--enable-server-load-tracking``).

The counts are real: a model request is ``running`` while the simulated GPU works on it, ``waiting`` while
it waits for one of ``max_num_seqs`` batch places (vLLM's scheduler limit, 256 by default), and in
``server_load`` from the moment its HTTP request arrives until its answer is sent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

from aiohttp import web

from tests.standin_vllm.wire import json_response

if TYPE_CHECKING:
    from tests.standin_vllm.server import StandInVLLM

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_GAUGES = (
    ("vllm:num_requests_running", "Number of requests in model execution batches."),
    ("vllm:num_requests_waiting", "Number of requests waiting to be processed."),
    ("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage."),
)


class EngineLoad:
    """Running and waiting requests of the simulated engine, and the API server's in-flight count."""

    def __init__(self, max_num_seqs: int = 256, server_load_tracking: bool = False) -> None:
        self.max_num_seqs = max_num_seqs
        self.server_load_tracking = server_load_tracking
        self.running = 0
        self.waiting = 0
        self.server_load = 0
        self.max_running = 0
        self.max_waiting = 0
        self.finished = 0
        """Requests that left the engine (vLLM's counter ``vllm:request_success_total``)."""
        self._batch = asyncio.Semaphore(max_num_seqs)

    @contextlib.asynccontextmanager
    async def scheduled(self) -> AsyncIterator[None]:
        """Wait for a batch place (``waiting``), then hold it (``running``) for the block."""
        self.waiting += 1
        self.max_waiting = max(self.max_waiting, self.waiting)
        try:
            await self._batch.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            yield
        finally:
            self.running -= 1
            self.finished += 1
            self._batch.release()

    @contextlib.contextmanager
    def http_request(self) -> Iterator[None]:
        """Count one load-aware HTTP request for ``/load`` (only with server load tracking on)."""
        counted = self.server_load_tracking
        self.server_load += counted
        try:
            yield
        finally:
            self.server_load -= counted

    @property
    def kv_cache_usage(self) -> float:
        """A rough fraction: the batch places taken (the stand-in keeps no real cache)."""
        return self.running / self.max_num_seqs

    def metrics_text(self, model: str) -> str:
        """The three gauges as prometheus_client renders them: sorted labels, float values."""
        labels = f'{{engine="0",model_name="{model}"}}'
        values = (float(self.running), float(self.waiting), self.kv_cache_usage)
        gauges = "".join(
            f"# HELP {name} {help_text}\n# TYPE {name} gauge\n{name}{labels} {value!r}\n"
            for (name, help_text), value in zip(_GAUGES, values, strict=True)
        )
        counter = "vllm:request_success_total"
        return (
            f"{gauges}# HELP {counter} Count of successfully processed requests.\n# TYPE {counter} counter\n"
            f'{counter}{{engine="0",finished_reason="stop",model_name="{model}"}} {float(self.finished)!r}\n'
        )


def register(app: web.Application, server: StandInVLLM) -> None:
    """Add ``GET /metrics`` and ``GET /load`` for `server` (whose ``load`` is an `EngineLoad`)."""

    async def metrics(request: web.Request) -> web.Response:
        body = server.load.metrics_text(server.model).encode()
        return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def load(request: web.Request) -> web.Response:
        return json_response({"server_load": server.load.server_load})

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/load", load)
