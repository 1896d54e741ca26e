from backbone.token_policy import Action, TokenPolicy

P = TokenPolicy(refresh_before_s=1800, min_issue_interval_s=60, min_remaining_s=5)
DAY = 86400.0


def test_no_token_issues():
    assert P.decide(0, None, None).action is Action.ISSUE


def test_fresh_token_is_used_until_30_min_before_expiry():
    assert P.decide(1000, DAY, 0).action is Action.USE
    assert P.decide(DAY - 1801, DAY, 0).action is Action.USE
    assert P.decide(DAY - 1800, DAY, 0).action is Action.ISSUE


def test_one_issuance_per_minute_keeps_serving_a_usable_token():
    now = DAY - 100
    assert P.decide(now, DAY, now - 30).action is Action.USE
    assert P.decide(now, DAY, now - 60).action is Action.ISSUE


def test_invalid_token_within_the_minute_waits():
    d = P.decide(1000, DAY, 990, invalid=True)
    assert d.action is Action.WAIT and d.at == 1050
    assert P.decide(1050, DAY, 990, invalid=True).action is Action.ISSUE


def test_nearly_expired_token_is_not_handed_out():
    d = P.decide(DAY - 3, DAY, DAY - 10)
    assert d.action is Action.WAIT and d.at == DAY + 50


def test_not_before_after_throttling_overrides_a_short_interval():
    p = TokenPolicy(refresh_before_s=1800, min_issue_interval_s=1)
    assert p.decide(DAY - 1000, DAY, DAY - 1010, not_before=DAY - 950).action is Action.USE
    d = p.decide(DAY - 1000, DAY, DAY - 1010, invalid=True, not_before=DAY - 950)
    assert d.action is Action.WAIT and d.at == DAY - 950
