"""An append-only JSON-lines spill file for candles the database could not take yet.

Read back in order from a remembered offset; emptied (truncated) once everything was read. A file
left by a previous process is picked up at start (re-writing a row is harmless: upserts are
idempotent). Unreadable lines are counted and skipped, never fatal.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from backbone.models import Candle
from backbone.storage_policy import BadSpillRecord, candle_from_json, candle_to_json


class SpillFile:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._offset = 0  # bytes already read back
        self.unread = 0  # rows written and not read back yet
        self.total_spilled = 0
        self.bad_lines = 0
        if self.path.exists():
            with self.path.open("rb") as f:
                self.unread = sum(1 for line in f if line.strip())

    def append(self, candles: Iterable[Candle]) -> int:
        lines = [json.dumps(candle_to_json(c), default=str, separators=(",", ":")) for c in candles]
        if not lines:
            return 0
        with self.path.open("a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.unread += len(lines)
        self.total_spilled += len(lines)
        return len(lines)

    def read(self, max_rows: int) -> list[Candle]:
        """Next rows in write order (at most `max_rows`); truncates the file when all were read."""
        if self.unread <= 0:
            return []
        out: list[Candle] = []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            while len(out) < max_rows:
                line = f.readline()
                if not line:
                    break
                self._offset = f.tell()
                if not line.strip():
                    continue
                self.unread -= 1
                try:
                    out.append(candle_from_json(json.loads(line)))
                except (ValueError, BadSpillRecord):
                    self.bad_lines += 1
            at_end = not f.readline()
        if at_end:
            self.path.unlink(missing_ok=True)
            self._offset = 0
            self.unread = 0
        return out
