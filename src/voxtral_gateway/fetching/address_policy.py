"""Which addresses a fetch may connect to: public unicast only, unless the allowlist says otherwise."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import msgspec

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance-metadata endpoints: AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba, Oracle's v1.
CLOUD_METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
# Names that only ever mean a metadata service: refused by name, before any DNS query.
CLOUD_METADATA_HOSTNAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})

# IPv6 ranges that carry an IPv4 address inside (NAT64): the embedded address is checked too.
_NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class HostPort(msgspec.Struct, frozen=True):
    """An allowlist entry naming one host (as written in URLs, lower-case) on one port."""

    host: str
    port: int


class Allowlist(msgspec.Struct, frozen=True):
    """The operator's exceptions to the address check, parsed."""

    networks: tuple[IPNetwork, ...] = ()
    host_ports: frozenset[HostPort] = frozenset()

    def allows_host(self, host: str, port: int) -> bool:
        """True when `host:port` is named by a host:port entry."""
        return HostPort(normalize_host(host), port) in self.host_ports

    def allows_address(self, address: IPAddress) -> bool:
        """True when a CIDR entry covers `address` (a metadata address only by an exact entry)."""
        exact_only = address in CLOUD_METADATA_ADDRESSES
        for network in self.networks:
            if address in network and (not exact_only or network.num_addresses == 1):
                return True
        return False


def normalize_host(host: str) -> str:
    """A URL host as compared everywhere: lower-case, without IPv6 brackets or a trailing dot."""
    host = host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def parse_allowlist(entries: Iterable[str]) -> Allowlist:
    """Parse allowlist entries (`10.0.0.0/8`, `10.1.2.3`, `host:8080`, `[::1]:8080`).

    Raises ValueError naming the first malformed entry."""
    networks: list[IPNetwork] = []
    host_ports: set[HostPort] = set()
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        host, sep, port_text = entry.rpartition(":")
        if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"allowlist entry {raw!r} is neither a CIDR nor host:port")
        if ":" in host and not host.startswith("["):
            raise ValueError(f"allowlist entry {raw!r}: write an IPv6 host as [address]:port")
        host_ports.add(HostPort(normalize_host(host), int(port_text)))
    return Allowlist(networks=tuple(networks), host_ports=frozenset(host_ports))


def refusal_reason(address: IPAddress) -> str | None:
    """Why a fetch must not connect to `address`, or None when it is a public unicast address."""
    if address in CLOUD_METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = refusal_reason(embedded)
            return f"an IPv6 address embedding {reason}" if reason else None
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved (non-public) address"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4, Teredo or NAT64 address reaches, if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    for prefix in _NAT64_PREFIXES:
        if address in prefix:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
