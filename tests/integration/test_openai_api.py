"""The OpenAI-compatible surface, driven by the official `openai` SDK against the gateway in process."""

from __future__ import annotations

import base64
import re

import httpx
import openai
import pytest

from tests.audio_fixtures import FixtureSet
from tests.support.gateway_app import openai_sdk
from tests.support.standin_thread import ThreadedStandIn

MODEL = "mistralai/Voxtral-Mini-3B-2507"


@pytest.fixture
def client(client: httpx.Client) -> openai.OpenAI:
    """The SDK on the module's in-process gateway (the stand-in reset by the `client` it wraps)."""
    return openai_sdk(client)


def _parse_srt(text: str) -> list[tuple[float, float, str]]:
    cues = []
    for block in text.strip().split("\n\n"):
        number, times, *lines = block.split("\n")
        assert number.isdigit()
        start, end = (_seconds(t.replace(",", ".")) for t in times.split(" --> "))
        cues.append((start, end, " ".join(lines)))
    return cues


def _parse_vtt(text: str) -> list[tuple[float, float, str]]:
    header, *blocks = text.strip().split("\n\n")
    assert header == "WEBVTT"
    cues = []
    for block in blocks:
        times, *lines = block.split("\n")
        start, end = (_seconds(t) for t in times.split(" --> "))
        cues.append((start, end, " ".join(lines)))
    return cues


def _seconds(stamp: str) -> float:
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}\.\d{3}", stamp), stamp
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_models_lists_the_served_model(client: openai.OpenAI):
    assert [model.id for model in client.models.list()] == [MODEL]


def test_json_transcription(client: openai.OpenAI, standin: ThreadedStandIn, audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("m4a", 44100, 2)
    with clip.path.open("rb") as handle:
        result = client.audio.transcriptions.create(model=MODEL, file=handle, language="en", temperature=0.0)
    received = standin.server.requests[-1]
    assert result.text == f"audio of {received.audios[0].duration_s:.2f} seconds in en"
    assert received.audios[0].sample_rate == 16000


def test_whisper_alias_and_text_format(client: openai.OpenAI, audio_fixtures: FixtureSet):
    with audio_fixtures.speech("mp3", 16000, 1).path.open("rb") as handle:
        text = client.audio.transcriptions.create(model="whisper-1", file=handle, response_format="text")
    assert isinstance(text, str) and text.startswith("audio of ")


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_parse_back(client: openai.OpenAI, audio_fixtures: FixtureSet, fmt: str):
    clip = audio_fixtures.speech("flac", 22050, 1)
    with clip.path.open("rb") as handle:
        text = client.audio.transcriptions.create(model=MODEL, file=handle, response_format=fmt)
    cues = (_parse_srt if fmt == "srt" else _parse_vtt)(text)
    assert len(cues) == 1
    start, end, words = cues[0]
    assert start == 0.0 and end == pytest.approx(clip.duration, abs=0.01)
    assert words.startswith("audio of ")


def test_verbose_json_with_segment_timestamps(client: openai.OpenAI, audio_fixtures: FixtureSet):
    clip = audio_fixtures.speech("ogg", 48000, 2, codec="opus")
    with clip.path.open("rb") as handle:
        result = client.audio.transcriptions.create(
            model=MODEL,
            file=handle,
            response_format="verbose_json",
            timestamp_granularities=["segment"],
            language="en",
        )
    assert result.language == "english"
    assert result.duration == pytest.approx(clip.duration, abs=0.05)
    assert [s.id for s in result.segments] == [0]
    assert result.segments[0].end == pytest.approx(result.duration, abs=0.01)
    assert result.text == result.segments[0].text


def test_word_timestamps_are_refused_clearly(client: openai.OpenAI, audio_fixtures: FixtureSet):
    with (
        audio_fixtures.speech("wav", 16000, 1).path.open("rb") as handle,
        pytest.raises(openai.BadRequestError) as info,
    ):
        client.audio.transcriptions.create(
            model=MODEL, file=handle, response_format="verbose_json", timestamp_granularities=["word"]
        )
    assert "word" in info.value.message
    assert info.value.body["param"] == "timestamp_granularities[]"


def test_unknown_model_is_not_found(client: openai.OpenAI, audio_fixtures: FixtureSet):
    with (
        audio_fixtures.speech("wav", 16000, 1).path.open("rb") as handle,
        pytest.raises(openai.NotFoundError),
    ):
        client.audio.transcriptions.create(model="gpt-9", file=handle)


def test_undecodable_upload_is_an_openai_error(client: openai.OpenAI, audio_fixtures: FixtureSet):
    with (
        audio_fixtures.malformed["random_bytes"].path.open("rb") as handle,
        pytest.raises(openai.APIStatusError) as info,
    ):
        client.audio.transcriptions.create(model=MODEL, file=handle)
    assert info.value.status_code == 415
    assert info.value.body["code"] == "audio_undecodable"
    assert info.value.body["param"] == "file"


def test_streamed_transcription_events(client: openai.OpenAI, audio_fixtures: FixtureSet):
    with audio_fixtures.speech("wav", 16000, 1).path.open("rb") as handle:
        stream = client.audio.transcriptions.create(model=MODEL, file=handle, stream=True)
        events = list(stream)
    assert [e.type for e in events][-1] == "transcript.text.done"
    deltas = [e.delta for e in events if e.type == "transcript.text.delta"]
    assert "".join(deltas) == events[-1].text
    assert events[-1].usage.seconds >= 5


def test_chat_with_input_audio_and_audio_url(
    client: openai.OpenAI, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    ogg = base64.b64encode(audio_fixtures.speech("ogg", 16000, 1).path.read_bytes()).decode()
    mp3 = base64.b64encode(audio_fixtures.speech("mp3", 22050, 2).path.read_bytes()).decode()
    completion = client.chat.completions.create(
        model=MODEL,
        max_tokens=40,
        messages=[
            {"role": "system", "content": "You answer briefly."},
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": ogg, "format": "ogg"}},
                    {"type": "audio_url", "audio_url": {"url": f"data:audio/mpeg;base64,{mp3}"}},
                    {"type": "text", "text": "Compare the two clips."},
                ],
            },
        ],
    )
    received = standin.server.requests[-1]
    assert received.num_audio_parts == 2
    assert received.format_labels == ["wav", "wav"]
    assert received.max_tokens == 40
    assert completion.choices[0].message.content.startswith("2 audio(s) totalling")
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert completion.model == MODEL


