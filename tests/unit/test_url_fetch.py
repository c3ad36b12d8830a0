"""The guarded URL fetcher against real aiohttp servers on 127.0.0.1, with the guard's allowlist set to
the test server alone (`127.0.0.1:<port>`)."""

from __future__ import annotations

import asyncio
import io
import ipaddress
import math
import socket
import struct
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass

import msgspec
import pytest
from aiohttp import web
from aiohttp.abc import ResolveResult

from voxtral_gateway.audio.sniff import sniff_container
from voxtral_gateway.errors import PayloadTooLarge, UrlFetchFailed, UrlFetchTimeout, UrlRefused
from voxtral_gateway.fetching import UrlFetchConfig, UrlFetcher
from voxtral_gateway.fetching.address_policy import parse_allowlist
from voxtral_gateway.fetching.resolver import AddressRefused, GuardedResolver

FIELD = "file_url"
CAP = 64 * 1024


def _tone_wav(seconds: float = 0.25, rate: int = 16000) -> bytes:
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return out.getvalue()


WAV = _tone_wav()


@dataclass
class Server:
    port: int
    body_bytes_sent: dict[str, int]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


async def _start(app: web.Application, host: str = "127.0.0.1") -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


def _audio_app(other_port: int | None, sent: dict[str, int]) -> web.Application:
    async def audio(_: web.Request) -> web.Response:
        # A misleading content type: the caller sniffs the bytes, the header is only a hint.
        return web.Response(body=WAV, content_type="text/plain")

    async def redirect_local(_: web.Request) -> web.Response:
        raise web.HTTPFound("/audio.wav")

    async def redirect_other_port(_: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{other_port}/audio.wav")

    async def redirect_metadata(_: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("http://169.254.169.254/latest/meta-data/")

    async def redirect_file(_: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("file:///etc/passwd")

    async def redirect_loop(request: web.Request) -> web.Response:
        hops = int(request.query.get("n", "0"))
        raise web.HTTPFound(f"/loop?n={hops + 1}")

    async def missing(_: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def broken(_: web.Request) -> web.Response:
        raise web.HTTPServiceUnavailable()

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(200):  # one byte every 0.2 s: never idle long enough for the read timeout
            await response.write(b"\0")
            sent["trickle"] = sent.get("trickle", 0) + 1
            await asyncio.sleep(0.2)
        return response

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"RIFF")
        await asyncio.sleep(30)
        return response

    async def big_declared(request: web.Request) -> web.StreamResponse:
        # Declares far more than the cap, then sends nothing: reading would hang until a timeout.
        response = web.StreamResponse()
        response.content_length = 1 << 30
        await response.prepare(request)
        await asyncio.sleep(30)
        return response

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent["big_chunked"] = 0
        for _ in range(1000):  # 16 MiB if nobody stops reading
            await response.write(b"\1" * 16384)
            sent["big_chunked"] += 16384
            await asyncio.sleep(0)
        return response

    async def truncated(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b"RIFF" * 4)
        assert request.transport is not None
        request.transport.close()
        return response

    async def hook(request: web.Request) -> web.Response:
        sent["hook_body"] = len(await request.read())
        sent["hook_signature"] = int(request.headers.get("webhook-signature") == "v1,abc")
        return web.Response(status=204)

    async def exact_cap(_: web.Request) -> web.Response:
        return web.Response(body=b"\2" * CAP, content_type="audio/wav")

    app = web.Application()
    app.router.add_get("/audio.wav", audio)
    app.router.add_get("/redirect-local", redirect_local)
    app.router.add_get("/redirect-other-port", redirect_other_port)
    app.router.add_get("/redirect-metadata", redirect_metadata)
    app.router.add_get("/redirect-file", redirect_file)
    app.router.add_get("/loop", redirect_loop)
    app.router.add_get("/missing", missing)
    app.router.add_get("/broken", broken)
    app.router.add_get("/trickle", trickle)
    app.router.add_get("/stall", stall)
    app.router.add_get("/big-declared", big_declared)
    app.router.add_get("/big-chunked", big_chunked)
    app.router.add_get("/exact-cap", exact_cap)
    app.router.add_get("/truncated", truncated)
    app.router.add_post("/hook", hook)
    app.router.add_post("/hook-redirect", redirect_other_port)
    return app


@pytest.fixture
async def other_server() -> AsyncIterator[Server]:
    """A second local server, on a port the allowlist does not name."""
    runner, port = await _start(_audio_app(None, {}))
    yield Server(port, {})
    await runner.cleanup()


@pytest.fixture
async def server(other_server: Server) -> AsyncIterator[Server]:
    sent: dict[str, int] = {}
    runner, port = await _start(_audio_app(other_server.port, sent))
    yield Server(port, sent)
    await runner.cleanup()


def _config(*allowlist: str, **overrides: float) -> UrlFetchConfig:
    return UrlFetchConfig(
        max_bytes=CAP,
        allowlist=allowlist,
        connect_timeout_seconds=overrides.get("connect", 2.0),
        read_timeout_seconds=overrides.get("read", 0.5),
        total_timeout_seconds=overrides.get("total", 1.5),
        max_redirects=int(overrides.get("redirects", 3)),
    )


@pytest.fixture
async def fetcher(server: Server) -> AsyncIterator[UrlFetcher]:
    """The guard with its allowlist set to the test server alone."""
    guard = UrlFetcher(_config(f"127.0.0.1:{server.port}"))
    yield guard
    await guard.close()


@pytest.fixture
async def unlisted() -> AsyncIterator[UrlFetcher]:
    """The guard with an empty allowlist (a public deployment's default)."""
    guard = UrlFetcher(_config())
    yield guard
    await guard.close()


# --- what is allowed ------------------------------------------------------------------------------


async def test_fetches_audio_and_returns_content_type_as_a_hint(fetcher: UrlFetcher, server: Server) -> None:
    fetched = await fetcher.fetch(server.url("/audio.wav"), field=FIELD)
    assert fetched.data == WAV
    assert fetched.content_type is not None and fetched.content_type.startswith("text/plain")
    assert sniff_container(fetched.data) == "wav"  # the caller's decoder trusts the bytes, not the hint
    assert fetched.redirects == 0


async def test_follows_a_redirect_within_the_allowlist(fetcher: UrlFetcher, server: Server) -> None:
    fetched = await fetcher.fetch(server.url("/redirect-local"), field=FIELD)
    assert fetched.data == WAV
    assert fetched.redirects == 1
    assert fetched.url == server.url("/audio.wav")


async def test_a_body_of_exactly_the_cap_is_accepted(fetcher: UrlFetcher, server: Server) -> None:
    fetched = await fetcher.fetch(server.url("/exact-cap"), field=FIELD)
    assert len(fetched.data) == CAP


async def test_a_host_port_entry_allows_a_name_that_resolves_to_loopback(server: Server) -> None:
    guard = UrlFetcher(_config(f"localhost:{server.port}"))
    try:
        fetched = await guard.fetch(server.url("/audio.wav", host="localhost"), field=FIELD)
    finally:
        await guard.close()
    assert fetched.data == WAV


async def test_a_cidr_entry_allows_the_addresses_it_covers(server: Server, other_server: Server) -> None:
    guard = UrlFetcher(_config("127.0.0.0/8"))
    try:
        fetched = await guard.fetch(server.url("/redirect-other-port"), field=FIELD)
    finally:
        await guard.close()
    assert fetched.data == WAV and fetched.url == other_server.url("/audio.wav")


# --- what is refused ------------------------------------------------------------------------------


async def test_loopback_is_refused_when_not_allowlisted(unlisted: UrlFetcher, server: Server) -> None:
    with pytest.raises(UrlRefused, match="loopback") as caught:
        await unlisted.fetch(server.url("/audio.wav"), field=FIELD)
    assert caught.value.field == FIELD and caught.value.status_code == 400


async def test_a_redirect_to_an_unlisted_local_port_is_refused(fetcher: UrlFetcher, server: Server) -> None:
    with pytest.raises(UrlRefused, match="loopback") as caught:
        await fetcher.fetch(server.url("/redirect-other-port"), field=FIELD)
    assert caught.value.field == FIELD


async def test_a_redirect_to_cloud_metadata_is_refused(fetcher: UrlFetcher, server: Server) -> None:
    with pytest.raises(UrlRefused, match="metadata"):
        await fetcher.fetch(server.url("/redirect-metadata"), field=FIELD)


async def test_a_redirect_to_a_file_url_is_refused(fetcher: UrlFetcher, server: Server) -> None:
    with pytest.raises(UrlRefused, match="only http and https"):
        await fetcher.fetch(server.url("/redirect-file"), field=FIELD)


async def test_too_many_redirects_are_refused(fetcher: UrlFetcher, server: Server) -> None:
    with pytest.raises(UrlRefused, match="more than 3 redirects"):
        await fetcher.fetch(server.url("/loop"), field=FIELD)


async def test_a_name_resolving_to_loopback_is_refused(unlisted: UrlFetcher, server: Server) -> None:
    with pytest.raises(UrlRefused, match=r"localhost resolves to .*loopback"):
        await unlisted.fetch(server.url("/audio.wav", host="localhost"), field=FIELD)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.wav", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1:70/_x", "only http and https"),
        ("data:audio/wav;base64,UklGRg==", "only http and https"),
        ("/relative/path.wav", "only http and https"),
        ("http:///no-host", "no host"),
        ("http://10.1.2.3/a.wav", "private"),
        ("http://192.168.0.1/a.wav", "private"),
        ("http://172.16.5.4:8080/a.wav", "private"),
        ("http://100.64.0.1/a.wav", "reserved"),
        ("http://0.0.0.0/a.wav", "unspecified"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://169.254.1.1/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://[::1]:8080/a.wav", "loopback"),
        ("http://[::]/a.wav", "unspecified"),
        ("http://[fe80::1]/a.wav", "link-local"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("http://[fc00::5]/a.wav", "private"),
        ("http://[ff02::1]/a.wav", "multicast"),
        ("http://[::ffff:127.0.0.1]/a.wav", "embedding a loopback"),
        ("http://[::ffff:10.0.0.1]/a.wav", "embedding a private"),
        ("http://[64:ff9b::a9fe:a9fe]/a.wav", "embedding a cloud metadata"),
        ("http://[2002:7f00:1::]/a.wav", "embedding a loopback"),
        ("https://127.0.0.1/a.wav", "loopback"),
    ],
)
async def test_refused_before_connecting(unlisted: UrlFetcher, url: str, reason: str) -> None:
    with pytest.raises(UrlRefused, match=reason) as caught:
        await unlisted.fetch(url, field="audio_url")
    assert caught.value.field == "audio_url"


async def test_a_cidr_entry_does_not_open_the_metadata_address() -> None:
    guard = UrlFetcher(_config("169.254.0.0/16"))
    try:
        with pytest.raises(UrlRefused, match="metadata"):
            await guard.fetch("http://169.254.169.254/", field=FIELD)
    finally:
        await guard.close()


async def test_an_ipv6_loopback_literal_is_fetched_only_when_allowlisted() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        runner, port = await _start(_audio_app(None, {}), host="::1")
    except OSError as exc:
        pytest.skip(f"cannot listen on ::1: {exc}")
    url = f"http://[::1]:{port}/audio.wav"
    allowed, refused = UrlFetcher(_config(f"[::1]:{port}")), UrlFetcher(_config(f"[::1]:{port + 1}"))
    try:
        assert (await allowed.fetch(url, field=FIELD)).data == WAV
        with pytest.raises(UrlRefused, match="loopback"):
            await refused.fetch(url, field=FIELD)
    finally:
        await allowed.close()
        await refused.close()
        await runner.cleanup()


# --- what fails -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/broken", 503)])
async def test_an_error_answer_fails_with_its_status(
    fetcher: UrlFetcher, server: Server, path: str, status: int
) -> None:
    with pytest.raises(UrlFetchFailed, match=f"HTTP {status}") as caught:
        await fetcher.fetch(server.url(path), field=FIELD)
    assert caught.value.status_code == 422
    assert caught.value.details["upstream_status"] == status


async def test_a_closed_port_fails_to_connect(server: Server) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    guard = UrlFetcher(_config(f"127.0.0.1:{closed_port}"))
    try:
        with pytest.raises(UrlFetchFailed, match="could not connect"):
            await guard.fetch(f"http://127.0.0.1:{closed_port}/", field=FIELD)
    finally:
        await guard.close()


async def test_a_trickling_server_hits_the_total_timeout(fetcher: UrlFetcher, server: Server) -> None:
    with pytest.raises(UrlFetchTimeout, match=r"1\.5 s .*URL_FETCH_TIMEOUT_SECONDS") as caught:
        await fetcher.fetch(server.url("/trickle"), field=FIELD)
    assert caught.value.field == FIELD and caught.value.details["timeout"] == "total"


async def test_a_stalled_server_hits_the_read_timeout(fetcher: UrlFetcher, server: Server) -> None:
    with pytest.raises(UrlFetchTimeout, match="URL_FETCH_READ_TIMEOUT_SECONDS") as caught:
        await fetcher.fetch(server.url("/stall"), field=FIELD)
    assert caught.value.details["timeout"] == "read"  # the idle limit (0.5 s), not the total (1.5 s)


async def test_a_declared_oversized_body_is_refused_before_reading(
    fetcher: UrlFetcher, server: Server
) -> None:
    # The server sends no body at all: waiting for one would end in the read timeout instead.
    with pytest.raises(PayloadTooLarge, match="MAX_FILE_SIZE_MB") as caught:
        await fetcher.fetch(server.url("/big-declared"), field=FIELD)
    assert caught.value.field == FIELD and caught.value.status_code == 413
    assert caught.value.details["limit_bytes"] == CAP


async def test_an_undeclared_oversized_body_is_cut_off_while_streaming(
    fetcher: UrlFetcher, server: Server
) -> None:
    with pytest.raises(PayloadTooLarge, match="more than 65536 bytes"):
        await fetcher.fetch(server.url("/big-chunked"), field=FIELD)
    await asyncio.sleep(0.2)
    # The connection was dropped: the server could not push its whole 16 MiB.
    assert server.body_bytes_sent["big_chunked"] < 4 * 1024 * 1024


async def test_a_body_cut_short_fails(fetcher: UrlFetcher, server: Server) -> None:
    with pytest.raises(UrlFetchFailed, match="closed the connection"):
        await fetcher.fetch(server.url("/truncated"), field=FIELD)


# --- webhooks ---------------------------------------------------------------------------------------


async def test_post_delivers_and_returns_the_status(fetcher: UrlFetcher, server: Server) -> None:
    status = await fetcher.post(
        server.url("/hook"), body=b"{}" * 10, headers={"webhook-signature": "v1,abc"}, field="webhook_url"
    )
    assert status == 204
    assert server.body_bytes_sent["hook_body"] == 20 and server.body_bytes_sent["hook_signature"] == 1


async def test_post_does_not_follow_redirects(fetcher: UrlFetcher, server: Server) -> None:
    assert (
        await fetcher.post(server.url("/hook-redirect"), body=b"{}", headers={}, field="webhook_url") == 302
    )


async def test_post_to_a_refused_address_is_refused(unlisted: UrlFetcher, server: Server) -> None:
    with pytest.raises(UrlRefused, match="loopback") as caught:
        await unlisted.post(
            server.url("/hook", host="localhost"), body=b"{}", headers={}, field="webhook_url"
        )
    assert caught.value.field == "webhook_url"
    assert "hook_body" not in server.body_bytes_sent


# --- the resolver's check and the allowlist's parsing ----------------------------------------------


class _FixedAnswers:
    """DNS answers as a rebinding or split-horizon server would give them."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("answers", "allowlist", "refused"),
    [
        (("93.184.215.14",), (), False),
        (("93.184.215.14", "10.0.0.7"), (), True),  # one private answer taints the name
        (("169.254.169.254",), (), True),
        (("10.0.0.7",), ("10.0.0.0/8",), False),
        (("10.0.0.7",), ("audio.example:443",), False),
        (("10.0.0.7",), ("audio.example:80",), True),
        (("169.254.169.254",), ("169.254.0.0/16",), True),
        (("169.254.169.254",), ("169.254.169.254/32",), False),
    ],
)
async def test_the_resolver_checks_every_answer(
    answers: tuple[str, ...], allowlist: tuple[str, ...], refused: bool
) -> None:
    resolver = GuardedResolver(parse_allowlist(allowlist))
    await resolver.close()
    resolver._inner = _FixedAnswers(*answers)  # type: ignore[assignment]
    if refused:
        with pytest.raises(AddressRefused):
            await resolver.resolve("audio.example", 443)
    else:
        assert [r["host"] for r in await resolver.resolve("audio.example", 443)] == list(answers)


@pytest.mark.parametrize(
    "entry",
    ["bad entry", "host:", "host:0", "host:70000", "::1]:8080", "fe80::1:9999:x", ":8080", "10.0.0.0/33"],
)
def test_a_malformed_allowlist_entry_is_refused_with_the_settings(entry: str) -> None:
    with pytest.raises(msgspec.ValidationError, match="allowlist entry"):
        msgspec.convert({"max_bytes": CAP, "allowlist": [entry]}, UrlFetchConfig)


def test_allowlist_entries_are_parsed() -> None:
    allowlist = parse_allowlist([" 10.0.0.0/8 ", "192.0.2.7", "Audio.Example.:8080", "[::1]:9000", ""])
    assert allowlist.allows_address(ipaddress.ip_address("10.9.9.9"))
    assert allowlist.allows_address(ipaddress.ip_address("192.0.2.7"))
    assert not allowlist.allows_address(ipaddress.ip_address("192.0.2.8"))
    assert allowlist.allows_host("audio.example", 8080) and not allowlist.allows_host("audio.example", 80)
    assert allowlist.allows_host("[::1]", 9000) and allowlist.allows_host("0:0::1", 9000)
