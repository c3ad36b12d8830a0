"""Tests of the stand-in vLLM server: it must answer the way vLLM 0.33 does."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from tests.standin_vllm import DEFAULT_MODEL, INVALID_AUDIO, StandInVLLM, audio_prompt_tokens

REPO_ROOT = Path(__file__).resolve().parents[1]
ERROR_KEYS = {"message", "type", "param", "code"}


# --------------------------------------------------------------------------- audio fixtures


def ffmpeg_audio(directory: Path, name: str, *args: str) -> bytes:
    """Render audio with ffmpeg (lavfi sources) and return the file's bytes."""
    out = directory / name
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args, str(out)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="session")
def wav_2s_stereo(audio_dir: Path) -> bytes:
    """2 s of 440 Hz, 44.1 kHz stereo PCM WAV."""
    return ffmpeg_audio(audio_dir, "a.wav", "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-ac", "2")


@pytest.fixture(scope="session")
def mp3_3s(audio_dir: Path) -> bytes:
    """3 s of 660 Hz as a 16 kHz mono MP3."""
    source = ["-f", "lavfi", "-i", "sine=frequency=660:duration=3", "-ar", "16000", "-ac", "1"]
    return ffmpeg_audio(audio_dir, "b.mp3", *source, "-c:a", "libmp3lame", "-b:a", "32k")


@pytest.fixture(scope="session")
def ogg_1s(audio_dir: Path) -> bytes:
    """1 s of 880 Hz as Opus in Ogg."""
    source = ["-f", "lavfi", "-i", "sine=frequency=880:duration=1"]
    return ffmpeg_audio(audio_dir, "c.ogg", *source, "-c:a", "libopus", "-b:a", "24k")


@pytest.fixture(scope="session")
def mp3_601s_silence(audio_dir: Path) -> bytes:
    """601 s of silence at a very low bitrate: small file, over vLLM's 600 s decode cap."""
    source = ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "601"]
    return ffmpeg_audio(audio_dir, "long.mp3", *source, "-c:a", "libmp3lame", "-b:a", "8k")


# --------------------------------------------------------------------------- server and client


