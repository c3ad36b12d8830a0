"""TRUSTED_PROXIES: the IPs and networks whose X-Forwarded-For is believed, parsed when the settings
are read."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def split_proxy_list(value: str | Sequence[str]) -> list[str]:
    """A comma-separated string (environment) or a list (TOML) of IPs and CIDRs."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()]


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """IPs and CIDRs (`10.0.0.0/8`, `127.0.0.1`, `::1`); raises ValueError naming a bad entry."""
    networks: list[IPNetwork] = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


class TrustedProxies:
    """The parsed TRUSTED_PROXIES: empty means no proxy is trusted (the peer is the client)."""

    __slots__ = ("networks",)

    def __init__(self, networks: Sequence[IPNetwork] = ()):
        self.networks: tuple[IPNetwork, ...] = tuple(networks)

    @classmethod
    def parse(cls, value: str | Sequence[str]) -> TrustedProxies:
        """From the environment's comma-separated text or a TOML list; ValueError names a bad entry."""
        return cls(parse_networks(split_proxy_list(value)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TrustedProxies) and other.networks == self.networks

    def __hash__(self) -> int:
        return hash(self.networks)

    def __repr__(self) -> str:
        return f"TrustedProxies({[str(network) for network in self.networks]})"
