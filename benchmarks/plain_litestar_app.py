"""For P7's note: Litestar alone (one route, no middleware) answering the gateway's /health/ bytes,
to tell the framework's own cost from the gateway's layers on top."""

from __future__ import annotations

import os

from litestar import Litestar, Response, get

BODY = os.environ.get("BARE_HEALTH_BODY", '{"status":"ok"}').encode()


@get("/health/", sync_to_thread=False)
def health() -> Response[bytes]:
    return Response(BODY, media_type="application/json")


app = Litestar([health], openapi_config=None)
