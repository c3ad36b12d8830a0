"""VLLMBackend against the stand-in as vLLM 0.33 behaves: keep-alive closes, a full queue, a dead
engine, the error statuses it really sends, streamed transcription and the chat request's fields."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.standin_vllm import StandInVLLM
from tests.support.decoded_audio import sine_audio
from voxtral_gateway.backends import Transcript, TranscriptDelta, TranscriptionOptions
from voxtral_gateway.backends.chat import AudioPart, ChatMessage, SamplingParams, TextPart
from voxtral_gateway.backends.vllm import BUSY_RETRY_AFTER_SECONDS, VLLMBackend
from voxtral_gateway.errors import UpstreamBusy, UpstreamDisconnected, UpstreamRejected, UpstreamUnavailable
from voxtral_gateway.settings import load_settings


async def _backend(server: StandInVLLM, **env: str) -> VLLMBackend:
    assert server.base_url is not None
    settings = load_settings({"VOXTRAL_HOST": "127.0.0.1", **env})
    backend = VLLMBackend(settings.vllm, settings.timeouts, base_url=server.base_url)
    await backend.start()
    return backend


@pytest.fixture
async def standin() -> AsyncIterator[StandInVLLM]:
    async with StandInVLLM(keepalive_seconds=1.0) as server:
        yield server


async def test_the_keepalive_setting_defaults_below_vllms_five_seconds():
    assert load_settings({}).vllm.keepalive_seconds < 5
    assert load_settings({"VOXTRAL_KEEPALIVE_SECONDS": "0.5"}).vllm.keepalive_seconds == 0.5


@pytest.mark.parametrize("keepalive", ["30", "0.5"])
async def test_requests_spaced_around_the_servers_idle_timeout_all_succeed(
    standin: StandInVLLM, keepalive: str
):
    """vLLM (here at 1 s) closes idle connections; with the client keeping them longer (30 s, the old
    default) or shorter (the new default's relation), every request still succeeds."""
    backend = await _backend(standin, VOXTRAL_KEEPALIVE_SECONDS=keepalive)
    try:
        for pause in (0.9, 0.97, 1.0, 1.03, 1.1):
            await asyncio.sleep(pause)
            result = await backend.transcribe(sine_audio(1), TranscriptionOptions())
            assert result.text.startswith("audio of 1.00 seconds")
    finally:
        await backend.close()
    assert [r.status for r in standin.requests if not r.aborted] == [200] * 5


async def test_a_connection_closed_before_any_response_byte_is_retried_once(standin: StandInVLLM):
    backend = await _backend(standin)
    try:
        standin.engine.drop_next = 1
        result = await backend.transcribe(sine_audio(1), TranscriptionOptions())
        assert result.text.startswith("audio of 1.00 seconds")
        assert standin.engine.dropped == 1 and [r.status for r in standin.requests] == [None, 200]
        standin.engine.drop_next = 2  # closed again on the retry: once only
        with pytest.raises(UpstreamDisconnected, match="closed the connection before answering"):
            await backend.transcribe(sine_audio(1), TranscriptionOptions())
        assert standin.engine.dropped == 3
    finally:
        await backend.close()


async def test_a_full_queue_is_busy_with_a_retry_after(standin: StandInVLLM):
    standin.engine.max_num_queued_reqs = 1
    standin.delay_seconds = 0.5
    backend = await _backend(standin)
    try:
        results = await asyncio.gather(
            backend.transcribe(sine_audio(1), TranscriptionOptions()),
            backend.transcribe(sine_audio(1), TranscriptionOptions()),
            return_exceptions=True,
        )
    finally:
        await backend.close()
    busy = [r for r in results if isinstance(r, UpstreamBusy)]
    assert len(busy) == 1 and any(isinstance(r, Transcript) for r in results)
    assert busy[0].status_code == 503 and busy[0].retry_after_seconds == BUSY_RETRY_AFTER_SECONDS
    assert "busy" in busy[0].message and "different instance" in busy[0].message


async def test_a_dead_engine_is_unavailable(standin: StandInVLLM):
    backend = await _backend(standin)
    standin.engine.dead = True
    try:
        health = await backend.health()
        assert not health.ready and "503" in (health.detail or "")
        with pytest.raises(UpstreamUnavailable, match="engine has stopped") as info:
            await backend.transcribe(sine_audio(1), TranscriptionOptions())
        assert info.value.status_code == 503 and not isinstance(info.value, UpstreamBusy)
    finally:
        await backend.close()


async def test_statuses_as_vllm_sends_them(standin: StandInVLLM):
    backend = await _backend(standin)
    try:
        standin.fail_next(400, "1 validation error:\n  {'type': 'float_parsing'}", err_type="Bad Request")
        with pytest.raises(UpstreamRejected) as info:
            await backend.transcribe(sine_audio(1), TranscriptionOptions())
        assert info.value.effective_status == 400
        standin.max_file_size_mb = 0.01  # vLLM's size cap: 400 naming audio_filesize_mb
        with pytest.raises(UpstreamRejected, match="VLLM_MAX_AUDIO_CLIP_FILESIZE_MB") as info:
            await backend.transcribe(sine_audio(1), TranscriptionOptions())
        assert info.value.effective_status == 413
        assert standin.requests[-1].status == 400
    finally:
        await backend.close()


async def test_streamed_transcription_gives_the_text_as_it_is_generated(standin: StandInVLLM):
    backend = await _backend(standin)
    try:
        pieces = [
            p async for p in backend.transcribe_stream(sine_audio(2), TranscriptionOptions(language="ar"))
        ]
        whole = await backend.transcribe(sine_audio(2), TranscriptionOptions(language="ar"))
    finally:
        await backend.close()
    deltas = [p.text for p in pieces if isinstance(p, TranscriptDelta)]
    assert len(deltas) > 3 and all(deltas)
    assert isinstance(pieces[-1], Transcript) and pieces[-1] == whole
    assert "".join(deltas) == whole.text == "audio of 2.00 seconds in ar"
    streamed = standin.requests[0]
    assert streamed.stream and streamed.fields["stream_include_usage"] == "true"


async def test_chat_sends_max_completion_tokens(standin: StandInVLLM):
    backend = await _backend(standin)
    messages = [ChatMessage(role="user", content=[AudioPart(audio=sine_audio(1)), TextPart(text="What?")])]
    try:
        await backend.chat(messages, SamplingParams(max_tokens=7))
    finally:
        await backend.close()
    sent = standin.requests[-1].fields
    assert sent["max_completion_tokens"] == 7 and "max_tokens" not in sent
