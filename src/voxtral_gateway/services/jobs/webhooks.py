"""One attempt at delivering a finished job's event to its `webhook_url`: signed, through the guarded
fetcher (the same SSRF checks as `file_url`); and the retry policy (bounded exponential backoff) that
decides what follows it. `WebhookDispatcher` makes the attempts, apart from the job workers."""

from __future__ import annotations

import time
from typing import Literal

import msgspec
import structlog

from voxtral_gateway.errors import GatewayError, UrlRefused
from voxtral_gateway.fetching import UrlFetcher
from voxtral_gateway.observability.job_metrics import WEBHOOK_ATTEMPTS
from voxtral_gateway.services.jobs.events import event_body, message_id
from voxtral_gateway.services.jobs.signing import signed_headers
from voxtral_gateway.store import JobRecord, WebhookState

log = structlog.get_logger(__name__)

AttemptOutcome = Literal["delivered", "unanswered", "refused"]
"""A 2xx answer; any other answer or none (retried); an address the guard refuses (never retried)."""


class WebhookPolicy(msgspec.Struct, frozen=True, kw_only=True):
    max_attempts: int = 8
    backoff_seconds: float = 1.0
    """Before the second attempt; doubled before each later one, up to `backoff_max_seconds`."""
    backoff_max_seconds: float = 300.0

    def pause_after(self, attempt: int) -> float:
        return min(self.backoff_seconds * 2 ** (attempt - 1), self.backoff_max_seconds)

    def after(self, attempt: int, outcome: AttemptOutcome) -> tuple[WebhookState, float | None]:
        """The delivery's state after attempt number `attempt`, and the pause before the next one (None
        when there is none)."""
        if outcome == "delivered":
            return "delivered", None
        if outcome == "refused" or attempt >= self.max_attempts:
            return "failed", None
        return "pending", self.pause_after(attempt)


class WebhookSender:
    def __init__(self, fetcher: UrlFetcher, policy: WebhookPolicy):
        self._fetcher = fetcher
        self.policy = policy

    async def attempt(self, record: JobRecord, result: bytes | None, attempt: int) -> AttemptOutcome:
        """POST the job's event once. Every attempt carries the same `webhook-id` and body; only the
        timestamp (and so the signature) is the attempt's own."""
        target = record.spec.webhook
        if target is None:
            raise ValueError(f"job {record.id} has no webhook")
        body = event_body(record, result)
        ident = message_id(record)
        headers = signed_headers(target.secret, ident, int(time.time()), body)
        try:
            status = await self._fetcher.post(target.url, body=body, headers=headers, field="webhook_url")
        except UrlRefused as exc:
            log.warning("webhook_refused", job_id=record.id, error=exc.message)
            WEBHOOK_ATTEMPTS.labels("failed").inc()
            return "refused"
        except GatewayError as exc:
            status, problem = None, exc.message
        else:
            problem = f"HTTP {status}"
        if status is not None and 200 <= status < 300:
            WEBHOOK_ATTEMPTS.labels("delivered").inc()
            log.info("webhook_delivered", job_id=record.id, webhook_id=ident, attempt=attempt)
            return "delivered"
        last = attempt >= self.policy.max_attempts
        WEBHOOK_ATTEMPTS.labels("failed" if last else "retried").inc()
        if last:
            log.warning("webhook_given_up", job_id=record.id, attempts=attempt, error=problem)
        else:
            log.info(
                "webhook_retry",
                job_id=record.id,
                attempt=attempt,
                error=problem,
                pause_seconds=self.policy.pause_after(attempt),
            )
        return "unanswered"
