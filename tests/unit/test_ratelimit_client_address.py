import pytest

from voxtral_gateway.ratelimit._client_address import ClientAddressResolver
from voxtral_gateway.settings._networks import parse_networks, split_proxy_list

TRUSTING = ClientAddressResolver(parse_networks(["10.0.0.0/8", "127.0.0.1", "::1"]))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # An untrusted peer: whatever it claims is ignored.
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),
        ("203.0.113.9", [], "203.0.113.9"),
        # A trusted proxy: the right-most address that is not a trusted proxy is the client.
        ("127.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        ("127.0.0.1", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),  # the client prepended a lie
        ("127.0.0.1", ["198.51.100.7, 10.1.2.3"], "198.51.100.7"),  # through two trusted proxies
        ("127.0.0.1", ["6.6.6.6", "198.51.100.7"], "198.51.100.7"),  # two header lines
        ("127.0.0.1", ["10.1.2.3"], "10.1.2.3"),  # only proxies: the farthest one
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["not-an-ip, 10.1.2.3"], "10.1.2.3"),  # garbage stops the walk
        ("127.0.0.1", ["[2001:db8::1]:4711"], "2001:db8::1"),
        ("127.0.0.1", ["198.51.100.7:4711"], "198.51.100.7"),
        ("::1", ["2001:db8::5"], "2001:db8::5"),
        ("::ffff:127.0.0.1", ["198.51.100.7"], "198.51.100.7"),  # dual-stack socket
        (None, ["198.51.100.7"], "unknown"),
        ("testclient", ["198.51.100.7"], "testclient"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(peer, forwarded_for, client):
    assert TRUSTING.resolve(peer, forwarded_for) == client


def test_without_trusted_proxies_the_peer_is_the_client():
    assert ClientAddressResolver(()).resolve("127.0.0.1", ["198.51.100.7"]) == "127.0.0.1"


def test_proxy_lists_parse_from_environment_and_toml_and_refuse_garbage():
    assert split_proxy_list(" 10.0.0.0/8, ,127.0.0.1 ") == ["10.0.0.0/8", "127.0.0.1"]
    assert split_proxy_list(["10.0.0.0/8", " ::1"]) == ["10.0.0.0/8", "::1"]
    assert [str(n) for n in parse_networks(["10.1.2.3/8", "::1"])] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300'"):
        parse_networks(["10.0.0.300"])