@pytest.fixture
async def vllm() -> AsyncIterator[StandInVLLM]:
    async with StandInVLLM() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def transcription_form(audio: bytes, filename: str = "a.wav", **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", audio, filename=filename, content_type="application/octet-stream")
    for name, value in fields.items():
        form.add_field(name, value)
    return form


async def transcribe(
    http: aiohttp.ClientSession, vllm: StandInVLLM, audio: bytes, **fields: str
) -> tuple[int, Any]:
    url = f"{vllm.base_url}/v1/audio/transcriptions"
    async with http.post(url, data=transcription_form(audio, **fields)) as resp:
        return resp.status, await resp.json()


def audio_part(audio: bytes, label: str) -> dict[str, Any]:
    return {"type": "input_audio", "input_audio": {"data": base64.b64encode(audio).decode(), "format": label}}


def audio_url_part(audio: bytes, subtype: str) -> dict[str, Any]:
    url = f"data:audio/{subtype};base64,{base64.b64encode(audio).decode()}"
    return {"type": "audio_url", "audio_url": {"url": url}}


def chat_body(parts: list[dict[str, Any]], question: str = "What is said?", **extra: Any) -> dict[str, Any]:
    content = [*parts, {"type": "text", "text": question}]
    return {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": content}], **extra}


async def chat(http: aiohttp.ClientSession, vllm: StandInVLLM, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post(f"{vllm.base_url}/v1/chat/completions", json=body) as resp:
        return resp.status, await resp.json()


async def sse_events(resp: aiohttp.ClientResponse) -> list[str]:
    """The ``data:`` payloads of a server-sent event stream, in order."""
    text = await resp.text()
    assert text.endswith("\n\n")
    events = [block for block in text.split("\n\n") if block]
    assert all(block.startswith("data: ") for block in events)
    return [block.removeprefix("data: ") for block in events]


def assert_error(body: Any, status: int, err_type: str, message: str, param: str | None = None) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"] == {"message": message, "type": err_type, "param": param, "code": status}


async def wait_for(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------- plain routes


async def test_health_is_200_with_empty_body(vllm: StandInVLLM, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{vllm.base_url}/health") as resp:
        assert resp.status == 200
        assert await resp.read() == b""


async def test_models_lists_the_served_model(vllm: StandInVLLM, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{vllm.base_url}/v1/models") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["object"] == "list"
    [card] = body["data"]
    assert card["id"] == card["root"] == DEFAULT_MODEL
    assert (card["object"], card["owned_by"], card["parent"], card["max_model_len"]) == (
        "model",
        "vllm",
        None,
        32768,
    )
    [permission] = card["permission"]
    assert permission["object"] == "model_permission"
    assert permission["id"].startswith("modelperm-")


async def test_unknown_route_answers_like_fastapi(vllm: StandInVLLM, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{vllm.base_url}/v1/nothing") as resp:
        assert resp.status == 404
        assert await resp.json() == {"detail": "Not Found"}


# --------------------------------------------------------------------------- transcriptions


async def test_transcription_json(
    vllm: StandInVLLM, http: aiohttp.ClientSession, wav_2s_stereo: bytes
) -> None:
    url = f"{vllm.base_url}/v1/audio/transcriptions"
    form = transcription_form(wav_2s_stereo, model=DEFAULT_MODEL, language="en", temperature="0.2")
    async with http.post(url, data=form) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        body = await resp.json()
    assert body == {"text": "audio of 2.00 seconds in en", "usage": {"type": "duration", "seconds": 2}}
    [record] = vllm.requests
    assert record.endpoint == "/v1/audio/transcriptions"
    assert record.fields == {"model": DEFAULT_MODEL, "language": "en", "temperature": "0.2"}
    assert (record.status, record.temperature, record.stream, record.num_audio_parts) == (200, 0.2, False, 1)
    [audio] = record.audios
    assert (audio.byte_size, audio.container, audio.sample_rate, audio.channels) == (
        len(wav_2s_stereo),
        "wav",
        44100,
        2,
    )
    assert audio.duration_s == pytest.approx(2.0, abs=0.01)
    assert audio.filename == "a.wav"


async def test_transcription_text_format_gets_vllms_json_body(
    vllm: StandInVLLM, http: aiohttp.ClientSession, mp3_3s: bytes
) -> None:
    received: list[tuple[np.ndarray, str | None]] = []

    def transcriber(audio: np.ndarray, language: str | None) -> str:
        received.append((audio, language))
        return "Bonjour tout le monde."

    vllm.transcriber = transcriber
    status, body = await transcribe(http, vllm, mp3_3s, response_format="text", language="fr")
    assert status == 200
    assert body == {"text": "Bonjour tout le monde.", "usage": {"type": "duration", "seconds": 3}}
    [(audio, language)] = received
    assert language == "fr"
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size / 16_000 == pytest.approx(3.0, abs=0.05)
    assert np.abs(audio).max() > 0.1  # the tone, not silence
    assert vllm.requests[0].audios[0].container == "mp3"


async def test_transcription_usage_seconds_round_up(
    vllm: StandInVLLM, http: aiohttp.ClientSession, ogg_1s: bytes, audio_dir: Path
) -> None:
    short = ffmpeg_audio(audio_dir, "short.wav", "-f", "lavfi", "-i", "sine=duration=1.2", "-ar", "16000")
    for audio, seconds in ((ogg_1s, 1), (short, 2)):
        status, body = await transcribe(http, vllm, audio)
        assert (status, body["usage"]) == (200, {"type": "duration", "seconds": seconds})


@pytest.mark.parametrize(
    ("name", "codec_args", "container"),
    [
        ("d.m4a", ["-c:a", "aac"], "mov,mp4,m4a,3gp,3g2,mj2"),
        ("d.webm", ["-c:a", "libopus"], "matroska,webm"),
        ("d.flac", [], "flac"),
    ],
)
async def test_transcription_decodes_common_containers(
    vllm: StandInVLLM,
    http: aiohttp.ClientSession,
    audio_dir: Path,
    name: str,
    codec_args: list[str],
    container: str,
) -> None:
    audio = ffmpeg_audio(audio_dir, name, "-f", "lavfi", "-i", "sine=duration=1.5", *codec_args)
    status, body = await transcribe(http, vllm, audio)
    assert (status, body["usage"]["seconds"]) == (200, 2)
    assert vllm.requests[0].audios[0].container == container
    assert vllm.requests[0].audios[0].duration_s == pytest.approx(1.5, abs=0.03)


async def test_transcription_refuses_srt(
    vllm: StandInVLLM, http: aiohttp.ClientSession, mp3_3s: bytes
) -> None:
    status, body = await transcribe(http, vllm, mp3_3s, response_format="srt")
    assert status == 400
    message = "Currently only support response_format: `text`, `json`, `verbose_json` or `diarized_json`"
    assert_error(body, 400, "BadRequestError", message)
    status, body = await transcribe(http, vllm, mp3_3s, response_format="verbose_json")
    assert_error(body, 400, "BadRequestError", f"Currently do not support verbose_json for {DEFAULT_MODEL}")


async def test_transcription_form_validation(
    vllm: StandInVLLM, http: aiohttp.ClientSession, mp3_3s: bytes
) -> None:
    status, body = await transcribe(http, vllm, mp3_3s, response_format="xml")
    assert status == 400
    assert body["error"]["type"] == "Bad Request"
    assert body["error"]["param"] == "body.response_format"
    assert body["error"]["message"].startswith("1 validation error:\n  {'type': 'literal_error'")
    form = aiohttp.FormData()
    form.add_field("model", DEFAULT_MODEL)
    async with http.post(f"{vllm.base_url}/v1/audio/transcriptions", data=form) as resp:
        body = await resp.json()
    assert (resp.status, body["error"]["param"]) == (400, "body.file")
    status, body = await transcribe(http, vllm, mp3_3s, stream_include_usage="true")
    message = "Stream options can only be defined when `stream=True`. (parameter=stream_include_usage)"
    assert_error(body, 400, "BadRequestError", message, "stream_include_usage")


async def test_transcription_error_bodies(
    vllm: StandInVLLM, http: aiohttp.ClientSession, mp3_3s: bytes
) -> None:
    status, body = await transcribe(http, vllm, mp3_3s, language="xx")
    languages = "['ar', 'nl', 'en', 'fr', 'de', 'hi', 'it', 'pt', 'es']"
    assert_error(body, 400, "BadRequestError", f"Unsupported language: 'xx'.  Must be one of {languages}.")
    status, body = await transcribe(http, vllm, mp3_3s, language="ja")  # Whisper's map: a warning only
    assert status == 200
    status, body = await transcribe(http, vllm, mp3_3s, model="other/model")
    message = f"The model `other/model` does not exist. Valid aliases: {DEFAULT_MODEL}."
    assert_error(body, 404, "NotFoundError", message, "model")
    status, body = await transcribe(http, vllm, b"this is not audio at all" * 10)
    assert_error(body, 400, "BadRequestError", INVALID_AUDIO)
    assert vllm.requests[-1].audios[0].container is None
    assert [r.status for r in vllm.requests] == [400, 200, 404, 400]


async def test_file_size_cap(vllm: StandInVLLM, http: aiohttp.ClientSession, wav_2s_stereo: bytes) -> None:
    vllm.max_file_size_mb = 0.25  # the 2 s stereo WAV is ~345 KiB
    status, body = await transcribe(http, vllm, wav_2s_stereo)
    size_mib = len(wav_2s_stereo) / (1024 * 1024)
    message = f"Maximum file size exceeded (parameter=audio_filesize_mb, value={size_mib})"
    assert_error(body, 400, "BadRequestError", message, "audio_filesize_mb")
    status, body = await chat(http, vllm, chat_body([audio_part(wav_2s_stereo, "wav")]))
    assert (status, body["error"]["param"]) == (400, "audio_filesize_mb")
    assert body["error"]["message"].startswith(
        "Maximum file size exceeded (parameter=audio_filesize_mb, value="
    )


async def test_duration_cap(vllm: StandInVLLM, http: aiohttp.ClientSession, mp3_601s_silence: bytes) -> None:
    assert len(mp3_601s_silence) < 1024 * 1024
    status, body = await transcribe(http, vllm, mp3_601s_silence, response_format="json")
    assert status == 400
    message = body["error"]["message"]
    assert message.startswith("Audio exceeds maximum allowed duration of 600s (metadata reports 601.")
    assert message.endswith("Set VLLM_MAX_AUDIO_DECODE_DURATION_S to increase this limit.")
    assert (body["error"]["type"], body["error"]["param"]) == ("BadRequestError", None)
    vllm.max_audio_seconds = 700
    status, body = await transcribe(http, vllm, mp3_601s_silence)
    assert (status, body["usage"]["seconds"]) == (200, 601)


# --------------------------------------------------------------------------- chat completions


async def test_chat_with_one_audio(
    vllm: StandInVLLM, http: aiohttp.ClientSession, wav_2s_stereo: bytes
) -> None:
    body = chat_body([audio_part(wav_2s_stereo, "wav")], temperature=0.1, top_p=0.9, max_tokens=100)
    status, answer = await chat(http, vllm, body)
    assert status == 200
    assert set(answer) == {
        "id",
        "object",
        "created",
        "model",
        "choices",
        "service_tier",
        "system_fingerprint",
        "usage",
        "prompt_logprobs",
        "prompt_token_ids",
        "prompt_text",
        "kv_transfer_params",
        "ec_transfer_params",
        "metrics",
    }
    assert answer["id"].startswith("chatcmpl-") and answer["object"] == "chat.completion"
    assert answer["model"] == DEFAULT_MODEL
    [choice] = answer["choices"]
    assert (choice["index"], choice["finish_reason"], choice["message"]["role"]) == (0, "stop", "assistant")
    content = choice["message"]["content"]
    assert content == "1 audio(s) totalling 2.00 seconds; question: What is said?"
    usage = answer["usage"]
    assert usage["completion_tokens"] == len(content.split()) + 1  # the words and the end-of-sequence token
    # BOS + [INST]/[/INST] + 3 words of question + [BEGIN_AUDIO] + 375 tokens for the first 30 s chunk
    assert usage["prompt_tokens"] == 1 + 2 + 3 + 1 + 375
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    [record] = vllm.requests
    assert (record.num_audio_parts, record.format_labels, record.stream) == (1, ["wav"], False)
    assert (record.temperature, record.top_p, record.max_tokens) == (0.1, 0.9, 100)
    assert record.audios[0].container == "wav" and record.audios[0].duration_s == pytest.approx(2.0, abs=0.01)
    recorded_part = record.fields["messages"][0]["content"][0]["input_audio"]
    assert recorded_part["data"].endswith("base64 chars>") and recorded_part["format"] == "wav"


async def test_chat_with_five_audios_and_refusal_of_six(
    vllm: StandInVLLM, http: aiohttp.ClientSession, wav_2s_stereo: bytes, mp3_3s: bytes, ogg_1s: bytes
) -> None:
    five = [audio_part(wav_2s_stereo, "wav"), audio_part(mp3_3s, "mp3"), audio_url_part(ogg_1s, "ogg")]
    five += [audio_part(ogg_1s, "ogg"), audio_url_part(mp3_3s, "mpeg")]
    status, answer = await chat(http, vllm, chat_body(five, "Compare them."))
    assert status == 200
    content = answer["choices"][0]["message"]["content"]
    assert content.startswith("5 audio(s) totalling 10.0")
    assert content.endswith("question: Compare them.")
    assert vllm.requests[0].format_labels == ["wav", "mp3", "ogg", "ogg", "mpeg"]
    assert [a.container for a in vllm.requests[0].audios] == ["wav", "mp3", "ogg", "ogg", "mp3"]
    six = [*five, audio_part(ogg_1s, "ogg")]
    status, answer = await chat(http, vllm, chat_body(six))
    message = "At most 5 audio(s) may be provided in one prompt. (parameter=audio)"
    assert_error(answer, 400, "BadRequestError", message, "audio")
    assert vllm.requests[1].num_audio_parts == 6 and vllm.requests[1].audios == []  # refused before decoding


async def test_chat_format_labels(vllm: StandInVLLM, http: aiohttp.ClientSession, mp3_3s: bytes) -> None:
    # vLLM does not check the label: it only becomes data:audio/<label>;base64,... and the bytes decide.
    status, answer = await chat(http, vllm, chat_body([audio_part(mp3_3s, "flac")]))
    assert status == 200
    assert (vllm.requests[0].format_labels, vllm.requests[0].audios[0].container) == (["flac"], "mp3")
    # A label with a comma breaks the data URL vLLM builds from it.
    status, answer = await chat(http, vllm, chat_body([audio_part(mp3_3s, "mp3,x")]))
    assert_error(answer, 501, "NotImplementedError", "Only base64 data URLs are supported for now.")
    status, answer = await chat(http, vllm, chat_body([audio_part(b"\x00\x01garbage" * 50, "wav")]))
    assert_error(answer, 400, "BadRequestError", INVALID_AUDIO)


async def test_chat_request_validation(vllm: StandInVLLM, http: aiohttp.ClientSession, mp3_3s: bytes) -> None:
    url = f"{vllm.base_url}/v1/chat/completions"
    async with http.post(url, data=b"{}", headers={"Content-Type": "text/plain"}) as resp:
        body = await resp.json()
    message = "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed"
    assert_error(body, 400, "Bad Request", message)
    status, body = await chat(
        http, vllm, chat_body([audio_part(mp3_3s, "mp3")], stream_options={"include_usage": True})
    )
    message = "Stream options can only be defined when `stream=True`. (parameter=stream_options)"
    assert_error(body, 400, "BadRequestError", message, "stream_options")
    status, body = await chat(http, vllm, {"model": "nope", "messages": []})
    assert (status, body["error"]["type"]) == (404, "NotFoundError")
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    status, body = await chat(http, vllm, chat_body([image]))
    assert_error(
        body,
        400,
        "BadRequestError",
        "At most 0 image(s) may be provided in one prompt. (parameter=image)",
        "image",
    )


async def test_streaming_chat(vllm: StandInVLLM, http: aiohttp.ClientSession, mp3_3s: bytes) -> None:
    body = chat_body([audio_part(mp3_3s, "mp3")], "Summarize the recording please.")
    status, plain = await chat(http, vllm, body)
    assert status == 200
    streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
    async with http.post(f"{vllm.base_url}/v1/chat/completions", json=streamed) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        payloads = await sse_events(resp)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    first, *content_chunks, final, usage_chunk = chunks
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len(content_chunks) > 3
    assert all(c["choices"][0]["finish_reason"] is None for c in content_chunks)
    assert final["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"]["content"] for c in [*content_chunks, final])
    assert text == plain["choices"][0]["message"]["content"]
    assert usage_chunk["choices"] == []
    expected_usage = {k: plain["usage"][k] for k in ("prompt_tokens", "total_tokens", "completion_tokens")}
    assert usage_chunk["usage"] == expected_usage
    assert vllm.requests[1].stream is True


async def test_streaming_chat_with_continuous_usage_and_request_id(
    vllm: StandInVLLM, http: aiohttp.ClientSession, ogg_1s: bytes
) -> None:
    options = {"include_usage": True, "continuous_usage_stats": True}
    body = chat_body([audio_part(ogg_1s, "ogg")], stream=True, stream_options=options)
    url = f"{vllm.base_url}/v1/chat/completions"
    async with http.post(url, json=body, headers={"X-Request-Id": "req-42"}) as resp:
        chunks = [json.loads(p) for p in (await sse_events(resp))[:-1]]
    assert {c["id"] for c in chunks} == {"chatcmpl-req-42"}
    completion_counts = [c["usage"]["completion_tokens"] for c in chunks]
    assert completion_counts == sorted(completion_counts) and completion_counts[0] == 0
    assert completion_counts[-1] == completion_counts[-2] == chunks[-1]["usage"]["completion_tokens"]


async def test_streaming_transcription(vllm: StandInVLLM, http: aiohttp.ClientSession, mp3_3s: bytes) -> None:
    url = f"{vllm.base_url}/v1/audio/transcriptions"
    form = transcription_form(mp3_3s, stream="true", stream_include_usage="true")
    async with http.post(url, data=form) as resp:
        payloads = await sse_events(resp)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert {c["object"] for c in chunks} == {"transcription.chunk"}
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks if c["choices"])
    assert text == f"audio of {vllm.requests[0].audios[0].duration_s:.2f} seconds"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == len(text.split()) + 1


async def test_max_tokens_ends_with_length(
    vllm: StandInVLLM, http: aiohttp.ClientSession, ogg_1s: bytes
) -> None:
    status, answer = await chat(http, vllm, chat_body([audio_part(ogg_1s, "ogg")], max_completion_tokens=3))
    assert status == 200
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["choices"][0]["message"]["content"] == "1 audio(s) totalling"
    assert answer["usage"]["completion_tokens"] == 3


# --------------------------------------------------------------------------- test controls


async def test_fail_next(vllm: StandInVLLM, http: aiohttp.ClientSession, ogg_1s: bytes) -> None:
    vllm.fail_next(503, "The engine is currently busy.", count=2, err_type="ServiceUnavailableError")
    for _ in range(2):
        status, body = await transcribe(http, vllm, ogg_1s)
        assert_error(body, 503, "ServiceUnavailableError", "The engine is currently busy.")
    vllm.fail_next(500, "boom", err_type="InternalServerError")
    status, body = await chat(http, vllm, chat_body([audio_part(ogg_1s, "ogg")]))
    assert_error(body, 500, "InternalServerError", "boom")
    status, body = await transcribe(http, vllm, ogg_1s)
    assert status == 200
    assert [(r.status, r.injected) for r in vllm.requests] == [
        (503, True),
        (503, True),
        (500, True),
        (200, False),
    ]
    vllm.reset()
    assert (vllm.requests, vllm.aborted, vllm.max_in_flight) == ([], 0, 0)


async def test_max_in_flight(vllm: StandInVLLM, http: aiohttp.ClientSession, ogg_1s: bytes) -> None:
    vllm.delay_seconds = 0.3
    results = await asyncio.gather(*(transcribe(http, vllm, ogg_1s) for _ in range(4)))
    assert [status for status, _ in results] == [200] * 4
    assert (vllm.max_in_flight, vllm.in_flight) == (4, 0)
    vllm.delay_seconds = 0.0
    for _ in range(2):
        await transcribe(http, vllm, ogg_1s)
    assert vllm.max_in_flight == 4


async def test_speed_simulates_processing_time(
    vllm: StandInVLLM, http: aiohttp.ClientSession, mp3_3s: bytes
) -> None:
    vllm.speed = 10.0  # 3 s of audio take 0.3 s
    started = time.monotonic()
    status, _ = await transcribe(http, vllm, mp3_3s)
    assert status == 200
    assert time.monotonic() - started >= 0.29


async def test_aborted_when_client_disconnects(vllm: StandInVLLM, ogg_1s: bytes) -> None:
    vllm.delay_seconds = 5.0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as impatient:
        with pytest.raises(asyncio.TimeoutError):
            await transcribe(impatient, vllm, ogg_1s)
        with pytest.raises(asyncio.TimeoutError):
            await chat(impatient, vllm, chat_body([audio_part(ogg_1s, "ogg")]))
    await wait_for(lambda: vllm.aborted == 2)
    assert [(r.aborted, r.status) for r in vllm.requests] == [(True, None), (True, None)]
    assert vllm.in_flight == 0


async def test_aborted_mid_stream(vllm: StandInVLLM, http: aiohttp.ClientSession, ogg_1s: bytes) -> None:
    vllm.answerer = lambda audios, question: " ".join(["word"] * 200_000)  # a long stream
    body = chat_body([audio_part(ogg_1s, "ogg")], stream=True)
    async with http.post(f"{vllm.base_url}/v1/chat/completions", json=body) as resp:
        assert (await resp.content.readline()).startswith(b"data: ")
        resp.close()
    await wait_for(lambda: vllm.aborted == 1)
    assert vllm.requests[0].aborted and vllm.in_flight == 0


# --------------------------------------------------------------------------- command line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_runs_standalone(http: aiohttp.ClientSession, ogg_1s: bytes) -> None:
    port = free_port()
    command = [sys.executable, "-m", "tests.standin_vllm", "--host", "127.0.0.1", "--port", str(port)]
    process = await asyncio.create_subprocess_exec(
        *command, "--speed", "27", cwd=REPO_ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
        assert f"http://127.0.0.1:{port}" in line.decode()
        async with http.get(f"http://127.0.0.1:{port}/health") as resp:
            assert resp.status == 200
        form = transcription_form(ogg_1s)
        async with http.post(f"http://127.0.0.1:{port}/v1/audio/transcriptions", data=form) as resp:
            assert (await resp.json())["text"].startswith("audio of 1.0")
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0


def test_token_estimate_grows_per_30_second_chunk() -> None:
    assert audio_prompt_tokens(16_000) == 1 + 375
    assert audio_prompt_tokens(30 * 16_000) == 1 + 375
    assert audio_prompt_tokens(30 * 16_000 + 1) == 1 + 750
    assert audio_prompt_tokens(600 * 16_000) == 1 + math.ceil(600 * 12.5)
