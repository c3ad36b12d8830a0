"""Several vLLM servers behind one backend: VOXTRAL_BACKENDS (or the single VOXTRAL_HOST/PORT).

Each server is probed every BACKEND_HEALTH_INTERVAL_SECONDS. A request goes to the healthy server with
the lowest score (ties rotate): with BACKEND_ROUTING=load (the default) the load the server reports of
itself, scraped every BACKEND_LOAD_INTERVAL_SECONDS, plus what this worker sent it since
(`backends.load.routing_score`), so that every worker of every gateway sees the same picture; for a
server whose scrape failed, and with BACKEND_ROUTING=local, the requests this worker has in flight there. A server whose probe fails, or that a request cannot reach,
is taken out until a probe succeeds. Failover follows `backends.retry`: a transcription (idempotent)
that hit a connection error is retried once on another server, a chat only when it never reached one
(or its full queue refused it); a stream only before its first piece.
With every server out, requests are still tried (least loaded first): the pool never refuses work on
stale health alone. A chat's request body (its audio as base64 WAV) is built once, on the CPU pool,
and sent as it is to whichever servers are tried."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import Literal, TypeVar

import structlog

from voxtral_gateway.audio import DecodedAudio
from voxtral_gateway.backends.base import (
    BackendHealth,
    BackendMemberHealth,
    SpeechBackend,
    Transcript,
    TranscriptDelta,
    TranscriptionOptions,
)
from voxtral_gateway.backends.chat import Answer, AnswerDelta, ChatMessage, SamplingParams
from voxtral_gateway.backends.load import LoadWeights, ReplicaLoad, routing_score, scrape
from voxtral_gateway.backends.retry import CHAT_FAILOVER, TRANSCRIPTION_FAILOVER, RetryPolicy, retrying
from voxtral_gateway.backends.vllm import VLLMBackend, chat_request_body
from voxtral_gateway.backends.vllm_realtime import VLLMRealtime, VLLMRealtimeSession
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.errors import GatewayError, UpstreamDisconnected, UpstreamUnreachable
from voxtral_gateway.observability import metrics
from voxtral_gateway.settings import TimeoutSettings, VLLMSettings

log = structlog.get_logger(__name__)

T = TypeVar("T")
S = TypeVar("S")
MemberState = Literal["healthy", "unhealthy", "unknown"]
_CONNECTION_ERRORS = (UpstreamUnreachable, UpstreamDisconnected)


class PoolMember:
    """One vLLM server and what the pool knows of it."""

    def __init__(self, backend: VLLMBackend):
        self.backend = backend
        self.url = backend.base_url
        self.in_flight = 0
        self.sent = 0
        """Requests sent here by this worker, ever."""
        self.load: ReplicaLoad | None = None
        """The last successful scrape (None: none yet, or the last one failed)."""
        self.sent_before_scrape = 0
        """`sent` when that scrape's answer arrived: later requests are not in its figures."""
        self.state: MemberState = "unknown"
        self.detail: str | None = None
        self.checked_at: float | None = None

    def record(self, healthy: bool, detail: str | None) -> None:
        """A probe's or a request's verdict; logs the server leaving or rejoining the pool."""
        state: MemberState = "healthy" if healthy else "unhealthy"
        if state != self.state and (state == "unhealthy" or self.state == "unhealthy"):
            event = "backend_taken_out" if state == "unhealthy" else "backend_put_back"
            (log.warning if state == "unhealthy" else log.info)(event, url=self.url, detail=detail)
        self.state, self.detail, self.checked_at = state, detail, time.monotonic()
        metrics.POOL_BACKEND_UP.labels(self.url).set(1 if healthy else 0)

    def score(self, weights: LoadWeights, max_age: float | None) -> float:
        """Routing score (lower is better): the scraped load while fresher than `max_age` seconds,
        else (or with `max_age` None) the local in-flight count."""
        load = self.load
        if max_age is None or load is None or time.monotonic() - load.scraped_at > max_age:
            return routing_score(None, 0, self.in_flight, weights)
        return routing_score(load, self.sent - self.sent_before_scrape, self.in_flight, weights)

    async def refresh_load(self, *, read_server_load: bool, timeout_seconds: float) -> None:
        """Scrape the server; on failure forget its load (routing falls back to local counts)."""
        try:
            load = await scrape(
                self.backend.session, read_server_load=read_server_load, timeout_seconds=timeout_seconds
            )
        except Exception as exc:  # any failure means the same: no load figures for this server
            if self.load is not None:
                log.info("backend_load_unavailable", url=self.url, error=_describe(exc))
            self.load = None
            return
        # Counted from the answer, not the question: a request sent while the scrape was under way
        # may be in its figures already (counted twice otherwise); one that is not is still in this
        # worker's in-flight count, which the score takes as a floor.
        self.load, self.sent_before_scrape = load, self.sent

    def status(self) -> BackendMemberHealth:
        age = None if self.checked_at is None else round(time.monotonic() - self.checked_at, 3)
        return BackendMemberHealth(
            url=self.url,
            state=self.state,
            in_flight=self.in_flight,
            detail=self.detail,
            checked_seconds_ago=age,
        )


