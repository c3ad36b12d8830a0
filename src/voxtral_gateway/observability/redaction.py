"""A structlog processor that keeps secrets and audio out of the logs, whoever wrote the log line.

The gateway never logs bodies, headers or query strings on purpose; this is the safety net for what a
library or an upstream's error message might echo (a bearer token, an API key, base64 audio)."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

REDACTED = "[redacted]"
MAX_STRING_CHARS = 4000

_SENSITIVE_FIELDS = frozenset(
    {
        "authorization",
        "api_key",
        "apikey",
        "x_api_key",
        "password",
        "secret",
        "token",
        "audio_data",
        "audio_file",
    }
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_GATEWAY_KEY = re.compile(r"\bvxg_[A-Za-z0-9_-]{8,}")
_API_KEY_PARAM = re.compile(r"(?i)\b(api_key|apikey|key|token)=[^&\s\"']+")
# Base64 runs this long are audio (or other binary), never something a reader needs.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{200,}={0,2}")


def scrub_text(text: str) -> str:
    """`text` with bearer tokens, gateway API keys, `api_key=` parameters and base64 runs removed,
    cut to MAX_STRING_CHARS."""
    text = _BEARER.sub(r"\1 " + REDACTED, text)
    text = _GATEWAY_KEY.sub("vxg_" + REDACTED, text)
    text = _API_KEY_PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _BASE64_RUN.sub(lambda m: f"<{len(m.group(0))} base64 characters removed>", text)
    if len(text) > MAX_STRING_CHARS:
        text = f"{text[:MAX_STRING_CHARS]}… <{len(text) - MAX_STRING_CHARS} more characters>"
    return text


def _scrub_value(key: str, value: Any) -> Any:
    if key.lower().replace("-", "_") in _SENSITIVE_FIELDS:
        return REDACTED
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        return scrub_text(value)
    return value


def redact_event(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: applies `scrub_text` to every string field and drops sensitive fields."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _scrub_value(key, value)
    return event_dict
