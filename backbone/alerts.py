"""Whale alerts to Slack and Discord webhooks: payloads, pacing and retry decisions (pure, no I/O).

- Kind by URL: Discord webhooks live under `/api/webhooks/` (discord.com, discordapp.com, or any
  host in tests); Slack incoming webhooks under `/services/` (hooks.slack.com). Anything else gets
  the Slack shape (`{"text"}`), which most chat webhooks accept.
- Pacing: at most one message per `slack_interval_s` (1 s) per Slack webhook, `discord_interval_s`
  per Discord webhook; a 429 pushes that webhook's next slot to now + retry_after (Discord JSON
  body `retry_after`, seconds, or the `Retry-After` header).
- Retries: 2xx done; 429 retry after retry_after (does not count as a failure); 5xx, timeouts and
  connection errors retry with exponential backoff up to `max_attempts`; other 4xx are permanent
  (the webhook is misconfigured: retrying cannot help).
- Holding: while the upstream feed is not `connected` (stale, reconnecting) alerts wait in the
  outbox, because a burst seen right after a reconnect may be a replay or a stale print.
Webhook URLs carry secrets in their path: they are identified by `webhook_id(url)` everywhere
(database, logs, status); the URL itself stays in memory only.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, Mapping
from urllib.parse import urlparse

Kind = Literal["slack", "discord"]
SIDE_WORD = {"buy": "BUY", "sell": "SELL"}


def webhook_kind(url: str) -> Kind:
    u = urlparse(url)
    host = (u.hostname or "").lower()
    if "/api/webhooks/" in u.path or host.endswith(("discord.com", "discordapp.com")):
        return "discord"
    return "slack"


def webhook_id(url: str) -> str:
    """A stable, non-secret name for a webhook URL: kind + host + short hash."""
    u = urlparse(url)
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return f"{webhook_kind(url)}:{u.hostname or '?'}:{digest}"


def alert_text(alert: Mapping[str, Any]) -> str:
    side = SIDE_WORD.get(alert.get("side", ""), str(alert.get("side", "?")).upper())
    reasons = "+".join(alert.get("reasons") or ())
    prints = f"{alert.get('count', 1)} print{'s' if alert.get('count', 1) != 1 else ''}"
    return (f"Whale {side} {alert.get('symbol')}: {int(alert.get('total_size', 0)):,} shares, "
            f"{int(alert.get('notional', 0)):,} KRW ({prints}, vwap {alert.get('vwap')}, {reasons}) "
            f"at {alert.get('first_time')} [alert {alert.get('alert_id')}]")


def payload_for(kind: Kind, alert: Mapping[str, Any]) -> dict[str, Any]:
    text = alert_text(alert)
    if kind == "discord":
        return {"content": text, "allowed_mentions": {"parse": []},
                "embeds": [{"title": f"Whale {alert.get('symbol')}", "description": text,
                            "footer": {"text": f"alert {alert.get('alert_id')}"}}]}
    return {"text": text, "unfurl_links": False}


@dataclass(frozen=True)
class AlertPolicy:
    slack_interval_s: float = 1.0
    discord_interval_s: float = 0.5
    base_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    max_attempts: int = 12
    default_retry_after_s: float = 1.0
    max_retry_after_s: float = 300.0

    def interval(self, kind: Kind) -> float:
        return self.slack_interval_s if kind == "slack" else self.discord_interval_s


@dataclass(frozen=True)
class Decision:
    outcome: Literal["sent", "retry", "failed"]
    delay_s: float = 0.0  # for retry: wait this long before the next attempt
    rate_limited: bool = False  # a 429: the whole webhook pauses for delay_s
    error: str | None = None  # short, secret-free


def retry_after_s(body: bytes | str | None, headers: Mapping[str, str], policy: AlertPolicy) -> float:
    """Discord: JSON `retry_after` (seconds, float); else the Retry-After header (seconds)."""
    value: Any = None
    if body:
        try:
            parsed = json.loads(body)
            if isinstance(parsed, dict):
                value = parsed.get("retry_after")
        except (ValueError, TypeError):
            value = None
    if value is None:
        value = {k.lower(): v for k, v in headers.items()}.get("retry-after")
    try:
        secs = float(value)
    except (TypeError, ValueError):
        secs = policy.default_retry_after_s
    if secs != secs or secs < 0:  # NaN or negative
        secs = policy.default_retry_after_s
    return min(secs, policy.max_retry_after_s)


def decide(status: int | None, attempts: int, policy: AlertPolicy, body: bytes | str | None = None,
           headers: Mapping[str, str] | None = None, error: str | None = None) -> Decision:
    """What to do after attempt number `attempts` (1-based) ended with HTTP `status` (None: no answer)."""
    headers = headers or {}
    if status is not None and 200 <= status < 300:
        return Decision("sent")
    if status == 429:
        return Decision("retry", retry_after_s(body, headers, policy), rate_limited=True, error="HTTP 429")
    transient = status is None or status >= 500 or status == 408
    why = error or f"HTTP {status}"
    if not transient:
        return Decision("failed", error=why)
    if attempts >= policy.max_attempts:
        return Decision("failed", error=f"{why} after {attempts} attempts")
    delay = min(policy.max_backoff_s, policy.base_backoff_s * 2 ** max(0, attempts - 1))
    return Decision("retry", delay, error=why)


class Pacer:
    """Next allowed send time per webhook (clock: any monotonic seconds)."""

    def __init__(self, policy: AlertPolicy) -> None:
        self.policy = policy
        self._next: dict[str, float] = {}

    def ready_at(self, webhook: str) -> float:
        return self._next.get(webhook, 0.0)

    def sent(self, webhook: str, kind: Kind, now: float) -> None:
        self._next[webhook] = max(self._next.get(webhook, 0.0), now + self.policy.interval(kind))

    def pause(self, webhook: str, seconds: float, now: float) -> None:
        self._next[webhook] = max(self._next.get(webhook, 0.0), now + seconds)


def hold_reason(upstream_state: str | None) -> str | None:
    """Why alerts are held back now (None: deliver)."""
    if upstream_state == "connected":
        return None
    if upstream_state in ("stale", "reconnecting", "connecting"):
        return f"feed {upstream_state}: alerts held until it is live again"
    return f"feed state {upstream_state or 'unknown'}: alerts held"
