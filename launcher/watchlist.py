"""The default watchlist `make run` subscribes (pure; no Ray).

`WATCHLIST=005930,000660,...` overrides the default (the ten largest KRX caps of
backbone.symbols); each symbol is subscribed for trades (H0STCNT0) and books (H0STASP0), so ten
symbols take 20 of the 41 registrations and leave the rest for viewers (who win on priority).
"""
from __future__ import annotations

import re

from backbone.symbols import DOMESTIC

DEFAULT_SIZE = 10
TRADES, BOOKS = "H0STCNT0", "H0STASP0"
_CODE = re.compile(r"^[0-9A-Z]{6}$")


class WatchlistError(ValueError):
    """WATCHLIST holds something that is not a KRX code."""


def parse_watchlist(raw: str | None) -> list[str]:
    if raw is None or not raw.strip():
        return [s.code for s in DOMESTIC[:DEFAULT_SIZE]]
    out: list[str] = []
    for item in raw.split(","):
        code = item.strip().upper()
        if not code:
            continue
        if not _CODE.match(code):
            raise WatchlistError(f"WATCHLIST: {code[:20]!r} is not a 6-character KRX code")
        if code not in out:
            out.append(code)
    return out


def subscriptions(symbols: list[str]) -> list[str]:
    return [f"{tr}:{code}" for code in symbols for tr in (TRADES, BOOKS)]
