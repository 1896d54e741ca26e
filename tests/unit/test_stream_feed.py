"""The gateway's per-channel feed logic (serve_app.stream_feed) against a real RouterCore, no I/O."""
import json

from backbone.fanout import ClientQueue
from backbone.router_core import RouterConfig, RouterCore
from backbone.stream_protocol import Channel
from serve_app.stream_feed import ChannelFeed

from .test_router_core import Feed, trade

CH = Channel("trade", "005930")


class FakeClient:
    def __init__(self, max_messages=1000):
        self.queue = ClientQueue(max_messages, 64)
        self.min_seq = {}
        self.woken = 0

    def wake(self):
        self.woken += 1

    def drain(self):
        out = []
        while (t := self.queue.pop()) is not None:
            out.append(json.loads(t))
        return out


def setup(**cfg):
    core = RouterCore("005930", RouterConfig(**cfg))
    return core, ChannelFeed(CH, sources=None), Feed()


def subscribe(core, feed, client):
    r = core.poll("trade", None)
    seq, text = r["snapshot"]
    client.queue.offer_snapshot(CH.name, text)
    return feed.join(client, r["epoch"], seq)


def seqs(msgs):
    return [m["seq"] for m in msgs if m["type"] == "trade"]


def test_late_joiner_is_filled_from_buffer_without_gap_or_duplicate():
    core, feed, f = setup()
    a = FakeClient()
    subscribe(core, feed, a)
    for i in range(5):
        core.ingest(f.batch([trade(i)]))
    # B's snapshot is taken at seq 5, but the feed has forwarded nothing yet (cursor 0): it skips 1..5
    b = FakeClient()
    subscribe(core, feed, b)
    feed.apply(core.poll("trade", feed.seq, feed.epoch))
    for i in range(5, 8):
        core.ingest(f.batch([trade(i)]))
    feed.apply(core.poll("trade", feed.seq, feed.epoch))
    assert seqs(a.drain()) == list(range(1, 9))
    mb = b.drain()
    assert mb[0]["type"] == "snapshot" and mb[0]["seq"] == 5 and seqs(mb) == [6, 7, 8]


def test_joiner_behind_the_cursor_gets_the_buffered_events():
    core, feed, f = setup()
    a = FakeClient()
    subscribe(core, feed, a)
    for i in range(3):
        core.ingest(f.batch([trade(i)]))
    feed.apply(core.poll("trade", feed.seq, feed.epoch))
    # A resumer that holds seq 1 joins when the feed is at 3: it gets 2 and 3 from the buffer
    c = FakeClient()
    assert feed.join(c, core.epoch, 1)
    core.ingest(f.batch([trade(3)]))
    feed.apply(core.poll("trade", feed.seq, feed.epoch))
    assert seqs(c.drain()) == [2, 3, 4]


def test_router_restart_resets_every_client_from_a_snapshot():
    core, feed, f = setup()
    a = FakeClient()
    subscribe(core, feed, a)
    core.ingest(f.batch([trade(0)]))
    feed.apply(core.poll("trade", feed.seq, feed.epoch))
    a.drain()
    core.reset()  # new epoch
    core.ingest(Feed("new").batch([trade(1)]))
    feed.apply(core.poll("trade", feed.seq, feed.epoch))
    m = a.drain()
    assert m[0]["type"] == "snapshot" and m[0]["recovered"] is False and m[0]["epoch"] == core.epoch
    assert feed.epoch == core.epoch and feed.seq == 1
    core.ingest(Feed("new").batch([trade(2)]))
    feed.apply(core.poll("trade", feed.seq, feed.epoch))
    assert seqs(a.drain()) == [2]


def test_slow_consumer_error_then_snapshot_on_next_poll():
    core, feed, f = setup()
    slow, fast = FakeClient(max_messages=3), FakeClient()
    subscribe(core, feed, slow)
    subscribe(core, feed, fast)
    for i in range(6):
        core.ingest(f.batch([trade(i)]))
    feed.apply(core.poll("trade", feed.seq, feed.epoch))
    assert feed.snapshot_wanted
    feed.snapshot_wanted = False
    core.ingest(f.batch([trade(6)]))
    feed.apply(core.poll("trade", feed.seq, feed.epoch, with_snapshot=True))
    ms = slow.drain()
    kinds = [(m["type"], m["data"].get("code") if m["type"] == "error" else None) for m in ms]
    assert ("error", "SLOW_CONSUMER") in kinds
    assert ms[-1]["type"] == "snapshot" and ms[-1]["seq"] == 7
    assert seqs(fast.drain()) == list(range(1, 8))


def test_leave_forgets_queue_and_marks_idle():
    core, feed, f = setup()
    a = FakeClient()
    subscribe(core, feed, a)
    feed.leave(a)
    assert not feed.clients and feed.idle_since is not None and len(a.queue) == 0


