"""Run the stand-in vLLM on its own event loop in a background thread.

Tests can then talk to a gateway subprocess with plain blocking clients while the stand-in answers
the gateway's upstream calls."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from tests.standin_vllm import StandInVLLM


class ThreadedStandIn:
    def __init__(self, **options: Any):
        self.server = StandInVLLM(**options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="standin-vllm", daemon=True)
        self.base_url = ""

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def start(self, port: int = 0) -> ThreadedStandIn:
        self._thread.start()
        self.base_url = asyncio.run_coroutine_threadsafe(self.server.start(port=port), self._loop).result(30)
        return self

    def stop(self) -> None:
        """Stop listening (the thread's loop keeps running so `start_again` can reopen the port)."""
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(30)

    def start_again(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.start(port=self.port), self._loop).result(30)

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def gateway_env(self) -> dict[str, str]:
        """Environment for a gateway that talks to this stand-in."""
        return {"VOXTRAL_HOST": "127.0.0.1", "VOXTRAL_PORT": str(self.port), "HEALTH_CACHE_SECONDS": "0"}

    def __enter__(self) -> ThreadedStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
