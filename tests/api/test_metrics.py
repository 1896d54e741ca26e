"""/metrics content: Prometheus text with request latency, cache and DB gauges, and the numeric
fields of the upstream status; cache warm-up for watched symbols."""
from datetime import date, datetime, timezone

from serve_app.app import ApiConfig, create_app
from serve_app.metrics import flatten_numbers

from .conftest import insert_rows, serve, session_rows, wait_for


class StaticLive:
    async def latest_trade(self, symbol):
        return None

    latest_book = latest_trade

    async def rest_quote(self, symbol):
        return {"price": 1}

    rest_book = rest_quote

    async def upstream_status(self):
        return {"socket": {"connection": {"state": "open", "reconnects": 3},
                           "registrations": {"used": 12, "budget": 41, "items": [{"x": 1}]}},
                "feeds": {"005930": {"events": 10}}}


def test_flatten_numbers_keeps_numeric_leaves_only():
    got = dict(flatten_numbers({"a": 1, "b": {"c": 2.5, "d": "x", "e": [1]}, "f": True}))
    assert got == {"a": 1.0, "b.c": 2.5, "f": 1.0}


async def test_metrics_text(pg):
    async with serve(create_app(ApiConfig(dsn=pg.dsn, change_feed=False), live=StaticLive())) as client:
        await client.get("/api/candles/005930?interval=9m")
        text = (await client.get("/metrics")).text
    assert 'api_upstream_value{field="socket.registrations.used"} 12.0' in text
    assert 'api_upstream_value{field="socket.connection.reconnects"} 3.0' in text
    assert 'api_upstream_value{field="feeds.count"} 1.0' in text
    assert 'api_requests_total{method="GET",route="/api/candles/{symbol}",status="400"} 1.0' in text
    assert "api_db_up 1.0" in text and "api_candle_cache_hit_ratio" in text


async def test_watched_symbols_are_warmed_at_start_up(pg, db):
    await insert_rows(db, session_rows("005930", date(2026, 11, 20)))
    now = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)  # Monday noon: latest session is today's
    app = create_app(ApiConfig(dsn=pg.dsn, warm_symbols=("005930",)), clock=lambda: now)
    async with serve(app):
        await wait_for(lambda: len(app.state.cache) >= 1)
