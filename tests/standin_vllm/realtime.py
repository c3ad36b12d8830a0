"""``WS /v1/realtime`` as vLLM 0.33 serves it for a realtime model such as
mistralai/Voxtral-Mini-4B-Realtime-2602 (``entrypoints/speech_to_text/realtime/{api_router,connection,
protocol}.py``, ``model_executor/models/voxtral_realtime.py``).

vLLM's own protocol, JSON text frames, fields at the top level:

- server, on accept: ``session.created {id: "sess-<16 hex>", created}``;
- client: ``session.update {model}``, ``input_audio_buffer.append {audio: base64 PCM16 16 kHz mono}``,
  ``input_audio_buffer.commit {final: bool = false}``;
- server: ``transcription.delta {delta}`` per engine step (may be ""), ``transcription.done {text, usage}``
  (text = the deltas joined), ``error {error, code}``. No ack, no ``session.updated``, no event ids.

A commit with ``final: false`` starts one engine request that reads the session's audio queue (audio
appended earlier is used too); a second one while it runs is ignored. ``final: true`` queues the end of
the audio: the request finishes with ``transcription.done``, then the queue is drained (audio appended
after the final commit is lost) and the socket stays open for a new commit. The server never closes the
socket itself; a binary frame ends the connection (Starlette's ``receive_text`` fails) [inferred: uvicorn
then closes with 1000].

Without the realtime task (``StandInVLLM(realtime=False)``, Voxtral Mini 3B) the route does not exist:
the WebSocket handshake is refused with 403 (Starlette closes a WebSocket nobody routes before accepting
it), a plain GET answers FastAPI's 404.

Instead of a model, the server's ``transcriber`` gives the text. Incremental decoding is simulated: every
``realtime_step_seconds`` of audio the transcriber runs on the audio received so far, and the words its
last two transcripts agree on are sent as a delta beyond what was already sent; the end of audio sends
the rest of the whole audio's transcript. ``speed`` makes each step take its audio / speed;
``realtime_done_delay_seconds`` delays each ``transcription.done`` after the end of audio (a model slow to
finish a turn).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import math
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from aiohttp import WSCloseCode, WSMsgType, web

from tests.standin_vllm.records import RecordedAudio, RecordedRequest
from tests.standin_vllm.voxtral import MODEL_SAMPLE_RATE, SAMPLES_PER_AUDIO_TOKEN, pseudo_tokens
from tests.standin_vllm.wire import dumps, json_response, random_id

if TYPE_CHECKING:
    from tests.standin_vllm.server import StandInVLLM

DEFAULT_REALTIME_MODEL = "mistralai/Voxtral-Mini-4B-Realtime-2602"
ENDPOINT = "/v1/realtime"
MAX_AUDIO_CLIP_FILESIZE_MB = 25  # VLLM_MAX_AUDIO_CLIP_FILESIZE_MB: compared with samples / 2**20
# The streaming prefix (BOS, left-padding and delay [STREAMING_PAD] tokens) of one engine request, and
# the right padding appended at the end of audio: estimates (mistral_common's audio config is not here).
STREAMING_PREFIX_TOKENS = 39
RIGHT_PAD_TOKENS = 17

_FINAL = None  # the end-of-audio sentinel in the audio queue, as vLLM's


def _event(kind: str, **fields: Any) -> str:
    return dumps({"type": kind, **fields})


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    """UsageInfo dumped with every field (``model_dump_json``), in its declaration order."""
    return {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": None,
        "completion_tokens_details": None,
    }


def _pydantic_missing(model: str, field: str, event: dict[str, Any]) -> str:
    """pydantic's ValidationError text for a missing field, as vLLM sends it (``processing_error``)."""
    return (
        f"1 validation error for {model}\n{field}\n  Field required [type=missing, "
        f"input_value={event!r}, input_type=dict]"
    )


def _pydantic_type(model: str, field: str, kind: str, message: str, value: Any) -> str:
    return f"1 validation error for {model}\n{field}\n  {message} [type={kind}, input_value={value!r}]"


class _EventError(Exception):
    """An ``error`` event to send; the socket stays open."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}


def _lax_bool(value: Any) -> bool:
    """pydantic's lax bool: bools, 0/1, and the usual strings; anything else is a validation error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise _EventError(
        _pydantic_type(
            "InputAudioBufferCommit",
            "final",
            "bool_parsing",
            "Input should be a valid boolean, unable to interpret input",
            value,
        ),
        "processing_error",
    )


