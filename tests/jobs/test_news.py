"""News association on headlines written for these tests: tokenizer, mentions, scores, the job
end to end (JSON lines and RSS) with the API read query returning the `news` reason."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from backbone import news as N
from backbone.symbols import SYMBOLS
from jobs import news as job
from jobs import queries

END = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
HEADLINES = [
    ("삼성전자·SK하이닉스, HBM 수요 급증에 반도체 동반 강세", 1),
    ("SK하이닉스 HBM 공급 확대…삼성전자도 반도체 투자 늘려", 2),
    ("현대차와 기아, 전기차 판매 호조에 나란히 신고가", 3),
    ("기아 전기차 수출 증가, 현대차 하이브리드 판매도 늘어", 4),
    ("KB금융 배당 확대 발표, 금리 인하 우려에도 강세", 5),
    ("하이브리드 차량 세제 혜택 연장", 6),  # no symbol (하이브 must not match)
]


@pytest.fixture(scope="module")
def extractor():
    return N.KeywordExtractor(user_words=[s.name for s in SYMBOLS.values()])


def _items(extractor):
    resolver = N.SymbolResolver(SYMBOLS.values())
    return [N.enrich(N.NewsItem(str(i), "test", END - timedelta(hours=h), t), extractor, resolver)
            for t, h in HEADLINES for i in [h]]


def test_kiwi_model_loads_offline_and_extracts_nouns(extractor):
    kws = extractor.keywords("삼성전자는 반도체 업황 회복에 SK하이닉스와 동반 상승, HBM 수요 증가")
    assert {"반도체", "업황", "회복", "HBM", "수요"} <= set(kws)
    assert "삼성전자" not in kws and "SK하이닉스" not in kws  # names are mentions, not keywords


def test_mentions_by_name_and_code_with_word_boundaries():
    r = N.SymbolResolver(SYMBOLS.values())
    assert r.mentions("삼성전자는 (005930) 강세, SK하이닉스도") == ("005930", "000660")
    assert r.mentions("하이브리드 차량과 KTX 요금, 1005930원") == ()
    assert r.mentions("LG전자와 LG, KT&G와 KT") == ("066570", "003550", "033780", "030200")
    assert r.mentions("하이브의 신규 그룹") == ("352820",)


def test_associations_rank_co_mentioned_peers_first(extractor):
    assoc = N.associations(_items(extractor), top_k=3)
    assert assoc["005930"][0].related == "000660"
    assert assoc["005930"][0].co_mentions == 2
    assert "HBM" in assoc["005930"][0].shared_keywords or "반도체" in assoc["005930"][0].shared_keywords
    assert assoc["005380"][0].related == "000270"
    # mentioned alone: only weak keyword links ("강세"), no co-mentions
    assert all(a.co_mentions == 0 and a.score < 0.5 for a in assoc["105560"])
    assert all(0 < a.score <= 1 for lst in assoc.values() for a in lst)
    # symmetric scores
    back = {a.related: a.score for a in assoc["000660"]}
    assert back["005930"] == pytest.approx(assoc["005930"][0].score)


def test_parse_record_errors_are_typed():
    with pytest.raises(N.NewsFormatError):
        N.parse_record({"title": ""}, "x")
    with pytest.raises(N.NewsFormatError):
        N.parse_record({"title": "a", "published_at": "yesterday"}, "x")
    it = N.parse_record({"title": "t", "published_at": "2026-11-20T09:00:00"}, "x")
    assert it.published_at.utcoffset() == timedelta(hours=9) and len(it.id) == 20


def _rss(path):
    entries = "".join(
        f"<item><title>{t}</title><link>https://example.test/{h}</link>"
        f"<pubDate>{(END - timedelta(hours=h)).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate></item>"
        for t, h in HEADLINES)
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                    f"<title>t</title>{entries}</channel></rss>", encoding="utf-8")


def test_job_from_jsonl_and_rss_stores_news_run(pg_dsn, tmp_path):
    jl = tmp_path / "news.jsonl"
    jl.write_text("\n".join([json.dumps({"title": t, "published_at": (END - timedelta(hours=h)).isoformat()},
                                        ensure_ascii=False) for t, h in HEADLINES[:3]]
                            + ["{not json", json.dumps({"title": "no time"})]), encoding="utf-8")
    src = job.source_for(str(jl))
    asyncio.run(job.run(pg_dsn, src, end=END))
    assert src.errors == 2
    rss = tmp_path / "feed.xml"
    _rss(rss)
    assoc = asyncio.run(job.run(pg_dsn, job.source_for(str(rss)), end=END, window_hours=72))
    assert assoc["005930"][0].related == "000660"

    async def read():
        conn = await asyncpg.connect(pg_dsn)
        try:
            n_items = await conn.fetchval("SELECT count(*) FROM news_items")
            runs = await conn.fetchval("SELECT count(*) FROM related_runs WHERE reason = 'news'")
            return n_items, runs, await queries.related_for(conn, "005930", reason="news")
        finally:
            await conn.close()
    n_items, runs, got = asyncio.run(read())
    assert n_items == 3 + len(HEADLINES) and runs == 1
    top = got["related"][0]
    assert top["reason"] == "news" and top["symbol"] == "000660" and top["keywords"]
    assert got["runs"]["news"]["window_end"] == END.isoformat()


def test_cli_without_source_exits_2(monkeypatch):
    monkeypatch.delenv("NEWS_SOURCE", raising=False)
    assert job.main([]) == 2
