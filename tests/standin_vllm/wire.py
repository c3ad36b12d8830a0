"""JSON and server-sent events as vLLM writes them (Starlette, pydantic), and usage bodies."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.standin_vllm.voxtral import Completion


def dumps(obj: Any) -> str:
    """Compact JSON as Starlette's JSONResponse and pydantic's model_dump_json write it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(body).encode(), status=status, content_type="application/json")


def random_id() -> str:
    return secrets.token_hex(8)  # vLLM's random_uuid(): 16 hex digits


def usage_body(prompt: int, completion: int, details: bool) -> dict[str, Any]:
    """UsageInfo as the stream chunks serialize it (set fields only)."""
    usage: dict[str, Any] = {"prompt_tokens": prompt, "total_tokens": prompt + completion}
    usage["completion_tokens"] = completion
    if details:
        usage["completion_tokens_details"] = None
    return usage


def content_steps(completion: Completion) -> list[tuple[str, str | None]]:
    """(delta text, finish_reason) per engine step; a natural stop ends with an empty EOS step."""
    steps: list[tuple[str, str | None]] = [(piece, None) for piece in completion.pieces]
    if completion.finish_reason == "stop":
        steps.append(("", "stop"))
    elif steps:
        steps[-1] = (steps[-1][0], completion.finish_reason)
    else:
        steps.append(("", completion.finish_reason))
    return steps


@web.middleware
async def not_found_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """FastAPI's own answers for unknown routes and methods (vLLM does not override them)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return json_response({"detail": "Not Found"}, 404)
    except web.HTTPMethodNotAllowed:
        return json_response({"detail": "Method Not Allowed"}, 405)
