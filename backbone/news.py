"""News keyword association (pure core): keywords, symbol mentions, association scores.

- Keywords: nouns from kiwipiepy (its bundled model, loaded offline) — common and proper nouns
  and Latin words of two or more characters, minus stop words and the symbols' own names (those
  are mentions, counted separately). Symbol names are registered as user words so that
  "SK하이닉스" stays one token.
- Mentions: names and codes from the symbol master, longest match first, non-overlapping. A
  Latin name (LG, KT) must not touch other Latin letters; a Hangul name must end the word or be
  followed by a particle ("삼성전자는"), so "하이브리드" is not a mention of 하이브.
- Association of symbols A and B over a window of items:
    co-mention  = items mentioning both / sqrt(items mentioning A x items mentioning B)  (Ochiai)
    keyword     = cosine of A's and B's keyword profiles (tf-idf over the items mentioning each)
    score       = 0.5 x co-mention + 0.5 x keyword, in [0, 1]
  The shared keywords with the largest weight product come with each pair, as the "why".
"""
from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

KEYWORD_TAGS = frozenset({"NNG", "NNP", "SL"})
STOPWORDS = frozenset({"오늘", "이번", "지난", "관련", "대해", "위해", "기자", "뉴스", "올해", "내년",
                       "전년", "대비", "이날", "최근", "통해", "가운데", "이상", "이하", "수준", "정도"})
PARTICLES = ("으로", "에서", "까지", "보다", "부터", "처럼", "은", "는", "이", "가", "을", "를", "의",
             "와", "과", "도", "에", "로", "만")
_HANGUL = re.compile(r"[가-힣]")
_LATIN = re.compile(r"[A-Za-z]")


class NewsFormatError(ValueError):
    """A news record without the required fields or with unusable values."""


@dataclass(frozen=True, slots=True)
class NewsItem:
    id: str
    source: str
    published_at: datetime
    title: str
    body: str = ""
    link: str | None = None
    keywords: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}" if self.body else self.title


def item_id(source: str, link: str | None, title: str, published_at: datetime) -> str:
    """Stable id for records without one: the same article from the same source dedupes."""
    key = link or f"{title}|{published_at.isoformat()}"
    return hashlib.sha1(f"{source}|{key}".encode()).hexdigest()[:20]


def parse_record(rec: Mapping, source: str) -> NewsItem:
    """A JSON-lines record: {"title", "published_at" (ISO-8601), optional "body"/"summary",
    "link"/"url", "id"}. Naive times are taken as KST (Korean news)."""
    if not isinstance(rec, Mapping):
        raise NewsFormatError("a news record must be a JSON object")
    title = str(rec.get("title") or "").strip()
    if not title:
        raise NewsFormatError("news record without a title")
    raw = rec.get("published_at") or rec.get("published") or rec.get("time")
    if not raw:
        raise NewsFormatError(f"news record without published_at: {title[:40]!r}")
    try:
        ts = datetime.fromisoformat(str(raw))
    except ValueError as e:
        raise NewsFormatError(f"bad published_at {raw!r}") from e
    if ts.tzinfo is None:
        from zoneinfo import ZoneInfo
        ts = ts.replace(tzinfo=ZoneInfo("Asia/Seoul"))
    body = str(rec.get("body") or rec.get("summary") or "")
    link = rec.get("link") or rec.get("url")
    return NewsItem(str(rec.get("id") or item_id(source, link, title, ts)), source, ts, title, body,
                    link)


@dataclass(frozen=True, slots=True)
class Alias:
    text: str
    symbol: str


class SymbolResolver:
    """Finds symbol mentions by name or code (see module doc for the matching rules)."""

    def __init__(self, master: Iterable) -> None:
        aliases: dict[str, str] = {}
        for s in master:
            for a in (s.name, s.code, getattr(s, "ticker", "")):
                a = (a or "").strip()
                if len(a) >= 2:
                    aliases.setdefault(a, s.code)
        self.aliases = aliases
        ordered = sorted(aliases, key=len, reverse=True)
        self._re = re.compile("|".join(re.escape(a) for a in ordered)) if ordered else None

    def _ok(self, text: str, a: int, b: int) -> bool:
        first, last = text[a], text[b - 1]
        before, after = text[a - 1:a], text[b:b + 1]
        for edge, neighbour in ((first, before), (last, after)):
            if _LATIN.match(edge) and _LATIN.match(neighbour):
                return False  # "LG" inside "LGES", "KT" inside "KTX"
            if edge.isdigit() and neighbour.isdigit():
                return False  # a code inside a longer number
        if _HANGUL.match(last) and _HANGUL.match(after):
            # the word goes on: only a particle may follow ("삼성전자는"), not "하이브리드"
            return any(text.startswith(p, b) and not _HANGUL.match(text[b + len(p):b + len(p) + 1])
                       for p in PARTICLES)
        return True

    def mentions(self, text: str) -> tuple[str, ...]:
        """Symbols mentioned, in order of first mention."""
        if self._re is None:
            return ()
        out: dict[str, None] = {}
        pos = 0
        while (m := self._re.search(text, pos)) is not None:
            if self._ok(text, m.start(), m.end()):
                out.setdefault(self.aliases[m.group()], None)
                pos = m.end()
            else:
                pos = m.start() + 1
        return tuple(out)


