"""P7's baseline: a bare ASGI app that answers every request with the gateway's /health/ bytes.

Served by granian exactly as the gateway is; the body comes from BARE_HEALTH_BODY (set by the
benchmark to what the gateway answered), so both send the same bytes."""

from __future__ import annotations

import os

from litestar.types import Receive, Scope, Send

BODY = os.environ.get("BARE_HEALTH_BODY", '{"status":"ok"}').encode()
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
