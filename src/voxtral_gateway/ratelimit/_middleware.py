"""The ASGI middleware that checks API keys and rate limits before a route reads the request body."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from voxtral_gateway.ratelimit._access import AccessControl


class AccessMiddleware:
    """HTTP only (WebSocket routes call `AccessControl.stream_slot`). A refusal is raised as a
    `GatewayError`, which Litestar's exception handling turns into the one error response (with its
    RateLimit-* and Retry-After headers); an admitted request's response gets the RateLimit-* headers.

    A request is counted once it is admitted, whatever its outcome (a 422 has cost a parse; the limiter
    runs before the body is read); refused requests (401, 403, 429) are not counted."""

    def __init__(self, app: ASGIApp, access: AccessControl):
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        decision = await self.access.admit_request(scope)
        if decision is None:
            await self.app(scope, receive, send)
            return
        extra = [(name.lower().encode(), value.encode()) for name, value in decision.headers().items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
