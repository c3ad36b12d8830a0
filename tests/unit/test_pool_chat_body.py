"""A chat's request body (its audio as base64 WAV) is built once, on the CPU pool, and the same body is
sent to every server the pool tries: two stand-in vLLM servers, the first refusing with a full queue."""

from __future__ import annotations

import threading

import pytest

from tests.standin_vllm import StandInVLLM
from tests.standin_vllm.engine import QUEUE_OVERFLOW
from tests.support.decoded_audio import sine_audio
from voxtral_gateway.backends import pool as pool_module
from voxtral_gateway.backends.chat import AudioPart, ChatMessage, SamplingParams, TextPart
from voxtral_gateway.backends.pool import VLLMPool
from voxtral_gateway.cpu_pool import CpuPool
from voxtral_gateway.settings import load_settings


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
async def test_the_body_is_built_once_off_the_loop_and_reused_on_failover(
    streamed: bool, monkeypatch: pytest.MonkeyPatch
):
    built_on: list[str] = []
    build = pool_module.chat_request_body

    def counted(*args, **kwargs) -> bytes:  # type: ignore[no-untyped-def]
        built_on.append(threading.current_thread().name)
        return build(*args, **kwargs)

    monkeypatch.setattr(pool_module, "chat_request_body", counted)
    cpu = CpuPool("decode", workers=1, queue_limit=4)
    async with StandInVLLM() as busy, StandInVLLM() as free:
        busy.fail_next(503, QUEUE_OVERFLOW, err_type="ServiceUnavailableError")
        settings = load_settings({"VOXTRAL_BACKENDS": f"{busy.base_url},{free.base_url}"})
        pool = VLLMPool(settings.vllm, settings.timeouts, cpu)
        await pool.start()
        try:
            pool.members[1].in_flight = 1  # the busy server is chosen first
            messages = [
                ChatMessage(role="user", content=[AudioPart(audio=sine_audio(3)), TextPart(text="What?")])
            ]
            sampling = SamplingParams(max_tokens=9)
            if streamed:
                text = "".join([delta.text async for delta in pool.chat_stream(messages, sampling)])
            else:
                text = (await pool.chat(messages, sampling)).text
        finally:
            await pool.close()
            cpu.shutdown()
    assert text
    assert len(built_on) == 1 and built_on[0].startswith("decode")  # once, on the CPU pool's thread
    (refused,), (answered,) = busy.requests, free.requests
    assert refused.injected and refused.status == 503 and answered.status == 200
    assert refused.fields == answered.fields  # the same request (the refusal came before its audio was read)
    assert answered.stream is streamed and answered.num_audio_parts == 1
