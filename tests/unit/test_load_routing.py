"""Routing by the servers' own load: parsing vLLM's /metrics, the score, and the pool's choice."""

from __future__ import annotations

import time

import pytest

from tests.standin_vllm import StandInVLLM
from tests.standin_vllm.load import EngineLoad
from voxtral_gateway.backends.load import (
    LoadWeights,
    MetricsParseError,
    ReplicaLoad,
    parse_metrics,
    routing_score,
)
from voxtral_gateway.backends.pool import VLLMPool
from voxtral_gateway.settings import load_settings

# As vLLM 0.33 renders them (prometheus_client), with a second engine, a longer name sharing a prefix,
# and unrelated series around.
VLLM_METRICS = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="mistralai/Voxtral-Mini-3B-2507"} 3.0
vllm:num_requests_running{engine="1",model_name="mistralai/Voxtral-Mini-3B-2507"} 2.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="mistralai/Voxtral-Mini-3B-2507"} 1.0
vllm:num_requests_waiting{engine="1",model_name="mistralai/Voxtral-Mini-3B-2507"} 0.0
# HELP vllm:num_requests_waiting_by_reason Number of requests waiting, by reason.
# TYPE vllm:num_requests_waiting_by_reason gauge
vllm:num_requests_waiting_by_reason{engine="0",model_name="mistralai/Voxtral-Mini-3B-2507",reason="capacity"} 7.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="mistralai/Voxtral-Mini-3B-2507"} 0.25
vllm:kv_cache_usage_perc{engine="1",model_name="mistralai/Voxtral-Mini-3B-2507"} 0.5
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="mistralai/Voxtral-Mini-3B-2507"} 12345.0
"""

WEIGHTS = LoadWeights(waiting=4.0, kv_cache=1.0)


def test_parse_sums_engines_and_ignores_longer_names():
    load = parse_metrics(VLLM_METRICS, scraped_at=1.0)
    assert (load.running, load.waiting, load.kv_cache_usage) == (5.0, 1.0, 0.5)
    assert load.server_load is None and load.scraped_at == 1.0


def test_parse_refuses_text_without_the_gauges():
    with pytest.raises(MetricsParseError, match="num_requests_running"):
        parse_metrics("# nothing here\nprocess_cpu_seconds_total 1.0\n")
    with pytest.raises(MetricsParseError, match="not a number"):
        parse_metrics('vllm:num_requests_running{engine="0"} many\nvllm:num_requests_waiting 0.0\n')


def test_the_stand_in_renders_what_the_parser_reads():
    engine = EngineLoad(max_num_seqs=4)
    engine.running, engine.waiting = 4, 3
    text = engine.metrics_text("mistralai/Voxtral-Mini-3B-2507")
    assert 'vllm:num_requests_running{engine="0",model_name="mistralai/Voxtral-Mini-3B-2507"} 4.0\n' in text
    assert "# TYPE vllm:num_requests_waiting gauge\n" in text
    load = parse_metrics(text)
    assert (load.running, load.waiting, load.kv_cache_usage) == (4.0, 3.0, 1.0)


def test_score_formula():
    load = ReplicaLoad(running=5, waiting=2, kv_cache_usage=0.5)
    # active 7 + 3 × waiting 2 + kv 0.5 + 1 sent since the scrape
    assert routing_score(load, 1, 3, WEIGHTS) == 7 + 1 + 6 + 0.5
    # /load sees requests the engine does not have yet; it wins when larger
    assert routing_score(
        ReplicaLoad(running=1, waiting=0, kv_cache_usage=0, server_load=4), 0, 0, WEIGHTS
    ) == pytest.approx(4)
    # this worker's own requests are a floor (some may not have reached the engine yet)
    assert routing_score(ReplicaLoad(running=1, waiting=0, kv_cache_usage=0), 1, 4, WEIGHTS) == 4
    # no scrape: the local in-flight count alone
    assert routing_score(None, 5, 3, WEIGHTS) == 3


def test_a_queue_outweighs_a_larger_running_batch():
    queued = ReplicaLoad(running=8, waiting=2, kv_cache_usage=0.9)
    busy_batch = ReplicaLoad(running=14, waiting=0, kv_cache_usage=0.6)
    assert routing_score(busy_batch, 0, 0, WEIGHTS) < routing_score(queued, 0, 0, WEIGHTS)


def pool(routing: str = "load") -> VLLMPool:
    settings = load_settings(
        {"VOXTRAL_BACKENDS": "http://a:1,http://b:2,http://c:3", "BACKEND_ROUTING": routing}
    )
    p = VLLMPool(settings.vllm, settings.timeouts)
    for member in p.members:
        member.state = "healthy"
    return p


def test_the_pool_routes_by_reported_load_not_by_its_own_count():
    p = pool()
    a, b, c = p.members
    now = time.monotonic()
    a.load = ReplicaLoad(running=10, waiting=3, kv_cache_usage=0.9, scraped_at=now)  # others' load
    b.load = ReplicaLoad(running=2, waiting=0, kv_cache_usage=0.1, scraped_at=now)
    c.load = ReplicaLoad(running=1, waiting=0, kv_cache_usage=0.1, scraped_at=now)
    b.in_flight, c.in_flight = 2, 1  # this worker's own requests: part of the reported figures
    assert p._choose([]) is c


def test_requests_sent_since_the_scrape_are_added():
    p = pool()
    a = p.members[0]
    now = time.monotonic()
    for member in p.members:
        member.load = ReplicaLoad(running=1, waiting=0, kv_cache_usage=0.0, scraped_at=now)
    a.load = ReplicaLoad(running=0, waiting=0, kv_cache_usage=0.0, scraped_at=now)
    chosen = []
    for _ in range(4):  # a burst before the next scrape spreads instead of all going to `a`
        member = p._choose([])
        member.sent += 1
        chosen.append(member.url)
    assert chosen.count("http://a:1") == 2
    assert {"http://b:2", "http://c:3"} <= set(chosen)


def test_a_server_without_a_fresh_scrape_is_scored_by_local_counts():
    p = pool()
    a, b, c = p.members
    now = time.monotonic()
    a.load = ReplicaLoad(running=0, waiting=0, kv_cache_usage=0, scraped_at=now - 60)  # stale
    a.in_flight = 5
    b.load = ReplicaLoad(running=3, waiting=0, kv_cache_usage=0, scraped_at=now)
    c.load = None  # its last scrape failed
    c.in_flight = 1
    assert p._choose([]) is c
    c.in_flight = 4
    assert p._choose([]) is b


def test_unhealthy_servers_stay_out_whatever_their_load():
    p = pool()
    a, b, c = p.members
    now = time.monotonic()
    a.load = ReplicaLoad(running=0, waiting=0, kv_cache_usage=0, scraped_at=now)
    b.load = c.load = ReplicaLoad(running=9, waiting=9, kv_cache_usage=1, scraped_at=now)
    a.state = "unhealthy"
    assert p._choose([]) in (b, c)


def test_local_routing_ignores_scrapes():
    p = pool("local")
    a, b, _ = p.members
    a.load = ReplicaLoad(running=50, waiting=50, kv_cache_usage=1, scraped_at=time.monotonic())
    b.in_flight = p.members[2].in_flight = 1
    assert p._choose([]) is a


async def test_scraping_a_stand_in_and_a_failing_server():
    async with StandInVLLM(server_load_tracking=True) as standin:
        standin.load.running, standin.load.waiting = 2, 1
        standin.load.server_load = 5
        settings = load_settings(
            {"VOXTRAL_BACKENDS": f"{standin.base_url},http://127.0.0.1:9", "BACKEND_LOAD_SERVER_LOAD": "true"}
        )
        p = VLLMPool(settings.vllm, settings.timeouts)
        for member in p.members:
            await member.backend.start()
        try:
            up, down = p.members
            down.load = ReplicaLoad(running=0, waiting=0, kv_cache_usage=0, scraped_at=time.monotonic())
            up.sent = 3
            await p.scrape_all()
            assert up.load is not None
            assert (up.load.running, up.load.waiting, up.load.server_load) == (2.0, 1.0, 5)
            assert up.sent_before_scrape == 3
            assert down.load is None  # refused: back to local counts
        finally:
            for member in p.members:
                await member.backend.close()
