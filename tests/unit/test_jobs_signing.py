"""Webhook signatures (Standard Webhooks), the webhook body, and the settings and tier of jobs."""

from __future__ import annotations

import base64
import hashlib
import hmac

import msgspec
import pytest

from voxtral_gateway.ratelimit import tier_of
from voxtral_gateway.services.jobs.events import event_body, message_id
from voxtral_gateway.services.jobs.signing import new_secret, secret_problem, signature, signed_headers
from voxtral_gateway.services.jobs.webhooks import AttemptOutcome, WebhookPolicy
from voxtral_gateway.settings import SettingsError, load_settings
from voxtral_gateway.store import JobError, JobRecord, JobSpec, JobState, WebhookTarget


def test_signature_matches_the_specification_test_vector():
    # The example of the Standard Webhooks specification (and of its reference libraries' tests).
    assert (
        signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_receiver_verifies_the_headers_as_the_docs_show():
    secret = new_secret()
    body = b'{"type":"transcription.job.completed"}'
    headers = signed_headers(secret, "msg_1", 1700000000, body)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_not base64!", "not valid base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes, not 5"),
    ],
)
def test_unusable_secrets_are_named(secret: str, problem: str):
    assert problem in (secret_problem(secret) or "")
    assert secret_problem(new_secret()) is None


def _record(status: str, **state: object) -> JobRecord:
    spec = JobSpec(
        id="job_1",
        owner="ip:1",
        created_at=1700000000.5,
        model="m",
        webhook=WebhookTarget(url="http://h/", secret=new_secret()),
    )
    return JobRecord(spec=spec, state=JobState(status=status, updated_at=1700000100.0, **state))  # type: ignore[arg-type]


def test_event_body_is_the_same_bytes_for_every_attempt_and_worker():
    record = _record("completed", finished_at=1700000099.0)
    result = b'{"text":"hello","segments":[]}'
    body = event_body(record, result)
    assert body == event_body(record, result)
    decoded = msgspec.json.decode(body)
    assert decoded["type"] == "transcription.job.completed"
    assert decoded["timestamp"] == "2023-11-14T22:14:59Z"
    assert decoded["data"]["result"] == {"text": "hello", "segments": []}
    assert message_id(record) == "msg_job_1_completed"


def test_failed_event_carries_the_error():
    error = JobError(code="audio_undecodable", message="no audio", status=415, field="file")
    decoded = msgspec.json.decode(event_body(_record("failed", finished_at=1.0, error=error), None))
    assert decoded["type"] == "transcription.job.failed"
    assert decoded["data"]["error"]["code"] == "audio_undecodable"
    assert decoded["data"]["result"] is None


@pytest.mark.parametrize(
    ("attempt", "outcome", "after"),
    [
        (1, "delivered", ("delivered", None)),
        (1, "unanswered", ("pending", 1.0)),
        (3, "unanswered", ("pending", 4.0)),
        (7, "unanswered", ("pending", 5.0)),  # doubling, up to the maximum pause
        (8, "unanswered", ("failed", None)),  # the last attempt
        (1, "refused", ("failed", None)),  # an address the guard refuses is not retried
    ],
)
def test_what_follows_a_webhook_attempt(attempt: int, outcome: AttemptOutcome, after: tuple):
    policy = WebhookPolicy(max_attempts=8, backoff_seconds=1.0, backoff_max_seconds=5.0)
    assert policy.after(attempt, outcome) == after


def test_job_and_url_fetch_settings_are_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        {
            "JOBS_REDIS_URL": "redis://127.0.0.1:6379/11",
            "JOBS_WORKERS": "0",
            "JOBS_WEBHOOK_WORKERS": "3",
            "JOBS_MAX_RUNNING_PER_KEY": "3",
            "JOBS_VISIBILITY_TIMEOUT_SECONDS": "5",
            "URL_FETCH_ALLOWLIST": "10.0.0.0/8, hooks.internal:8443",
            "URL_FETCH_TIMEOUT_SECONDS": "12",
            "URL_FETCH_MAX_REDIRECTS": "0",
        }
    )
    assert settings.jobs.redis_url == "redis://127.0.0.1:6379/11"
    assert settings.jobs.workers == 0
    assert settings.jobs.webhook_workers == 3
    assert load_settings({}).jobs.webhook_workers == 8
    assert settings.jobs.max_running_per_key == 3
    assert settings.url_fetch.allowlist_entries == ("10.0.0.0/8", "hooks.internal:8443")
    assert settings.url_fetch.total_timeout_seconds == 12
    assert settings.url_fetch.max_redirects == 0
    with pytest.raises(SettingsError, match="JOBS_VISIBILITY_TIMEOUT_SECONDS"):
        load_settings({"JOBS_VISIBILITY_TIMEOUT_SECONDS": "0.1"})


def test_submitting_a_job_is_a_transcription_and_reading_jobs_is_general():
    assert tier_of("/v1/audio/transcriptions/jobs", "POST") == "transcription"
    assert tier_of("/v1/audio/transcriptions/jobs/", "POST") == "transcription"
    assert tier_of("/v1/audio/transcriptions/jobs", "GET") == "general"
    assert tier_of("/v1/audio/transcriptions/jobs/job_1", "DELETE") == "general"
    assert tier_of("/v1/audio/transcriptions/jobs/job_1/result", "GET") == "general"


def test_a_malformed_default_webhook_secret_stops_start_up(tmp_path, monkeypatch):
    from voxtral_gateway.runtime import Runtime

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="JOBS_WEBHOOK_SECRET must start with 'whsec_'"):
        Runtime(
            load_settings(
                {"JOBS_WEBHOOK_SECRET": "plain-text", "BACKEND": "vllm", "VOXTRAL_HOST": "127.0.0.1"}
            )
        )
