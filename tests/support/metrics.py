"""Read a gateway's /metrics the way Prometheus does."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def scrape(gateway: str | httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample, keyed by (sample name, labels). `gateway` is a server's base URL (a new connection,
    so any worker may answer) or a client of the in-process app."""
    if isinstance(gateway, httpx.Client):
        text = gateway.get("/metrics", timeout=10).text
    else:
        text = httpx.get(f"{gateway}/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """One sample's value (0 when absent, as for a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
