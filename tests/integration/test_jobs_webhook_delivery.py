"""Webhooks are delivered apart from the job workers: a receiver that keeps failing holds no worker, so
other callers' jobs go on; a delivery left pending by a gateway that dies is finished by another, and one
in flight when a gateway stops (SIGTERM) is handed back at once.

Real processes: gateways (`run_server.py`), the stand-in vLLM, a webhook receiver; Redis is the machine's
server (db 11, a unique key prefix, deleted afterwards)."""

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
from tests.support.redis_server import delete_prefix, unique_prefix
from tests.support.standin_process import StandInProcess


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return job_audio(tmp_path_factory.mktemp("jobs-webhooks"))


@pytest.fixture
def prefix() -> Iterator[str]:
    name = unique_prefix("jobs-webhooks")
    yield name
    delete_prefix(SHARED_REDIS, name)


def _env(standin: StandInProcess, receiver: WebhookReceiver, **extra: str) -> dict[str, str]:
    return {
        **standin.gateway_env(),
        "RATE_LIMIT_ENABLED": "false",
        # One job worker: were it busy with a webhook, every other job would wait behind it.
        "JOBS_WORKERS": "1",
        "URL_FETCH_ALLOWLIST": f"127.0.0.1:{receiver.port}",
        # Retries for as long as any test lasts: the webhook stays pending throughout.
        "JOBS_WEBHOOK_BACKOFF_SECONDS": "0.2",
        "JOBS_WEBHOOK_BACKOFF_MAX_SECONDS": "0.5",
        "JOBS_WEBHOOK_MAX_ATTEMPTS": "1000",
        **extra,
    }


def _submit(client: httpx.Client, audio: bytes, **fields: str) -> dict:
    response = client.post(
        JOBS, data={"model": MODEL, **fields}, files={"file": ("tone.mp3", audio, "audio/mpeg")}
    )
    assert response.status_code == 202, response.text
    return response.json()


