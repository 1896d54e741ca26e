"""Prometheus metrics of one API replica (prometheus_client ships with ray[serve]).

Each app gets its own CollectorRegistry so that several apps in one process (tests) never clash.
Gauges that mirror other objects (cache, DB, change feed) are read at scrape time.
"""
from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for the route)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("api_requests", "HTTP requests served",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("api_request_duration_seconds", "HTTP request latency",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.errors = Counter("api_errors", "Error responses by contract code", ["code"], registry=r)
        self.cache_hits = Gauge("api_candle_cache_hits", "Candle cache hits (cumulative)", registry=r)
        self.cache_misses = Gauge("api_candle_cache_misses", "Candle cache misses (cumulative)",
                                  registry=r)
        self.cache_hit_ratio = Gauge("api_candle_cache_hit_ratio", "Candle cache hits / lookups",
                                     registry=r)
        self.cache_entries = Gauge("api_candle_cache_entries", "Cached closed ranges", registry=r)
        self.cache_invalidations = Gauge("api_candle_cache_invalidated_entries",
                                         "Cache entries dropped by invalidation (cumulative)", registry=r)
        self.db_up = Gauge("api_db_up", "1 when the database answered the last probe", registry=r)
        self.change_feed_up = Gauge("api_change_feed_up", "1 when the cache invalidation feed "
                                    "(LISTEN candles_changed) is connected", registry=r)
        self.upstream = Gauge("api_upstream_value", "Numeric fields of the upstream status",
                              ["field"], registry=r)
        self._refreshers: list[Callable[[], None]] = []

    def set_upstream(self, status: dict, max_fields: int = 300) -> None:
        """Export the numeric leaves of the upstream status (registrations, reconnects, decode
        errors, REST calls, ... whatever the socket owner reports) as api_upstream_value{field}."""
        self.upstream.clear()
        for name, value in list(flatten_numbers(status))[:max_fields]:
            self.upstream.labels(name).set(value)

    def on_scrape(self, refresh: Callable[[], None]) -> None:
        self._refreshers.append(refresh)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        for refresh in self._refreshers:
            refresh()
        return generate_latest(self.registry)


def flatten_numbers(data: object, prefix: str = "", depth: int = 0):
    """(dotted.path, number) for numeric leaves of nested dicts; lists and strings are skipped."""
    if depth > 5 or not isinstance(data, dict):
        return
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, bool):
            yield path, 1.0 if value else 0.0
        elif isinstance(value, (int, float)):
            yield path, float(value)
        elif isinstance(value, dict):
            yield from flatten_numbers(value, path, depth + 1)
