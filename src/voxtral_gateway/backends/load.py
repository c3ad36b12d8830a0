"""What a vLLM server says of its own load, and the routing score the pool derives from it.

vLLM publishes, unauthenticated:

- `GET /metrics` (Prometheus text): the gauges `vllm:num_requests_running`, `vllm:num_requests_waiting`
  and `vllm:kv_cache_usage_perc` (a 0–1 fraction despite its name), one series per engine
  (`{engine="0",model_name="…"}`): summed over engines here;
- `GET /load`: `{"server_load": n}`, the HTTP requests in flight on that API server, counted only when
  vLLM runs with `--enable-server-load-tracking` (else always 0).

Every gateway worker scrapes every server, so the figures show the load that all gateways and workers
put on it together; what this worker sent since the scrape is added on top (`RoutingScore`)."""

from __future__ import annotations

import time

import aiohttp
import msgspec

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_CACHE_USAGE = "vllm:kv_cache_usage_perc"


class ReplicaLoad(msgspec.Struct, kw_only=True, frozen=True):
    """One scrape of one server."""

    running: float
    """Requests in the engine's running batch (all engines summed)."""
    waiting: float
    """Requests queued in the engine's scheduler, not yet running."""
    kv_cache_usage: float
    """0–1; the highest over the server's engines."""
    server_load: int | None = None
    """`/load`'s in-flight HTTP requests (None: not read)."""
    scraped_at: float = 0.0
    """time.monotonic() when the answer arrived."""


class LoadWeights(msgspec.Struct, kw_only=True, frozen=True):
    """How the score weighs what a server reports (see `routing_score`)."""

    waiting: float = 1.0
    kv_cache: float = 1.0


class MetricsParseError(ValueError):
    """The /metrics text lacks a gauge the router needs."""


def _gauge_values(text: str, name: str) -> list[float]:
    """The values of every series of gauge `name` (`name{labels} value` or `name value` lines)."""
    values: list[float] = []
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        rest = line[len(name) :]
        if rest[:1] == "{":
            close = rest.rfind("}")
            if close < 0:
                continue
            rest = rest[close + 1 :]
        elif rest[:1] not in (" ", "\t"):
            continue  # a longer name sharing the prefix, e.g. `…_waiting_by_reason`
        fields = rest.split()
        if fields:
            values.append(float(fields[0]))  # a trailing timestamp, if any, is ignored
    return values


def parse_metrics(text: str, scraped_at: float | None = None) -> ReplicaLoad:
    """The load in vLLM's Prometheus text. Raises `MetricsParseError` when a gauge is missing or a
    value is not a number."""
    try:
        running, waiting, kv = (_gauge_values(text, name) for name in (RUNNING, WAITING, KV_CACHE_USAGE))
    except ValueError as exc:
        raise MetricsParseError(f"a vLLM load gauge has a value that is not a number: {exc}") from None
    missing = [name for name, values in ((RUNNING, running), (WAITING, waiting)) if not values]
    if missing:
        raise MetricsParseError(f"/metrics has no {' or '.join(missing)}")
    return ReplicaLoad(
        running=sum(running),
        waiting=sum(waiting),
        kv_cache_usage=max(kv, default=0.0),
        scraped_at=time.monotonic() if scraped_at is None else scraped_at,
    )


class _ServerLoad(msgspec.Struct):
    server_load: int


async def scrape(
    session: aiohttp.ClientSession, *, read_server_load: bool, timeout_seconds: float
) -> ReplicaLoad:
    """GET /metrics (and /load when `read_server_load`) on the session's server. Raises on any failure
    (connection, status, format): the caller then routes to that server by local counts only."""
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    async with session.get("/metrics", timeout=timeout) as response:
        response.raise_for_status()
        text = await response.text()
    load = parse_metrics(text)
    if not read_server_load:
        return load
    async with session.get("/load", timeout=timeout) as response:
        response.raise_for_status()
        body = msgspec.json.decode(await response.read(), type=_ServerLoad)
    return msgspec.structs.replace(load, server_load=body.server_load, scraped_at=time.monotonic())


def routing_score(
    load: ReplicaLoad | None, sent_since_scrape: int, in_flight: int, weights: LoadWeights
) -> float:
    """Lower is better. With a fresh scrape:

        score = max(active + sent_since_scrape, in_flight) + (w_wait - 1) · waiting + w_kv · kv_cache_usage

    `active` = running + waiting, or `/load`'s count when larger (it also sees requests still being
    received and decoded by the API server, before the engine has them). `sent_since_scrape`: this
    worker's requests sent after the scrape's answer, which its figures cannot show yet; without it every
    worker would send its whole burst to the server that looked idle at the last scrape. `in_flight`
    (this worker's own requests there) is a floor: a request sent just before or during the scrape
    may still be on its way into the engine, counted nowhere else. A waiting request may be weighed more than a running
    one (w_wait, BACKEND_LOAD_WAITING_WEIGHT): a queue means the server is at its batch limit. The
    default is 1, i.e. all requests on the server count alike: with servers of unequal speed a
    heavier weight drove work to the slow server's free places too early (benchmarks/routing.py). KV-cache
    usage (0–1) is worth less than one request: it breaks ties towards the server with room for long
    prompts.

    Without a scrape (disabled, failed or stale) the score is this worker's own in-flight count."""
    if load is None:
        return float(in_flight)
    active = load.running + load.waiting
    if load.server_load is not None:
        active = max(active, float(load.server_load))
    return (
        max(active + sent_since_scrape, float(in_flight))
        + (weights.waiting - 1.0) * load.waiting
        + weights.kv_cache * load.kv_cache_usage
    )
