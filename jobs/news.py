"""News keyword association: `python -m jobs.news --source FILE_OR_FEED`.

Reads a pluggable news source (JSON lines, or an RSS/Atom feed via feedparser), extracts Korean
keywords (kiwipiepy) and symbol mentions (symbol master names and codes), stores the items in
`news_items`, then scores symbol associations over the window from the stored items and
replaces the `news` run in `related_assets` (backbone.news does the logic).

    python -m jobs.news --source news.jsonl --window-hours 72
    NEWS_SOURCE=feed.xml python -m jobs.news
    ray job submit --address http://127.0.0.1:8265 -- python -m jobs.news --source /path/feed.xml
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

from backbone import news as N

from .common import Progress, add_db_args, database, setup_logging

log = logging.getLogger("jobs.news")


class NewsSource(Protocol):
    name: str

    def fetch(self) -> list[N.NewsItem]: ...


class JsonLinesSource:
    """One JSON object per line (see backbone.news.parse_record); bad lines are logged and
    counted in `errors`, never fatal."""

    def __init__(self, path: str | os.PathLike, name: str | None = None) -> None:
        self.path = Path(path)
        self.name = name or self.path.stem
        self.errors = 0

    def fetch(self) -> list[N.NewsItem]:
        out = []
        with open(self.path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    out.append(N.parse_record(json.loads(line), self.name))
                except (json.JSONDecodeError, N.NewsFormatError) as e:
                    self.errors += 1
                    log.warning("%s:%d skipped: %s", self.path.name, n, e)
        return out


class RssSource:
    """An RSS or Atom feed (file path or URL) read with feedparser."""

    def __init__(self, location: str, name: str | None = None) -> None:
        self.location = location
        self.name = name or Path(location).stem
        self.errors = 0

    def fetch(self) -> list[N.NewsItem]:
        import calendar

        import feedparser

        feed = feedparser.parse(self.location)
        if feed.get("bozo") and not feed.entries:
            raise N.NewsFormatError(f"unreadable feed {self.location}: {feed.get('bozo_exception')}")
        out = []
        for e in feed.entries:
            t = e.get("published_parsed") or e.get("updated_parsed")
            if not e.get("title") or t is None:
                self.errors += 1
                continue
            ts = datetime.fromtimestamp(calendar.timegm(t), timezone.utc)
            link = e.get("link")
            out.append(N.NewsItem(e.get("id") or N.item_id(self.name, link, e.title, ts), self.name,
                                  ts, e.title.strip(), (e.get("summary") or "").strip(), link))
        return out


def source_for(spec: str) -> NewsSource:
    """JSON lines for .jsonl/.json/.ndjson, else a feed (RSS/Atom file or http(s) URL)."""
    if Path(spec).suffix.lower() in (".jsonl", ".json", ".ndjson"):
        return JsonLinesSource(spec)
    return RssSource(spec)


def master_records(master_files: list[str]):
    if master_files:
        from backbone.kis_master import parse_master_file

        return [r for f in master_files for r in parse_master_file(f)]
    from backbone.symbols import SYMBOLS

    return list(SYMBOLS.values())


_extractors: dict[tuple[str, ...], N.KeywordExtractor] = {}


def extractor_for(names: tuple[str, ...]) -> N.KeywordExtractor:
    """Loading the Kiwi model takes seconds: one extractor per symbol-name set per process."""
    if names not in _extractors:
        _extractors[names] = N.KeywordExtractor(user_words=names)
    return _extractors[names]


def enrich_all(items: list[N.NewsItem], master) -> list[N.NewsItem]:
    resolver = N.SymbolResolver(master)
    extractor = extractor_for(tuple(sorted(s.name for s in master)))
    progress = Progress("news items", len(items), logger=log)
    out = []
    for it in items:
        out.append(N.enrich(it, extractor, resolver))
        progress.step()
    return out


async def _stored_window(conn, end: datetime, hours: float) -> list[N.NewsItem]:
    rows = await conn.fetch(
        """SELECT id, source, published_at, title, keywords, symbols FROM news_items
           WHERE published_at > $1 AND published_at <= $2""", end - timedelta(hours=hours), end)
    return [N.NewsItem(r["id"], r["source"], r["published_at"], r["title"],
                       keywords=tuple(r["keywords"]), symbols=tuple(r["symbols"])) for r in rows]


async def run(dsn: str, source: NewsSource, *, master=None, window_hours: float = 72.0,
              end: datetime | None = None, top_k: int = 10) -> dict[str, list[N.Association]]:
    import asyncpg

    from .writes import RunInfo, replace_related, upsert_news

    end = end or datetime.now(timezone.utc)
    items = enrich_all(source.fetch(), master if master is not None else master_records([]))
    conn = await asyncpg.connect(dsn, timeout=30)
    try:
        await upsert_news(conn, items)
        window = await _stored_window(conn, end, window_hours)
        assoc = N.associations(window, top_k=top_k)
        rows = [(a.symbol, a.related, "positive", rank, a.score, None, a.co_mentions,
                 {"keywords": list(a.shared_keywords), "keyword_similarity": a.keyword_similarity})
                for lst in assoc.values() for rank, a in enumerate(lst, 1)]
        run_info = RunInfo(reason="news", window_start=end - timedelta(hours=window_hours),
                           window_end=end, symbols=len(assoc),
                           params={"source": source.name, "top_k": top_k, "items": len(window),
                                   "window_hours": window_hours, "skipped": source.errors})
        n = await replace_related(conn, run_info, rows)
    finally:
        await conn.close()
    log.info("news: %d items read (%d skipped), %d in the %.0f h window, %d associations for %d symbols",
             len(items), source.errors, len(window), window_hours, n, len(assoc))
    return assoc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.news", description=__doc__.split("\n")[0])
    p.add_argument("--source", default=os.environ.get("NEWS_SOURCE"),
                   help="JSON-lines file or RSS/Atom feed (default: NEWS_SOURCE)")
    p.add_argument("--window-hours", type=float, default=72.0)
    p.add_argument("--end", default=None, help="window end, ISO-8601 (default now)")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--master", action="append", default=[], help="KIS kospi_code.mst / kosdaq_code.mst")
    add_db_args(p)
    a = p.parse_args(argv)
    setup_logging()
    if not a.source:
        log.error("no news source: give --source or set NEWS_SOURCE")
        return 2
    end = datetime.fromisoformat(a.end) if a.end else None
    if end is not None and end.tzinfo is None:
        end = end.replace(tzinfo=timezone.utc)
    try:
        with database(a.dsn) as dsn:
            asyncio.run(run(dsn, source_for(a.source), master=master_records(a.master),
                            window_hours=a.window_hours, end=end, top_k=a.top_k))
    except (N.NewsFormatError, OSError) as e:
        log.error("%s", e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
