"""The job queue the settings ask for: Redis Streams when a Redis URL is set, else in process."""

from __future__ import annotations

from voxtral_gateway.settings import JobSettings
from voxtral_gateway.store import DirectoryBlobStore, InProcessJobQueue, JobQueue, RedisJobQueue


def job_queue(jobs: JobSettings, shared_redis_url: str | None) -> JobQueue:
    """JOBS_REDIS_URL, else REDIS_URL (`shared_redis_url`), else jobs in this process."""
    url = jobs.redis_url or shared_redis_url
    if url is None:
        return InProcessJobQueue(queue_limit=jobs.queue_limit, ttl_seconds=jobs.ttl_seconds)
    return RedisJobQueue(
        url,
        jobs.key_prefix,
        DirectoryBlobStore(jobs.blob_dir),
        ttl_seconds=jobs.ttl_seconds,
        visibility_timeout_seconds=jobs.visibility_timeout_seconds,
    )