def test_streamed_chat(client: openai.OpenAI, audio_fixtures: FixtureSet):
    wav = base64.b64encode(audio_fixtures.speech("wav", 16000, 1).path.read_bytes()).decode()
    stream = client.chat.completions.create(
        model=MODEL,
        stream=True,
        stream_options={"include_usage": True},
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}},
                    {"type": "text", "text": "What is said?"},
                ],
            }
        ],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("1 audio(s) totalling")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)


def test_chat_with_six_audios_is_refused_before_sending(
    client: openai.OpenAI, standin: ThreadedStandIn, audio_fixtures: FixtureSet
):
    wav = base64.b64encode(audio_fixtures.speech("wav", 16000, 1).path.read_bytes()).decode()
    part = {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [part] * 6}])
    assert "at most 5" in info.value.message
    assert standin.server.requests == []


def test_audio_urls_other_than_data_and_http_are_refused(client: openai.OpenAI):
    # http(s) URLs are fetched (test_audio_by_url.py); any other scheme is refused.
    part = {"type": "audio_url", "audio_url": {"url": "ftp://example.com/a.mp3"}}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [part]}])
    assert "data URL" in info.value.message


def test_audio_url_with_non_ascii_base64_is_a_400(client: openai.OpenAI, standin: ThreadedStandIn):
    part = {"type": "audio_url", "audio_url": {"url": "data:audio/wav;base64,\u00ff\u00ff\u00ff\u00ff"}}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [part]}])
    assert info.value.body["param"] == "messages[0].content[0].audio_url.url"
    assert "base64" in info.value.message
    assert standin.server.requests == []


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens"])
def test_chat_max_tokens_over_the_limit_is_refused(
    client: openai.OpenAI, standin: ThreadedStandIn, name: str
):
    # The same limit as /understand/ (UNDERSTANDING_MAX_TOKENS_LIMIT), not passed on to vLLM.
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], **{name: 2**62}
        )
    assert info.value.body["param"] == name
    assert "the limit is" in info.value.message
    assert standin.server.requests == []


def test_stream_options_without_stream_is_refused(client: openai.OpenAI, standin: ThreadedStandIn):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream_options={"include_usage": True}
        )
    assert info.value.body["param"] == "stream_options"
    assert standin.server.requests == []


def test_openai_errors_have_openai_shape(vllm_app_client: httpx.Client):
    response = vllm_app_client.post("/v1/chat/completions", json={"model": MODEL})
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "messages"


def test_embedded_backend_transcribes_through_the_sdk(
    embedded_client: httpx.Client, audio_fixtures: FixtureSet
):
    sdk = openai_sdk(embedded_client)  # not closed: the client is shared
    assert [m.id for m in sdk.models.list()] == ["whisper-tiny.en"]
    with audio_fixtures.speech("wav", 16000, 1).path.open("rb") as handle:
        result = sdk.audio.transcriptions.create(
            model="whisper-1", file=handle, response_format="verbose_json"
        )
    assert "umbrella" in result.text.lower()
    assert result.segments and result.segments[-1].end <= result.duration + 0.01
    with pytest.raises(openai.APIStatusError) as info:
        sdk.chat.completions.create(model="whisper-tiny.en", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 501
