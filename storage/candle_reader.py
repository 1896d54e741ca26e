"""Read queries for the candle API, and the change feed that keeps the API's cache honest.

Reads: `fetch_candles` (rows of one interval in [start, end)) and `fetch_prev_close` (the last
1m close before `start`, which seeds gap filling). Both take an asyncpg connection; numeric
prices become int when integral (KRX won), else stay Decimal (overseas).

Change feed (cross-process cache invalidation): a statement-level trigger on `market_candles`
sends one `NOTIFY candles_changed` per statement and symbol with the touched time range, on
commit. Every API replica LISTENs and drops the cache entries the change could affect. The
trigger is installed idempotently by `install_change_feed` (the API calls it at start-up); on
TimescaleDB hypertables (no transition tables there) `storage.candle_rows.upsert_candles` (the
candle writer's and the repairer's write path) calls `notify_changed` itself, which sends the same
message. Payload: `{"symbol": .., "start": iso, "end": iso}` (inclusive).
On the plain-PostgreSQL aggregate emulation, a refresh that re-materializes a range also
announces it, for all symbols (`"symbol": "*"`): aggregates change then, not at the raw write.
On native TimescaleDB, a late row below the watermark shows in the aggregates only after the
policy refresh, which is not announced: the cache TTL bounds that staleness.
"""
from __future__ import annotations

import json
from datetime import datetime, tzinfo
from decimal import Decimal

import asyncpg

from backbone.models import Candle

CHANNEL = "candles_changed"
RELATIONS = {
    "1m": "market_candles",
    "5m": "market_candles_5m",
    "15m": "market_candles_15m",
    "1h": "market_candles_1h",
    "1d": "market_candles_1d",
}

_SELECT = ("SELECT time, open, high, low, close, volume FROM {rel} "
           "WHERE symbol = $1{extra} AND time >= $2 AND time < $3 ORDER BY time")
KRX_DAY_ZONE = "Asia/Seoul"  # the zone market_candles_1d buckets by
# first/last/time_bucket(tz): native on TimescaleDB, emulated by sql/001 on plain PostgreSQL.
_LOCAL_DAY_SELECT = (
    "SELECT time_bucket('1 day', time, $4) AS time, first(open, time) AS open, max(high) AS high, "
    "min(low) AS low, last(close, time) AS close, sum(volume)::bigint AS volume "
    "FROM market_candles WHERE symbol = $1 AND interval = '1m' AND time >= $2 AND time < $3 "
    "GROUP BY 1 ORDER BY 1")


async def fetch_candles(conn: asyncpg.Connection, symbol: str, interval: str,
                        start: datetime, end: datetime, tz: tzinfo | None = None) -> list[Candle]:
    """Stored candles of `interval` with bucket start in [start, end), oldest first; times in
    `tz` when given (the market's zone: saves the API a conversion per row later).

    Daily candles of a market outside Korea (tz other than Asia/Seoul) are aggregated here from
    1m rows by that market's local day: market_candles_1d is bucketed by KST day, which would
    split a New York session across two candles."""
    tz_name = getattr(tz, "key", None)
    if interval == "1d" and tz_name not in (None, KRX_DAY_ZONE):
        rows = await conn.fetch(_LOCAL_DAY_SELECT, symbol, start, end, tz_name)
    else:
        rel = RELATIONS[interval]  # KeyError = programming error: intervals are validated upstream
        extra = " AND interval = '1m'" if interval == "1m" else ""
        rows = await conn.fetch(_SELECT.format(rel=rel, extra=extra), symbol, start, end)
    # value/trades are not read: the API does not serve them (Candle defaults them to 0).
    return [Candle(symbol, interval, t if tz is None else t.astimezone(tz), _price(o), _price(h),
                   _price(lo), _price(c), v or 0)
            for t, o, h, lo, c, v in rows]


def _price(v: Decimal | int) -> Decimal | int:
    """numeric -> int when integral (KRX won prices, the Candle model's type), else Decimal.
    Connections set up with `use_fast_numeric` already deliver ints."""
    if v.__class__ is Decimal and v.is_finite() and v == v.to_integral_value():
        return int(v)
    return v


def _decode_numeric(text: str) -> int | Decimal:
    digits = text[1:] if text[:1] == "-" else text
    if digits.isdigit():
        return int(text)
    return _price(Decimal(text))  # fractions (trailing zeros too), NaN, Infinity


async def use_fast_numeric(conn: asyncpg.Connection) -> None:
    """Decode numeric as int when integral (else Decimal) in one step: for KRX prices this is
    several times cheaper than Decimal + conversion. Use as a pool `init`."""
    await conn.set_type_codec("numeric", schema="pg_catalog", encoder=str, decoder=_decode_numeric,
                              format="text")


