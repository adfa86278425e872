"""Shared slices of pull pages: the rows of a table every device of a role reads alike (a
catalogue), read and converted once and served to every device that asks from the same cursor.

Why it is safe without invalidation. A slice is the first ``limit + 1`` rows of one table after a
cursor position, in log order, all of them final (below the horizon on PostgreSQL). Later
writes only ever give rows *larger* positions: a row rewritten since the slice was read has left
the slice's range, and no new row can enter it. So a full slice, served later, still holds every
row that is now in its range, in order, and the cursor after it skips nothing; what it may hold
besides is an older version of a row that was rewritten since, which the device then pulls again
at its new position. Every pulled entry is merged by ``(ts, site)`` (and status order), so an
older version never undoes a newer one on the device: it is absorbed like any resent cell.
Only full slices are kept (a short one ends at the head of the log, where new rows do arrive),
and each for at most :data:`TTL_S`, so a device is never served versions much older than that.

The cache is per process and bounded by entries (:data:`MAX_ENTRIES`: about 60 MiB of
catalogue entries, measured at 1.1 KB each); it holds converted entries, so a hit costs no SQL
and no conversion.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sync.protocol import PulledChange

__all__ = ["MAX_ENTRIES", "TTL_S", "SliceCache", "SliceKey", "SliceRow"]

TTL_S = 30.0
MAX_ENTRIES = 60_000

# (namespace: the open database's instance id, table, cursor rev, cursor table index, cursor pk, limit)
SliceKey = tuple[str, str, int, int, str, int]
# a row of a slice: its position in the log (rev, table index, id) and its pull entries
SliceRow = tuple[tuple[int, int, str], list[PulledChange]]


@dataclass
class _Slice:
    rows: list[SliceRow]
    entries: int
    made: float


class SliceCache:
    """An LRU of slices with a time to live, safe to share between the database threads."""

    def __init__(self, max_entries: int = MAX_ENTRIES, ttl_s: float = TTL_S,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._now = now
        self._slices: OrderedDict[SliceKey, _Slice] = OrderedDict()
        self._entries = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: SliceKey) -> list[SliceRow] | None:
        with self._lock:
            found = self._slices.get(key)
            if found is None or self._now() - found.made > self.ttl_s:
                if found is not None:
                    self._drop(key)
                self.misses += 1
                return None
            self._slices.move_to_end(key)
            self.hits += 1
            return found.rows

    def put(self, key: SliceKey, rows: list[SliceRow]) -> None:
        entries = sum(len(e) for _, e in rows)
        if entries > self.max_entries:
            return
        with self._lock:
            if key in self._slices:
                self._drop(key)
            self._slices[key] = _Slice(rows, entries, self._now())
            self._entries += entries
            while self._entries > self.max_entries:
                self._drop(next(iter(self._slices)))

    def _drop(self, key: SliceKey) -> None:
        self._entries -= self._slices.pop(key).entries

    def clear(self) -> None:
        with self._lock:
            self._slices.clear()
            self._entries = 0
