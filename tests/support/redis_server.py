"""Redis for tests: the machine's shared server (unique key prefixes, cleaned up) and private servers
that a test may stop and restart."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import redis

from tests.support.gateway_process import free_port

SHARED_REDIS_URL = "redis://127.0.0.1:6379/0"


def unique_prefix(label: str) -> str:
    """A key prefix no other test (or concurrent run) uses."""
    return f"vgtest:{label}:{uuid.uuid4().hex[:10]}"


def delete_prefix(url: str, prefix: str) -> int:
    """Delete every key under `prefix`; returns how many there were."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


def keys_under(url: str, prefix: str) -> list[str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=f"{prefix}:*", count=500))
    finally:
        client.close()


class PrivateRedis:
    """A throw-away `redis-server` on a free loopback port: kill it, start it again on the same port.

    `durable`: an append-only file in `log_dir`, synced on every write, so the data outlives a SIGKILL
    and a restart; otherwise nothing is kept."""

    def __init__(self, log_dir: Path, durable: bool = False):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_dir = log_dir
        self.log_path = log_dir / f"redis-{self.port}.log"
        self.durable = durable
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> PrivateRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        persistence = (
            ["--dir", str(self.log_dir), "--appendonly", "yes", "--appendfsync", "always"]
            if self.durable
            else ["--appendonly", "no"]
        )
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence],
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
                try:
                    if client.ping():
                        return self
                finally:
                    client.close()
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
