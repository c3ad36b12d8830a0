"""Drive LiveKit's Mistral STT plugin's offline `recognize` against a gateway: a WAV file becomes an
AudioBuffer of 50 ms frames (as an agent collects them), and what `recognize` returns is printed as one
JSON line, either the speech event or the error it raised. Runs in the plugin's own environment, like
livekit_mistral_driver.py.

    python -m tests.support.livekit_mistral_recognize BASE_URL API_KEY MODEL WAV_FILE
        [--language CODE] [--context-bias WORD ...]"""

from __future__ import annotations

import argparse
import asyncio
import json
import wave
from pathlib import Path
from typing import Any

FRAME_SECONDS = 0.05


def _frames(path: Path) -> list[Any]:
    from livekit import rtc

    with wave.open(str(path), "rb") as handle:
        rate, channels = handle.getframerate(), handle.getnchannels()
        assert handle.getsampwidth() == 2, "16-bit PCM WAV only"
        per_frame = int(rate * FRAME_SECONDS)
        frames = []
        while data := handle.readframes(per_frame):
            frames.append(
                rtc.AudioFrame(
                    data=data,
                    sample_rate=rate,
                    num_channels=channels,
                    samples_per_channel=len(data) // (2 * channels),
                )
            )
    return frames


def _event(event: Any) -> dict[str, Any]:
    return {
        "type": str(event.type.value),
        "alternatives": [
            {
                "text": alt.text,
                "language": str(alt.language),
                "start_time": alt.start_time,
                "end_time": alt.end_time,
                "words": None
                if alt.words is None
                else [
                    {"text": str(word), "start_time": word.start_time, "end_time": word.end_time}
                    for word in alt.words
                ],
            }
            for alt in event.alternatives
        ],
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from livekit.agents import APIError, APIStatusError
    from livekit.plugins import mistralai as livekit_mistral
    from mistralai.client import Mistral

    options: dict[str, Any] = {}
    if args.language:
        options["language"] = args.language
    if args.context_bias:
        options["context_bias"] = args.context_bias
    stt = livekit_mistral.STT(
        client=Mistral(api_key=args.key, server_url=args.base_url), model=args.model, **options
    )
    try:
        return _event(await stt.recognize(_frames(args.wav)))
    except APIStatusError as error:
        return {
            "error": type(error).__name__,
            "status_code": error.status_code,
            "message": error.message,
            "retryable": error.retryable,
            "request_id": error.request_id,
        }
    except APIError as error:
        return {"error": type(error).__name__, "message": error.message, "retryable": error.retryable}
    finally:
        await stt.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("key")
    parser.add_argument("model")
    parser.add_argument("wav", type=Path)
    parser.add_argument("--language")
    parser.add_argument("--context-bias", nargs="*")
    result = asyncio.run(asyncio.wait_for(main(parser.parse_args()), 180))
    print(json.dumps(result), flush=True)