class KeywordExtractor:
    """Korean keyword extraction with kiwipiepy (bundled model; no download)."""

    def __init__(self, user_words: Iterable[str] = (), stopwords: Iterable[str] = STOPWORDS) -> None:
        from kiwipiepy import Kiwi

        self.kiwi = Kiwi()
        self.exclude = set(stopwords)
        for w in user_words:
            w = w.strip()
            if w:
                self.kiwi.add_user_word(w.replace(" ", ""), "NNP")
                self.exclude.add(w.replace(" ", ""))

    def keywords(self, text: str) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for tok in self.kiwi.tokenize(text):
            form = tok.form
            if tok.tag in KEYWORD_TAGS and len(form) >= 2 and form not in self.exclude:
                seen.setdefault(form.upper() if tok.tag == "SL" else form, None)
        return tuple(seen)


def enrich(item: NewsItem, extractor: KeywordExtractor, resolver: SymbolResolver) -> NewsItem:
    from dataclasses import replace

    text = item.text
    return replace(item, keywords=extractor.keywords(text), symbols=resolver.mentions(text))


@dataclass(frozen=True, slots=True)
class Association:
    symbol: str
    related: str
    score: float
    co_mentions: int
    keyword_similarity: float
    shared_keywords: tuple[str, ...] = field(default=())


def associations(items: Sequence[NewsItem], top_k: int = 10, min_score: float = 0.0,
                 explain: int = 5) -> dict[str, list[Association]]:
    """Per symbol, its top-k associated symbols by score (see module doc), strongest first."""
    n_items = len(items)
    mentions: dict[str, int] = Counter()
    co: dict[tuple[str, str], int] = Counter()
    df: Counter = Counter()
    tf: dict[str, Counter] = defaultdict(Counter)
    for it in items:
        syms = sorted(set(it.symbols))
        kws = set(it.keywords)
        df.update(kws)
        for s in syms:
            mentions[s] += 1
            tf[s].update(kws)
        for i, a in enumerate(syms):
            for b in syms[i + 1:]:
                co[(a, b)] += 1
    idf = {k: math.log(1.0 + n_items / d) for k, d in df.items()}
    vec = {s: {k: c * idf[k] for k, c in cnt.items()} for s, cnt in tf.items()}
    norm = {s: math.sqrt(sum(v * v for v in w.values())) for s, w in vec.items()}
    syms = sorted(mentions)
    out: dict[str, list[Association]] = {s: [] for s in syms}
    for i, a in enumerate(syms):
        for b in syms[i + 1:]:
            c = co.get((a, b), 0)
            ochiai = c / math.sqrt(mentions[a] * mentions[b])
            va, vb = vec.get(a, {}), vec.get(b, {})
            shared = set(va) & set(vb)
            dot = sum(va[k] * vb[k] for k in shared)
            cos = dot / (norm[a] * norm[b]) if norm.get(a) and norm.get(b) else 0.0
            score = 0.5 * ochiai + 0.5 * cos
            if score <= min_score:
                continue
            why = tuple(k for k, _ in sorted(((k, va[k] * vb[k]) for k in shared),
                                             key=lambda kv: (-kv[1], kv[0]))[:explain])
            out[a].append(Association(a, b, score, c, cos, why))
            out[b].append(Association(b, a, score, c, cos, why))
    return {s: sorted(v, key=lambda x: (-x.score, x.related))[:top_k] for s, v in out.items() if v}


def in_window(items: Iterable[NewsItem], end: datetime, hours: float) -> list[NewsItem]:
    end = end if end.tzinfo else end.replace(tzinfo=timezone.utc)
    lo = end.timestamp() - hours * 3600
    return [i for i in items if lo <= i.published_at.timestamp() <= end.timestamp()]
