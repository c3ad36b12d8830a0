"""VOXTRAL_BACKENDS: the base URLs of several vLLM servers, parsed when the settings are read."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit


def parse_backend_urls(value: str | Sequence[str]) -> list[str]:
    """Base URLs from a comma-separated string (environment) or a list (TOML), normalised to
    `scheme://host:port` with no trailing slash. Raises ValueError naming the bad entry."""
    items = value.split(",") if isinstance(value, str) else list(value)
    urls: list[str] = []
    for raw in (item.strip() for item in items):
        if not raw:
            continue
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{raw!r} is not an http(s)://host[:port] URL")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{raw!r} has a path; give the server's base URL (the /v1 routes are added)")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise ValueError(f"{raw!r} has an invalid port") from None
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        url = f"{parts.scheme}://{host}:{port}"
        if url in urls:
            raise ValueError(f"{raw!r} is listed twice")
        urls.append(url)
    return urls


class BackendURLs:
    """The parsed VOXTRAL_BACKENDS: normalised base URLs, empty when unset."""

    __slots__ = ("urls",)

    def __init__(self, urls: Sequence[str] = ()):
        self.urls: tuple[str, ...] = tuple(urls)

    @classmethod
    def parse(cls, value: str | Sequence[str]) -> BackendURLs:
        return cls(parse_backend_urls(value))

    def __bool__(self) -> bool:
        return bool(self.urls)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BackendURLs) and other.urls == self.urls

    def __hash__(self) -> int:
        return hash(self.urls)

    def __repr__(self) -> str:
        return f"BackendURLs({list(self.urls)})"