class RealtimeConnection:
    """One WebSocket: its audio queue, whether its model was validated, its running engine request."""

    def __init__(self, server: StandInVLLM, ws: web.WebSocketResponse) -> None:
        self.server = server
        self.ws = ws
        self.audio: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self.model_validated = False
        self.generation: asyncio.Task[None] | None = None

    async def run(self) -> None:
        await self.ws.send_str(_event("session.created", id=f"sess-{random_id()}", created=int(time.time())))
        try:
            async for message in self.ws:
                if message.type != WSMsgType.TEXT:
                    break  # receive_text() fails on a binary frame: vLLM's loop ends
                try:
                    await self.handle(json.loads(message.data))
                except json.JSONDecodeError:
                    await self.send_error("Invalid JSON", "invalid_json")
                except _EventError as exc:
                    await self.send_error(exc.message, exc.code)
                except Exception as exc:  # vLLM sends any handler exception as processing_error
                    await self.send_error(str(exc), "processing_error")
        finally:
            await self.cleanup()

    async def handle(self, event: Any) -> None:
        kind = event.get("type")  # a JSON array or number: AttributeError → processing_error, as vLLM
        if kind == "session.update":
            self.update_session(event)
        elif kind == "input_audio_buffer.append":
            self.append(event)
        elif kind == "input_audio_buffer.commit":
            self.commit(event)
        else:
            raise _EventError(f"Unknown event type: {kind}", "unknown_event")

    def update_session(self, event: dict[str, Any]) -> None:
        model = event.get("model")
        if model is None:
            raise _EventError("Missing required field: model", "invalid_event")
        if model and model != self.server.model:  # vLLM's _is_model_supported: "" passes
            raise _EventError(f"The model `{model}` does not exist.", "model_not_found")
        self.model_validated = True

    def append(self, event: dict[str, Any]) -> None:
        if "audio" not in event:
            raise _EventError(_pydantic_missing("InputAudioBufferAppend", "audio", event), "processing_error")
        if not isinstance(event["audio"], str):
            message = _pydantic_type(
                "InputAudioBufferAppend",
                "audio",
                "string_type",
                "Input should be a valid string",
                event["audio"],
            )
            raise _EventError(message, "processing_error")
        try:
            pcm = base64.b64decode(event["audio"])  # pybase64, not validating: stray characters dropped
            samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0  # odd length: ValueError
        except ValueError as exc:
            raise _EventError("Invalid audio data", "invalid_audio") from exc
        if samples.size / 1024**2 > MAX_AUDIO_CLIP_FILESIZE_MB or samples.size == 0:
            raise _EventError("Invalid audio data", "invalid_audio")
        self.audio.put_nowait(samples)

    def commit(self, event: dict[str, Any]) -> None:
        if not self.model_validated:
            raise _EventError(
                "Model not validated. Make sure to validate the model by sending a session.update event.",
                "model_not_validated",
            )
        if _lax_bool(event.get("final", False)):
            self.audio.put_nowait(_FINAL)
        elif self.generation is None or self.generation.done():
            self.generation = asyncio.create_task(self.generate())
        # else: "Generation already in progress, ignoring commit" (vLLM logs it, sends nothing)

    async def generate(self) -> None:
        """One engine request: deltas as audio arrives, then ``transcription.done``."""
        server = self.server
        record = RecordedRequest(endpoint=ENDPOINT, started_at=time.monotonic(), stream=True)
        server.requests.append(record)
        server.in_flight += 1
        server.max_in_flight = max(server.max_in_flight, server.in_flight)
        decoder = _IncrementalDecoder(server)
        try:
            server.maybe_fail(record)
            server.engine.preflight(unfinished=server.in_flight - 1)  # admission, a dead engine
            while True:
                chunk = await self.audio.get()
                if chunk is _FINAL:
                    break
                for delta in await decoder.feed(chunk):
                    await self.send(_event("transcription.delta", delta=delta))
                if decoder.reached_max_model_len:
                    break  # vLLM stops the stream (a warning) and finishes as if the audio ended
            for delta in await decoder.finish():
                await self.send(_event("transcription.delta", delta=delta))
            if server.realtime_done_delay_seconds:
                await asyncio.sleep(server.realtime_done_delay_seconds)
            await self.send(
                _event("transcription.done", text=decoder.text, usage=_usage(*decoder.token_counts()))
            )
            record.status = 200
            while not self.audio.empty():  # vLLM clears the queue for the next utterance
                self.audio.get_nowait()
        except asyncio.CancelledError:
            server.mark_aborted(record)
            raise
        except Exception as exc:  # an injected failure, a transcriber that raised
            record.error = str(getattr(exc, "message", exc))
            with contextlib.suppress(Exception):
                await self.send_error(record.error, "processing_error")
        finally:
            samples = decoder.samples_seen
            record.audios.append(
                RecordedAudio(
                    samples * 2,
                    sample_rate=MODEL_SAMPLE_RATE,
                    channels=1,
                    duration_s=samples / MODEL_SAMPLE_RATE,
                )
            )
            record.finished_at = time.monotonic()
            server.in_flight -= 1

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def send_error(self, message: str, code: str | None) -> None:
        await self.ws.send_str(_event("error", error=message, code=code))

    async def cleanup(self) -> None:
        """The client went away: abort the engine request (vLLM aborts it, then cancels the task)."""
        self.audio.put_nowait(_FINAL)
        if self.generation is not None and not self.generation.done():
            self.generation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.generation


