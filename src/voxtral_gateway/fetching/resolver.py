"""A DNS resolver for aiohttp that checks every address it returns.

aiohttp connects to exactly the addresses its resolver returns, so checking them here means the
address checked is the address connected to: one resolution per connection, no second lookup for a
rebinding DNS server to answer differently."""

from __future__ import annotations

import ipaddress
import socket

from aiohttp import DefaultResolver
from aiohttp.abc import AbstractResolver, ResolveResult

from voxtral_gateway.fetching.address_policy import Allowlist, refusal_reason


class AddressRefused(Exception):
    """A host resolved to an address the policy refuses. Deliberately not an OSError, so aiohttp
    passes it through instead of wrapping it as a DNS failure."""

    def __init__(self, host: str, address: str, reason: str):
        super().__init__(f"{host} resolves to {address}, {reason}")
        self.host = host
        self.address = address
        self.reason = reason


class GuardedResolver(AbstractResolver):
    """Resolves with aiohttp's default resolver (off the event loop) and refuses the whole answer if
    any address in it is refused: a name that mixes public and private addresses is not trusted."""

    def __init__(self, allowlist: Allowlist) -> None:
        self._allowlist = allowlist
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._allowlist.allows_host(host, port):
            return results
        for result in results:
            address = ipaddress.ip_address(result["host"])
            if self._allowlist.allows_address(address):
                continue
            reason = refusal_reason(address)
            if reason is not None:
                raise AddressRefused(host, str(address), reason)
        return results

    async def close(self) -> None:
        await self._inner.close()