async def fetch_prev_close(conn: asyncpg.Connection, symbol: str,
                           before: datetime) -> tuple[object, datetime] | None:
    """(close, time) of the last 1m candle strictly before `before`, or None.

    The last 1m close before an aligned bucket start equals the close of the last bucket of any
    interval before it, so one indexed lookup on the 1m table seeds every interval.
    """
    row = await conn.fetchrow(
        "SELECT close, time FROM market_candles WHERE symbol = $1 AND interval = '1m' "
        "AND time < $2 ORDER BY time DESC LIMIT 1", symbol, before)
    return None if row is None else (_price(row["close"]), row["time"])


async def ping(conn: asyncpg.Connection) -> None:
    await conn.fetchval("SELECT 1")


# ---- change feed ------------------------------------------------------------------------------
_FEED_FUNCTION = f"""
CREATE OR REPLACE FUNCTION candles_changed_notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE r record;
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    FOR r IN SELECT symbol, min(time) AS lo, max(time) AS hi FROM new_rows GROUP BY symbol LOOP
      PERFORM pg_notify('{CHANNEL}', json_build_object('symbol', r.symbol, 'start', r.lo,
                                                       'end', r.hi)::text);
    END LOOP;
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    FOR r IN SELECT symbol, min(time) AS lo, max(time) AS hi FROM old_rows GROUP BY symbol LOOP
      PERFORM pg_notify('{CHANNEL}', json_build_object('symbol', r.symbol, 'start', r.lo,
                                                       'end', r.hi)::text);
    END LOOP;
  END IF;
  RETURN NULL;
END $fn$;
"""
# One trigger per event: PostgreSQL forbids transition tables on multi-event triggers.
_FEED_TRIGGERS = (
    "CREATE OR REPLACE TRIGGER candles_changed_ins AFTER INSERT ON market_candles "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION candles_changed_notify()",
    "CREATE OR REPLACE TRIGGER candles_changed_upd AFTER UPDATE ON market_candles "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION candles_changed_notify()",
    "CREATE OR REPLACE TRIGGER candles_changed_del AFTER DELETE ON market_candles "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION candles_changed_notify()",
)
_FEED_LOCK = 0x6B15_0601  # serializes concurrent installers (several replicas starting at once)
ALL_SYMBOLS = "*"
# Plain-PostgreSQL aggregate emulation (sql/001_timescale.postgres.sql): a refresh that
# re-materializes a range logs it here. Aggregates can change then (a late row below the
# watermark becomes visible only at refresh), for every symbol in the range.
_MATERIALIZATION_FEED = (f"""
CREATE OR REPLACE FUNCTION candles_materialized_notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('{CHANNEL}', json_build_object('symbol', '{ALL_SYMBOLS}', 'start', lower(NEW.range),
                                                   'end', upper(NEW.range))::text);
  RETURN NULL;
END $fn$;
""", "CREATE OR REPLACE TRIGGER candles_materialized AFTER INSERT ON _cagg_materialization_log "
     "FOR EACH ROW EXECUTE FUNCTION candles_materialized_notify()")


async def install_change_feed(conn: asyncpg.Connection) -> bool:
    """Install the NOTIFY triggers on market_candles. False when the table refuses them (a
    TimescaleDB hypertable) or the role may not create them: writers must then call
    `notify_changed` themselves (the cache TTL bounds staleness meanwhile)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _FEED_LOCK)
        try:
            async with conn.transaction():  # savepoint: a refusal must not abort the outer one
                await conn.execute(_FEED_FUNCTION)
                for ddl in _FEED_TRIGGERS:
                    await conn.execute(ddl)
            if await conn.fetchval("SELECT to_regclass('_cagg_materialization_log') IS NOT NULL"):
                for ddl in _MATERIALIZATION_FEED:
                    await conn.execute(ddl)
        except (asyncpg.FeatureNotSupportedError, asyncpg.ObjectNotInPrerequisiteStateError,
                asyncpg.InsufficientPrivilegeError):
            return False
    return True


async def notify_changed(conn: asyncpg.Connection, symbol: str, start: datetime,
                         end: datetime) -> None:
    """Announce that 1m rows of `symbol` in [start, end] changed (sent when the transaction commits)."""
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL,
                       json.dumps({"symbol": symbol, "start": start.isoformat(), "end": end.isoformat()}))


def parse_change(payload: str) -> tuple[str, datetime, datetime] | None:
    """(symbol, start, end) from a NOTIFY payload; None when malformed (never raises)."""
    try:
        data = json.loads(payload)
        return (str(data["symbol"]), datetime.fromisoformat(data["start"]),
                datetime.fromisoformat(data["end"]))
    except (ValueError, KeyError, TypeError):
        return None
