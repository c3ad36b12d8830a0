"""The client's address: the peer, or what trusted proxies say in X-Forwarded-For."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from voxtral_gateway.settings import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 1.2.3.4:5678
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return address


class ClientAddressResolver:
    """X-Forwarded-For is believed only when the peer is a trusted proxy, and then only up to the first
    hop that is not itself a trusted proxy (read from the right): a client cannot choose its address."""

    def __init__(self, trusted_proxies: Sequence[IPNetwork]):
        self._trusted = tuple(trusted_proxies)

    def _is_trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self._trusted)

    def resolve(self, peer: str | None, forwarded_for: Sequence[str]) -> str:
        """The client address as text; `forwarded_for` holds the raw X-Forwarded-For header values."""
        peer_text = peer or "unknown"
        peer_address = _address(peer_text) if peer else None
        if not self._trusted or peer_address is None or not self._is_trusted(peer_address):
            return str(peer_address) if peer_address is not None else peer_text
        hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
        client = peer_address
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break  # garbage from the client's side: keep the last hop a trusted proxy vouched for
            client = address
            if not self._is_trusted(address):
                break
        return str(client)
