"""Every knob of the socket owner in one picklable dataclass (tests shrink the timings)."""
from __future__ import annotations

from dataclasses import dataclass, field

from backbone.backoff import BackoffConfig
from backbone.settings import Settings
from backbone.subscriptions import Config as BookConfig
from backbone.token_policy import TokenPolicy


@dataclass(frozen=True)
class SocketOptions:
    # connection
    app_ping_s: float = 30.0  # application PINGPONG we send (seed backend spec 3.2)
    idle_limit_s: float = 600.0  # no frame at all for this long -> close and reconnect
    stale_after_s: float = 130.0  # status shows "stale" when connected but silent this long
    open_timeout_s: float = 10.0
    send_interval_s: float = 0.05  # pacing between subscribe/unsubscribe messages (KIS samples: 50 ms)
    stable_after_s: float = 30.0  # a connection up this long resets the backoff
    backoff: BackoffConfig = field(default_factory=BackoffConfig)
    approval_min_interval_s: float = 5.0  # never fetch approval keys faster than this
    custtype: str = "P"
    # subscriptions
    book: BookConfig = field(default_factory=BookConfig)
    # token and REST
    token: TokenPolicy = field(default_factory=TokenPolicy)
    rest_rate_per_s: float = 20.0
    rest_timeout_s: float = 10.0
    rest_rate_retries: int = 5  # EGW00201 retries per call
    rest_retry_base_s: float = 0.2
    # REST polling of symbols that did not get a registration
    poll_interval_s: float = 5.0
    poll_rate_share: float = 0.5  # at most this share of the REST rate goes to polling
    # micro-batching to routers
    flush_ms: float = 5.0
    flush_events: int = 256
    max_in_flight_per_router: int = 2
    # All routers together; when many symbols are busy the flush interval stretches to stay under it.
    # Each remote call costs the owner ~0.5 ms of CPU: bench/ingest.py sustains ~1.3k frames/s at
    # 1000 calls/s and ~2-2.8k at 250-400 (2 shared cores), for +tens of ms of batching delay.
    max_router_calls_per_s: float = 300.0
    max_buffered_per_symbol: int = 50_000  # beyond this the oldest events are dropped (and counted)
    # persistence: None -> the wanted set and the token live in memory only. May hold a password:
    # kept out of repr.
    database_dsn: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> "SocketOptions":
        base = dict(
            database_dsn=settings.database_url.get_secret_value() if settings.database_url else None,
            app_ping_s=settings.ws_app_ping_s,
            idle_limit_s=settings.ws_idle_limit_s,
            rest_rate_per_s=settings.rest_rate,
            book=BookConfig(budget=settings.registration_budget),
        )
        base.update(overrides)
        return cls(**base)
