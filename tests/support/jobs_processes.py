"""Processes for the job tests and benchmark: a webhook receiver that checks signatures and can go down
and come back; and what the job tests share (paths, the Redis database, a job's audio)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
from pathlib import Path

import httpx
import msgspec
from aiohttp import web

from tests.audio_fixtures import make_tone
from tests.support.gateway_process import free_port

MODEL = "mistralai/Voxtral-Mini-3B-2507"
JOBS = "/v1/audio/transcriptions/jobs"
SHARED_REDIS = "redis://127.0.0.1:6379/11"
"""The job tests' Redis database; each test keeps to its own key prefix and deletes it."""


def job_audio(directory: Path) -> bytes:
    """45 s of MP3: cut into two segments (SEGMENT_MAX_SECONDS=30), so progress has something to count."""
    return Path(make_tone(directory / "tone.mp3", 45.0, rate=16000, fmt="mp3", bitrate="32k")).read_bytes()


class ReceivedWebhook(msgspec.Struct, frozen=True):
    webhook_id: str
    timestamp: int
    signature: str
    body: bytes

    def verified(self, secret: str) -> bool:
        """The receiver's side of Standard Webhooks: recompute the signature and compare."""
        key = base64.b64decode(secret.removeprefix("whsec_"))
        content = f"{self.webhook_id}.{self.timestamp}.".encode() + self.body
        expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
        return any(hmac.compare_digest(f"v1,{expected}", s) for s in self.signature.split())

    def json(self) -> dict:
        return msgspec.json.decode(self.body)


class WebhookReceiver:
    """A real aiohttp server on loopback, in its own thread; `stop` closes the port, `start` reopens it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.received: list[ReceivedWebhook] = []
        self.files: dict[str, bytes] = {}
        """Served at `GET /files/<name>` (audio for `file_url`)."""
        self.hold_next = 0
        """How many of the next hook requests are recorded but left unanswered until `release_held`."""
        self._held = asyncio.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        self.received.append(
            ReceivedWebhook(
                webhook_id=request.headers["webhook-id"],
                timestamp=int(request.headers["webhook-timestamp"]),
                signature=request.headers["webhook-signature"],
                body=await request.read(),
            )
        )
        if self.hold_next > 0:
            self.hold_next -= 1
            await self._held.wait()
        return web.Response(status=int(request.match_info.get("status", "204")))

    def url_answering(self, status: int) -> str:
        """A hook URL that records each request and answers `status` (e.g. 500: a receiver failing)."""
        return f"{self.url}/{status}"

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    def file_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/files/{name}"

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        app.router.add_post("/hook/{status:\\d{3}}", self._hook)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start(self) -> WebhookReceiver:
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)

    def release_held(self) -> None:
        """Answer the requests held by `hold_next`."""
        self._loop.call_soon_threadsafe(self._held.set)

    def close(self) -> None:
        self.release_held()
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def wait_for(self, count: int, timeout: float) -> list[ReceivedWebhook]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return list(self.received)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_for_status(
    client: httpx.Client, job_id: str, statuses: set[str], timeout: float, poll: float = 0.2
) -> dict:
    """Poll the job until its status is one of `statuses`; returns the job."""
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        response = client.get(f"/v1/audio/transcriptions/jobs/{job_id}")
        if response.status_code == 200:
            job = response.json()
            if job["status"] in statuses:
                return job
        time.sleep(poll)
    raise AssertionError(f"job {job_id} did not reach {statuses} in {timeout} s; last seen: {job}")
