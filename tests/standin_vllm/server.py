"""The stand-in vLLM server: an aiohttp app on loopback, its test controls, and the bookkeeping the model
routes share. Each route lives in its own module (``transcription``, ``chat``); add one there and
register it in ``StandInVLLM.start``."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web

from tests.standin_vllm import chat, load, realtime, transcription
from tests.standin_vllm.audio import decode_audio
from tests.standin_vllm.engine import KEEP_ALIVE_SECONDS, EngineState
from tests.standin_vllm.errors import VLLMError
from tests.standin_vllm.records import RecordedAudio, RecordedRequest
from tests.standin_vllm.voxtral import (
    DEFAULT_MODEL,
    VLLM_VERSION,
    Answerer,
    Transcriber,
    default_answerer,
    default_transcriber,
)
from tests.standin_vllm.wire import dumps, json_response, not_found_middleware, random_id


@dataclass
class _Failure:
    status: int
    message: str
    err_type: str


class StandInVLLM:
    """vLLM's OpenAI-compatible server for Voxtral, as far as the gateway can tell."""

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        speed: float | None = None,
        delay_seconds: float = 0.0,
        max_audio_seconds: float = 600,
        max_file_size_mb: float = 25,
        transcriber: Transcriber | None = None,
        answerer: Answerer | None = None,
        max_model_len: int = 32768,
        realtime: bool = False,
        realtime_step_seconds: float = 0.48,
        realtime_done_delay_seconds: float = 0.0,
        keepalive_seconds: float = KEEP_ALIVE_SECONDS,
        max_num_queued_reqs: int | None = None,
        tokenizer_version: int = 7,
        prefill_fraction: float = 0.1,
        max_num_seqs: int = 256,
        server_load_tracking: bool = False,
    ) -> None:
        """`realtime`: the model has vLLM's realtime task (Voxtral Realtime), so WS /v1/realtime is served
        (`realtime.py`); `realtime_step_seconds`: audio per simulated decoding step there;
        `realtime_done_delay_seconds`: extra time before each turn's done there."""
        self.model = model
        self.speed = speed
        self.delay_seconds = delay_seconds
        self.max_audio_seconds = max_audio_seconds
        self.max_file_size_mb = max_file_size_mb
        self.transcriber = transcriber or default_transcriber
        self.answerer = answerer or default_answerer
        self.max_model_len = max_model_len
        self.realtime = realtime
        self.realtime_step_seconds = realtime_step_seconds
        self.realtime_done_delay_seconds = realtime_done_delay_seconds
        self.keepalive_seconds = keepalive_seconds
        self.tokenizer_version = tokenizer_version
        """mistral_common's tokenizer version (Voxtral Mini 3B: v7, which refuses system + audio)."""
        self.engine = EngineState(max_num_queued_reqs=max_num_queued_reqs)
        self.prefill_fraction = prefill_fraction
        """Of a streamed request's simulated work, the part before the first token (the audio
        encoder's prefill); the rest is spread evenly over the generated tokens."""
        self.load = load.EngineLoad(max_num_seqs, server_load_tracking)
        """Running and waiting requests, for /metrics and /load."""
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.aborted = 0
        self.base_url: str | None = None
        self._failures: deque[_Failure] = deque()
        self._runner: web.AppRunner | None = None

    # ---- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=1 << 30, middlewares=[not_found_middleware])
        app.router.add_get("/health", self._health)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        load.register(app, self)
        app.router.add_get(realtime.ENDPOINT, realtime.route(self))
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, keepalive_timeout=self.keepalive_seconds
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{f'[{bound_host}]' if ':' in bound_host else bound_host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        await realtime.close_sockets(self)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> StandInVLLM:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---- test controls

    def fail_next(self, status: int, message: str, count: int = 1, err_type: str = "BadRequestError") -> None:
        """Answer the next ``count`` model requests with this error, in vLLM's error body."""
        self._failures.extend(_Failure(status, message, err_type) for _ in range(count))

    def reset(self) -> None:
        self.requests.clear()
        self.max_in_flight = self.in_flight
        self.aborted = 0
        self._failures.clear()

    @property
    def system_fingerprint(self) -> str:
        return f"vllm-{VLLM_VERSION}-{hashlib.sha256(self.model.encode()).hexdigest()[:8]}"

    # ---- routes

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(status=self.engine.health_status())

    async def _models(self, request: web.Request) -> web.Response:
        now = int(time.time())
        permission = {
            "id": f"modelperm-{random_id()}",
            "object": "model_permission",
            "created": now,
            "allow_create_engine": False,
            "allow_sampling": True,
            "allow_logprobs": True,
            "allow_search_indices": False,
            "allow_view": True,
            "allow_fine_tuning": False,
            "organization": "*",
            "group": None,
            "is_blocking": False,
        }
        card = {
            "id": self.model,
            "object": "model",
            "created": now,
            "owned_by": "vllm",
            "root": self.model,
            "parent": None,
            "max_model_len": self.max_model_len,
            "permission": [permission],
        }
        return json_response({"object": "list", "data": [card]})

    async def _transcriptions(self, request: web.Request) -> web.StreamResponse:
        return await self._model_request(request, "/v1/audio/transcriptions", transcription.transcribe)

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._model_request(request, "/v1/chat/completions", chat.chat)

    # ---- bookkeeping shared by the model routes

    async def _model_request(
        self,
        request: web.Request,
        endpoint: str,
        process: Callable[[StandInVLLM, web.Request, RecordedRequest], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        record = RecordedRequest(endpoint=endpoint, started_at=time.monotonic())
        self.requests.append(record)
        if self.engine.maybe_drop(request):
            record.aborted = True
            return web.Response(status=204)  # never sent: the connection is closed
        try:
            self.engine.preflight(unfinished=self.in_flight)
        except VLLMError as exc:
            record.status, record.error = exc.status, exc.message
            return json_response(exc.body(), exc.status)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            with self.load.http_request():
                response = await process(self, request, record)
            record.status = response.status
            return response
        except VLLMError as exc:
            record.status, record.error = exc.status, exc.message
            return json_response(exc.body(), exc.status)
        except Exception as exc:  # e.g. a test's transcriber raised: vLLM's catch-all answers 500
            error = VLLMError(str(exc), 500, "InternalServerError")
            record.status, record.error = error.status, error.message
            return json_response(error.body(), error.status)
        except asyncio.CancelledError:
            self.mark_aborted(record)
            raise
        finally:
            record.finished_at = time.monotonic()
            self.in_flight -= 1

    # ---- shared by the model routes (transcription.py, chat.py)

    def mark_aborted(self, record: RecordedRequest) -> None:
        if not record.aborted:
            record.aborted = True
            self.aborted += 1

    def maybe_fail(self, record: RecordedRequest) -> None:
        """Raise the next failure queued by `fail_next`, if any."""
        if self._failures:
            failure = self._failures.popleft()
            record.injected = True
            raise VLLMError(failure.message, failure.status, failure.err_type)

    def check_model(self, requested: str | None) -> None:
        """vLLM's 404 for a model name it does not serve."""
        if requested and requested != self.model:
            raise VLLMError(
                f"The model `{requested}` does not exist. Valid aliases: {self.model}.",
                404,
                "NotFoundError",
                "model",
            )

    def work_seconds(self, audio_seconds: float) -> float:
        """How long the GPU would take: `delay_seconds`, plus the audio at `speed` x real time."""
        return self.delay_seconds + (audio_seconds / self.speed if self.speed else 0.0)

    async def decode(self, data: bytes, info: RecordedAudio) -> np.ndarray:
        """`decode_audio` in a thread, with this server's duration cap."""
        return await asyncio.to_thread(decode_audio, data, info, self.max_audio_seconds)

    async def stream(
        self,
        request: web.Request,
        record: RecordedRequest,
        events: Iterator[dict[str, Any]],
        step_seconds: float = 0.0,
    ) -> web.StreamResponse:
        """Server-sent events, one per engine step (`step_seconds` apart), then ``data: [DONE]``."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        due = loop.time()
        try:
            for event in events:
                await response.write(f"data: {dumps(event)}\n\n".encode())
                due += step_seconds  # steps keep their pace: sleeps' overshoot does not add up
                await asyncio.sleep(max(0.0, due - loop.time()))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            self.mark_aborted(record)
        return response

    # ---- /v1/audio/transcriptions
