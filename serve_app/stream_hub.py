"""The per-replica stream hub: channel feeds, upstream demand, the `status` channel.

One hub per gateway process (Serve replica or uvicorn worker), created lazily on its event loop.
- Feeds: one ChannelFeed (one pull loop) per channel any of this replica's sockets uses.
- Demand: a feed acquires its KIS registrations from the socket actor under this replica's
  requester id and releases them when it ends, `grace_s` after its last client left. The demand is
  held on a lease of `lease_s` that the status loop renews every third of it, so a replica that
  dies without releasing frees its registrations when the lease runs out; when the socket actor
  no longer knows the lease (it ran out during a long stall), the replica acquires its feeds again.
- Status: one loop reads the socket actor's status (and the alert sender's) every
  `status_interval_s` and publishes a summary on `status` when the connection state, reconnect
  count, registrations or the alert hold (`alerts_held`: why alerts are held back) change. When the
  upstream comes back to `connected`, the book channels in use are resynced (a fresh snapshot).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable

from backbone.ring import new_epoch
from backbone.stream_protocol import (UNAVAILABLE, UPSTREAM_REFUSED, Channel, encode, error_message, message,
                                      snapshot_message, status_message)

from .stream_feed import ChannelFeed, Subscriber
from .stream_sources import SourceUnavailable, upstream_pairs

log = logging.getLogger("serve_app.stream")
STATUS_KEYS = ("state", "reconnects", "registrations_used", "registrations_live", "alerts_held")


def summarize(st: dict) -> dict:
    """The part of the socket actor's status that clients see (no secrets in there anyway)."""
    conn = st.get("connection") or {}
    regs = st.get("registrations") or {}
    return {"state": conn.get("state", "unknown"), "since": conn.get("since"),
            "reconnects": conn.get("reconnects", 0), "last_frame_age_s": conn.get("last_frame_age_s"),
            "registrations_used": regs.get("used"), "registrations_budget": regs.get("budget"),
            "registrations_live": regs.get("live")}


