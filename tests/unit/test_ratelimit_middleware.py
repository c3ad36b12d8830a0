"""AccessMiddleware and AccessControl in a small Litestar app: headers, the error shape, API keys, and
the WebSocket admission API (`AccessControl.stream_slot`) used the way the stream route uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import msgspec
import pytest
from litestar import Litestar, WebSocket, get, post, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.middleware import DefineMiddleware
from litestar.params import Body
from litestar.testing import TestClient

from voxtral_gateway.auth import ApiKeyFile, KeyLimits, write_keys_file
from voxtral_gateway.auth._keys import new_record
from voxtral_gateway.errors import GatewayError
from voxtral_gateway.ratelimit import AccessControl, AccessMiddleware
from voxtral_gateway.routes.error_handlers import EXCEPTION_HANDLERS
from voxtral_gateway.routes.error_wire import error_detail, refusal_close_code
from voxtral_gateway.schemas.errors import ErrorResponse
from voxtral_gateway.settings import load_settings


class Payload(msgspec.Struct, forbid_unknown_fields=True):
    audio_file: str


@get("/items", sync_to_thread=False)
def items() -> dict[str, str]:
    return {"object": "list"}


@post("/transcribe", status_code=200, sync_to_thread=False)
def transcribe(data: Annotated[Payload, Body()]) -> dict[str, str]:
    return {"transcription": data.audio_file}


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@websocket("/stream/transcribe")
async def stream(socket: WebSocket) -> None:
    # How the stream route admits a connection: exception handlers do not apply to WebSockets, so a
    # refusal is sent as an `error` message in the one error shape, then the socket is closed.
    access: AccessControl = socket.app.state["access"]
    await socket.accept()
    try:
        async with access.stream_slot(socket.scope) as admission:
            await socket.send_json({"type": "ready", "identity": admission.identity})
            await socket.receive_text()
        await socket.send_json({"type": "done"})  # the slot is released by now
    except GatewayError as exc:
        await socket.send_bytes(msgspec.json.encode(ErrorResponse(error=error_detail(exc))))
        await socket.close(code=refusal_close_code(exc))


def make_app(**env: str) -> Litestar:
    settings = load_settings(env)
    access = AccessControl.from_settings(settings.rate_limits, settings.auth)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await access.start()
        try:
            yield
        finally:
            await access.close()

    return Litestar(
        route_handlers=[items, transcribe, health, stream],
        middleware=[DefineMiddleware(AccessMiddleware, access=access)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state={"access": access},
    )


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = make_app(RATE_LIMIT_GENERAL="3", RATE_LIMIT_TRANSCRIPTION="2", MAX_STREAMS_PER_IDENTITY="1")
    with TestClient(app) as test_client:
        yield test_client


def test_general_tier_counts_down_then_429_in_the_error_shape(client: TestClient):
    remaining = []
    for _ in range(3):
        response = client.get("/items")
        assert response.status_code == 200
        assert response.headers["RateLimit-Limit"] == "3"
        assert response.headers["RateLimit-Policy"] == "3;w=60"
        assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
        remaining.append(int(response.headers["RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]
    refused = client.get("/items/")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["tier"] == "general"
    assert error["details"]["retry_after_seconds"] == int(refused.headers["Retry-After"])
    assert "general tier" in error["message"]


def test_requests_the_route_rejects_still_count_and_tiers_are_separate(client: TestClient):
    assert client.post("/transcribe", json={}).status_code == 422  # admitted, then invalid
    assert client.post("/transcribe", json={"audio_file": "x"}).status_code == 200
    assert client.post("/transcribe", json={"audio_file": "x"}).status_code == 429
    assert client.get("/items").status_code == 200


def test_health_is_never_limited_nor_labelled(client: TestClient):
    for _ in range(10):
        response = client.get("/health/")
        assert response.status_code == 200
        assert "RateLimit-Limit" not in response.headers


def test_a_bearer_token_without_configured_keys_is_ignored(client: TestClient):
    # The OpenAI SDK always sends one; it must neither be refused nor pick a new identity.
    for token in ("sk-1", "sk-2", "sk-3"):
        assert client.get("/items", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/items", headers={"Authorization": "Bearer sk-4"}).status_code == 429


@pytest.fixture
def keys_file(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    keys = {"alice": "vxg_alice-secret", "bob": "vxg_bob-secret", "carol": "vxg_carol-secret"}
    records = [
        new_record("alice", keys["alice"]),
        new_record("bob", keys["bob"], KeyLimits(general=1)),
        msgspec.structs.replace(new_record("carol", keys["carol"]), disabled=True),
    ]
    path = tmp_path / "api_keys.json"
    write_keys_file(path, ApiKeyFile(keys=records))
    return path, keys


def test_keys_401_403_200_and_per_key_limits(keys_file):
    path, keys = keys_file
    with TestClient(make_app(API_KEYS_FILE=str(path), RATE_LIMIT_GENERAL="3")) as client:
        missing = client.get("/items")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert missing.json()["error"]["code"] == "unauthorized"
        assert client.get("/items", headers={"Authorization": "Basic YTpi"}).status_code == 401
        assert client.get("/items?api_key=" + keys["alice"]).status_code == 401  # WebSocket only
        unknown = client.get("/items", headers={"Authorization": "Bearer vxg_nope"})
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (403, "forbidden")
        disabled = client.get("/items", headers={"Authorization": f"Bearer {keys['carol']}"})
        assert disabled.status_code == 403
        assert client.get("/health").status_code == 200

        alice = {"Authorization": f"Bearer {keys['alice']}"}
        bob = {"Authorization": f"bearer {keys['bob']}"}
        assert client.get("/items", headers=alice).headers["RateLimit-Limit"] == "3"
        assert client.get("/items", headers=bob).headers["RateLimit-Limit"] == "1"
        assert client.get("/items", headers=bob).status_code == 429
        assert client.get("/items", headers=alice).status_code == 200  # keys are separate identities


def test_websocket_admission_counts_caps_and_refuses_in_the_error_shape(client: TestClient):
    with client.websocket_connect("/stream/transcribe") as first:
        assert first.receive_json() == {"type": "ready", "identity": "ip:testclient"}
        with client.websocket_connect("/stream/transcribe") as second:
            error = msgspec.json.decode(second.receive_bytes())["error"]
            assert error["code"] == "too_many_streams"
            with pytest.raises(WebSocketDisconnect) as closed:
                second.receive_text()
            assert closed.value.code == 4429
        first.send_text("bye")
        assert first.receive_json() == {"type": "done"}
    # The slot was released; the stream counted against the transcription tier (limit 2).
    with client.websocket_connect("/stream/transcribe") as third:
        assert third.receive_json()["type"] == "ready"
        third.send_text("bye")
        assert third.receive_json() == {"type": "done"}
    with client.websocket_connect("/stream/transcribe") as fourth:
        error = msgspec.json.decode(fourth.receive_bytes())["error"]
        assert (error["code"], error["details"]["tier"]) == ("rate_limited", "transcription")


def test_websocket_takes_the_key_from_the_query_or_the_header(keys_file):
    path, keys = keys_file
    with TestClient(make_app(API_KEYS_FILE=str(path))) as client:
        with client.websocket_connect(f"/stream/transcribe?api_key={keys['alice']}") as by_query:
            assert by_query.receive_json()["identity"].startswith("key:key_")
            by_query.send_text("bye")
            assert by_query.receive_json() == {"type": "done"}
        headers = {"Authorization": f"Bearer {keys['alice']}"}
        with client.websocket_connect("/stream/transcribe", headers=headers) as by_header:
            assert by_header.receive_json()["identity"].startswith("key:key_")
            by_header.send_text("bye")
        with client.websocket_connect("/stream/transcribe") as anonymous:
            assert msgspec.json.decode(anonymous.receive_bytes())["error"]["code"] == "unauthorized"