def _wait_for_webhook_attempts(client: httpx.Client, job_id: str, attempts: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    job = client.get(f"{JOBS}/{job_id}").json()
    while job["webhook"]["attempts"] < attempts:
        assert time.monotonic() < deadline, f"the webhook was not tried {attempts} times: {job}"
        time.sleep(0.2)
        job = client.get(f"{JOBS}/{job_id}").json()
    return job


def _another_job_completes_while_the_webhook_is_retried(
    client: httpx.Client, audio: bytes, receiver_url: str
) -> dict:
    """Job A's webhook fails and is being retried; job B, submitted then, completes meanwhile."""
    failing = _submit(client, audio, webhook_url=receiver_url)
    wait_for_status(client, failing["id"], {"completed"}, timeout=60)
    _wait_for_webhook_attempts(client, failing["id"], 2, timeout=30)
    other = _submit(client, audio)
    assert wait_for_status(client, other["id"], {"completed", "failed"}, timeout=60)["status"] == "completed"
    still = client.get(f"{JOBS}/{failing['id']}").json()
    assert still["webhook"]["state"] == "pending", still  # B did not wait for A's delivery to give up
    return failing


def test_a_failing_webhook_does_not_hold_the_job_worker_in_process(tmp_path: Path, audio: bytes):
    with (
        StandInProcess(tmp_path, speed=30) as standin,
        WebhookReceiver() as receiver,
        GatewayProcess(env=_env(standin, receiver), log_path=tmp_path / "gateway.log") as gateway,
        httpx.Client(base_url=gateway.base_url, timeout=10) as client,
    ):
        failing = _another_job_completes_while_the_webhook_is_retried(
            client, audio, receiver.url_answering(500)
        )
        hooks = [h for h in receiver.received if failing["id"] in h.webhook_id]
        assert len(hooks) >= 2
        assert {h.webhook_id for h in hooks} == {f"msg_{failing['id']}_completed"}
        assert all(h.verified(failing["webhook"]["secret"]) for h in hooks)
        assert len({h.body for h in hooks}) == 1  # every attempt carries the same event


def test_a_pending_webhook_survives_its_gateways_death_and_another_delivers_it(
    tmp_path: Path, audio: bytes, prefix: str
):
    receiver = WebhookReceiver()  # not listening yet: every attempt fails to connect
    try:
        with StandInProcess(tmp_path, speed=30) as standin:
            env = _env(
                standin,
                receiver,
                JOBS_REDIS_URL=SHARED_REDIS,
                JOBS_KEY_PREFIX=prefix,
                JOBS_BLOB_DIR=str(tmp_path / "blobs"),
                JOBS_VISIBILITY_TIMEOUT_SECONDS="3",
                URL_FETCH_TIMEOUT_SECONDS="5",
            )
            first = GatewayProcess(env=env, log_path=tmp_path / "first.log").start()
            try:
                with httpx.Client(base_url=first.base_url, timeout=10) as client:
                    failing = _another_job_completes_while_the_webhook_is_retried(client, audio, receiver.url)
            finally:
                first.stop(signal.SIGKILL)
            receiver.start()
            with (
                GatewayProcess(env=env, log_path=tmp_path / "second.log") as second,
                httpx.Client(base_url=second.base_url, timeout=10) as client,
            ):
                hooks = receiver.wait_for(1, timeout=30)
                assert hooks, "the pending delivery was not resumed by the second gateway"
                assert {h.webhook_id for h in hooks} == {f"msg_{failing['id']}_completed"}
                assert all(h.verified(failing["webhook"]["secret"]) for h in hooks)
                deadline = time.monotonic() + 10
                webhook = client.get(f"{JOBS}/{failing['id']}").json()["webhook"]
                while webhook["state"] != "delivered" and time.monotonic() < deadline:
                    time.sleep(0.2)
                    webhook = client.get(f"{JOBS}/{failing['id']}").json()["webhook"]
                assert webhook["state"] == "delivered" and webhook["attempts"] >= 3
                assert (
                    client.get(f"{JOBS}/{failing['id']}").json()["attempts"] == 1
                )  # the job did not run again
    finally:
        receiver.close()


def test_a_gateway_stopped_with_sigterm_hands_its_delivery_in_flight_back(
    tmp_path: Path, audio: bytes, prefix: str
):
    with StandInProcess(tmp_path, speed=30) as standin, WebhookReceiver() as receiver:
        # A claim lasts URL_FETCH_TIMEOUT_SECONDS + JOBS_VISIBILITY_TIMEOUT_SECONDS (120 s here): only the
        # hand-back can explain a quick second attempt.
        env = _env(
            standin,
            receiver,
            JOBS_REDIS_URL=SHARED_REDIS,
            JOBS_KEY_PREFIX=prefix,
            JOBS_BLOB_DIR=str(tmp_path / "blobs"),
            JOBS_VISIBILITY_TIMEOUT_SECONDS="60",
            URL_FETCH_TIMEOUT_SECONDS="60",
            SHUTDOWN_TIMEOUT_SECONDS="1",
        )
        receiver.hold_next = 1  # the first attempt gets no answer: it is in flight when SIGTERM comes
        first = GatewayProcess(env=env, log_path=tmp_path / "first.log").start()
        try:
            with httpx.Client(base_url=first.base_url, timeout=10) as client:
                job = _submit(client, audio, webhook_url=receiver.url)
                assert receiver.wait_for(1, timeout=60), "the first attempt never came"
        finally:
            first.stop(signal.SIGTERM)
        assert "webhook_handed_back" in first.logs()
        with (
            GatewayProcess(env=env, log_path=tmp_path / "second.log") as second,
            httpx.Client(base_url=second.base_url, timeout=10) as client,
        ):
            hooks = receiver.wait_for(2, timeout=30)
            assert len(hooks) == 2 and {h.webhook_id for h in hooks} == {f"msg_{job['id']}_completed"}
            deadline = time.monotonic() + 10
            webhook = client.get(f"{JOBS}/{job['id']}").json()["webhook"]
            while webhook["state"] != "delivered" and time.monotonic() < deadline:
                time.sleep(0.2)
                webhook = client.get(f"{JOBS}/{job['id']}").json()["webhook"]
            # The attempt cut short was never recorded; the one that was answered is the first counted.
            assert webhook["state"] == "delivered" and webhook["attempts"] == 1
