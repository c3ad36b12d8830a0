"""Webhook signatures as the Standard Webhooks specification defines them (standardwebhooks.com).

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is its HMAC-SHA256 under
the secret's bytes (the base64 after `whsec_`), sent as `webhook-signature: v1,<base64>`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

SECRET_PREFIX = "whsec_"
_MIN_SECRET_BYTES = 24
_MAX_SECRET_BYTES = 64


def new_secret() -> str:
    """A fresh `whsec_` secret (32 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def secret_problem(secret: str) -> str | None:
    """Why `secret` cannot sign webhooks, or None when it can."""
    if not secret.startswith(SECRET_PREFIX):
        return f"must start with {SECRET_PREFIX!r} followed by base64"
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return f"the part after {SECRET_PREFIX!r} is not valid base64"
    if not _MIN_SECRET_BYTES <= len(key) <= _MAX_SECRET_BYTES:
        return f"must hold {_MIN_SECRET_BYTES} to {_MAX_SECRET_BYTES} bytes, not {len(key)}"
    return None


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one delivery attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }
