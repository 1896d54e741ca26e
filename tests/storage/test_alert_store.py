"""The alert outbox on real Postgres: idempotent add, claim/settle, crash recovery, and which rows a
sender may touch (only its own webhooks; others' are retired only by a sender started without them)."""
from __future__ import annotations

import asyncpg

from actors.alert_store import AlertStore

SLACK, DISCORD, OLD = "slack:h:aaa", "discord:h:bbb", "slack:h:old"


def alert(n: int) -> dict:
    return {"alert_id": f"{n:020x}", "symbol": "005930", "side": "buy", "first_time": "2026-11-20T10:00:00+09:00",
            "last_time": "2026-11-20T10:00:01+09:00", "count": 2, "total_size": 3000, "notional": 210_000_000,
            "reasons": ["absolute"]}


async def store_for(dsn: str) -> AlertStore:
    s = await AlertStore.connect(dsn)
    await s.pool.execute("TRUNCATE alert_outbox, whale_alerts")
    return s


async def statuses(s: AlertStore) -> dict[tuple[str, str], str]:
    rows = await s.pool.fetch("SELECT alert_id, webhook, status FROM alert_outbox")
    return {(r["alert_id"], r["webhook"]): r["status"] for r in rows}


async def test_add_is_idempotent_and_queues_one_row_per_webhook(pg_dsn):
    s = await store_for(pg_dsn)
    try:
        assert [a["alert_id"] for a in await s.add([alert(1), alert(2)], [SLACK, DISCORD])] == [
            alert(1)["alert_id"], alert(2)["alert_id"]]
        assert await s.add([alert(1)], [SLACK, DISCORD]) == []  # a router's re-submit
        assert await s.counts() == {"pending": 4}
    finally:
        await s.close()


async def test_claim_settle_and_recover_interrupted_rows(pg_dsn):
    s = await store_for(pg_dsn)
    try:
        await s.add([alert(1), alert(2)], [SLACK])
        a, b = await s.due([SLACK])
        assert await s.claim(a["id"]) == 1
        assert await s.claim(a["id"]) is None  # already taken
        await s.finish(a["id"], "sent")
        assert await s.claim(b["id"]) == 1  # ... and the sender dies mid-request
        assert await s.recover() == 1
        st = await statuses(s)
        assert st[(alert(1)["alert_id"], SLACK)] == "sent" and st[(alert(2)["alert_id"], SLACK)] == "uncertain"
        assert await s.due([SLACK]) == []  # neither is sent again
    finally:
        await s.close()


async def test_a_sender_only_touches_its_own_webhooks(pg_dsn):
    s = await store_for(pg_dsn)
    try:
        await s.add([alert(1)], [SLACK, OLD])
        assert [r["webhook"] for r in await s.due([SLACK])] == [SLACK]
        assert await s.due([DISCORD]) == []
        # A sender started without OLD retires OLD's pending rows (once, at its start) ...
        assert await s.retire_unconfigured([SLACK]) == 1
        st = await statuses(s)
        assert st[(alert(1)["alert_id"], OLD)] == "failed" and st[(alert(1)["alert_id"], SLACK)] == "pending"
        conn = await asyncpg.connect(pg_dsn)
        try:
            assert await conn.fetchval("SELECT last_error FROM alert_outbox WHERE webhook = $1", OLD) == \
                "webhook no longer configured"
        finally:
            await conn.close()
        # ... and one with no webhooks at all retires everything still pending.
        assert await s.retire_unconfigured([]) == 1
    finally:
        await s.close()
