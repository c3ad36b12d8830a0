"""A large JSON body parsed off the event loop gives exactly Litestar's answer: the same Struct, or the
same validation error naming the same field."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
import pytest
from litestar import Controller, post
from litestar.params import Body
from litestar.testing import TestClient, create_test_client

from voxtral_gateway.routes import json_request
from voxtral_gateway.routes.error_handlers import EXCEPTION_HANDLERS
from voxtral_gateway.routes.json_request import large_json_request_class
from voxtral_gateway.schemas.batch import BatchRequest
from voxtral_gateway.schemas.openai import ChatCompletionRequest
from voxtral_gateway.schemas.understand import UnderstandRequest

_B64 = base64.b64encode(bytes(random.Random(5).randrange(256) for _ in range(600))).decode()
_ESCAPED = _B64.replace("/", "\\/")


def _file(data: str = _B64, **extra: Any) -> str:
    return msgspec.json.encode({"data": "@", **extra}).decode().replace('"@"', f'"{data}"')


BATCH = [
    f'{{"audio_files": [{_file(format="mp3", id="a")}, {_file()}], "language": "en"}}',
    f'{{"audio_files": [{_file(_ESCAPED)}]}}',  # PHP's json_encode writes `\/`
    f'{{"audio_files": [{_file()}, {_file("QR==")}]}}',  # the second file's base64 is invalid
    f'{{"audio_files": [{_file(_B64[:-1])}]}}',
    *(
        f'{{"audio_files": [{_file()}, {_file(bad)}]}}'
        for bad in ("==", "", "QR==", "QUJD\\nQUJD", "\\u0051UJD")
    ),
    '{"audio_files": [{"data": 5}]}',
    '{"audio_files": [{"data": null}]}',
    '{"audio_files": [{"data": "QUJD", "data": "REVG"}]}',
    f'{{"audio_files": [{_file()}], "temperature": "hot"}}',
    f'{{"audio_files": [{_file()}], "temperature": 3}}',
    f'{{"audio_files": [{_file(format="xyz")}]}}',
    f'{{"audio_files": [{_file(id="")}]}}',
    f'{{"audio_files": [{_file(surprise=1)}]}}',
    '{"audio_files": []}',
    '{"language": "en"}',
    "{",
    "null",
    "[]",
]

UNDERSTAND = [
    f'{{"audio_files": [{_file(format="wav")}], "question": "Why?", "stream": true}}',
    f'{{"audio_files": [{_file(_ESCAPED)}], "question": "Why\\/how?"}}',
    f'{{"audio_files": [{_file()}], "question": "Why?", "max_tokens": 0}}',
    f'{{"audio_files": [{_file()}], "question": "Why?", "top_p": 0}}',
    f'{{"audio_files": [{", ".join([_file()] * 6)}], "question": "Why?"}}',
    f'{{"audio_files": [{_file("QR==")}], "question": "Why?"}}',
    f'{{"audio_files": [{_file()}]}}',
    f'{{"audio_files": [{_file()}], "question": 5}}',
]


def _chat(*parts: str, extra: str = "") -> str:
    return f'{{"model": "voxtral", "messages": [{{"role": "user", "content": [{", ".join(parts)}]}}]{extra}}}'


_AUDIO_OBJECT = f'{{"type": "input_audio", "input_audio": {{"data": "{_B64}", "format": "wav"}}}}'
CHAT = [
    _chat(_AUDIO_OBJECT, '{"type": "text", "text": "What?"}', extra=', "max_tokens": 9, "stream": true'),
    _chat(f'{{"type": "input_audio", "input_audio": "{_ESCAPED}"}}'),  # Mistral's string
    _chat(f'{{"type": "audio_url", "audio_url": {{"url": "data:audio/wav;base64,{_B64}"}}}}'),
    _chat(f'{{"type": "UNKNOWN", "raw": {_AUDIO_OBJECT}}}'),
    _chat('{"type": "input_audio", "input_audio": {"data": "QR=="}}'),
    _chat('{"type": "video", "video": "x"}'),
    _chat(_AUDIO_OBJECT, extra=', "n": 2'),
    _chat(_AUDIO_OBJECT, extra=', "temperature": -1'),
    '{"model": "voxtral", "messages": []}',
    '{"model": "voxtral", "messages": [{"role": "robot", "content": "hi"}]}',
    '{"messages": [{"role": "user", "content": "hi"}]}',
]


def _controllers(path: str, schema: type[msgspec.Struct]) -> tuple[type[Controller], type[Controller]]:
    class Plain(Controller):
        signature_namespace = {"schema": schema}

        @post("/", status_code=200)
        async def parse(self, data: Annotated[schema, Body()]) -> Any:  # type: ignore[valid-type]
            return msgspec.to_builtins(data)

    Plain.path = path

    class OffLoop(Plain):
        request_class = large_json_request_class(schema)

    return Plain, OffLoop


ROUTES = {
    "batch": ("/transcribe/batch", BatchRequest, BATCH),
    "understand": ("/understand", UnderstandRequest, UNDERSTAND),
    "chat": ("/v1/chat/completions", ChatCompletionRequest, CHAT),
}


@pytest.fixture(scope="module", params=list(ROUTES))
def route(request: pytest.FixtureRequest) -> Iterator[tuple[str, TestClient, TestClient, list[str]]]:
    path, schema, bodies = ROUTES[request.param]
    plain, off_loop = _controllers(path, schema)
    with (
        create_test_client([plain], exception_handlers=EXCEPTION_HANDLERS) as plain_client,
        create_test_client([off_loop], exception_handlers=EXCEPTION_HANDLERS) as off_loop_client,
    ):
        yield path, plain_client, off_loop_client, bodies


def test_every_body_gets_litestars_answer(
    route: tuple[str, TestClient, TestClient, list[str]], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(json_request, "OFF_LOOP_BYTES", 0)  # every body through the off-loop parse
    path, plain, off_loop, bodies = route
    headers = {"Content-Type": "application/json"}
    statuses = set()
    for body in bodies:
        expected = plain.post(f"{path}/", content=body, headers=headers)
        got = off_loop.post(f"{path}/", content=body, headers=headers)
        assert (got.status_code, got.json()) == (expected.status_code, expected.json()), body[:200]
        statuses.add(expected.status_code)
    assert 200 in statuses and len(statuses) > 1  # both verdicts were compared
