"""A stream's turns → a realtime model (Voxtral Realtime on vLLM): the audio goes to the model as it is
decoded, with no batching per utterance; the model's text comes back as it decodes.

It does what `transcriber.py` does for a batch model, with the same inputs and events: each utterance the
VAD (or the client's commit) ends commits the model's turn; the model's deltas are sent as `Partial`s
(the turn's text so far) and its done as the utterance's `Final`. An utterance dropped as noise (or
cleared) still went to the model: its turn is committed and its text discarded, so it does not leak into
the next one. A turn the model failed fails its utterance (an `Error`), and the session goes on; a
session that broke fails the utterances it held, and later ones at once."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import structlog

from voxtral_gateway.audio import TARGET_SAMPLE_RATE
from voxtral_gateway.backends import Transcript, TranscriptionOptions
from voxtral_gateway.backends.base import RealtimeDelta, RealtimeDone, RealtimeSession, RealtimeTurnFailed
from voxtral_gateway.errors import GatewayError, Overloaded
from voxtral_gateway.services.live.config import StreamConfig
from voxtral_gateway.services.live.events import Error, Final, LiveEvent, Partial
from voxtral_gateway.services.live.finals import OrderedFinals
from voxtral_gateway.services.live.segmenter import Utterance, UtteranceDropped, UtteranceSegmenter

log = structlog.get_logger(__name__)

_Op = np.ndarray | Utterance | UtteranceDropped  # audio to send, or the end of a turn to commit


class StreamingTranscriber:
    def __init__(
        self,
        *,
        session: RealtimeSession,
        config: StreamConfig,
        segmenter: UtteranceSegmenter,
        send: Callable[[LiveEvent], None],
        session_id: str,
        language_of: Callable[[Transcript, TranscriptionOptions], Awaitable[str | None]],
    ):
        self._session = session
        self._config = config
        self._segmenter = segmenter
        self._send = send
        self._session_id = session_id
        self._identify = language_of
        self.language: str | None = None
        """The language the client asked for (the model detects its own; it names the finals)."""
        self.finals = OrderedFinals(send)
        self.in_flight = 0
        """Turns committed whose text has not come back."""
        self.partials_sent = 0
        self.peak_buffered_seconds = 0.0
        self._decoded: collections.deque[np.ndarray] = collections.deque()  # filled from the CPU pool too
        self._ops: asyncio.Queue[_Op] = asyncio.Queue()
        self._queued_samples = 0
        self._capacity = asyncio.Event()
        # Committed turns awaiting their text: the utterance, when committed, and a failure it met while
        # it was being appended (its done then reports the failure).
        self._turns: collections.deque[tuple[Utterance | UtteranceDropped, float, GatewayError | None]] = (
            collections.deque()
        )
        self._open_failure: GatewayError | None = None
        self._text = ""  # the turn in progress so far
        self._failure: GatewayError | None = None
        self._all_done = asyncio.Event()
        self._all_done.set()
        self._sender = asyncio.get_running_loop().create_task(self._send_ops())
        self._reader = asyncio.get_running_loop().create_task(self._read_events())

    @property
    def buffered_seconds(self) -> float:
        """Audio decoded but not yet sent to the model: queued here, or held by the session while the
        model finishes the turn before (the session's, once it broke, will never be sent)."""
        held = self._session.held_samples if self._failure is None else 0
        return (self._queued_samples + held) / TARGET_SAMPLE_RATE

    # --- the session's calls (as `UtteranceTranscriber`) ---------------------------------------

    def on_audio(self, samples: np.ndarray) -> None:
        """Decoded audio (int16 at 16 kHz), in stream order; may be called off the event loop."""
        if len(samples):
            self._decoded.append(samples)

    def on_segments(self, events: list[Any]) -> None:
        """Send the audio decoded so far, then end a turn at each finished (or dropped) utterance."""
        self._flush_audio()
        for event in events:
            if isinstance(event, Utterance | UtteranceDropped):
                self._queue(event)

    def maybe_partial(self) -> None:
        """Partials come from the model's deltas; here the decoded audio is passed on."""
        self._flush_audio()

    async def wait_for_capacity(self) -> None:
        """Backpressure: wait while more than `max_buffered_seconds` of audio waits to be sent (woken
        as the sender takes audio, and as each event from the model lets the session send what it
        held)."""
        while self.buffered_seconds > self._config.max_buffered_seconds and not self._sender.done():
            self._capacity.clear()
            await self._capacity.wait()

    async def drain(self) -> None:
        """Send what is left, wait for every committed turn's text, then close the model session."""
        self._flush_audio()
        await self._ops.join()
        await self._all_done.wait()
        await self._close()

    async def close(self) -> None:
        """Stop and close the model session now (again after `drain`: nothing happens)."""
        await self._close()

    def cancel_all(self) -> None:
        """The client is gone: stop at once (the model session with it)."""
        self._sender.cancel()
        self._reader.cancel()
        asyncio.get_running_loop().create_task(self._session.close())

    # --- sending -------------------------------------------------------------------------------

    def _flush_audio(self) -> None:
        while self._decoded:
            self._queue(self._decoded.popleft())

    def _queue(self, op: _Op) -> None:
        if isinstance(op, np.ndarray):
            self._queued_samples += len(op)
            self.peak_buffered_seconds = max(self.peak_buffered_seconds, self.buffered_seconds)
        else:
            self.in_flight += 1
            self._all_done.clear()
        self._ops.put_nowait(op)

    async def _send_ops(self) -> None:
        while True:
            op = await self._ops.get()
            try:
                if isinstance(op, np.ndarray):
                    self._queued_samples -= len(op)
                    self._capacity.set()
                    if self._failure is None:
                        await self._session.append(op.astype(np.float32) / 32768.0)
                elif self._failure is not None:
                    self._fail_turn(op, self._failure)
                else:
                    failure, self._open_failure = self._open_failure, None
                    self._turns.append((op, time.perf_counter(), failure))
                    await self._session.commit()
            except GatewayError as exc:
                self._failed(exc)
            finally:
                self._ops.task_done()

    # --- receiving ------------------------------------------------------------------------------

    async def _read_events(self) -> None:
        try:
            async for event in self._session.events():
                self._capacity.set()
                if isinstance(event, RealtimeDelta):
                    self._delta(event.text)
                elif isinstance(event, RealtimeDone):
                    await self._done(event)
                elif isinstance(event, RealtimeTurnFailed):
                    self._turn_failed(event.error)
        except GatewayError as exc:
            self._failed(exc)

    def _turn_failed(self, exc: GatewayError) -> None:
        """The model failed one turn: the committed one waiting, else the utterance in progress, whose
        done (of the audio after the failure only) will then be reported as its failure."""
        self._text = ""
        log.warning(
            "stream_realtime_turn_failed", session_id=self._session_id, code=exc.code, error=exc.message
        )
        if self._turns:
            self._fail_turn(self._turns.popleft()[0], exc)
        else:
            self._open_failure = exc

    def _delta(self, text: str) -> None:
        if not text:
            return
        self._text += text
        turn = self._current_segment()
        if turn is None:
            return
        segment_id, start = turn
        self.partials_sent += 1
        self._send(
            Partial(
                segment_id=segment_id,
                start=round(start / TARGET_SAMPLE_RATE, 3),
                end=round(self._segmenter.total_samples / TARGET_SAMPLE_RATE, 3),
                text=self._text.strip(),
                growing=True,
            )
        )

    def _current_segment(self) -> tuple[int, int] | None:
        """(segment id, first sample) the text being decoded belongs to: the oldest turn committed and
        not done, else the utterance in progress; None for audio no utterance has claimed (yet)."""
        if self._turns:
            turn = self._turns[0][0]
            if isinstance(turn, Utterance):
                return turn.segment_id, turn.start_sample
            return None
        return self._segmenter.open_segment

    async def _done(self, event: RealtimeDone) -> None:
        text, self._text = event.text.strip(), ""
        if not self._turns:
            return  # a turn the session never committed (cannot happen with vLLM; ignore it)
        turn, committed_at, failure = self._turns.popleft()
        if failure is not None:
            self._fail_turn(turn, failure)
            return
        try:
            if isinstance(turn, UtteranceDropped):
                self.finals.skip(turn.segment_id)
                return
            language = await self._language_of(text)
            self.finals.final(
                Final(
                    segment_id=turn.segment_id,
                    start=round(turn.start, 3),
                    end=round(turn.end, 3),
                    text=text,
                    language=language,
                    confidence=None,
                    mark=turn.last_mark,
                    backend_ms=round((time.perf_counter() - committed_at) * 1000, 2),
                )
            )
        finally:
            self._turn_resolved()

    async def _language_of(self, text: str) -> str | None:
        transcript = Transcript(text=text, language=None, confidence=None, segments=[])
        try:
            return await self._identify(transcript, TranscriptionOptions(language=self.language))
        except Overloaded:
            return None

    # --- failures -------------------------------------------------------------------------------

    def _failed(self, exc: GatewayError) -> None:
        """The model session broke: the turns it held fail, and every later one at once."""
        if self._failure is None:
            log.warning(
                "stream_realtime_failed", session_id=self._session_id, code=exc.code, error=exc.message
            )
            self._failure = exc
            self._capacity.set()
        while self._turns:
            self._fail_turn(self._turns.popleft()[0], exc)

    def _fail_turn(self, turn: Utterance | UtteranceDropped, exc: GatewayError) -> None:
        if isinstance(turn, UtteranceDropped):
            self.finals.skip(turn.segment_id)
        else:
            self.finals.failed_segment(
                turn.segment_id, Error(error=exc, segment_id=turn.segment_id, mark=turn.last_mark)
            )
        self._turn_resolved()

    def _turn_resolved(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._all_done.set()

    async def _close(self) -> None:
        self._sender.cancel()
        self._reader.cancel()
        for task in (self._sender, self._reader):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._session.close()
