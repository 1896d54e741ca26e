"""Requester leases (backbone/leases.py): grant, renew, run out, restore after a restart."""
from backbone.leases import MIN_LEASE_S, LeaseTable


def test_lease_runs_out_unless_renewed():
    t = LeaseTable()
    t.grant("gw-a", 30, now=0)
    t.grant("gw-b", 30, now=0)
    assert t.expired(29.9) == []
    assert t.renew("gw-a", now=20)  # a lives on to 50
    assert t.expired(30) == ["gw-b"]
    assert t.renew("gw-b", now=31) is False  # gone: b must acquire again
    assert t.expired(49.9) == [] and t.remaining("gw-a", 40) == 10
    assert t.expired(50) == ["gw-a"] and len(t) == 0 and t.expired_total == 2


def test_forget_and_minimum_length():
    t = LeaseTable()
    t.grant("gw", 0.01, now=0)
    assert t.lengths() == {"gw": MIN_LEASE_S}  # no lease shorter than a renewal round trip
    t.forget("gw")
    assert t.expired(100) == [] and t.renew("gw", 100) is False


def test_restore_grants_a_fresh_full_lease():
    t = LeaseTable()
    t.restore({"gw-a": 30.0, "gw-b": 10.0}, now=1000)
    assert t.expired(1009) == []
    assert t.expired(1010) == ["gw-b"]
    assert t.remaining("gw-a", 1010) == 20
