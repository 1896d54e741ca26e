"""SubscriptionBook: ref-counting, grace, the budget scheduler and the reply error policy."""
from backbone.kis.control import ReplyKind
from backbone.subscriptions import Availability, Config, Plan, SubscriptionBook

T, B = "H0STCNT0", "H0STASP0"


def book(**kw) -> SubscriptionBook:
    return SubscriptionBook(Config(**{"budget": 3, "min_hold_s": 60, "grace_s": 10, **kw}))


def ack_all(b: SubscriptionBook, plan: Plan, now: float) -> None:
    for k in plan.unsubscribe:
        b.on_reply(k, ReplyKind.UNSUBSCRIBED, now)
    for k in plan.subscribe:
        b.on_reply(k, ReplyKind.SUBSCRIBED, now)


def test_shared_demand_subscribes_once_and_unsubscribes_after_last_release_and_grace():
    b = book()
    assert b.acquire("gw1", [(T, "005930")], 1, 0) == {(T, "005930"): Availability.PENDING}
    b.acquire("gw2", [(T, "005930")], 1, 0)
    p = b.plan(0)
    assert p.subscribe == ((T, "005930"),) and not p.unsubscribe
    ack_all(b, p, 0)
    assert b.view_for("gw2", 0) == {(T, "005930"): Availability.LIVE}
    assert not b.plan(1)  # nothing new to send
    b.release("gw1", None, 5)
    assert not b.plan(100)  # gw2 still wants it
    b.release("gw2", [(T, "005930")], 100)
    assert not b.plan(105)  # grace period
    p = b.plan(110)
    assert p.unsubscribe == ((T, "005930"),)
    ack_all(b, p, 110)
    assert b.used == 0 and b.wanted() == {}


def test_reacquire_within_grace_keeps_the_registration_without_churn():
    b = book()
    b.acquire("viewer", [(T, "1")], 1, 0)
    ack_all(b, b.plan(0), 0)
    b.release("viewer", None, 1)
    b.acquire("viewer", [(T, "1")], 1, 5)  # browser refresh
    assert not b.plan(30)
    assert b.availability((T, "1"), 30) is Availability.LIVE


def test_budget_overflow_is_polled_for_trades_and_refused_for_books():
    b = book()
    got = b.acquire("wl", [(T, "1"), (T, "2"), (T, "3")], 0, 0)
    got.update(b.acquire("wl", [(T, "4"), (B, "1")], 0, 1))  # asked later: same priority ranks behind
    assert [got[(T, k)] for k in "123"] == [Availability.PENDING] * 3
    assert got[(T, "4")] is Availability.POLLED
    assert got[(B, "1")] is Availability.REFUSED
    assert b.polled(0) == [(T, "4")]
    assert len(b.plan(0).subscribe) == 3


def test_higher_priority_evicts_only_after_min_hold_and_never_equal_priority():
    b = book()
    b.acquire("wl", [(T, "1"), (T, "2"), (T, "3")], 0, 0)
    ack_all(b, b.plan(0), 0)
    assert b.acquire("wl2", [(T, "4")], 0, 100)[(T, "4")] is Availability.POLLED  # equal priority: no eviction
    assert b.acquire("viewer", [(T, "5")], 10, 10)[(T, "5")] is Availability.POLLED  # held < 60 s
    assert b.next_wakeup(10) == 60
    p = b.plan(61)
    assert len(p.unsubscribe) == 1 and p.subscribe == ((T, "5"),)
    assert p.unsubscribe[0] in {(T, "1"), (T, "2"), (T, "3")}
    ack_all(b, p, 61)
    assert b.availability((T, "5"), 61) is Availability.LIVE
    assert b.availability(p.unsubscribe[0], 61) is Availability.POLLED
    assert b.used == 3 and b.counters["evictions"] == 1


def test_lingering_registrations_are_evicted_first_without_waiting_for_hold():
    b = book()
    b.acquire("a", [(T, "1"), (T, "2"), (T, "3")], 5, 0)
    ack_all(b, b.plan(0), 0)
    b.release("a", [(T, "2")], 1)
    got = b.acquire("b", [(T, "9")], 0, 2)
    assert got[(T, "9")] is Availability.PENDING
    p = b.plan(2)
    assert p.unsubscribe == ((T, "2"),) and p.subscribe == ((T, "9"),)


