"""Upserting 1m candle rows: COPY into a temporary staging table, then one INSERT ... ON CONFLICT DO
UPDATE, so a replayed minute replaces its row (never adds to it) and a batch is one statement for
the invalidation triggers. `method="executemany"` is the fallback for servers without COPY."""
from __future__ import annotations

from typing import Sequence

import asyncpg

from backbone.models import Candle
from backbone.storage_policy import dedupe_keep_last

from .candle_reader import notify_changed

COLUMNS = ("symbol", "interval", "time", "open", "high", "low", "close", "volume", "value", "trades",
           "source")
_SET = ", ".join(f"{c} = EXCLUDED.{c}" for c in ("open", "high", "low", "close", "volume", "value",
                                                  "trades", "source"))
_COLS = ", ".join('"interval"' if c == "interval" else c for c in COLUMNS)
STAGE_SQL = ("CREATE TEMP TABLE IF NOT EXISTS _candle_stage (symbol text, \"interval\" text, "
             "time timestamptz, open numeric, high numeric, low numeric, close numeric, "
             "volume bigint, value numeric, trades integer, source text) ON COMMIT DELETE ROWS")
MERGE_SQL = (f"INSERT INTO market_candles ({_COLS}) SELECT {_COLS} FROM _candle_stage "
             f"ON CONFLICT (symbol, \"interval\", time) DO UPDATE SET {_SET}, updated_at = now()")
UPSERT_ONE_SQL = (f"INSERT INTO market_candles ({_COLS}) VALUES ({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))}) "
                  f"ON CONFLICT (symbol, \"interval\", time) DO UPDATE SET {_SET}, updated_at = now()")


def candle_record(c: Candle) -> tuple:
    return (c.symbol, c.interval, c.time, c.open, c.high, c.low, c.close, c.volume, c.value,
            c.trades, c.source)


async def feed_triggers_installed(conn: asyncpg.Connection) -> bool:
    """Whether market_candles announces its own writes (the NOTIFY triggers of
    storage.candle_reader.install_change_feed). A TimescaleDB hypertable refuses them."""
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('market_candles') "
        "AND tgname = 'candles_changed_ins')"))


async def upsert_candles(conn: asyncpg.Connection, candles: Sequence[Candle], *,
                         method: str = "copy", announce: bool | None = None) -> int:
    """Write `candles` in one transaction; duplicates in the batch collapse to the last. Returns rows.

    `announce`: send the API caches' change notice (`candles_changed`, on commit) from here. None
    (default): only when the table has no NOTIFY triggers doing it, as on TimescaleDB, where
    otherwise a late row or a repair would stay hidden behind cached closed ranges."""
    kept = dedupe_keep_last(candles)
    rows = [candle_record(c) for c in kept]
    if not rows:
        return 0
    async with conn.transaction():
        if announce is None:
            announce = not await feed_triggers_installed(conn)
        if method == "copy":
            await conn.execute(STAGE_SQL)
            await conn.copy_records_to_table("_candle_stage", records=rows, columns=list(COLUMNS))
            await conn.execute(MERGE_SQL)
        else:
            await conn.executemany(UPSERT_ONE_SQL, rows)
        if announce:
            for symbol, (lo, hi) in _ranges(kept).items():
                await notify_changed(conn, symbol, lo, hi)
    return len(rows)


def _ranges(candles: Sequence[Candle]) -> dict[str, tuple]:
    """symbol -> (first, last) minute written."""
    out: dict[str, tuple] = {}
    for c in candles:
        lo, hi = out.get(c.symbol, (c.time, c.time))
        out[c.symbol] = (min(lo, c.time), max(hi, c.time))
    return out
