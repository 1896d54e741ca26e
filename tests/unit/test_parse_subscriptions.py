import pytest

from upstream.service import InvalidSubscription, parse_subscriptions


def test_pairs_and_strings():
    assert parse_subscriptions([("H0STCNT0", "005930"), "H0STASP0:000660", ["H0UPCNT0", "0001"]]) == [
        ("H0STCNT0", "005930"), ("H0STASP0", "000660"), ("H0UPCNT0", "0001")]


@pytest.mark.parametrize("bad", [("FOO", "005930"), ("H0STCNT0", ""), "H0STCNT0", ("H0STCNT0", "00 59"),
                                 ("H0STCNT0", "x" * 40), 42, ("a", "b", "c")])
def test_rejects_what_kis_would_refuse(bad):
    with pytest.raises(InvalidSubscription):
        parse_subscriptions([bad])