def test_freed_slot_goes_to_the_best_waiter():
    b = book(budget=1)
    b.acquire("a", [(T, "1")], 0, 0)
    b.acquire("low", [(T, "2")], 0, 1)
    b.acquire("high", [(T, "3")], 9, 2)
    ack_all(b, b.plan(2), 2)
    b.release("a", None, 3)
    p = b.plan(13)
    assert p.unsubscribe == ((T, "1"),) and p.subscribe == ((T, "3"),)


def test_already_subscribed_unsubscribes_then_subscribes_again():
    b = book()
    b.acquire("a", [(T, "1")], 0, 0)
    b.plan(0)
    b.on_reply((T, "1"), ReplyKind.ALREADY_SUBSCRIBED, 0)
    assert b.plan(0) == Plan(unsubscribe=((T, "1"),))
    b.on_reply((T, "1"), ReplyKind.UNSUBSCRIBED, 0)
    assert b.plan(0) == Plan(subscribe=((T, "1"),))
    b.on_reply((T, "1"), ReplyKind.SUBSCRIBED, 0)
    assert b.availability((T, "1"), 0) is Availability.LIVE


def test_max_subscribe_over_refuses_for_a_while_then_retries():
    b = book(refused_s=30)
    b.acquire("a", [(T, "1"), (B, "1")], 0, 0)
    b.plan(0)
    b.on_reply((T, "1"), ReplyKind.MAX_SUBSCRIBE_OVER, 0)
    b.on_reply((B, "1"), ReplyKind.MAX_SUBSCRIBE_OVER, 0)
    assert b.availability((T, "1"), 1) is Availability.POLLED
    assert b.availability((B, "1"), 1) is Availability.REFUSED
    assert not b.plan(10)
    assert set(b.plan(30).subscribe) == {(T, "1"), (B, "1")}


def test_errors_retry_later_and_silence_resends():
    b = book(retry_s=5, reply_timeout_s=15)
    b.acquire("a", [(T, "1")], 0, 0)
    b.plan(0)
    b.on_reply((T, "1"), ReplyKind.INTERNAL_ERROR, 0)
    assert not b.plan(1)
    assert b.plan(5).subscribe == ((T, "1"),)
    assert not b.plan(10)
    assert b.plan(20).subscribe == ((T, "1"),)  # no reply within 15 s


def test_disconnect_requeues_every_slot_once_and_drops_pending_unsubscribes():
    b = book()
    b.acquire("a", [(T, "1"), (T, "2"), (T, "3")], 0, 0)
    ack_all(b, b.plan(0), 0)
    b.release("a", [(T, "3")], 0)
    assert b.plan(10).unsubscribe == ((T, "3"),)
    for i in range(20):
        b.on_disconnect(100 + i)
        p = b.plan(100 + i)
        assert sorted(p.subscribe) == [(T, "1"), (T, "2")] and not p.unsubscribe
        ack_all(b, p, 100 + i)
    assert b.used == 2


def test_wanted_round_trips_through_restore():
    b = book()
    b.acquire("a", [(T, "1")], 3, 0)
    b.acquire("b", [(T, "1"), (B, "1")], 1, 0)
    w = b.wanted()
    b2 = book()
    b2.restore(w, 50)
    assert b2.wanted() == w
    assert sorted(b2.plan(50).subscribe) == sorted([(T, "1"), (B, "1")])


def test_snapshot_lists_requesters_and_states():
    b = book()
    b.acquire("a", [(T, "1")], 3, 0)
    rows = b.snapshot(0)
    assert rows[0]["requesters"] == ["a"] and rows[0]["state"] == "pending" and rows[0]["priority"] == 3


def test_permanent_rejection_frees_the_slot_and_is_not_retried_for_a_while():
    b = book(refused_s=30)
    b.acquire("a", [(B, "1")], 0, 0)
    b.plan(0)
    b.refuse((B, "1"), 0)
    assert b.used == 0 and b.availability((B, "1"), 1) is Availability.REFUSED
    assert not b.plan(29)
    assert b.plan(30).subscribe == ((B, "1"),)
