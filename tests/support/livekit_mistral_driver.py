"""Drive LiveKit's Mistral STT plugin (streaming) against a gateway, with audio frames and no LiveKit
server; prints the speech events as JSON lines. Runs in its own environment: `livekit-plugins-mistralai`
pins `mistralai<3`, which cannot share the test venv with the `mistralai` 3.x SDK.

    python tests/support/livekit_mistral_driver.py BASE_URL API_KEY MODEL RAW_PCM16_16KHZ_FILE"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

RATE = 16_000
FRAME_SAMPLES = RATE // 20  # 50 ms
PACE_SECONDS = 0.05  # real time: the plugin's own VAD (Silero) decides when to flush, in wall-clock time


async def main(base_url: str, key: str, model: str, pcm: bytes) -> None:
    from livekit import rtc
    from livekit.agents.utils import http_context
    from livekit.plugins import mistralai as livekit_mistral
    from livekit.plugins import silero
    from mistralai.client import Mistral

    pcm += bytes(RATE * 2 * 3 // 2)  # the speaker falls silent
    frame_bytes = FRAME_SAMPLES * 2
    async with http_context.open():
        stt = livekit_mistral.STT(
            client=Mistral(api_key=key, server_url=base_url),
            model=model,
            language="en",
            vad=silero.VAD.load(),
        )
        stream = stt.stream()

        async def push() -> None:
            for start in range(0, len(pcm) - frame_bytes + 1, frame_bytes):
                stream.push_frame(
                    rtc.AudioFrame(
                        data=pcm[start : start + frame_bytes],
                        sample_rate=RATE,
                        num_channels=1,
                        samples_per_channel=FRAME_SAMPLES,
                    )
                )
                await asyncio.sleep(PACE_SECONDS)
            stream.end_input()

        pusher = asyncio.create_task(push())
        async for event in stream:
            text = event.alternatives[0].text if event.alternatives else None
            print(json.dumps({"type": str(event.type.value), "text": text}), flush=True)
        await pusher
        await stream.aclose()
        await stt.aclose()


if __name__ == "__main__":
    base_url, key, model, pcm_path = sys.argv[1:5]
    asyncio.run(asyncio.wait_for(main(base_url, key, model, Path(pcm_path).read_bytes()), 180))
