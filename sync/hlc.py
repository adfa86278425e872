"""Hybrid logical clocks packed in one 64-bit integer: ``(unix_ms << 16) | counter``.

The clock never reads time itself: a ``now_ms`` callable is injected, so tests and devices with
wrong clocks are easy to model. ``offset_ms`` is the correction a device learns from the server
when its own clock is off (see :meth:`HLC.correct`).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["COUNTER_BITS", "HLC", "MAX_TS", "pack", "physical_ms", "too_far_ahead", "unpack"]

COUNTER_BITS = 16
COUNTER_MASK = (1 << COUNTER_BITS) - 1
MAX_TS = (1 << 63) - 1


def pack(ms: int, counter: int = 0) -> int:
    if ms < 0 or not 0 <= counter <= COUNTER_MASK:
        raise ValueError(f"cannot pack ms={ms} counter={counter}")
    return (ms << COUNTER_BITS) | counter


def unpack(ts: int) -> tuple[int, int]:
    return ts >> COUNTER_BITS, ts & COUNTER_MASK


def physical_ms(ts: int) -> int:
    return ts >> COUNTER_BITS


def too_far_ahead(ts: int, now_ms: int, max_skew_ms: int) -> bool:
    """The server's skew guard: a stamp more than ``max_skew_ms`` past the server's clock."""
    return physical_ms(ts) > now_ms + max_skew_ms


class HLC:
    """A hybrid logical clock: monotonic, close to wall time, ahead of everything it has seen."""

    __slots__ = ("_now_ms", "last", "offset_ms")

    def __init__(self, now_ms: Callable[[], int], last: int = 0, offset_ms: int = 0) -> None:
        self._now_ms = now_ms
        self.last = last
        self.offset_ms = offset_ms

    def wall_ms(self) -> int:
        return self._now_ms() + self.offset_ms

    def tick(self) -> int:
        """Stamp a local event: later than the wall clock's last stamp and all that was seen."""
        wall = pack(max(self.wall_ms(), 0))
        self.last = wall if wall > self.last else self.last + 1
        return self.last

    def observe(self, remote: int) -> int:
        """Fold in a stamp from elsewhere so that later local stamps sort after it."""
        if remote > self.last:
            self.last = remote
        return self.last

    def correct(self, server_ts: int, max_skew_ms: int) -> bool:
        """Re-anchor a clock that runs ahead of the server's by more than ``max_skew_ms / 2``.

        The offset makes new stamps follow the server's wall time, and the last stamp is pulled
        back so that it no longer carries the fast clock's future. Only a device does this, after
        the server refused its stamps: nothing it stamped that far ahead was ever accepted.
        Returns whether anything changed.
        """
        server_ms = physical_ms(server_ts)
        drift = self._now_ms() + self.offset_ms - server_ms
        if drift <= max_skew_ms // 2 and physical_ms(self.last) <= server_ms + max_skew_ms:
            return False
        if drift > max_skew_ms // 2:
            self.offset_ms -= drift
        self.last = max(server_ts, pack(max(self.wall_ms(), 0)))
        return True
