"""TICKET-003 acceptance through the HTTP API: deleted 1m rows inside a session come back as a
flat line of filled candles at the previous close; nothing is filled at night, on weekends or on
holidays; every interval fills; daily candles are labelled by their KST date."""
from datetime import date, datetime, timedelta, timezone

from serve_app.app import ApiConfig, create_app

from .conftest import insert_rows, kst, serve, session_rows

SYM = "005930"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)  # Monday noon KST, after all test data


def app_for(pg, **kw):
    return create_app(ApiConfig(dsn=pg.dsn, **kw), clock=lambda: NOW)


def minutes(start: str, count: int) -> set[str]:
    h, m = map(int, start.split(":"))
    t = datetime(2000, 1, 1, h, m)
    return {(t + timedelta(minutes=i)).strftime("%H:%M") for i in range(count)}


async def test_deleted_minutes_become_a_flat_line_at_the_previous_close(pg, db):
    await insert_rows(db, session_rows(SYM, date(2026, 11, 20)))
    await db.execute("DELETE FROM market_candles WHERE symbol = $1 AND time >= $2 AND time < $3",
                     SYM, kst(2026, 11, 20, 11, 0), kst(2026, 11, 20, 11, 30))
    async with serve(app_for(pg)) as client:
        r = await client.get(f"/api/candles/{SYM}", params={"interval": "1m", "from": "2026-11-20",
                                                            "to": "2026-11-20"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["symbol"], body["interval"]) == (SYM, "1m")
    candles = body["candles"]
    assert len(candles) == 390  # 09:00 .. 15:29, no hole
    assert candles[0]["time"] == "2026-11-20T09:00:00+09:00"
    assert candles[-1]["time"] == "2026-11-20T15:29:00+09:00"
    by_time = {c["time"][11:16]: c for c in candles}
    before = by_time["10:59"]
    assert before["is_filled"] is False
    for hhmm in sorted(minutes("11:00", 30)):
        c = by_time[hhmm]
        assert c["is_filled"] is True
        assert c["open"] == c["high"] == c["low"] == c["close"] == before["close"]
        assert c["volume"] == 0
    assert by_time["11:30"]["is_filled"] is False
    assert sum(c["is_filled"] for c in candles) == 30
    assert isinstance(before["close"], int)  # JSON numbers, not strings


async def test_fill_false_returns_only_stored_rows(pg, db):
    await insert_rows(db, session_rows(SYM, date(2026, 11, 20), skip=minutes("11:00", 30)))
    async with serve(app_for(pg)) as client:
        r = await client.get(f"/api/candles?symbol={SYM}&from=2026-11-20&to=2026-11-20&fill=false")
    assert r.status_code == 200
    assert len(r.json()["candles"]) == 360
    assert not any(c["is_filled"] for c in r.json()["candles"])


async def test_no_fill_at_night_on_weekends_or_holidays(pg, db):
    # Thu 10-08, Fri 10-09 (Hangul Day, closed), weekend, Mon 10-12; data only on the open days.
    for day in (date(2026, 10, 8), date(2026, 10, 12)):
        await insert_rows(db, session_rows(SYM, day))
    async with serve(app_for(pg)) as client:
        for interval, per_day in (("1m", 390), ("5m", 78), ("15m", 26), ("1h", 7)):
            r = await client.get(f"/api/candles/{SYM}", params={
                "interval": interval, "from": "2026-10-08", "to": "2026-10-12"})
            assert r.status_code == 200, r.text
            candles = r.json()["candles"]
            assert len(candles) == 2 * per_day, interval
            assert not any(c["is_filled"] for c in candles)
            days = {c["time"][:10] for c in candles}
            assert days == {"2026-10-08", "2026-10-12"}
            assert all("09:00" <= c["time"][11:16] < "15:30" for c in candles)
        # Only the holiday and the weekend: nothing to show, nothing invented.
        r = await client.get(f"/api/candles/{SYM}", params={"from": "2026-10-09", "to": "2026-10-11"})
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "NO_DATA_FOUND"


async def test_every_interval_fills_a_whole_missing_stretch(pg, db):
    for day in (date(2026, 11, 18), date(2026, 11, 20)):
        await insert_rows(db, session_rows(SYM, day))
    # 11-19 (수능 day, 10:00-16:30) has no rows at all.
    async with serve(app_for(pg)) as client:
        r = await client.get(f"/api/candles/{SYM}", params={
            "interval": "1d", "from": "2026-11-18", "to": "2026-11-20"})
        daily = r.json()["candles"]
        assert [c["time"] for c in daily] == ["2026-11-18T00:00:00+09:00", "2026-11-19T00:00:00+09:00",
                                              "2026-11-20T00:00:00+09:00"]
        assert [c["is_filled"] for c in daily] == [False, True, False]
        assert daily[1]["close"] == daily[1]["open"] == daily[0]["close"]

        r = await client.get(f"/api/candles/{SYM}", params={"interval": "1h", "from": "2026-11-19",
                                                            "to": "2026-11-19"})
        hourly = r.json()["candles"]
        # Late open: 10:00 .. 16:00 buckets (16:00 covers 16:00-16:30); nothing before 10:00.
        assert [c["time"][11:16] for c in hourly] == ["10:00", "11:00", "12:00", "13:00", "14:00",
                                                      "15:00", "16:00"]
        assert all(c["is_filled"] and c["close"] == daily[0]["close"] for c in hourly)


async def test_a_range_starting_inside_a_gap_is_seeded_by_the_last_close_before_it(pg, db):
    await insert_rows(db, session_rows(SYM, date(2026, 11, 20), skip=minutes("11:00", 30)))
    async with serve(app_for(pg)) as client:
        r = await client.get(f"/api/candles/{SYM}", params={
            "interval": "5m", "from": "2026-11-20T11:00:00+09:00", "to": "2026-11-20T11:40:00+09:00"})
        candles = r.json()["candles"]
        assert [c["is_filled"] for c in candles] == [True] * 6 + [False, False]
        r10 = await client.get(f"/api/candles/{SYM}", params={
            "interval": "1m", "from": "2026-11-20T10:59:00+09:00", "to": "2026-11-20T11:00:00+09:00"})
        assert candles[0]["close"] == r10.json()["candles"][0]["close"]


async def test_nothing_is_invented_before_the_first_known_close(pg, db):
    await insert_rows(db, session_rows(SYM, date(2026, 11, 20), skip=minutes("09:00", 60)))
    async with serve(app_for(pg)) as client:
        r = await client.get(f"/api/candles/{SYM}", params={"from": "2026-11-20", "to": "2026-11-20"})
    candles = r.json()["candles"]
    assert candles[0]["time"] == "2026-11-20T10:00:00+09:00"
    assert not any(c["is_filled"] for c in candles)


async def test_off_hours_rows_show_by_default_and_nothing_is_filled_around_them(pg, db):
    # The simulator runs a session on a Saturday: real rows outside the XKRX calendar.
    await insert_rows(db, session_rows(SYM, date(2026, 11, 20)))
    sat = [(SYM, "1m", kst(2026, 11, 21, 10, m).astimezone(timezone.utc), 70_000, 70_010, 69_990,
            70_005, 10, 700_050, 1, "sim") for m in (0, 1, 5)]
    await insert_rows(db, sat)
    now = kst(2026, 11, 21, 10, 6, 10).astimezone(timezone.utc)
    app = create_app(ApiConfig(dsn=pg.dsn), clock=lambda: now)
    async with serve(app) as client:
        candles = (await client.get(f"/api/candles/{SYM}")).json()["candles"]
    assert len(candles) == 390 + 3
    assert [c["time"] for c in candles[-3:]] == ["2026-11-21T10:00:00+09:00", "2026-11-21T10:01:00+09:00",
                                                 "2026-11-21T10:05:00+09:00"]
    assert not any(c["is_filled"] for c in candles)


async def test_us_daily_candles_follow_the_new_york_day(pg, db):
    from zoneinfo import ZoneInfo
    ny = ZoneInfo("America/New_York")
    rows = []
    for day, base in ((19, 200), (20, 210)):  # Thu/Fri sessions 09:30-16:00 ET, one row an hour
        for i, hour in enumerate((9, 11, 13, 15)):
            t = datetime(2026, 11, day, hour, 30 if hour == 9 else 0, tzinfo=ny).astimezone(timezone.utc)
            px = base + i
            rows.append(("AAPL", "1m", t, px, px + 1, px - 1, px, 100, px * 100, 1, "sim"))
    await insert_rows(db, rows)
    async with serve(app_for(pg)) as client:
        r = await client.get("/api/candles/AAPL", params={"interval": "1d", "from": "2026-11-19",
                                                          "to": "2026-11-20"})
    assert r.status_code == 200, r.text
    daily = r.json()["candles"]
    assert [c["time"] for c in daily] == ["2026-11-19T00:00:00-05:00", "2026-11-20T00:00:00-05:00"]
    assert [(c["open"], c["close"], c["volume"]) for c in daily] == [(200, 203, 400), (210, 213, 400)]