class VLLMPool(SpeechBackend):
    kind = VLLMBackend.kind
    supports_chat = VLLMBackend.supports_chat
    prefers_segments = VLLMBackend.prefers_segments

    def __init__(self, vllm: VLLMSettings, timeouts: TimeoutSettings, cpu_pool: CpuPool | None = None):
        """`cpu_pool`: where chat bodies are built (None: on the event loop, for tests of routing)."""
        self._cpu_pool = cpu_pool
        self.members = [PoolMember(VLLMBackend(vllm, timeouts, url)) for url in vllm.urls]
        self.model_name = vllm.model
        self.max_audio_seconds = vllm.max_audio_seconds
        self._interval = vllm.health_interval_seconds
        self._turn = itertools.count()
        self._checker: asyncio.Task[None] | None = None
        self._by_load = vllm.routing == "load"
        self._load_interval = vllm.load_interval_seconds
        self._read_server_load = vllm.load_server_load
        self._weights = LoadWeights(waiting=vllm.load_waiting_weight)
        # A scrape older than a few intervals (the server stopped answering /metrics) is not trusted.
        self._load_max_age: float | None = 3 * self._load_interval if self._by_load else None
        self._scraper: asyncio.Task[None] | None = None
        self.realtime = VLLMRealtime(vllm, timeouts, self.members, self._choose)

    @property
    def base_url(self) -> str | None:
        """The server's URL when there is one (the seed's `/health/` field); None for several."""
        return self.members[0].url if len(self.members) == 1 else None

    async def start(self) -> None:
        for member in self.members:
            await member.backend.start()
        self._checker = asyncio.create_task(self._check_forever(), name="vllm-pool-health")
        if self._by_load and len(self.members) > 1:
            self._scraper = asyncio.create_task(self._scrape_forever(), name="vllm-pool-load")
        await self.realtime.start()

    async def close(self) -> None:
        for task in (self._checker, self._scraper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._checker = self._scraper = None
        for member in self.members:
            await member.backend.close()
        await self.realtime.close()

    # --- health --------------------------------------------------------------------------------

    async def _check_forever(self) -> None:
        while True:
            await self.check_all()
            await asyncio.sleep(self._interval)

    async def check_all(self) -> None:
        """Probe every server now and update the pool."""
        results = await asyncio.gather(*(member.backend.health() for member in self.members))
        for member, result in zip(self.members, results, strict=True):
            member.record(result.ready, result.detail)

    async def health(self) -> BackendHealth:
        """Probes every server now (the health report caches the answer for HEALTH_CACHE_SECONDS)."""
        await self.check_all()
        ready = [member for member in self.members if member.state == "healthy"]
        if len(self.members) == 1:
            detail = self.members[0].detail
        elif len(ready) == len(self.members):
            detail = None
        else:
            out = [f"{m.url} ({m.detail})" if m.detail else m.url for m in self.members if m not in ready]
            detail = (
                f"{len(ready)} of {len(self.members)} vLLM servers ready; out of the pool: {', '.join(out)}"
            )
        return BackendHealth(
            ready=bool(ready), detail=detail, members=[member.status() for member in self.members]
        )

    # --- load ----------------------------------------------------------------------------------

    async def _scrape_forever(self) -> None:
        while True:
            await self.scrape_all()
            await asyncio.sleep(self._load_interval)

    async def scrape_all(self) -> None:
        """Scrape every server's load now."""
        await asyncio.gather(
            *(
                member.refresh_load(
                    read_server_load=self._read_server_load,
                    timeout_seconds=max(self._load_interval, 1.0),
                )
                for member in self.members
            )
        )

    # --- routing -------------------------------------------------------------------------------

    def _choose(self, exclude: list[PoolMember]) -> PoolMember | None:
        """The healthy server (else unchecked, else any) with the lowest score, not in `exclude`."""
        candidates = [member for member in self.members if member not in exclude]
        if not candidates:
            return None
        for state in ("healthy", "unknown"):
            preferred = [member for member in candidates if member.state == state]
            if preferred:
                candidates = preferred
                break
        scores = [member.score(self._weights, self._load_max_age) for member in candidates]
        lowest = min(scores)
        least_loaded = [member for member, score in zip(candidates, scores, strict=True) if score == lowest]
        return least_loaded[next(self._turn) % len(least_loaded)]

    @staticmethod
    @contextlib.contextmanager
    def _accounted(member: PoolMember) -> Iterator[None]:
        """Count the request in flight on `member`, record its outcome, and take the server out on a
        connection error."""
        member.in_flight += 1
        member.sent += 1
        try:
            yield
        except _CONNECTION_ERRORS as exc:
            metrics.POOL_REQUESTS.labels(member.url, "connection_error").inc()
            member.record(False, exc.message)
            raise
        except GatewayError:
            metrics.POOL_REQUESTS.labels(member.url, "error").inc()
            raise
        else:
            metrics.POOL_REQUESTS.labels(member.url, "ok").inc()
        finally:
            member.in_flight -= 1

    async def _with_failover(self, call: Callable[[VLLMBackend], Awaitable[T]], policy: RetryPolicy) -> T:
        """Send to the best server; an error the policy retries sends it again to another one."""
        tried: list[PoolMember] = []

        async def attempt(_: int) -> T:
            member = self._choose(tried)
            assert member is not None  # the policy allows no more attempts than there are servers
            tried.append(member)
            with self._accounted(member):
                return await call(member.backend)

        def failed_over(error: Exception, _: int) -> None:
            metrics.POOL_RETRIES.inc()
            log.warning("pool_retry", failed_url=tried[-1].url, error=str(error))

        return await retrying(policy.at_most(len(self.members)), attempt, failed_over)

    async def transcribe(self, audio: DecodedAudio, options: TranscriptionOptions) -> Transcript:
        return await self._with_failover(
            lambda backend: backend.transcribe(audio, options), TRANSCRIPTION_FAILOVER
        )

    def transcribe_stream(
        self, audio: DecodedAudio, options: TranscriptionOptions
    ) -> AsyncIterator[TranscriptDelta | Transcript]:
        """Streamed from one server; failover as `transcribe`'s, but only before its first piece."""
        return self._streamed_with_failover(
            lambda backend: backend.transcribe_stream(audio, options), TRANSCRIPTION_FAILOVER
        )

    async def _streamed_with_failover(
        self, open_stream: Callable[[VLLMBackend], AsyncIterator[S]], policy: RetryPolicy
    ) -> AsyncIterator[S]:
        """A stream from the best server; an error the policy retries sends the request to another
        server, but only while nothing has been yielded: a piece passed on may already be with the
        client, and a second server's answer would not continue it."""
        policy = policy.at_most(len(self.members))
        tried: list[PoolMember] = []
        while True:
            member = self._choose(tried)
            assert member is not None  # the policy allows no more attempts than there are servers
            tried.append(member)
            started = False
            pieces = open_stream(member.backend)
            try:
                with self._accounted(member):
                    async for piece in pieces:
                        started = True
                        yield piece
                return
            except GatewayError as error:
                if started or not policy.allows_retry(error, len(tried)):
                    raise
                metrics.POOL_RETRIES.inc()
                log.warning("pool_retry", failed_url=member.url, error=str(error))
            finally:  # closed early (the client left): the server's connection goes now
                if isinstance(pieces, AsyncGenerator):
                    await pieces.aclose()

    async def _chat_body(
        self, messages: list[ChatMessage], sampling: SamplingParams, stream: bool
    ) -> bytearray:
        """The chat request every server is sent (they all serve the same model)."""
        if self._cpu_pool is None:
            return chat_request_body(self.model_name, messages, sampling, stream)
        return await self._cpu_pool.run(chat_request_body, self.model_name, messages, sampling, stream)

    async def chat(self, messages: list[ChatMessage], sampling: SamplingParams) -> Answer:
        body = await self._chat_body(messages, sampling, stream=False)
        return await self._with_failover(lambda backend: backend.send_chat(body), CHAT_FAILOVER)

    async def serves_realtime(self) -> bool:
        return await self.realtime.serves()

    async def realtime_session(self, options: TranscriptionOptions) -> VLLMRealtimeSession | None:
        return await self.realtime.open_session(options)

    async def chat_stream(
        self, messages: list[ChatMessage], sampling: SamplingParams
    ) -> AsyncIterator[AnswerDelta]:
        """Streamed from one server; failover as `chat`'s (never started there), before the first delta."""
        body = await self._chat_body(messages, sampling, stream=True)
        deltas = self._streamed_with_failover(lambda backend: backend.stream_chat(body), CHAT_FAILOVER)
        async with contextlib.aclosing(deltas):
            async for delta in deltas:
                yield delta


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
