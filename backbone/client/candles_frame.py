"""The API's candles answer as a polars DataFrame (typed columns, market time zone kept)."""
from __future__ import annotations

from datetime import datetime

import polars as pl

SCHEMA = {"time": pl.Datetime("us", "Asia/Seoul"), "open": pl.Float64, "high": pl.Float64, "low": pl.Float64,
          "close": pl.Float64, "volume": pl.Int64, "is_filled": pl.Boolean}


def candles_frame(body: dict) -> pl.DataFrame:
    rows = (body.get("candles") or []) if isinstance(body, dict) else []
    cols: dict[str, list] = {k: [] for k in SCHEMA}
    for r in rows:
        cols["time"].append(datetime.fromisoformat(r["time"]))
        for k in ("open", "high", "low", "close"):
            cols[k].append(float(r[k]))
        cols["volume"].append(int(r["volume"]))
        cols["is_filled"].append(bool(r.get("is_filled", False)))
    return pl.DataFrame(cols, schema=SCHEMA)
