"""The HTTP API as a FastAPI app factory: `create_app(config, live=...)`.

The same app runs under plain uvicorn (`python -m serve_app --port 8000`) and as a Ray Serve
deployment (`serve_app.deployment`, FastAPI ingress). Routes are thin: parsing lives in
backbone.api_params, caching in backbone.candle_cache, SQL in storage.candle_reader.
"""
from __future__ import annotations

import asyncio
import logging
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path as FsPath
from typing import Callable, Literal

import asyncpg
from fastapi import FastAPI, Path, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from backbone.api_params import DEFAULT_MAX_ROWS, ParamError, parse_candle_query, parse_symbol
from backbone.calendars import InvalidSymbolError, MarketCalendar, calendar_for
from backbone.candle_cache import CandleCache
from backbone.settings import Settings
from jobs import queries as job_queries

from .candles import CandleService
from .db import ChangeFeed, Database
from .errors import ApiError, UpstreamUnavailable, install_error_handlers
from .live import Channel, LiveSource, NoLiveSource, pick
from .logs import configure_logging
from .metrics import CONTENT_TYPE_LATEST, ApiMetrics
from .middleware import RequestContextMiddleware
from .schemas import CandlesOut, HealthOut, LiveOut, errors

log = logging.getLogger("serve_app")
# Documented (and enforced by FastAPI -> 400 with the contract's code); backbone.api_params
# validates again, so the app behaves the same whatever the framework checks.
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,15}$"
Interval = Literal["1m", "5m", "15m", "1h", "1d"]
Fill = Literal["true", "false", "1", "0", "yes", "no", "on", "off"]


@dataclass
class ApiConfig:
    """Everything the app needs; `from_settings` reads it from the environment."""

    dsn: str | None = None  # None: DATABASE_URL, else the embedded cluster (storage.db.resolve_dsn)
    api_key: str | None = None
    max_rows: int = DEFAULT_MAX_ROWS
    cache_ttl_s: float = 300.0
    cache_max_entries: int = 512
    change_feed: bool = True  # LISTEN for invalidations (and install the NOTIFY triggers)
    settle_s: float = 5.0  # a bucket is "closed" (cacheable, fillable) this long after its end
    log_file: str | None = None
    warm_symbols: tuple[str, ...] = field(default_factory=tuple)  # env API_WARM_SYMBOLS=005930,...

    @classmethod
    def from_settings(cls, settings=None, **overrides) -> "ApiConfig":
        settings = settings or Settings.from_env()
        warm = tuple(s.strip().upper() for s in os.environ.get("API_WARM_SYMBOLS", "").split(",") if s.strip())
        values = dict(
            warm_symbols=warm,
            dsn=settings.database_url.get_secret_value() if settings.database_url else None,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            log_file=str(FsPath(settings.data_dir) / "logs" / "api.log"))
        values.update(overrides)
        return cls(**values)

    def __repr__(self) -> str:  # never print the DSN (may carry a password) or the key
        return (f"ApiConfig(dsn={'set' if self.dsn else 'embedded'}, api_key="
                f"{'set' if self.api_key else 'unset'}, max_rows={self.max_rows})")


def _dsn_provider(config: ApiConfig) -> Callable[[], str]:
    """The DSN, resolved once on first use: DATABASE_URL, else the embedded cluster under the
    data dir (adopted when running, as `make run` starts it first). Once resolved it is reused,
    so reconnect loops never start a database themselves."""
    resolved: list[str] = []

    def provide() -> str:
        if config.dsn:
            return config.dsn
        if not resolved:
            from storage.db import resolve_dsn
            resolved.append(resolve_dsn()[0])
        return resolved[0]
    return provide


def _calendar_or_none(symbol: str) -> MarketCalendar | None:
    try:
        return calendar_for(symbol)
    except InvalidSymbolError:
        return None


