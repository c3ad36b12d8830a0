"""Asynchronous transcription jobs: the API's side (`JobService`), the workers (`JobRunner`), the webhook
deliverers (`WebhookDispatcher`)."""

from voxtral_gateway.services.jobs.factory import job_queue
from voxtral_gateway.services.jobs.runner import JobRunner, RunnerPolicy
from voxtral_gateway.services.jobs.service import JobLimits, JobService, JobSubmission, SubmittedJob
from voxtral_gateway.services.jobs.signing import signature, signed_headers
from voxtral_gateway.services.jobs.webhook_dispatcher import DispatchPolicy, WebhookDispatcher
from voxtral_gateway.services.jobs.webhooks import WebhookPolicy, WebhookSender
from voxtral_gateway.store import JobError, JobRecord, JobStatus

__all__ = [
    "DispatchPolicy",
    "JobError",
    "JobLimits",
    "JobRecord",
    "JobRunner",
    "JobService",
    "JobStatus",
    "JobSubmission",
    "RunnerPolicy",
    "SubmittedJob",
    "WebhookDispatcher",
    "WebhookPolicy",
    "WebhookSender",
    "job_queue",
    "signature",
    "signed_headers",
]
