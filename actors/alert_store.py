"""Postgres side of the alert sender: whale_alerts + alert_outbox (sql/020_streams.sql)."""
from __future__ import annotations

import json
from datetime import datetime

import asyncpg


class AlertStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str) -> "AlertStore":
        return cls(await asyncpg.create_pool(dsn, min_size=1, max_size=2))

    async def close(self) -> None:
        await self.pool.close()

    async def add(self, alerts: list[dict], webhooks: list[str]) -> list[dict]:
        """Store alerts and queue one outbox row per webhook; returns the alerts that were new."""
        new: list[dict] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for a in alerts:
                row = await conn.fetchrow(
                    """INSERT INTO whale_alerts (alert_id, symbol, side, first_time, last_time, print_count,
                                                 total_size, notional, reasons, payload)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
                       ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id""",
                    a["alert_id"], a["symbol"], a["side"], datetime.fromisoformat(a["first_time"]),
                    datetime.fromisoformat(a["last_time"]), int(a["count"]), int(a["total_size"]),
                    int(a["notional"]), list(a["reasons"]), json.dumps(a))
                if row is None:
                    continue
                new.append(a)
                if webhooks:
                    await conn.executemany(
                        "INSERT INTO alert_outbox (alert_id, webhook) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        [(a["alert_id"], w) for w in webhooks])
        return new

    async def recover(self) -> int:
        """At start-up: rows left in `sending` were interrupted mid-request -> `uncertain` (not resent)."""
        r = await self.pool.execute(
            "UPDATE alert_outbox SET status = 'uncertain', last_error = 'interrupted mid-request' "
            "WHERE status = 'sending'")
        return int(r.split()[-1])

    async def retire_unconfigured(self, webhooks: list[str]) -> int:
        """At start-up: pending rows of webhooks no longer configured -> `failed` (said once, here,
        because the configuration only changes with a new sender)."""
        r = await self.pool.execute(
            "UPDATE alert_outbox SET status = 'failed', last_error = 'webhook no longer configured' "
            "WHERE status = 'pending' AND NOT (webhook = ANY($1::text[]))", webhooks)
        return int(r.split()[-1])

    async def due(self, webhooks: list[str], limit: int = 50) -> list[asyncpg.Record]:
        """Pending rows of `webhooks` whose time has come. Only this sender's webhooks: rows of others
        are not this sender's to settle."""
        return await self.pool.fetch(
            """SELECT o.id, o.alert_id, o.webhook, o.attempts, a.payload
               FROM alert_outbox o JOIN whale_alerts a USING (alert_id)
               WHERE o.status = 'pending' AND o.next_at <= now() AND o.webhook = ANY($2::text[])
               ORDER BY o.id LIMIT $1""", limit, webhooks)

    async def claim(self, row_id: int) -> int | None:
        """pending -> sending (attempts + 1); None when another sender took it."""
        return await self.pool.fetchval(
            "UPDATE alert_outbox SET status = 'sending', attempts = attempts + 1 "
            "WHERE id = $1 AND status = 'pending' RETURNING attempts", row_id)

    async def finish(self, row_id: int, outcome: str, delay_s: float = 0.0, error: str | None = None,
                     count_attempt: bool = True) -> None:
        status = {"sent": "sent", "retry": "pending", "failed": "failed"}[outcome]
        await self.pool.execute(
            """UPDATE alert_outbox SET status = $2, last_error = $3,
                      next_at = now() + make_interval(secs => $4),
                      attempts = attempts - CASE WHEN $5 THEN 0 ELSE 1 END,
                      sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END
               WHERE id = $1""", row_id, status, error, float(delay_s), count_attempt)

    async def counts(self) -> dict[str, int]:
        rows = await self.pool.fetch("SELECT status, count(*) AS n FROM alert_outbox GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    async def recent(self, limit: int = 50) -> list[dict]:
        rows = await self.pool.fetch("SELECT payload FROM whale_alerts ORDER BY created_at DESC LIMIT $1", limit)
        return [json.loads(r["payload"]) for r in reversed(rows)]
