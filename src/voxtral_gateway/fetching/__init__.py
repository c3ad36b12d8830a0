"""Guarded fetching of client-given URLs: SSRF checks on every hop, size caps and timeouts."""

from voxtral_gateway.fetching.config import UrlFetchConfig
from voxtral_gateway.fetching.fetcher import FetchedFile, UrlFetcher

__all__ = ["FetchedFile", "UrlFetchConfig", "UrlFetcher"]
