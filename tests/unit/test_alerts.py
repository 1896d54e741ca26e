from backbone.alerts import (AlertPolicy, Pacer, decide, hold_reason, payload_for, retry_after_s, webhook_id,
                             webhook_kind)

ALERT = {"alert_id": "abc", "symbol": "005930", "side": "buy", "count": 2, "total_size": 3500,
         "notional": 248_500_000, "vwap": 71000.0, "reasons": ["absolute"], "first_time": "2026-11-20T10:00:00+09:00"}
P = AlertPolicy()


def test_kind_by_url():
    assert webhook_kind("https://discord.com/api/webhooks/1/abc") == "discord"
    assert webhook_kind("https://discordapp.com/api/webhooks/1/abc") == "discord"
    assert webhook_kind("http://127.0.0.1:5000/api/webhooks/9/t") == "discord"
    assert webhook_kind("https://hooks.slack.com/services/T/B/x") == "slack"
    assert webhook_kind("http://127.0.0.1:5000/services/T/B/x") == "slack"


def test_webhook_id_hides_secret_path():
    url = "https://hooks.slack.com/services/T000/B000/SECRETTOKEN"
    wid = webhook_id(url)
    assert "SECRETTOKEN" not in wid and wid.startswith("slack:hooks.slack.com:")
    assert wid == webhook_id(url) and wid != webhook_id(url + "x")


def test_payloads():
    s = payload_for("slack", ALERT)
    assert set(s) == {"text", "unfurl_links"} and "005930" in s["text"] and "3,500" in s["text"]
    d = payload_for("discord", ALERT)
    assert "content" in d and d["allowed_mentions"] == {"parse": []} and "abc" in d["embeds"][0]["footer"]["text"]


def test_decisions():
    assert decide(200, 1, P).outcome == "sent"
    assert decide(204, 1, P).outcome == "sent"
    d = decide(429, 1, P, body=b'{"message": "You are being rate limited.", "retry_after": 0.75, "global": false}')
    assert d.outcome == "retry" and d.rate_limited and d.delay_s == 0.75
    d = decide(429, 30, P, headers={"Retry-After": "3"})
    assert d.outcome == "retry" and d.delay_s == 3.0  # a 429 never exhausts the attempts
    assert decide(429, 1, P, body=b"not json").delay_s == P.default_retry_after_s
    assert decide(500, 1, P).delay_s == 1.0 and decide(500, 3, P).delay_s == 4.0
    assert decide(None, 2, P, error="ConnectionRefused").outcome == "retry"
    assert decide(500, P.max_attempts, P).outcome == "failed"
    assert decide(404, 1, P).outcome == "failed" and decide(400, 1, P).outcome == "failed"
    assert decide(500, 50, AlertPolicy(max_attempts=100)).delay_s == P.max_backoff_s


def test_retry_after_bounds():
    assert retry_after_s(b'{"retry_after": -1}', {}, P) == P.default_retry_after_s
    assert retry_after_s(b'{"retry_after": 1e9}', {}, P) == P.max_retry_after_s
    assert retry_after_s(None, {"retry-after": "nan"}, P) == P.default_retry_after_s


def test_pacer():
    p = Pacer(P)
    assert p.ready_at("w") == 0.0
    p.sent("w", "slack", 10.0)
    assert p.ready_at("w") == 11.0
    p.sent("d", "discord", 10.0)
    assert p.ready_at("d") == 10.5
    p.pause("w", 5.0, 10.0)
    assert p.ready_at("w") == 15.0
    p.sent("w", "slack", 10.5)  # never moves earlier
    assert p.ready_at("w") == 15.0


def test_hold_reason():
    assert hold_reason("connected") is None
    assert "reconnecting" in hold_reason("reconnecting")
    assert "stale" in hold_reason("stale")
    assert hold_reason(None)


def test_whale_channel_poll_contract():
    import json

    from backbone.whale_channel import WhaleChannel
    ch = WhaleChannel(max_events=3)
    ch.seed([{"alert_id": "old"}])
    for i in range(5):
        ch.append({"alert_id": f"a{i}"})
    r = ch.poll(3, ch.epoch)
    assert [json.loads(t)["data"]["alert_id"] for _, _, t in r["events"]] == ["a3", "a4"]
    assert json.loads(r["events"][0][2])["channel"] == "whale"
    old = ch.poll(0, ch.epoch)
    assert old["recovered"] is False
    snap = json.loads(old["snapshot"][1])
    assert snap["seq"] == 5 and snap["data"]["recent"][0]["alert_id"] == "old"
    assert ch.poll(3, "other")["recovered"] is False
    assert ch.poll(None)["snapshot"][0] == 5
