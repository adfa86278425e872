"""Stock on hand from the ``stock_move`` ledger (PROTOCOL.md): the latest ``count`` sets the
level, every move stamped after it adds, every move stamped before it is absorbed by it; with no
count, on hand is the plain sum of the moves.

Pure: plain records in, decimals out, no I/O. The result depends only on the *set* of moves, never
on the order they arrive in, so every replica that holds the same moves agrees on the level,
whichever device synced first. That is what lets a count taken offline merge with scans made
elsewhere at the same time: the scans stamped after the count still count, the ones stamped
before it were on the shelf the counter saw.

Order of moves is the write order of PROTOCOL.md, ``(ts, site)``, with the move's id as a last
tie-break (two counts can share a stamp only when the server writes them in one batch):

- the *latest count* of a (product, warehouse) is the count with the greatest ``(ts, site, id)``;
- a move is *after* that count when its ``(ts, site)`` is greater than the count's; a move that
  shares the count's ``(ts, site)`` belongs to the same write and is absorbed by it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

__all__ = ["COUNT", "Move", "level", "on_hand", "on_hand_of"]

COUNT = "count"
ZERO = Decimal(0)
SUM_PRECISION = 80  # digits: a stored quantity has at most 27, so sums of them stay exact


@dataclass(frozen=True)
class Move:
    """One ``stock_move`` row. ``qty`` is signed (issues and deliveries are negative), except
    for a ``count``, whose ``qty`` is the quantity counted: the level itself, not a change."""

    product_id: str
    warehouse_id: str
    qty: Decimal
    kind: str
    ts: int
    site: str
    id: str = ""

    @property
    def version(self) -> tuple[int, str]:
        return (self.ts, self.site)


def _count_key(m: Move) -> tuple[int, str, str]:
    return (m.ts, m.site, m.id)


def level(moves: Iterable[Move]) -> Decimal:
    """On hand of one product in one warehouse from all of its moves (zero with no moves)."""
    ms = list(moves)
    counts = [m for m in ms if m.kind == COUNT]
    with localcontext(prec=SUM_PRECISION):  # exact sums, so the order of addition cannot matter
        if not counts:
            return +sum((m.qty for m in ms), ZERO)
        latest = max(counts, key=_count_key)
        return latest.qty + sum((m.qty for m in ms if m.kind != COUNT and m.version > latest.version), ZERO)


def on_hand(moves: Iterable[Move]) -> dict[tuple[str, str], Decimal]:
    """On hand per ``(product_id, warehouse_id)`` of every pair that has at least one move."""
    groups: dict[tuple[str, str], list[Move]] = defaultdict(list)
    for m in moves:
        groups[(m.product_id, m.warehouse_id)].append(m)
    return {key: level(ms) for key, ms in groups.items()}


def on_hand_of(moves: Iterable[Move], product_id: str, warehouse_id: str) -> Decimal:
    """On hand of one product in one warehouse (zero when it has no moves)."""
    return level(m for m in moves if m.product_id == product_id and m.warehouse_id == warehouse_id)
