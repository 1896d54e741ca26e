"""Whale alerts end to end: simulator large prints -> routers -> alert sender (Postgres outbox) ->
a real local webhook receiver (Slack + Discord URLs), and the `whale` WebSocket channel."""
from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
import ray

from actors.alert_sender import get_or_create_alert_sender
from actors.kis_socket import socket_actor_name
from actors.router import ALERT_SENDER_NAME
from backbone.alerts import AlertPolicy
from backbone.settings import NAMESPACE

from .conftest import wait_for
from .stream_env import WsClient, start_stack
from .webhook_receiver import WebhookReceiver

SQL = Path(__file__).resolve().parents[2] / "sql" / "020_streams.sql"
SLACK, DISCORD = "/services/T0/B0/secret", "/api/webhooks/1/secret"
POLICY = AlertPolicy(slack_interval_s=0.2, discord_interval_s=0.1, base_backoff_s=0.2, max_backoff_s=1.0,
                     max_attempts=100)


@pytest.fixture
def alerts_dsn(pg_dsn):
    async def setup():
        conn = await asyncpg.connect(pg_dsn)
        try:
            await conn.execute(SQL.read_text())
            await conn.execute("TRUNCATE alert_outbox, whale_alerts")
        finally:
            await conn.close()
    asyncio.run(setup())
    yield pg_dsn


@pytest.fixture
def receiver():
    rx = WebhookReceiver().start()
    yield rx
    rx.stop()


def kill_sender():
    try:
        ray.kill(ray.get_actor(ALERT_SENDER_NAME, namespace=NAMESPACE), no_restart=True)
    except ValueError:
        pass


async def db_alerts(dsn: str) -> tuple[dict[str, list], list[dict]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT alert_id, reasons FROM whale_alerts")
        out = await conn.fetch("SELECT alert_id, webhook, status, attempts, last_error FROM alert_outbox")
        return {r["alert_id"]: list(r["reasons"]) for r in rows}, [dict(r) for r in out]
    finally:
        await conn.close()


async def test_whales_absolute_and_adaptive_delivered_once_across_429_500_and_restart(
        ray_env, make_env, alerts_dsn, receiver):
    env = make_env(symbols=("005930",), rate=40.0, large_print_prob=0.03)
    urls = [receiver.url(SLACK), receiver.url(DISCORD)]
    kill_sender()
    sender = get_or_create_alert_sender(alerts_dsn, urls, socket_actor_name(env.settings), POLICY)
    receiver.plan.extend([500, 500, 429, 429, 500])
    _actor, gw = start_stack(env)
    try:
        c = await WsClient.connect(gw.ws_url)
        await c.send({"op": "subscribe", "channels": ["trade:005930", "whale"]})
        reasons: set[str] = set()

        def whales(m):
            if m["type"] == "whale" and m["channel"] == "whale":
                reasons.update(m["data"]["reasons"])
            return {"absolute", "adaptive"} <= reasons
        await c.until(whales, 120, "absolute and adaptive whale alerts on the whale channel")
        # Webhook down (500) while alerts keep coming; the sender restarts; then the webhook recovers.
        receiver.default = 500
        await asyncio.to_thread(wait_for, lambda: ray.get(sender.outbox.remote()).get("pending", 0) >= 2,
                                60, 0.1, "alerts pending in the outbox")
        ray.kill(sender, no_restart=False)  # a crash: Ray restarts it, the outbox survives in Postgres
        receiver.default = 200
        env.fault("stall", 60.0)  # no more prints: let the outbox drain
        await asyncio.to_thread(wait_for, lambda: ray.get(sender.status.remote())["submitted"] >= 0, 60, 0.2,
                                "sender back")

        def drained():
            counts = ray.get(sender.outbox.remote())
            return counts.get("pending", 0) == 0 and counts.get("sending", 0) == 0 and counts
        await asyncio.to_thread(wait_for, drained, 90, 0.2, "outbox drained")
        stored, rows = await db_alerts(alerts_dsn)
        assert any("absolute" in r for r in stored.values()) and any("adaptive" in r for r in stored.values())
        uncertain = {(r["alert_id"], r["webhook"].split(":")[0]) for r in rows if r["status"] == "uncertain"}
        assert not [r for r in rows if r["status"] not in ("sent", "uncertain")], \
            ([r for r in rows if r["status"] not in ("sent", "uncertain")], ray.get(sender.status.remote()))
        for path, kind in ((SLACK, "slack"), (DISCORD, "discord")):
            got = receiver.accepted(path)
            assert len(got) == len(set(got)), f"{kind}: an alert was delivered twice"
            expected = {a for a in stored if (a, kind) not in uncertain}
            assert set(got) == expected
        assert len(uncertain) <= 2
        statuses = [r["status"] for r in receiver.requests]
        assert 429 in statuses and 500 in statuses
        await c.close()
    finally:
        gw.stop()
        kill_sender()


async def test_alerts_held_while_feed_reconnects(ray_env, make_env, alerts_dsn, receiver):
    env = make_env(symbols=("005930",), rate=20.0)
    kill_sender()
    sender = get_or_create_alert_sender(alerts_dsn, [receiver.url(SLACK)], socket_actor_name(env.settings),
                                        POLICY)
    _actor, gw = start_stack(env)
    try:
        c = await WsClient.connect(gw.ws_url)
        await c.send({"op": "subscribe", "channels": ["trade:005930", "status"]})
        await c.until(lambda m: m["type"] == "trade", 60, "trades")
        await asyncio.to_thread(wait_for, lambda: ray.get(sender.status.remote())["held"] is None, 30, 0.1,
                                "sender live")
        env.fault("restart", 3.0)
        st = await asyncio.to_thread(wait_for, lambda: ray.get(sender.status.remote())["held"], 30, 0.05,
                                     "alerts held")
        assert "held" in st
        await asyncio.to_thread(wait_for, lambda: ray.get(sender.status.remote())["held"] is None, 60, 0.1,
                                "alerts released after the reconnect")
        # Clients were told on the status channel, and told again when it cleared.
        held = await c.until(lambda m: m["type"] == "status" and m["data"].get("alerts_held"), 30, "held status")
        assert "held" in held["data"]["alerts_held"]
        await c.until(lambda m: m["type"] == "status" and m["data"].get("alerts_held") is None
                      and m["data"]["state"] == "connected", 30, "released status")
        await c.close()
    finally:
        gw.stop()
        kill_sender()