class StreamHub:
    def __init__(self, sources: Any, *, grace_s: float = 5.0, priority: int = 5,
                 status_interval_s: float = 0.5, long_poll_s: float = 5.0, lease_s: float = 30.0,
                 sectors: Callable[[], Awaitable[Any]] | None = None, sectors_interval_s: float = 2.0) -> None:
        self.sources = sources
        self.grace_s = grace_s
        self.lease_s = lease_s
        self._renewed_at = 0.0
        self.lease_renewals = 0
        self.lease_reacquired = 0
        self.priority = priority
        self.status_interval_s = status_interval_s
        self.long_poll_s = long_poll_s
        self.requester = f"ws-gateway:{uuid.uuid4().hex[:10]}"
        self.feeds: dict[str, ChannelFeed] = {}
        self.clients: set[Any] = set()
        self.status_subs: set[Subscriber] = set()
        self.status_epoch = new_epoch()
        self.status_seq = 0
        self.status: dict = {"state": "unknown"}
        self._status_task: asyncio.Task | None = None
        # `sectors`: the latest sector aggregation (jobs.sectors writes it every 10 s), read by
        # `sectors()` (None: none yet) and published when it changes; gateway-local seq/epoch.
        self._sectors_read = sectors
        self.sectors_interval_s = sectors_interval_s
        self.sector_subs: set[Subscriber] = set()
        self.sector_seq = 0
        self.sector_data: Any = None
        self._sector_task: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ clients
    def add_client(self, client: Any) -> None:
        self.clients.add(client)
        if self._status_task is None or self._status_task.done():
            self._status_task = asyncio.get_running_loop().create_task(self._status_loop())

    def remove_client(self, client: Any) -> None:
        self.clients.discard(client)
        self.status_subs.discard(client)
        self.sector_subs.discard(client)
        for name in list(client.min_seq) + [n for n in self.feeds if client in self.feeds[n].clients]:
            feed = self.feeds.get(name)
            if feed is not None:
                feed.leave(client)

    async def subscribe(self, client: Any, ch: Channel) -> None:
        if ch.kind == "status":
            self.status_subs.add(client)
            client.queue.offer_snapshot("status", encode(snapshot_message(
                "status", self.status_seq, self.status_epoch, self.status)))
            client.wake()
            return
        if ch.kind == "sectors":
            if self._sectors_read is None:
                self._error(client, UNAVAILABLE, "no sector source in this gateway", ch.name)
                return
            self.sector_subs.add(client)
            client.queue.offer_snapshot("sectors", encode(snapshot_message(
                "sectors", self.sector_seq, self.status_epoch, self.sector_data)))
            client.wake()
            if self._sector_task is None or self._sector_task.done():
                self._sector_task = asyncio.get_running_loop().create_task(self._sectors_loop())
            return
        async with self._joining(client, ch) as feed:
            if feed is None or client in feed.clients:
                return
            try:
                r = await self.sources.poll(ch, None, 0.0)
            except SourceUnavailable as exc:
                self._error(client, UNAVAILABLE, str(exc), ch.name)
                client.queue.await_snapshot(ch.name)
                feed.snapshot_wanted = True
                feed.join(client, feed.epoch or "", 0)
                return
            seq, text = r["snapshot"]
            client.queue.offer_snapshot(ch.name, text)
            feed.join(client, r["epoch"], seq)
            client.wake()

    async def resume(self, client: Any, ch: Channel, epoch: str, from_seq: int) -> None:
        if ch.symbol is None and ch.kind != "whale":
            await self.subscribe(client, ch)  # status/sectors: nothing to replay
            return
        async with self._joining(client, ch) as feed:
            if feed is None:
                return
            feed.leave(client)
            try:
                r = await self.sources.poll(ch, from_seq, 0.0, epoch, None)
            except SourceUnavailable as exc:
                self._error(client, UNAVAILABLE, str(exc), ch.name)
                return
            if r.get("recovered") is False:
                seq, text = r["snapshot"]
                client.queue.offer_snapshot(ch.name, text)
                feed.join(client, r["epoch"], seq)
            else:
                top = from_seq
                for seq, _t, text in r["events"]:
                    client.queue.push(ch.name, text)
                    top = seq
                feed.join(client, r["epoch"], top)
            client.wake()

    def unsubscribe(self, client: Any, ch: Channel) -> None:
        if ch.kind in ("status", "sectors"):
            (self.status_subs if ch.kind == "status" else self.sector_subs).discard(client)
            client.queue.forget(ch.name)
            return
        feed = self.feeds.get(ch.name)
        if feed is not None:
            feed.leave(client)

    def _error(self, client: Any, code: str, message: str, channel: str | None) -> None:
        client.queue.push_control(encode(error_message(code, message, channel)))
        client.wake()

    # ------------------------------------------------------------------ feeds and demand
    @contextlib.asynccontextmanager
    async def _joining(self, client: Any, ch: Channel) -> AsyncIterator[ChannelFeed | None]:
        """The channel's feed, counted as being joined for the duration: a feed must not end for
        lack of clients while a subscribe is still fetching its snapshot (e.g. while the router is
        being created)."""
        feed = await self._feed(client, ch)
        try:
            yield feed
        finally:
            if feed is not None:
                feed.joining -= 1

    async def _feed(self, client: Any, ch: Channel) -> ChannelFeed | None:
        """The channel's feed with `joining` incremented (see `_joining`, which undoes it)."""
        async with self._lock:  # one feed per channel even when two sockets subscribe at once
            feed = self.feeds.get(ch.name)
            if feed is not None and not feed.closing:
                feed.joining += 1
                return feed
            pairs = upstream_pairs(ch)
            try:
                got = await self.sources.acquire(self.requester, pairs, self.priority, self.lease_s)
                self._renewed_at = time.monotonic()  # an acquire (re)grants the lease
            except SourceUnavailable as exc:
                got = {}
                self._error(client, UNAVAILABLE, f"upstream demand not registered: {exc}", ch.name)
            refused = [k for k, v in got.items() if v == "refused"]
            if refused:
                self._error(client, UPSTREAM_REFUSED, f"no KIS registration left for {', '.join(refused)}",
                            ch.name)
            feed = ChannelFeed(ch, self.sources, grace_s=self.grace_s, long_poll_s=self.long_poll_s)
            feed.joining += 1
            self.feeds[ch.name] = feed
            feed.task = asyncio.get_running_loop().create_task(self._run_feed(feed, pairs))
            return feed

    async def _run_feed(self, feed: ChannelFeed, pairs: list) -> None:
        try:
            await feed.run()
        finally:
            if self.feeds.get(feed.name) is feed:
                del self.feeds[feed.name]
            try:
                await self.sources.release(self.requester, pairs)
            except Exception as exc:  # noqa: BLE001 - the socket actor releases on its own grace anyway
                log.info("release of %s failed: %s", feed.name, type(exc).__name__)

    # ------------------------------------------------------------------ status channel
    async def _status_loop(self) -> None:
        while self.clients or self.feeds:
            try:
                summary = summarize(await self.sources.upstream_status())
            except SourceUnavailable as exc:
                summary = {"state": "unavailable", "detail": str(exc)}
            except Exception as exc:  # noqa: BLE001 - keep publishing
                summary = {"state": "unavailable", "detail": type(exc).__name__}
            alerts = await self._alerts_status()
            if alerts is not None:  # the alert sender says why it holds alerts back (feed not live)
                summary["alerts_held"] = alerts.get("held")
            self._publish_status(summary)
            if self.feeds and time.monotonic() - self._renewed_at >= self.lease_s / 3:
                await self._renew_lease()
            await asyncio.sleep(self.status_interval_s)

    async def _renew_lease(self) -> None:
        """Keep this replica's demand alive; acquire every feed's pairs again if the lease is gone."""
        try:
            if await self.sources.renew(self.requester):
                self.lease_renewals += 1
            else:
                pairs = sorted({p for f in self.feeds.values() if not f.closing for p in upstream_pairs(f.channel)})
                if pairs:
                    log.warning("demand lease of %s was gone: acquiring %d pairs again", self.requester, len(pairs))
                    await self.sources.acquire(self.requester, pairs, self.priority, self.lease_s)
                    self.lease_reacquired += 1
            self._renewed_at = time.monotonic()
        except SourceUnavailable as exc:  # the socket actor is away: try again on the next round
            log.info("lease renewal failed: %s", exc)

    async def _sectors_loop(self) -> None:
        while self.sector_subs:
            try:
                data = await self._sectors_read()
            except Exception as exc:  # noqa: BLE001 - database down: try again later
                log.info("sector read failed: %s", type(exc).__name__)
                data = self.sector_data
            if data is not None and data != self.sector_data:
                self.sector_data = data
                self.sector_seq += 1
                text = encode(message("sector", "sectors", self.sector_seq, self.status_epoch, data))
                for c in list(self.sector_subs):
                    c.queue.push("sectors", text)
                    c.wake()
            await asyncio.sleep(self.sectors_interval_s)

    async def _alerts_status(self) -> dict | None:
        get = getattr(self.sources, "alerts_status", None)
        if get is None:
            return None
        try:
            return await get()
        except Exception:  # noqa: BLE001 - optional information
            return None

    def _publish_status(self, summary: dict) -> None:
        prev = self.status
        if all(prev.get(k) == summary.get(k) for k in STATUS_KEYS):
            self.status = summary
            return
        self.status = summary
        self.status_seq += 1
        text = encode(status_message(self.status_seq, self.status_epoch, summary))
        for c in list(self.status_subs):
            c.queue.push("status", text)
            c.wake()
        back = summary.get("state") == "connected" and prev.get("state") not in ("connected", "unknown")
        if back:  # books may have moved while we were away: hand every book reader a fresh snapshot
            for feed in list(self.feeds.values()):
                if feed.channel.kind == "book":
                    t = asyncio.get_running_loop().create_task(self.sources.resync_book(feed.channel.symbol))
                    self._tasks.add(t)
                    t.add_done_callback(self._tasks.discard)

    async def close_clients(self, code: int = 1012) -> int:
        """Close every client socket from the server side (1012: service restart; clients reconnect
        and resume). The gateway itself stays up. Returns how many were closed."""
        clients = list(self.clients)
        for c in clients:
            await c.ws.close(code=code)
        return len(clients)

    def stats(self) -> dict:
        return {"requester": self.requester, "clients": len(self.clients), "status": self.status,
                "lease": {"renewals": self.lease_renewals, "reacquired": self.lease_reacquired},
                "feeds": {n: f.stats() for n, f in self.feeds.items()}}
