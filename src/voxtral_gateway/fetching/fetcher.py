"""The one guarded way to reach a URL a client gave us: `fetch` for `file_url` and `audio_url`, `post`
for webhooks.

Every hop (the first URL and each redirect) is checked before it is connected to: http(s) only, a
literal address checked here, a name checked on the addresses its single DNS resolution returns (see
`resolver.py`). Bodies are capped while streaming, and connect, idle-read and total timeouts apply."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping

import aiohttp
import msgspec
import structlog
from yarl import URL

from voxtral_gateway.errors import PayloadTooLarge, UrlFetchFailed, UrlRefused
from voxtral_gateway.fetching.address_policy import (
    CLOUD_METADATA_HOSTNAMES,
    normalize_host,
    parse_allowlist,
    refusal_reason,
)
from voxtral_gateway.fetching.config import UrlFetchConfig
from voxtral_gateway.fetching.failures import translated_errors
from voxtral_gateway.fetching.resolver import GuardedResolver

log = structlog.get_logger(__name__)

_ALLOWED_SCHEMES = frozenset({"http", "https"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024
_MIB = 1024 * 1024


class FetchedFile(msgspec.Struct, frozen=True, kw_only=True):
    """A fetched body. Nothing about it is trusted: the caller's decoder sniffs the bytes."""

    data: bytes
    content_type: str | None
    """The server's Content-Type header, a hint only (None when absent)."""
    url: str
    """The URL the body came from, after redirects."""
    redirects: int
    """How many redirects were followed."""