class _IncrementalDecoder:
    """Simulated streaming decoding: a step per ``realtime_step_seconds`` of audio, each sending the
    words on which the transcripts of the audio so far agreed at this step and the one before, beyond
    those already sent (so a transcript that rewrites a word does not put it out early)."""

    def __init__(self, server: StandInVLLM) -> None:
        self.server = server
        self.chunks: list[np.ndarray] = []
        self.samples_seen = 0
        self.samples_decoded = 0
        self.sent: list[str] = []
        self.previous: list[str] = []  # the words of the last step's transcript
        self.step_samples = max(1, int(server.realtime_step_seconds * MODEL_SAMPLE_RATE))

    @property
    def text(self) -> str:
        return "".join(self.sent)

    @property
    def reached_max_model_len(self) -> bool:
        return (
            STREAMING_PREFIX_TOKENS + self.samples_seen // SAMPLES_PER_AUDIO_TOKEN
            >= self.server.max_model_len
        )

    def token_counts(self) -> tuple[int, int]:
        """(prompt, completion): the streaming prefix; one token per 80 ms step, right padding included.
        No audio at all: the engine never produced an output, vLLM reports zeros."""
        if self.samples_seen == 0:
            return 0, 0
        return STREAMING_PREFIX_TOKENS, math.ceil(
            self.samples_seen / SAMPLES_PER_AUDIO_TOKEN
        ) + RIGHT_PAD_TOKENS

    async def feed(self, chunk: np.ndarray) -> list[str]:
        self.chunks.append(chunk)
        self.samples_seen += chunk.size
        deltas = []
        while self.samples_seen - self.samples_decoded >= self.step_samples:
            self.samples_decoded += self.step_samples
            await self._work(self.step_samples)
            words = pseudo_tokens(await self._transcribe(self.samples_decoded))
            agreed = list(
                itertools.takewhile(lambda pair: pair[0] == pair[1], zip(self.previous, words, strict=False))
            )
            self.previous = words
            deltas.append(self._beyond_sent([word for word, _ in agreed]))
        return deltas

    async def finish(self) -> list[str]:
        await self._work(self.samples_seen - self.samples_decoded)
        self.samples_decoded = self.samples_seen
        if self.samples_seen == 0:
            return []
        return [self._beyond_sent(pseudo_tokens(await self._transcribe(self.samples_seen)))]

    def _beyond_sent(self, words: list[str]) -> str:
        """The words past those sent, when what was sent is still their start (a real streaming model
        cannot take a delta back, so a transcript that changed its mind only adds words)."""
        if words[: len(self.sent)] != self.sent:
            return ""
        new = words[len(self.sent) :]
        self.sent.extend(new)
        return "".join(new)

    async def _transcribe(self, samples: int) -> str:
        audio = np.concatenate(self.chunks)[:samples] if self.chunks else np.zeros(0, np.float32)
        # In a thread, as a model runs beside the server's loop.
        return await asyncio.to_thread(self.server.transcriber, audio, None)

    async def _work(self, samples: int) -> None:
        if self.server.speed and samples > 0:
            await asyncio.sleep(samples / MODEL_SAMPLE_RATE / self.server.speed)


def route(server: StandInVLLM) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler of ``GET /v1/realtime`` for ``server``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return await realtime_endpoint(server, request)

    return handler


async def realtime_endpoint(server: StandInVLLM, request: web.Request) -> web.StreamResponse:
    """Every GET of /v1/realtime: FastAPI's 404 without an Upgrade, 403 to a handshake when the model
    has no realtime task, else the session."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return json_response({"detail": "Not Found"}, 404)
    if not server.realtime:
        return web.Response(status=403)
    ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
    await ws.prepare(request)
    sockets = _open_sockets.setdefault(server, set())
    sockets.add(ws)
    try:
        await RealtimeConnection(server, ws).run()
    finally:
        sockets.discard(ws)
    return ws


_open_sockets: weakref.WeakKeyDictionary[StandInVLLM, set[web.WebSocketResponse]] = (
    weakref.WeakKeyDictionary()
)


async def close_sockets(server: StandInVLLM) -> None:
    """Server shutdown: uvicorn fails open WebSockets with 1012 (service restart)."""
    for ws in list(_open_sockets.get(server, ())):
        await ws.close(code=WSCloseCode.SERVICE_RESTART)
