"""Deliver a finished job's event to its `webhook_url`: signed, through the guarded fetcher (the same
SSRF checks as `file_url`), retried with bounded exponential backoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import msgspec
import structlog

from voxtral_gateway.errors import GatewayError, UrlRefused
from voxtral_gateway.fetching import UrlFetcher
from voxtral_gateway.observability.job_metrics import WEBHOOK_ATTEMPTS
from voxtral_gateway.services.jobs.events import event_body, message_id
from voxtral_gateway.services.jobs.signing import signed_headers
from voxtral_gateway.store import JobRecord, WebhookState

log = structlog.get_logger(__name__)


class WebhookPolicy(msgspec.Struct, frozen=True, kw_only=True):
    max_attempts: int = 8
    backoff_seconds: float = 1.0
    """Before the second attempt; doubled before each later one, up to `backoff_max_seconds`."""
    backoff_max_seconds: float = 300.0

    def pause_after(self, attempt: int) -> float:
        return min(self.backoff_seconds * 2 ** (attempt - 1), self.backoff_max_seconds)


class WebhookSender:
    def __init__(self, fetcher: UrlFetcher, policy: WebhookPolicy):
        self._fetcher = fetcher
        self.policy = policy

    async def deliver(
        self,
        record: JobRecord,
        result: bytes | None,
        on_attempt: Callable[[int], Awaitable[None]],
        first_attempt: int = 1,
    ) -> WebhookState:
        """POST the job's event until a 2xx answer or `max_attempts`; `on_attempt(n)` records each try.

        A URL the guard refuses (a private address, a bad scheme) is not retried. `first_attempt` lets a
        worker that takes over a delivery continue the count."""
        target = record.spec.webhook
        if target is None:
            return "none"
        body = event_body(record, result)
        ident = message_id(record)
        for attempt in range(first_attempt, self.policy.max_attempts + 1):
            headers = signed_headers(target.secret, ident, int(time.time()), body)
            try:
                status = await self._fetcher.post(target.url, body=body, headers=headers, field="webhook_url")
            except UrlRefused as exc:
                log.warning("webhook_refused", job_id=record.id, error=exc.message)
                WEBHOOK_ATTEMPTS.labels("failed").inc()
                await on_attempt(attempt)
                return "failed"
            except GatewayError as exc:
                status, problem = None, exc.message
            else:
                problem = f"HTTP {status}"
            await on_attempt(attempt)
            if status is not None and 200 <= status < 300:
                WEBHOOK_ATTEMPTS.labels("delivered").inc()
                log.info("webhook_delivered", job_id=record.id, webhook_id=ident, attempt=attempt)
                return "delivered"
            WEBHOOK_ATTEMPTS.labels("retried" if attempt < self.policy.max_attempts else "failed").inc()
            if attempt < self.policy.max_attempts:
                pause = self.policy.pause_after(attempt)
                log.info(
                    "webhook_retry", job_id=record.id, attempt=attempt, error=problem, pause_seconds=pause
                )
                await asyncio.sleep(pause)
        log.warning("webhook_given_up", job_id=record.id, attempts=self.policy.max_attempts)
        return "failed"