class UrlFetcher:
    """Fetches client-given URLs under one `UrlFetchConfig`. Create one per process (it owns an
    aiohttp session, made on first use) and `close()` it at shutdown."""

    def __init__(self, config: UrlFetchConfig) -> None:
        self._config = config
        self._allowlist = parse_allowlist(config.allowlist)
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None

    async def close(self) -> None:
        """Close the session and its connections; the fetcher may not be used afterwards."""
        if self._session is not None:
            await self._session.close()
        if self._resolver is not None:
            await self._resolver.close()  # aiohttp closes only the resolvers it made itself

    async def fetch(self, url: str, *, field: str) -> FetchedFile:
        """GET `url`, following redirects, and return its body.

        `field` names the request field the URL came from; every error carries it.
        Raises UrlRefused (400: scheme, address, too many redirects), UrlFetchFailed (422: the
        connection failed or the server answered an error), UrlFetchTimeout (422: a limit named),
        PayloadTooLarge (413: the body is over max_bytes)."""
        with translated_errors(field, self._config):
            async with asyncio.timeout(self._config.total_timeout_seconds):
                return await self._follow(self._parse(url, field), field)

    async def post(self, url: str, *, body: bytes, headers: Mapping[str, str], field: str) -> int:
        """POST `body` to `url` (a webhook) under the same checks and timeouts, and return the status.

        Redirects are not followed (a 3xx is returned as it is); the response body is discarded.
        Raises UrlRefused, UrlFetchFailed (no connection) or UrlFetchTimeout, as `fetch` does."""
        with translated_errors(field, self._config):
            async with asyncio.timeout(self._config.total_timeout_seconds):
                target = self._parse(url, field)
                self._check(target, field)
                async with self._ensure_session().post(
                    target,
                    data=body,
                    headers=dict(headers),
                    allow_redirects=False,
                    timeout=self._hop_timeout(),
                ) as response:
                    return response.status

    def _hop_timeout(self) -> aiohttp.ClientTimeout:
        """Per request: connect (DNS, TCP, TLS) and idle-read limits; the total is over all hops."""
        return aiohttp.ClientTimeout(
            total=None,
            connect=self._config.connect_timeout_seconds,
            sock_read=self._config.read_timeout_seconds,
        )

    async def _follow(self, url: URL, field: str) -> FetchedFile:
        config = self._config
        session = self._ensure_session()
        hop_timeout = self._hop_timeout()
        for redirects in range(config.max_redirects + 1):
            self._check(url, field)
            async with session.get(url, allow_redirects=False, timeout=hop_timeout) as response:
                if response.status in _REDIRECT_STATUSES:
                    url = self._redirect_target(url, response, field)
                    continue
                if not 200 <= response.status < 300:
                    raise UrlFetchFailed(
                        f"{field}: {_shown(url)} answered HTTP {response.status}",
                        field=field,
                        details={"upstream_status": response.status},
                    )
                data = await self._read_capped(response, field)
                log.debug("url_fetched", host=url.host, bytes=len(data), redirects=redirects)
                return FetchedFile(
                    data=data,
                    content_type=response.headers.get(aiohttp.hdrs.CONTENT_TYPE),
                    url=str(url),
                    redirects=redirects,
                )
        raise UrlRefused(
            f"{field}: more than {config.max_redirects} redirects (URL_FETCH_MAX_REDIRECTS)", field=field
        )

    def _check(self, url: URL, field: str) -> None:
        """Refuse a scheme, a metadata host name or a literal address; names are checked at resolution."""
        if url.scheme.lower() not in _ALLOWED_SCHEMES:
            raise UrlRefused(
                f"{field}: only http and https URLs are fetched, not {url.scheme or 'a relative URL'!r}",
                field=field,
            )
        if not url.raw_host:
            raise UrlRefused(f"{field}: the URL has no host", field=field)
        host = normalize_host(url.raw_host)
        port = url.port or 0
        if self._allowlist.allows_host(host, port):
            return
        if host in CLOUD_METADATA_HOSTNAMES:
            raise UrlRefused(
                f"{field}: {host} is a cloud metadata service, which is not fetched", field=field
            )
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return
        if self._allowlist.allows_address(address):
            return
        reason = refusal_reason(address)
        if reason is not None:
            raise UrlRefused(
                f"{field}: {address} is {reason}, which is not fetched (URL_FETCH_ALLOWLIST can allow it)",
                field=field,
            )

    @staticmethod
    def _parse(url: str, field: str) -> URL:
        try:
            return URL(url)
        except (ValueError, TypeError):
            raise UrlRefused(f"{field}: not a valid URL", field=field) from None

    @staticmethod
    def _redirect_target(url: URL, response: aiohttp.ClientResponse, field: str) -> URL:
        location = response.headers.get(aiohttp.hdrs.LOCATION)
        if not location:
            raise UrlFetchFailed(
                f"{field}: {_shown(url)} answered a redirect without a Location", field=field
            )
        try:
            return url.join(URL(location))
        except (ValueError, TypeError):
            raise UrlRefused(f"{field}: the redirect target is not a valid URL", field=field) from None

    async def _read_capped(self, response: aiohttp.ClientResponse, field: str) -> bytes:
        limit = self._config.max_bytes
        declared = response.content_length
        if declared is not None and declared > limit:
            raise self._too_large(field, f"declares {declared} bytes")
        chunks: list[bytes] = []
        received = 0
        async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
            received += len(chunk)
            if received > limit:
                # The unread rest is not drained: aiohttp closes a connection released mid-body.
                raise self._too_large(field, f"sent more than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, field: str, what: str) -> PayloadTooLarge:
        limit = self._config.max_bytes
        return PayloadTooLarge(
            f"{field}: the file {what}, over the limit of {limit} bytes (MAX_FILE_SIZE_MB={limit / _MIB:g})",
            field=field,
            details={"limit_bytes": limit},
        )

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._resolver = GuardedResolver(self._allowlist)
            # No DNS cache: every new connection resolves (once) and checks what it resolved.
            connector = aiohttp.TCPConnector(resolver=self._resolver, use_dns_cache=False)
            self._session = aiohttp.ClientSession(
                connector=connector,
                # No proxy from the environment (it would connect past the address check), and no
                # cookies carried from one client's fetch to another's.
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={
                    aiohttp.hdrs.USER_AGENT: self._config.user_agent,
                    aiohttp.hdrs.ACCEPT_ENCODING: "identity",
                },
            )
        return self._session


def _shown(url: URL) -> str:
    """The URL as shown in an error: no credentials, no query string (it may hold a signature)."""
    return str(url.with_user(None).with_query(None).with_fragment(None))[:200]
