"""Helpers for the realtime protocol tests: a gateway on the embedded engine with an API key and no rate
limits, and the `openai` SDK's realtime client driven through a transcription session."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from openai import AsyncOpenAI

from tests.audio_fixtures import normalize_text
from tests.support.gateway_process import ROOT, GatewayProcess


def create_api_key(keys_file: Path, name: str = "agent") -> str:
    """A new API key in `keys_file`, made with the gateway's own CLI."""
    result = subprocess.run(
        [sys.executable, "-m", "voxtral_gateway", "keys", "create", "--name", name, "--file", str(keys_file)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


@contextmanager
def keyed_gateway(directory: Path, env: dict[str, str] | None = None) -> Iterator[tuple[GatewayProcess, str]]:
    """A gateway that requires an API key (yielded with it)."""
    keys_file = directory / "api_keys.json"
    key = create_api_key(keys_file)
    settings = {"BACKEND": "embedded", "RATE_LIMIT_ENABLED": "false", "API_KEYS_FILE": str(keys_file)}
    with GatewayProcess(env={**settings, **(env or {})}) as gateway:
        yield gateway, key


def served_model(gateway: GatewayProcess, key: str) -> str:
    response = httpx.get(
        f"{gateway.base_url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    response.raise_for_status()
    return response.json()["data"][0]["id"]


def ws_base(gateway: GatewayProcess) -> str:
    return gateway.base_url.replace("http://", "ws://")


def deltas_agree(deltas: str, final: str) -> bool:
    """The words the deltas spelled begin the final's words (case and punctuation aside): deltas never
    contradict the transcript; when the model's guesses agreed all along they spell all of it."""
    said = normalize_text(deltas).split()
    return normalize_text(final).split()[: len(said)] == said


async def openai_sdk_transcription_events(
    base_url: str, pcm: bytes, audio_input: dict[str, Any], turns: int, pace_seconds: float
) -> list[Any]:
    """The `openai` SDK's realtime client in a transcription session on the gateway at `base_url`
    (`audio.input` settings `audio_input`): 24 kHz PCM16 `pcm` sent in 100 ms appends, `pace_seconds`
    apart, while the events are read until `turns` transcripts have completed. Every event, in order."""
    step = 4_800  # 100 ms
    client = AsyncOpenAI(base_url=base_url + "/v1", api_key="unused")
    events: list[Any] = []
    async with asyncio.timeout(120):
        async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
            await conn.session.update(session={"type": "transcription", "audio": {"input": audio_input}})

            async def send() -> None:
                for start in range(0, len(pcm), step):
                    await conn.input_audio_buffer.append(
                        audio=base64.b64encode(pcm[start : start + step]).decode()
                    )
                    await asyncio.sleep(pace_seconds)

            sender = asyncio.create_task(send())
            async for event in conn:
                events.append(event)
                if sum(e.type.endswith("transcription.completed") for e in events) == turns:
                    break
            await sender
    return events
