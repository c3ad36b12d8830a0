"""aiohttp's and the resolver's failures, translated into the gateway's errors (each naming the field)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import aiohttp

from voxtral_gateway.errors import GatewayError, UrlFetchFailed, UrlFetchTimeout, UrlRefused
from voxtral_gateway.fetching.config import UrlFetchConfig
from voxtral_gateway.fetching.resolver import AddressRefused


@contextlib.contextmanager
def translated_errors(field: str, config: UrlFetchConfig) -> Iterator[None]:
    """aiohttp's and the resolver's failures as the gateway's errors, each naming `field`."""
    try:
        yield
    except GatewayError:
        raise
    except AddressRefused as exc:
        raise UrlRefused(
            f"{field}: {exc.host} resolves to {exc.address}, {exc.reason}, which is not fetched "
            "(URL_FETCH_ALLOWLIST can allow it)",
            field=field,
        ) from None
    except aiohttp.ConnectionTimeoutError:
        raise _timeout(field, "connecting", "connect", config.connect_timeout_seconds) from None
    except aiohttp.ServerTimeoutError:
        raise _timeout(field, "waiting for data", "read", config.read_timeout_seconds) from None
    except TimeoutError:
        raise _timeout(field, "fetching", "total", config.total_timeout_seconds) from None
    except aiohttp.InvalidURL:
        raise UrlRefused(f"{field}: not a valid URL", field=field) from None
    except aiohttp.ClientConnectorDNSError:
        raise UrlFetchFailed(f"{field}: the host name could not be resolved", field=field) from None
    except aiohttp.ClientSSLError:
        raise UrlFetchFailed(f"{field}: the TLS connection failed", field=field) from None
    except aiohttp.ClientConnectorError as exc:
        raise UrlFetchFailed(f"{field}: could not connect ({exc.strerror})", field=field) from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError):
        raise UrlFetchFailed(
            f"{field}: the remote server closed the connection before the whole answer arrived",
            field=field,
        ) from None
    except aiohttp.ClientError as exc:
        raise UrlFetchFailed(f"{field}: the fetch failed ({type(exc).__name__})", field=field) from None


def _timeout(field: str, doing: str, kind: str, seconds: float) -> UrlFetchTimeout:
    setting = "URL_FETCH_TIMEOUT_SECONDS" if kind == "total" else f"URL_FETCH_{kind.upper()}_TIMEOUT_SECONDS"
    return UrlFetchTimeout(
        f"{field}: the remote server took longer than {seconds:g} s {doing} ({setting})",
        field=field,
        details={"timeout": kind, "limit_seconds": seconds},
    )