async def test_hub_sectors_channel_snapshot_then_changes():
    import asyncio

    from serve_app.stream_hub import StreamHub

    data = {"v": None}

    async def read():
        return data["v"]
    hub = StreamHub(sources=None, sectors=read, sectors_interval_s=0.01)
    c = FakeClient()
    await hub.subscribe(c, Channel("sectors"))
    first = c.drain()
    assert first[0]["type"] == "snapshot" and first[0]["channel"] == "sectors" and first[0]["data"] is None
    data["v"] = [{"sector": "IT", "value_weighted_change": 1.5}]
    for _ in range(200):
        await asyncio.sleep(0.01)
        if len(c.queue):
            break
    m = c.drain()
    assert m[0]["type"] == "sector" and m[0]["seq"] == 1 and m[0]["data"][0]["sector"] == "IT"
    hub.unsubscribe(c, Channel("sectors"))
    assert not hub.sector_subs


class SlowStartSources:
    """A source over a real RouterCore whose first call is slow, like a router being created
    (a new worker process: seconds on a busy machine). Records demand acquire/release."""

    def __init__(self, core, first_call_s):
        self.core = core
        self.first_call_s = first_call_s
        self.calls = 0
        self.demand = []

    async def acquire(self, requester, pairs, priority, lease_s=None):
        self.demand.append(("acquire", tuple(pairs)))
        self.leased = lease_s
        return {f"{t}:{k}": "live" for t, k in pairs}

    async def renew(self, requester):
        self.demand.append(("renew", ()))
        return self.lease_known

    lease_known = True

    async def release(self, requester, pairs):
        self.demand.append(("release", tuple(pairs)))

    async def poll(self, ch, after_seq, max_wait, epoch=None, limit=None, with_snapshot=False):
        import asyncio
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(self.first_call_s)
        r = self.core.poll(ch.kind, after_seq, epoch, limit, with_snapshot)
        if not r["events"] and r["snapshot"] is None and max_wait:
            await asyncio.sleep(min(max_wait, 0.02))
        return r

    async def upstream_status(self):
        return {"connection": {"state": "connected"}}


async def test_feed_outlives_a_subscribe_slower_than_the_grace():
    """The snapshot of the first subscribe takes longer than the feed's idle grace: the feed must
    not end (and release the KIS registration) under the joining client."""
    import asyncio

    from serve_app.stream_hub import StreamHub

    core, _, f = setup()
    src = SlowStartSources(core, first_call_s=0.3)
    hub = StreamHub(src, grace_s=0.05, long_poll_s=0.05, status_interval_s=0.05)
    c = FakeClient()
    hub.add_client(c)
    await hub.subscribe(c, CH)
    feed = hub.feeds[CH.name]
    assert c in feed.clients and not feed.closing and feed.joining == 0
    for i in range(3):
        core.ingest(f.batch([trade(i)]))
    got = []
    for _ in range(200):
        await asyncio.sleep(0.01)
        got += c.drain()
        if len(seqs(got)) == 3:
            break
    assert seqs(got) == [1, 2, 3]
    assert [d for d in src.demand if d[0] != "renew"] == [("acquire", (("H0STCNT0", "005930"),))]  # kept
    hub.remove_client(c)
    for _ in range(200):
        await asyncio.sleep(0.01)
        if CH.name not in hub.feeds:
            break
    assert CH.name not in hub.feeds and src.demand[-1][0] == "release"  # ... and released after


async def test_hub_renews_its_lease_and_acquires_again_when_it_is_gone():
    """The demand is held on a lease renewed from the status loop; when the socket actor says the
    lease is gone (it ran out during a stall, or the owner lost it), every feed's pairs are acquired
    again."""
    import asyncio

    from serve_app.stream_hub import StreamHub

    core, _, _f = setup()
    src = SlowStartSources(core, first_call_s=0.0)
    hub = StreamHub(src, grace_s=5.0, long_poll_s=0.05, status_interval_s=0.01, lease_s=0.06)
    c = FakeClient()
    hub.add_client(c)
    await hub.subscribe(c, CH)
    assert src.leased == 0.06
    for _ in range(300):
        await asyncio.sleep(0.01)
        if hub.lease_renewals >= 2:
            break
    assert hub.lease_renewals >= 2 and ("acquire", (("H0STCNT0", "005930"),)) == src.demand[0]
    src.lease_known = False
    for _ in range(300):
        await asyncio.sleep(0.01)
        if hub.lease_reacquired:
            break
    assert hub.lease_reacquired >= 1
    assert src.demand.count(("acquire", (("H0STCNT0", "005930"),))) >= 2
    hub.remove_client(c)
