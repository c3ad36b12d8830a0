"""The guarded fetcher's limits, given by its caller (settings wiring builds one from the environment)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from voxtral_gateway.fetching.address_policy import parse_allowlist

_Positive = Annotated[float, msgspec.Meta(gt=0)]


class UrlFetchConfig(msgspec.Struct, kw_only=True, frozen=True):
    """What a URL fetch may reach, how much it may read and how long it may take."""

    max_bytes: Annotated[int, msgspec.Meta(gt=0)]
    """The largest body read, in bytes (from MAX_FILE_SIZE_MB). A larger Content-Length is refused
    before reading; a body without one is cut off as soon as it passes the cap."""
    allowlist: tuple[str, ...] = ()
    """Exceptions to the address check: CIDRs (`10.0.0.0/8`, `fd00::/8`, `10.1.2.3`) allow those
    addresses, whatever name led to them; `host:port` entries (`audio.internal:8080`, `[::1]:9000`)
    allow that host (as written in the URL) on that port, whatever it resolves to. A cloud-metadata
    address is allowed only by an entry naming it exactly."""
    connect_timeout_seconds: _Positive = 5.0
    """Per hop: the TCP (and TLS) connection must be made within this time."""
    read_timeout_seconds: _Positive = 10.0
    """Per hop: the longest wait for the next bytes (response headers, then every body read)."""
    total_timeout_seconds: _Positive = 60.0
    """The whole fetch, every redirect included, must finish within this time."""
    max_redirects: Annotated[int, msgspec.Meta(ge=0)] = 5
    """Redirects followed before refusing; 0 refuses any redirect."""
    user_agent: str = "voxtral-gateway"
    """The User-Agent header sent to remote servers."""

    def __post_init__(self) -> None:
        parse_allowlist(self.allowlist)  # a malformed entry fails here, when settings are read
