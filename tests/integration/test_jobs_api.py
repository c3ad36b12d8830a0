"""Asynchronous jobs over real HTTP, in process (no Redis): a gateway subprocess, the stand-in vLLM by
its CLI, and a real webhook receiver that checks signatures."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.gateway_process import GatewayProcess
from tests.support.jobs_processes import JOBS, MODEL, WebhookReceiver, job_audio, wait_for_status
from tests.support.standin_process import StandInProcess


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return job_audio(tmp_path_factory.mktemp("jobs-audio"))


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver) -> Iterator[httpx.Client]:
    logs = tmp_path_factory.mktemp("jobs-api")
    with StandInProcess(logs, speed=30) as standin:
        env = {
            **standin.gateway_env(),
            "RATE_LIMIT_ENABLED": "false",
            "JOBS_WORKERS": "1",
            # The receiver (webhooks, file_url) is the one loopback address the SSRF guard lets through.
            "URL_FETCH_ALLOWLIST": f"127.0.0.1:{receiver.port}",
            "JOBS_WEBHOOK_BACKOFF_SECONDS": "0.2",
            "JOBS_WEBHOOK_MAX_ATTEMPTS": "2",
            # X-Forwarded-For from the test names the caller: two identities without API keys.
            "TRUSTED_PROXIES": "127.0.0.1",
        }
        with (
            GatewayProcess(env=env, log_path=logs / "gateway.log") as gateway,
            httpx.Client(base_url=gateway.base_url, timeout=30) as http,
        ):
            yield http


def _submit(client: httpx.Client, audio: bytes | None, **fields: str) -> httpx.Response:
    files = {"file": ("tone.mp3", audio, "audio/mpeg")} if audio is not None else None
    return client.post(JOBS, data={"model": MODEL, **fields}, files=files)


def test_health_says_jobs_do_not_survive_a_restart(client: httpx.Client):
    jobs = client.get("/health/").json()["jobs"]
    assert jobs["engine"] == "in_process" and jobs["durable"] is False and jobs["workers"] == 1
    assert "do not survive a restart" in jobs["detail"]


def test_a_job_runs_and_its_result_is_served_in_every_format(
    client: httpx.Client, audio: bytes, receiver: WebhookReceiver
):
    submitted = _submit(client, audio, response_format="srt", language="en", webhook_url=receiver.url)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert submitted.headers["location"] == f"{JOBS}/{job['id']}"
    assert job["status"] in {"queued", "running"} and job["object"] == "transcription.job"
    secret = job["webhook"]["secret"]
    assert secret.startswith("whsec_")
    done = wait_for_status(client, job["id"], {"completed", "failed"}, timeout=60)
    assert done["status"] == "completed", done
    assert done["progress"] == {"segments_done": 2, "segments_total": 2}
    assert done["attempts"] == 1 and done["webhook"]["secret"] is None  # shown once, at submission

    result_url = done["result_url"]
    srt = client.get(result_url)  # the submission's format by default
    assert srt.headers["content-type"].startswith("text/plain") and srt.text.startswith(
        "1\n00:00:00,000 --> "
    )
    as_json = client.get(result_url, params={"response_format": "json"}).json()
    assert as_json["text"].startswith("audio of") and as_json["usage"] == {
        "type": "duration",
        "seconds": 45,
        "prompt_audio_seconds": 45,
    }
    assert client.get(result_url, params={"response_format": "text"}).text == as_json["text"] + "\n"
    assert client.get(result_url, params={"response_format": "vtt"}).text.startswith("WEBVTT\n\n00:00:00.000")
    verbose = client.get(result_url, params={"response_format": "verbose_json"}).json()
    assert verbose["language"] == "english" and len(verbose["segments"]) == 2
    bad = client.get(result_url, params={"response_format": "docx"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "response_format"

    hooks = [h for h in receiver.wait_for(1, timeout=10) if job["id"] in h.webhook_id]
    assert len(hooks) == 1
    hook = hooks[0]
    assert hook.verified(secret)
    assert hook.webhook_id == f"msg_{job['id']}_completed"
    event = hook.json()
    assert event["type"] == "transcription.job.completed"
    assert event["data"]["result"]["text"] == as_json["text"]
    assert wait_for_status(client, job["id"], {"completed"}, timeout=5)["webhook"]["state"] == "delivered"

    listed = client.get(JOBS).json()
    assert listed["object"] == "list" and job["id"] in [j["id"] for j in listed["data"]]
    finished = client.delete(f"{JOBS}/{job['id']}")
    assert finished.status_code == 409 and finished.json()["error"]["code"] == "job_state_conflict"


def test_file_url_is_fetched_through_the_guard(client: httpx.Client, audio: bytes, receiver: WebhookReceiver):
    receiver.files["tone.mp3"] = audio
    job = _submit(client, None, file_url=receiver.file_url("tone.mp3")).json()
    assert wait_for_status(client, job["id"], {"completed", "failed"}, timeout=60)["status"] == "completed"
    # A private address is refused when the job runs: the job fails, naming the field.
    refused = _submit(client, None, file_url="http://10.1.2.3/audio.mp3").json()
    failed = wait_for_status(client, refused["id"], {"completed", "failed"}, timeout=30)
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "url_refused" and failed["error"]["param"] == "file_url"
    not_ready = client.get(failed["result_url"])
    assert not_ready.status_code == 409


def test_a_webhook_to_a_refused_address_is_not_retried(client: httpx.Client, audio: bytes):
    job = _submit(client, audio, webhook_url="http://169.254.169.254/hook").json()
    wait_for_status(client, job["id"], {"completed"}, timeout=60)
    settled = wait_for_status(client, job["id"], {"completed"}, timeout=5)
    for _ in range(50):
        if settled["webhook"]["state"] != "pending":
            break
        settled = wait_for_status(client, job["id"], {"completed"}, timeout=5)
    assert settled["webhook"] == {
        "url": "http://169.254.169.254/hook",
        "state": "failed",
        "attempts": 1,
        "secret": None,
    }


def test_a_queued_job_can_be_cancelled(client: httpx.Client, audio: bytes, receiver: WebhookReceiver):
    # One worker: the second job waits behind the first.
    first = _submit(client, audio).json()
    second = _submit(client, audio, webhook_url=receiver.url, webhook_secret=first_secret()).json()
    cancelled = client.delete(f"{JOBS}/{second['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert wait_for_status(client, first["id"], {"completed"}, timeout=60)
    hooks = [h for h in receiver.wait_for(3, timeout=15) if second["id"] in h.webhook_id]
    assert [h.json()["type"] for h in hooks] == ["transcription.job.cancelled"]
    assert hooks[0].verified(first_secret())
    assert client.get(f"{JOBS}/{second['id']}").json()["attempts"] == 0  # it never ran


def first_secret() -> str:
    return "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(
    ("fields", "with_file", "param", "message"),
    [
        ({}, False, "file", "exactly one of `file`"),
        ({"file_url": "http://h/a.mp3"}, True, "file", "exactly one of `file`"),
        ({"file_url": "ftp://h/a.mp3"}, False, "file_url", "http or https"),
        ({"webhook_url": "http://h/", "webhook_secret": "nope"}, True, "webhook_secret", "whsec_"),
        ({"webhook_secret": first_secret()}, True, "webhook_secret", "needs a `webhook_url`"),
        ({"response_format": "docx"}, True, "response_format", "not one of"),
        ({"stream": "true"}, True, "stream", "unknown form field"),
    ],
)
def test_bad_submissions_are_refused_naming_the_field(
    client: httpx.Client, audio: bytes, fields: dict[str, str], with_file: bool, param: str, message: str
):
    response = _submit(client, audio if with_file else None, **fields)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and message in error["message"]


def test_unknown_jobs_are_not_found(client: httpx.Client):
    for method, path in [("GET", "/job_nope"), ("GET", "/job_nope/result"), ("DELETE", "/job_nope")]:
        response = client.request(method, f"{JOBS}{path}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "job_not_found"


def test_a_job_is_seen_only_by_the_identity_that_submitted_it(client: httpx.Client, audio: bytes):
    alice, bob = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "203.0.113.6"}
    job = client.post(JOBS, data={"model": MODEL}, files={"file": ("a.mp3", audio)}, headers=alice).json()
    assert client.get(f"{JOBS}/{job['id']}", headers=alice).status_code == 200
    for method, path in [("GET", ""), ("GET", "/result"), ("DELETE", "")]:
        response = client.request(method, f"{JOBS}/{job['id']}{path}", headers=bob)
        assert response.status_code == 404, (method, path)
    assert job["id"] not in [j["id"] for j in client.get(JOBS, headers=bob).json()["data"]]
    assert [j["id"] for j in client.get(JOBS, headers=alice).json()["data"]] == [job["id"]]


def test_jobs_are_counted_in_the_metrics(client: httpx.Client):
    metrics = client.get("/metrics").text
    finished = [
        line for line in metrics.splitlines() if line.startswith("voxtral_gateway_jobs_finished_total{")
    ]
    assert any('status="completed"' in line and float(line.split()[-1]) >= 1 for line in finished)
    assert any('status="cancelled"' in line for line in finished)
    delivered = [
        line for line in metrics.splitlines() if line.startswith("voxtral_gateway_webhook_attempts_total{")
    ]
    assert any('outcome="delivered"' in line for line in delivered)
