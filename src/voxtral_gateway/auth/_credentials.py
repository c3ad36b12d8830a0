"""Where a client puts its API key: `Authorization: Bearer <key>`, or `?api_key=` on a WebSocket."""

from __future__ import annotations

from urllib.parse import parse_qs


def bearer_key(authorization: str | None) -> str | None:
    """The key of a `Bearer` Authorization value; None when absent or another scheme."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def query_key(query_string: bytes) -> str | None:
    """The `api_key` query parameter (accepted on WebSockets only: browsers cannot set headers there)."""
    if b"api_key" not in query_string:
        return None
    values = parse_qs(query_string.decode("latin-1")).get("api_key")
    return values[0].strip() or None if values else None
