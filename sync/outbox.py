"""The device's outbox and its pending writes, as pure functions (no storage, no clock reads).

A local write is validated (:func:`checked_vals`), stamped once and queued as an
:class:`OutboxEntry` with the next ``seq``. Until the server acknowledges it, the device shows
each touched cell as the winner of the server-known *base* and its pending writes
(:func:`winner`, :func:`ledger_winner`), the per-cell "rebase pending writes on server state".
A push sends a contiguous run of entries (:func:`build_request`); :func:`settle` sorts the answer
into accepted, refused and clock-skewed entries, and :func:`needs_restamp` picks the entries that
were never sent and carry a stamp the server would refuse. ``replica.py`` stores all of this.

Invariant the replica keeps: once an entry may have reached the server (its seq is at most the
highest seq ever sent) its content never changes, so ``(site, seq)`` always names one change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import msgspec

from shared.errors import InvalidInput
from shared.registry import DELETED, Kind, Table
from shared.values import ValueError_, coerce, to_wire
from sync.hlc import physical_ms
from sync.merge import Version, version
from sync.protocol import Change, PushRequest, PushResponse, Rejection

__all__ = [
    "Cell",
    "LedgerRow",
    "OutboxEntry",
    "Settlement",
    "build_request",
    "cell_version",
    "checked_pk",
    "checked_vals",
    "ledger_winner",
    "needs_restamp",
    "settle",
    "winner",
]

Cell = tuple[Any, int, str]
"""One register's content: ``(wire value, ts, site)``."""


class OutboxEntry(msgspec.Struct, frozen=True):
    """One queued local change: every column in it shares ``ts``."""

    seq: int
    table: str
    pk: str
    ts: int
    vals: dict[str, Any]

    def to_change(self) -> Change:
        return Change(seq=self.seq, table=self.table, pk=self.pk, ts=self.ts, vals=dict(self.vals))


class LedgerRow(msgspec.Struct, frozen=True):
    """A ledger row as stored: all columns, and the stamp of the change that wrote it."""

    vals: dict[str, Any]
    ts: int
    site: str


# ---- validation: what may enter the outbox ------------------------------------------------


def checked_pk(pk: object) -> str:
    """The canonical text form of a row id (ids are UUIDs), or :class:`InvalidInput`."""
    if not isinstance(pk, str):
        raise InvalidInput(f"a row id must be a UUID string, got {type(pk).__name__}", "invalid_value")
    try:
        return str(uuid.UUID(pk))
    except ValueError:
        raise InvalidInput(f"a row id must be a UUID string, got {pk[:60]!r}", "invalid_value") from None


def checked_vals(table: Table, vals: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a change's values for ``table`` and return them in canonical wire form.

    For a ledger every column is filled in (missing optional ones as ``None``) and required ones
    must be present, because a ledger row is written once, whole.
    """
    if not vals and table.kind is Kind.LWW:
        raise InvalidInput(f"{table.name}: a change must write at least one column", "invalid_value")
    out: dict[str, Any] = {}
    for name, raw in vals.items():
        column = table.column(name)
        if column is None:
            raise InvalidInput(f"{table.name} has no column {name!r}", "unknown_column")
        try:
            value = coerce(column.type, raw, choices=column.choices, nullable=name != DELETED)
        except ValueError_ as exc:
            raise InvalidInput(f"{table.name}.{name}: {exc}", "invalid_value") from None
        out[name] = to_wire(value)
    if table.kind is Kind.LEDGER:
        for column in table.columns:
            if out.get(column.name) is None and column.required:
                raise InvalidInput(f"{table.name}.{column.name} is required", "invalid_value")
        out = {column.name: out.get(column.name) for column in table.columns}
    return out


# ---- the rebase rule: a cell shows the winner of its base and its pending writes ----------


def cell_version(table: Table, name: str, cell: Cell) -> Version:
    """The merge version of a cell: ``(rank, ts, site)``; rank only matters for status columns."""
    column = table.column(name)
    rank = column.rank(cell[0]) if column is not None else 0
    return version(cell[1], cell[2], rank)


def winner(table: Table, name: str, cells: Iterable[Cell | None]) -> Cell | None:
    """The cell with the biggest version (``None`` when nothing was ever written)."""
    best: Cell | None = None
    best_version: Version | None = None
    for cell in cells:
        if cell is None:
            continue
        v = cell_version(table, name, cell)
        if best_version is None or v > best_version:
            best, best_version = cell, v
    return best


def ledger_winner(base: LedgerRow | None, pending: Sequence[LedgerRow]) -> LedgerRow | None:
    """What a device shows for a ledger id: the server's row if known, else its first append.

    Ledger merge is first-writer-wins by id: the server keeps the row it stored first and refuses
    a different one (``immutable``), so a known server row always beats a local append.
    """
    if base is not None:
        return base
    return pending[0] if pending else None


# ---- pushing ------------------------------------------------------------------------------


def build_request(site: str, entries: Sequence[OutboxEntry]) -> PushRequest:
    """A push of ``entries``, which must be a contiguous run of seqs."""
    for before, after in pairwise(entries):
        if after.seq != before.seq + 1:
            raise ValueError(f"outbox seqs must be contiguous: {before.seq} then {after.seq}")
    return PushRequest(site=site, changes=[e.to_change() for e in entries])


@dataclass
class Settlement:
    """How the server answered for the entries of one push."""

    acked: int  # highest seq the device may now forget (never past what it sent)
    accepted: list[OutboxEntry] = field(default_factory=list)
    refused: list[tuple[OutboxEntry, Rejection]] = field(default_factory=list)  # to undo
    skewed: list[OutboxEntry] = field(default_factory=list)  # to re-stamp and queue again


def settle(sent: Sequence[OutboxEntry], response: PushResponse) -> Settlement:
    """Sort the sent entries by the server's answer.

    ``acked`` is capped at the last seq sent: a server that had stored later seqs from an earlier
    push whose answer was lost might not repeat their rejections, so those entries stay queued and
    are sent again (the server dedups them and reports them once more).
    """
    if not sent:
        return Settlement(acked=response.acked)
    acked = min(response.acked, sent[-1].seq)
    reasons = {r.seq: r for r in response.rejected}
    out = Settlement(acked=max(acked, sent[0].seq - 1))
    for entry in sent:
        if entry.seq > acked:
            break
        rejection = reasons.get(entry.seq)
        if rejection is None:
            out.accepted.append(entry)
        elif rejection.reason == "clock_skew":
            out.skewed.append(entry)
        else:
            out.refused.append((entry, rejection))
    return out


def needs_restamp(pending: Iterable[OutboxEntry], *, sent_seq: int, limit_ms: int) -> list[OutboxEntry]:
    """Entries that never left the device and carry a stamp past ``limit_ms``, in seq order.

    Only never-sent entries may be re-stamped in place: a sent one may already be stored under
    its seq, so it is left to the server, which refuses it (``clock_skew``) if it is too far ahead.
    """
    return sorted(
        (e for e in pending if e.seq > sent_seq and physical_ms(e.ts) > limit_ms),
        key=lambda e: e.seq,
    )
