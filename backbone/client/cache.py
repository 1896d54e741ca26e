"""TTL cache for REST answers, with per-symbol invalidation and an observable hit rate (pure)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable


@dataclass(slots=True)
class _Entry:
    value: Any
    expires: float
    symbol: str | None


class TTLCache:
    """Entries expire after their TTL; `invalidate_symbol` drops every entry of a symbol (the
    stream showed a newer price). LRU-free on purpose: `max_entries` evicts the oldest insert."""

    def __init__(self, ttl_s: float = 2.0, max_entries: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._data: dict[Hashable, _Entry] = {}
        self.hits = 0
        self.misses = 0
        self.invalidations = 0

    def get(self, key: Hashable) -> Any | None:
        e = self._data.get(key)
        if e is not None and e.expires > self.clock():
            self.hits += 1
            return e.value
        if e is not None:
            del self._data[key]
        self.misses += 1
        return None

    def put(self, key: Hashable, value: Any, *, symbol: str | None = None, ttl_s: float | None = None) -> None:
        if len(self._data) >= self.max_entries and key not in self._data:
            self._data.pop(next(iter(self._data)))
        self._data[key] = _Entry(value, self.clock() + (self.ttl_s if ttl_s is None else ttl_s), symbol)

    def invalidate_symbol(self, symbol: str, keep: Callable[[Any], bool] | None = None) -> int:
        """Drop the symbol's entries (those for which `keep(value)` is false, when given)."""
        gone = [k for k, e in self._data.items() if e.symbol == symbol and not (keep and keep(e.value))]
        for k in gone:
            del self._data[k]
        self.invalidations += len(gone)
        return len(gone)

    def clear(self) -> None:
        self._data.clear()

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def stats(self) -> dict[str, float | int]:
        return {"hits": self.hits, "misses": self.misses, "hit_rate": self.hit_rate,
                "invalidations": self.invalidations, "entries": len(self._data)}

    def __len__(self) -> int:
        return len(self._data)