def create_app(config: ApiConfig | None = None, *, live: LiveSource | None = None,
               clock: Callable[[], datetime] | None = None) -> FastAPI:
    config = config or ApiConfig.from_settings()
    configure_logging(config.log_file)
    clock = clock or (lambda: datetime.now(timezone.utc))
    live = live or NoLiveSource()
    metrics = ApiMetrics()
    cache = CandleCache(config.cache_ttl_s, config.cache_max_entries)
    dsn = _dsn_provider(config)
    db = Database(dsn)
    feed = ChangeFeed(dsn, cache.invalidate, cache.clear) if config.change_feed else None
    service = CandleService(db, cache, cache_enabled=lambda: feed is not None and feed.up, clock=clock,
                            settle_s=config.settle_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if feed is not None:
            feed.start()
        warm = asyncio.create_task(_warm(service, config.warm_symbols, clock,
                                         lambda: feed is not None and feed.up)) \
            if config.warm_symbols else None
        try:
            yield
        finally:
            if warm is not None:
                warm.cancel()
            if feed is not None:
                await feed.stop()
            await db.close()

    app = FastAPI(title="KIS backbone API", version="1", lifespan=lifespan,
                  description="Candles (gap-filled), live ticker/order book, sectors, related assets, "
                              "status. Errors: {\"error\": {\"code\", \"message\", \"request_id\"}}.")
    app.state.db, app.state.cache, app.state.feed, app.state.metrics = db, cache, feed, metrics
    _document_contract_errors_only(app)
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, api_key=config.api_key)

    def refresh_gauges() -> None:
        metrics.cache_hits.set(cache.hits)
        metrics.cache_misses.set(cache.misses)
        metrics.cache_hit_ratio.set(cache.hit_rate)
        metrics.cache_entries.set(len(cache))
        metrics.cache_invalidations.set(cache.invalidations)
        metrics.db_up.set(1 if db.up else 0)
        metrics.change_feed_up.set(1 if feed is not None and feed.up else 0)
    metrics.on_scrape(refresh_gauges)

    async def candles(symbol: str | None, interval: str | None, from_: str | None, to: str | None,
                      fill: str | None) -> Response:
        if feed is not None:
            feed.start()  # idempotent; covers servers that skip the lifespan
        q = parse_candle_query(symbol=symbol, interval=interval, from_=from_, to=to, fill=fill,
                               calendar_for=_calendar_or_none, now=clock(), max_rows=config.max_rows,
                               is_known=None)
        if isinstance(q, ParamError):
            raise ApiError(q.code, q.message)
        return Response(await service.candles(q, calendar_for(q.symbol)), media_type="application/json")

    desc = ("interval 1m|5m|15m|1h|1d (default 1m); from/to ISO 8601 datetimes or dates (from "
            "inclusive; a date `to` includes that day, a datetime `to` is exclusive; default: the "
            "latest session, for 1d the last year); fill=true fills in-session gaps at the previous close.")

    candle_docs = dict(description=desc, response_model=None,
                       responses={200: {"model": CandlesOut}, **errors(400, 401, 404, 500, 503)})

    @app.get("/api/candles/{symbol}", summary="Candles of a symbol", **candle_docs)
    async def candles_by_path(symbol: str = Path(..., max_length=64, pattern=SYMBOL_PATTERN),
                              interval: Interval | None = Query(None),
                              from_: str | None = Query(None, alias="from", max_length=64),
                              to: str | None = Query(None, max_length=64),
                              fill: Fill | None = Query(None)) -> Response:
        return await candles(symbol, interval, from_, to, fill)

    @app.get("/api/candles", summary="Candles of a symbol (symbol as a query parameter)", **candle_docs)
    async def candles_by_query(symbol: str | None = Query(None, max_length=64, pattern=SYMBOL_PATTERN),
                               interval: Interval | None = Query(None),
                               from_: str | None = Query(None, alias="from", max_length=64),
                               to: str | None = Query(None, max_length=64),
                               fill: Fill | None = Query(None)) -> Response:
        return await candles(symbol, interval, from_, to, fill)

    def valid_symbol(raw: str) -> str:
        sym = parse_symbol(raw)
        if isinstance(sym, ParamError):
            raise ApiError(sym.code, sym.message)
        return sym

    live_docs = dict(response_model=None, responses={200: {"model": LiveOut}, **errors(400, 401, 404, 500, 503)})

    @app.get("/api/ticker/{symbol}", summary="Latest trade (live) or current price (REST)", **live_docs)
    async def ticker(symbol: str = Path(..., max_length=64, pattern=SYMBOL_PATTERN),
                     channel: Channel = Query("auto")) -> JSONResponse:
        return JSONResponse(jsonable_encoder(await pick("ticker", live, valid_symbol(symbol), channel)))

    @app.get("/api/orderbook/{symbol}", summary="Order book (live) or REST order book", **live_docs)
    async def orderbook(symbol: str = Path(..., max_length=64, pattern=SYMBOL_PATTERN),
                        channel: Channel = Query("auto")) -> JSONResponse:
        return JSONResponse(jsonable_encoder(await pick("orderbook", live, valid_symbol(symbol), channel)))

    jobs_docs = dict(response_model=None, responses=errors(400, 401, 404, 500, 503))

    @app.get("/api/market/sectors", summary="Latest sector aggregation (written by jobs.sectors)",
             **jobs_docs)
    async def sectors() -> JSONResponse:
        data = await _jobs_read(db, job_queries.latest_sectors)
        if data is None:
            raise ApiError("NO_DATA_FOUND", "no sector aggregation yet (jobs.sectors has not run)")
        return JSONResponse(jsonable_encoder(data))

    @app.get("/api/related/{symbol}", summary="Related assets (written by jobs.correlation / news)",
             **jobs_docs)
    async def related(symbol: str = Path(..., max_length=64, pattern=SYMBOL_PATTERN),
                      reason: Literal["correlation", "news"] | None = Query(None),
                      limit: int = Query(10, ge=1, le=100)) -> JSONResponse:
        sym = valid_symbol(symbol)
        if reason not in (None, "correlation", "news"):
            raise ApiError("INVALID_RANGE", "reason must be correlation or news")
        data = await _jobs_read(db, lambda c: job_queries.related_for(c, sym, reason, limit))
        if data is None:
            raise ApiError("NO_DATA_FOUND", f"no related assets for {sym} yet (jobs.correlation)")
        return JSONResponse(jsonable_encoder(data))

    @app.get("/api/status", summary="Upstream state, registration budget, feed health; API state",
             response_model=None, responses=errors(401, 500))
    async def status() -> JSONResponse:
        try:
            upstream = await live.upstream_status()
        except UpstreamUnavailable as exc:
            upstream = {"state": "unavailable", "detail": str(exc)}
        await db.probe()
        return JSONResponse(jsonable_encoder({
            "upstream": upstream,
            "api": {"db_up": db.up, "change_feed_up": bool(feed and feed.up),
                    "cache": cache.stats(), "time": clock().isoformat()}}))

    @app.get("/healthz", summary="Liveness (no API key needed)", response_model=None,
             responses={200: {"model": HealthOut}})
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "db_up": db.up})

    @app.get("/metrics", summary="Prometheus text", response_model=None,
             responses={200: {"content": {"text/plain": {}}}, **errors(401, 500)})
    async def metrics_route() -> Response:
        await db.probe()
        try:
            upstream = await live.upstream_status()
            metrics.set_upstream({"socket": upstream.get("socket", upstream),
                                  "feeds": {"count": len(upstream.get("feeds", {}))}})
        except UpstreamUnavailable:
            metrics.set_upstream({})
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    from .stream import install_stream  # WebSocket /ws gateway + /streams page (live-streams issue)
    install_stream(app, api_key=config.api_key, sectors=lambda: _jobs_read(db, job_queries.latest_sectors))
    from .dashboard import install_dashboard  # GET / (dashboard page) + /static files
    install_dashboard(app)
    return app


