"""Durable state beside the backends: the job queue (Redis Streams, or in process) and the blob store
uploads wait in."""

from voxtral_gateway.store.blobs import BlobStore, DirectoryBlobStore, MemoryBlobStore
from voxtral_gateway.store.job_queue import JobQueue, QueueFull, StoreUnavailable
from voxtral_gateway.store.memory_jobs import InProcessJobQueue
from voxtral_gateway.store.records import (
    TERMINAL_STATUSES,
    Delivery,
    JobError,
    JobRecord,
    JobSpec,
    JobState,
    JobStatus,
    StartOutcome,
    WebhookState,
    WebhookTarget,
)
from voxtral_gateway.store.redis_jobs import RedisJobQueue

__all__ = [
    "TERMINAL_STATUSES",
    "BlobStore",
    "Delivery",
    "DirectoryBlobStore",
    "InProcessJobQueue",
    "JobError",
    "JobQueue",
    "JobRecord",
    "JobSpec",
    "JobState",
    "JobStatus",
    "MemoryBlobStore",
    "QueueFull",
    "RedisJobQueue",
    "StartOutcome",
    "StoreUnavailable",
    "WebhookState",
    "WebhookTarget",
]
