"""AlertSenderActor (named "alert_sender"): stores whale alerts, serves the global `whale` channel and
delivers alerts to the ALERT_WEBHOOK_URLS from a durable Postgres outbox.

- `submit(alerts)` (routers call it, at least once): inserts into whale_alerts keyed by the
  deterministic alert_id (a re-submit is a no-op), queues one outbox row per webhook, and appends
  the new alerts to the `whale` channel ring (`poll`, same contract as a router channel).
- Delivery loop: due rows, per-webhook pacing and 429 pauses, retry/backoff decisions from
  backbone.alerts. A row is claimed (`sending`) before the request and settled after it; after a
  crash, rows still `sending` become `uncertain` and are not resent: an alert is never sent twice.
- Hold: while the socket actor reports the feed anything but `connected`, nothing is sent and
  `status()["held"]` says why; the outbox keeps the alerts until the feed is live again.
Restarts (max_restarts=-1) reload everything from Postgres.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time

import aiohttp
import ray

from backbone.alerts import AlertPolicy, Pacer, decide, hold_reason, payload_for, webhook_id, webhook_kind
from backbone.settings import NAMESPACE
from backbone.whale_channel import WhaleChannel

from .alert_store import AlertStore
from .router import ALERT_SENDER_NAME

log = logging.getLogger(__name__)
STATE_REFRESH_S = 0.5
LOOP_S = 0.1


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, concurrency_groups={"control": 1})
class AlertSenderActor:
    def __init__(self, dsn: str, webhook_urls: list[str], socket_actor_name: str | None = None,
                 policy: AlertPolicy | None = None, request_timeout_s: float = 10.0) -> None:
        self._dsn = dsn
        self._urls = {webhook_id(u): u for u in webhook_urls}  # id -> URL (the URL is never logged)
        self._kinds = {webhook_id(u): webhook_kind(u) for u in webhook_urls}
        self._socket_name = socket_actor_name
        self._policy = policy or AlertPolicy()
        self._pacer = Pacer(self._policy)
        self._timeout = request_timeout_s
        self._channel = WhaleChannel()
        self._changed = asyncio.Event()
        self._store: AlertStore | None = None
        self._ready = asyncio.Event()
        self._state: str | None = None if socket_actor_name else "connected"
        self.held: str | None = None
        self.counters = {"submitted": 0, "new": 0, "sent": 0, "retries": 0, "rate_limited": 0, "failed": 0,
                         "uncertain_at_start": 0, "retired_at_start": 0}
        self._task = asyncio.get_running_loop().create_task(self._run())  # keep a reference

    async def _start(self) -> None:
        self._store = await AlertStore.connect(self._dsn)
        self.counters["uncertain_at_start"] = await self._store.recover()
        self.counters["retired_at_start"] = await self._store.retire_unconfigured(list(self._urls))
        self._channel.seed(await self._store.recent())
        self._ready.set()

    # ------------------------------------------------------------------ API
    async def submit(self, alerts: list[dict]) -> int:
        """Store and queue alerts (idempotent by alert_id); returns how many were new."""
        await self._ready.wait()
        self.counters["submitted"] += len(alerts)
        new = await self._store.add(alerts, list(self._urls))
        for a in new:
            self._channel.append(a)
        if new:
            self.counters["new"] += len(new)
            ev, self._changed = self._changed, asyncio.Event()
            ev.set()
        return len(new)

    async def poll(self, after_seq: int | None, max_wait: float = 0.0, epoch: str | None = None,
                   limit: int | None = 5000, with_snapshot: bool = False) -> dict:
        """The global `whale` channel (contract of RouterCore.poll)."""
        deadline = time.monotonic() + max(0.0, min(max_wait, 30.0))
        while True:
            r = self._channel.poll(after_seq, epoch, limit, with_snapshot)
            left = deadline - time.monotonic()
            if r["events"] or r["snapshot"] is not None or left <= 0:
                return r
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    @ray.method(concurrency_group="control")
    def status(self) -> dict:
        return {"held": self.held, "feed_state": self._state, "webhooks": sorted(self._urls),
                **self.counters}

    async def outbox(self) -> dict[str, int]:
        await self._ready.wait()
        return await self._store.counts()

    # ------------------------------------------------------------------ delivery
    async def _run(self) -> None:
        while not self._ready.is_set():
            try:
                await self._start()
            except Exception as exc:  # noqa: BLE001 - database not up yet: retry
                log.warning("alert sender start failed: %s", type(exc).__name__)
                await asyncio.sleep(1.0)
        last_state = 0.0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout)) as http:
            while True:
                try:
                    if self._socket_name and time.monotonic() - last_state >= STATE_REFRESH_S:
                        last_state = time.monotonic()
                        self._state = await self._feed_state()
                    self.held = hold_reason(self._state)
                    if self.held is None and self._urls:
                        await self._deliver_due(http)
                except Exception:  # noqa: BLE001 - the loop must survive anything
                    log.exception("alert delivery loop error")
                await asyncio.sleep(LOOP_S)

    async def _feed_state(self) -> str | None:
        try:
            h = ray.get_actor(self._socket_name, namespace=NAMESPACE)
            st = await asyncio.wait_for(h.status.remote(), 5.0)
            return (st.get("connection") or {}).get("state")
        except Exception:  # noqa: BLE001 - unknown feed state: hold
            return None

    async def _deliver_due(self, http: aiohttp.ClientSession) -> None:
        for row in await self._store.due(list(self._urls)):
            wid = row["webhook"]
            url = self._urls[wid]
            if self._pacer.ready_at(wid) > time.monotonic():
                continue
            attempts = await self._store.claim(row["id"])
            if attempts is None:
                continue
            kind = self._kinds[wid]
            self._pacer.sent(wid, kind, time.monotonic())
            payload = payload_for(kind, _json(row["payload"]))
            status, body, headers, err = None, None, {}, None
            try:
                async with http.post(url, json=payload) as resp:
                    status, body, headers = resp.status, await resp.read(), dict(resp.headers)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                err = type(exc).__name__
            d = decide(status, attempts, self._policy, body, headers, err)
            if d.rate_limited:
                self.counters["rate_limited"] += 1
                self._pacer.pause(wid, d.delay_s, time.monotonic())
            elif d.outcome == "retry":
                self.counters["retries"] += 1
            if d.outcome == "sent":
                self.counters["sent"] += 1
            elif d.outcome == "failed":
                self.counters["failed"] += 1
                log.warning("alert %s to %s failed: %s", row["alert_id"], wid, d.error)
            await self._store.finish(row["id"], d.outcome, d.delay_s, d.error, count_attempt=not d.rate_limited)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def get_or_create_alert_sender(dsn: str, webhook_urls: list[str], socket_actor_name: str | None = None,
                               policy: AlertPolicy | None = None):
    """Race-safe get-or-create of the named sender (arguments are ignored when it exists)."""
    return AlertSenderActor.options(name=ALERT_SENDER_NAME, namespace=NAMESPACE, lifetime="detached",
                                    get_if_exists=True).remote(dsn, webhook_urls, socket_actor_name, policy)
