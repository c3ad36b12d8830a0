"""Jobs through faults, with real processes: a gateway killed with SIGKILL mid-job, Redis killed and
restarted while jobs are queued, a webhook receiver down and then back.

Redis is the machine's server (db 11, a unique key prefix, deleted afterwards), except where Redis itself
is restarted: that test runs a private redis-server with an append-only file."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway_process import GatewayProcess
from tests.support.jobs_processes import (
    JOBS,
    MODEL,
    SHARED_REDIS,
    WebhookReceiver,
    job_audio,
    wait_for_status,
)
from tests.support.redis_server import PrivateRedis, delete_prefix, unique_prefix
from tests.support.standin_process import StandInProcess


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return job_audio(tmp_path_factory.mktemp("jobs-faults"))


@pytest.fixture
def prefix() -> Iterator[str]:
    name = unique_prefix("jobs-faults")
    yield name
    delete_prefix(SHARED_REDIS, name)


def _env(
    standin: StandInProcess, redis_url: str, prefix: str, blobs: Path, receiver: WebhookReceiver, **extra: str
):
    return {
        **standin.gateway_env(),
        "RATE_LIMIT_ENABLED": "false",
        "JOBS_REDIS_URL": redis_url,
        "JOBS_KEY_PREFIX": prefix,
        "JOBS_BLOB_DIR": str(blobs),
        "JOBS_VISIBILITY_TIMEOUT_SECONDS": "3",
        "URL_FETCH_ALLOWLIST": f"127.0.0.1:{receiver.port}",
        **extra,
    }


def _submit(base_url: str, audio: bytes, **fields: str) -> dict:
    response = httpx.post(
        f"{base_url}{JOBS}",
        data={"model": MODEL, **fields},
        files={"file": ("tone.mp3", audio, "audio/mpeg")},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return response.json()


def test_a_job_whose_gateway_is_killed_completes_on_another_and_its_webhook_arrives(
    tmp_path: Path, audio: bytes, prefix: str
):
    # speed 3: the job's 30 s segment takes 10 s at the stand-in, long enough to kill its worker mid-way.
    with StandInProcess(tmp_path, speed=3) as standin, WebhookReceiver() as receiver:
        env = _env(standin, SHARED_REDIS, prefix, tmp_path / "blobs", receiver, JOBS_WORKERS="1")
        first = GatewayProcess(env=env, log_path=tmp_path / "first.log").start()
        try:
            job = _submit(first.base_url, audio, webhook_url=receiver.url)
            with httpx.Client(base_url=first.base_url, timeout=10) as client:
                running = wait_for_status(client, job["id"], {"running"}, timeout=30)
            assert running["attempts"] == 1
        finally:
            first.stop(signal.SIGKILL)
        with (
            GatewayProcess(env=env, log_path=tmp_path / "second.log") as second,
            httpx.Client(base_url=second.base_url, timeout=10) as client,
        ):
            done = wait_for_status(client, job["id"], {"completed", "failed"}, timeout=60)
            assert done["status"] == "completed", done
            assert done["attempts"] == 2  # taken over after the visibility timeout
            assert client.get(done["result_url"]).json()["text"].startswith("audio of")
            hooks = receiver.wait_for(1, timeout=15)
            # At least once, always with the same webhook-id (the receiver's idempotency key).
            assert hooks and {h.webhook_id for h in hooks} == {f"msg_{job['id']}_completed"}
            assert all(h.verified(job["webhook"]["secret"]) for h in hooks)
            assert wait_for_status(client, job["id"], {"completed"}, 5)["webhook"]["state"] == "delivered"


def test_jobs_queued_while_redis_restarts_all_complete_once(tmp_path: Path, audio: bytes):
    prefix = unique_prefix("jobs-redis-restart")
    with (
        StandInProcess(tmp_path, speed=15) as standin,
        WebhookReceiver() as receiver,
        PrivateRedis(tmp_path / "redis", durable=True) as redis_server,
    ):
        env = _env(standin, redis_server.url, prefix, tmp_path / "blobs", receiver, JOBS_WORKERS="1")
        with (
            GatewayProcess(env=env, log_path=tmp_path / "gateway.log") as gateway,
            httpx.Client(base_url=gateway.base_url, timeout=10) as client,
        ):
            jobs = [_submit(gateway.base_url, audio) for _ in range(4)]
            wait_for_status(client, jobs[0]["id"], {"running", "completed"}, timeout=30)
            redis_server.kill()
            # While Redis is down: nothing is accepted that could be lost, and the gateway stays up.
            refused = client.post(JOBS, data={"model": MODEL, "file_url": "http://example.com/a.mp3"})
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "jobs_unavailable"
            assert client.get("/health/").status_code == 200
            time.sleep(3)
            redis_server.start()
            finished = [wait_for_status(client, j["id"], {"completed", "failed"}, timeout=90) for j in jobs]
            assert [j["status"] for j in finished] == ["completed"] * 4
            assert [j["attempts"] for j in finished] == [1] * 4  # none ran twice


def test_a_webhook_receiver_that_was_down_gets_the_event_when_it_is_back(
    tmp_path: Path, audio: bytes, prefix: str
):
    receiver = WebhookReceiver()  # not listening yet
    try:
        with StandInProcess(tmp_path, speed=30) as standin:
            env = _env(
                standin,
                SHARED_REDIS,
                prefix,
                tmp_path / "blobs",
                receiver,
                JOBS_WEBHOOK_BACKOFF_SECONDS="0.5",
                JOBS_WEBHOOK_BACKOFF_MAX_SECONDS="1",
                JOBS_WEBHOOK_MAX_ATTEMPTS="30",
            )
            with (
                GatewayProcess(env=env, log_path=tmp_path / "gateway.log") as gateway,
                httpx.Client(base_url=gateway.base_url, timeout=10) as client,
            ):
                job = _submit(gateway.base_url, audio, webhook_url=receiver.url)
                wait_for_status(client, job["id"], {"completed"}, timeout=60)
                deadline = time.monotonic() + 20
                while client.get(f"{JOBS}/{job['id']}").json()["webhook"]["attempts"] < 2:
                    assert time.monotonic() < deadline, "the webhook was not retried"
                    time.sleep(0.2)
                assert client.get(f"{JOBS}/{job['id']}").json()["webhook"]["state"] == "pending"
                receiver.start()
                hooks = receiver.wait_for(1, timeout=15)
                assert len(hooks) == 1 and hooks[0].verified(job["webhook"]["secret"])
                webhook = wait_for_status(client, job["id"], {"completed"}, 5)["webhook"]
                deadline = time.monotonic() + 5
                while webhook["state"] != "delivered" and time.monotonic() < deadline:
                    time.sleep(0.2)
                    webhook = client.get(f"{JOBS}/{job['id']}").json()["webhook"]
                assert webhook["state"] == "delivered" and webhook["attempts"] >= 3
    finally:
        receiver.close()


def test_cancelling_a_running_job_stops_it_and_frees_its_worker(tmp_path: Path, audio: bytes, prefix: str):
    with StandInProcess(tmp_path, speed=3) as standin, WebhookReceiver() as receiver:
        env = _env(standin, SHARED_REDIS, prefix, tmp_path / "blobs", receiver, JOBS_WORKERS="1")
        with (
            GatewayProcess(env=env, log_path=tmp_path / "gateway.log") as gateway,
            httpx.Client(base_url=gateway.base_url, timeout=10) as client,
        ):
            slow = _submit(gateway.base_url, audio, webhook_url=receiver.url)
            wait_for_status(client, slow["id"], {"running"}, timeout=30)
            waiting = _submit(gateway.base_url, audio)
            started = time.monotonic()
            cancelled = client.delete(f"{JOBS}/{slow['id']}")
            assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
            # The one worker moves on within a claim renewal, not after the 10 s the slow job would take.
            wait_for_status(client, waiting["id"], {"running", "completed"}, timeout=8)
            assert time.monotonic() - started < 8
            hooks = receiver.wait_for(1, timeout=10)
            assert [h.json()["type"] for h in hooks] == ["transcription.job.cancelled"]
            assert client.get(f"{JOBS}/{slow['id']}").json()["status"] == "cancelled"


def test_a_gateway_stopped_with_sigterm_hands_its_job_back_at_once(tmp_path: Path, audio: bytes, prefix: str):
    with StandInProcess(tmp_path, speed=3) as standin, WebhookReceiver() as receiver:
        # A long visibility timeout: only the hand-back can explain a quick takeover.
        env = _env(
            standin,
            SHARED_REDIS,
            prefix,
            tmp_path / "blobs",
            receiver,
            JOBS_WORKERS="1",
            JOBS_VISIBILITY_TIMEOUT_SECONDS="60",
            SHUTDOWN_TIMEOUT_SECONDS="1",
        )
        first = GatewayProcess(env=env, log_path=tmp_path / "first.log").start()
        try:
            job = _submit(first.base_url, audio)
            with httpx.Client(base_url=first.base_url, timeout=10) as client:
                wait_for_status(client, job["id"], {"running"}, timeout=30)
        finally:
            first.stop(signal.SIGTERM)
        assert "job_handed_back" in first.logs()
        with (
            GatewayProcess(env=env, log_path=tmp_path / "second.log") as second,
            httpx.Client(base_url=second.base_url, timeout=10) as client,
        ):
            done = wait_for_status(client, job["id"], {"completed", "failed"}, timeout=30)
            assert done["status"] == "completed" and done["attempts"] == 2


def test_an_unwritable_blob_directory_is_reported_and_uploads_are_refused(
    tmp_path: Path, audio: bytes, prefix: str
):
    with StandInProcess(tmp_path) as standin, WebhookReceiver() as receiver:
        env = _env(standin, SHARED_REDIS, prefix, Path("/proc/voxtral-gateway-job-uploads"), receiver)
        with (
            GatewayProcess(env=env, log_path=tmp_path / "gateway.log") as gateway,
            httpx.Client(base_url=gateway.base_url, timeout=10) as client,
        ):
            jobs = client.get("/health/").json()["jobs"]
            assert jobs["engine"] == "redis" and jobs["durable"] is True
            assert "JOBS_BLOB_DIR /proc/voxtral-gateway-job-uploads is not writable" in jobs["detail"]
            refused = client.post(JOBS, data={"model": MODEL}, files={"file": ("a.mp3", audio)})
            assert refused.status_code == 503 and "JOBS_BLOB_DIR" in refused.json()["error"]["message"]