def _document_contract_errors_only(app: FastAPI) -> None:
    """FastAPI documents a 422 for every route with parameters; this app answers 400 with the
    contract's codes instead, so the 422 entries are removed from the OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema
    app.openapi = openapi


async def _jobs_read(db: Database, query: Callable):
    """A jobs-owned read (jobs.queries); tables the jobs have not created yet mean no data yet."""
    async def read(conn: asyncpg.Connection):
        try:
            return await query(conn)
        except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError):
            return None
    return await db.run(read)


async def _warm(service: CandleService, symbols: tuple[str, ...], clock,
                cache_ready: Callable[[], bool], wait_s: float = 15.0) -> None:
    """Fill the cache for the watchlist's default views (best effort, in the background),
    once the change feed is up (the cache is bypassed until then)."""
    for _ in range(int(wait_s / 0.1)):
        if cache_ready():
            break
        await asyncio.sleep(0.1)
    for raw in symbols:
        for interval in ("1d", "1m"):
            q = parse_candle_query(symbol=raw, interval=interval, from_=None, to=None, fill=None,
                                   calendar_for=_calendar_or_none, now=clock())
            if isinstance(q, ParamError):
                continue
            try:
                await service.candles(q, calendar_for(q.symbol))
            except Exception as exc:  # noqa: BLE001 - warming must never take the app down
                log.info("cache warm-up of %s %s skipped: %s", q.symbol, interval, type(exc).__name__)


__all__ = ["ApiConfig", "create_app"]
