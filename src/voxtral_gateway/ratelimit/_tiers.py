"""Which rate-limit tier a request path belongs to, and which paths are never limited."""

from __future__ import annotations

from typing import Literal

Tier = Literal["general", "transcription", "understanding", "batch"]
TIERS: tuple[Tier, ...] = ("general", "transcription", "understanding", "batch")

# Normalized paths (no trailing slash). Routes that do not exist yet are classified already, so a new
# controller is limited from its first commit.
_TIER_OF_PATH: dict[str, Tier] = {
    "/transcribe": "transcription",
    "/v1/audio/transcriptions": "transcription",
    "/stream/transcribe": "transcription",
    "/understand": "understanding",
    "/v1/chat/completions": "understanding",
    "/transcribe/batch": "batch",
}

# Submitting an asynchronous job costs what a synchronous transcription does; reading jobs is general.
_TIER_OF_SUBMISSION: dict[str, Tier] = {"/v1/audio/transcriptions/jobs": "transcription"}

# Monitors, documentation and the playground page (its API calls carry the key) must always be
# reachable: no limit and no API key.
_OPEN_PATHS = frozenset({"/health", "/docs", "/metrics", "/playground"})
_OPEN_PREFIXES = ("/docs/", "/playground/")


def normalize_path(path: str) -> str:
    """The path as the router matches it: duplicate slashes collapsed, no trailing slash."""
    if "//" in path:
        path = "/" + "/".join(part for part in path.split("/") if part)
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


def is_open_path(path: str) -> bool:
    """True for health, docs, the OpenAPI schema, metrics and the playground page: never limited, never
    need a key."""
    path = normalize_path(path)
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES)


def tier_of(path: str, method: str = "GET") -> Tier | None:
    """The tier of a request, or None when its path is open (see `is_open_path`)."""
    path = normalize_path(path)
    if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
        return None
    if method == "POST" and path in _TIER_OF_SUBMISSION:
        return _TIER_OF_SUBMISSION[path]
    return _TIER_OF_PATH.get(path, "general")
