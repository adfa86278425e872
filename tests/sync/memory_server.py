"""An in-memory reference implementation of the server side of PROTOCOL.md: an executable spec.

It is deliberately simple (dicts, no roles beyond a ``forbidden`` hook) so that it is obviously
right, and it is what the replica and the convergence properties run against until another
``ServerFixture`` (the real server over HTTP) is plugged into the same tests.

What it pins down where PROTOCOL.md is terse:
- a push is checked whole first (seqs contiguous and starting at most at acked + 1, else 409
  ``gap``), then applied change by change; changes at or below the acked seq are skipped;
- ``rejected`` lists every refused seq from the batch's first seq up to ``acked``, including
  refusals decided by an earlier push whose answer was lost, so a resend learns them;
- per change: ``unknown_table``, ``unknown_column``, ``invalid_value``, ``forbidden``,
  ``clock_skew`` (in that order), then for a ledger ``immutable`` if the id holds other values
  (the same values again are accepted and change nothing);
- lww cells merge by ``(rank, ts, site)``; a status write with a lower rank than the cell's is
  recorded in ``conflicts`` and not applied;
- every row carries the counter of its last change; a pull returns, in counter order, whole rows
  (their current cells grouped by ``(ts, site)``) after the cursor, never splitting a row, and
  the cursor is the counter of the last row sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.registry import DELETED, TABLES, Kind, Table
from shared.values import ValueError_, coerce, to_wire
from sync import codec
from sync.hlc import HLC, too_far_ahead
from sync.merge import SERVER_SITE, Version, version
from sync.ports import SeqGap
from sync.protocol import (
    Change,
    PulledChange,
    PullResponse,
    PushRequest,
    PushResponse,
    Rejection,
    RejectReason,
)

__all__ = ["Accepted", "ConflictRecord", "MemoryServer", "MemoryServerFixture", "MemoryTransport"]

Dump = dict[str, dict[str, dict[str, list[Any]]]]
Cell = tuple[Any, int, str]
Key = tuple[str, str]


class BadRequest(Exception):
    """What the real server answers with a 400."""


@dataclass(frozen=True)
class Accepted:
    """A device change the server applied (or found already present, for a ledger)."""

    site: str
    seq: int
    table: str
    pk: str
    ts: int
    vals: dict[str, Any]
    now_ms: int  # the server's wall clock when it took the change


@dataclass(frozen=True)
class ConflictRecord:
    """A status write that tried to go back: kept, surfaced, not applied."""

    table: str
    pk: str
    column: str
    current: Any
    attempted: Any
    site: str
    ts: int


@dataclass
class _Refusal:
    site: str
    change: Change
    rejection: Rejection


@dataclass
class MemoryServer:
    now_ms: Callable[[], int]
    tables: Iterable[Table] = TABLES
    max_skew_ms: int = 60_000
    forbidden: dict[str, set[str]] = field(default_factory=dict)  # site → tables it may not write

    def __post_init__(self) -> None:
        self.registry: dict[str, Table] = {t.name: t for t in self.tables}
        self.clock = HLC(self.now_ms)
        self.acked: dict[str, int] = {}
        self.refused: dict[tuple[str, int], Rejection] = {}
        self.refusals: list[_Refusal] = []
        self.accepted: list[Accepted] = []
        self.conflicts: list[ConflictRecord] = []
        self.cells: dict[Key, dict[str, Cell]] = {}
        self.ledger: dict[Key, Cell] = {}  # (vals, ts, site)
        self.row_counter: dict[Key, int] = {}
        self.counter = 0

    # ---- push ----------------------------------------------------------------------------

    def push(self, site: str, request: PushRequest) -> PushResponse:
        if request.site != site:
            raise BadRequest("the body's site is not the authenticated device")
        acked = self.acked.get(site, 0)
        changes = request.changes
        if changes:
            first = changes[0].seq
            if any(c.seq != first + i for i, c in enumerate(changes)):
                raise BadRequest("seqs in a batch must be contiguous and increasing")
            if first > acked + 1:
                raise SeqGap(f"batch starts at {first}, acknowledged up to {acked}")
            for change in changes:
                if change.seq <= acked:
                    continue  # exactly once: already stored
                reason = self._apply(site, change)
                if reason is not None:
                    rejection = Rejection(seq=change.seq, reason=reason[0], detail=reason[1])
                    self.refused[(site, change.seq)] = rejection
                    self.refusals.append(_Refusal(site, change, rejection))
                acked = change.seq
            self.acked[site] = acked
            rejected = [self.refused[(site, s)] for s in range(first, acked + 1)
                        if (site, s) in self.refused]
        else:
            rejected = []
        return PushResponse(acked=acked, server_ts=self.clock.tick(), rejected=rejected)

    def _apply(self, site: str, change: Change) -> tuple[RejectReason, str] | None:
        checked = self._check(site, change)
        if isinstance(checked[0], str):
            return checked  # type: ignore[return-value]
        table, pk, vals = checked
        if table.kind is Kind.LEDGER:
            existing = self.ledger.get((table.name, pk))
            if existing is not None and existing[0] != vals:
                return "immutable", f"{table.name} {pk} was already recorded with other values"
            if existing is None:
                self._store_ledger(table, pk, (vals, change.ts, site))
        else:
            self._merge_lww(table, pk, vals, change.ts, site)
        self.clock.observe(change.ts)
        self.accepted.append(Accepted(site, change.seq, change.table, pk, change.ts, vals,
                                      self.now_ms()))
        return None

    def _check(self, site: str, change: Change
               ) -> tuple[RejectReason, str] | tuple[Table, str, dict[str, Any]]:
        table = self.registry.get(change.table)
        if table is None:
            return "unknown_table", f"no synced table {change.table!r}"
        for name in change.vals:
            if table.column(name) is None:
                return "unknown_column", f"{table.name} has no column {name!r}"
        try:
            pk = str(uuid.UUID(change.pk))
        except ValueError:
            return "invalid_value", "the row id is not a UUID"
        vals: dict[str, Any] = {}
        for name, raw in change.vals.items():
            column = table.column(name)
            assert column is not None
            try:
                vals[name] = to_wire(coerce(column.type, raw, choices=column.choices,
                                            nullable=name != DELETED))
            except ValueError_ as exc:
                return "invalid_value", f"{table.name}.{name}: {exc}"
        if table.kind is Kind.LEDGER:
            vals = {c.name: vals.get(c.name) for c in table.columns}
            missing = [c.name for c in table.columns if c.required and vals[c.name] is None]
            if missing:
                return "invalid_value", f"{table.name} needs {', '.join(missing)}"
        if table.name in self.forbidden.get(site, set()):
            return "forbidden", f"this device may not write {table.name}"
        if too_far_ahead(change.ts, self.now_ms(), self.max_skew_ms):
            return "clock_skew", "stamped too far ahead of the server's clock"
        return table, pk, vals

    def _bump(self, key: Key) -> None:
        self.counter += 1
        self.row_counter[key] = self.counter

    def _store_ledger(self, table: Table, pk: str, row: Cell) -> None:
        self.ledger[(table.name, pk)] = row
        self._bump((table.name, pk))

    def _merge_lww(self, table: Table, pk: str, vals: Mapping[str, Any], ts: int, site: str) -> None:
        key = (table.name, pk)
        cells = self.cells.setdefault(key, {})
        changed = False
        for name, value in vals.items():
            column = table.column(name)
            assert column is not None
            new: Version = version(ts, site, column.rank(value))
            old = cells.get(name)
            if old is not None:
                if column.is_status and column.rank(value) < column.rank(old[0]):
                    self.conflicts.append(ConflictRecord(table.name, pk, name, old[0], value,
                                                         site, ts))
                    continue
                if new <= version(old[1], old[2], column.rank(old[0])):
                    continue
            cells[name] = (value, ts, site)
            changed = True
        if not cells:
            del self.cells[key]
        if changed:
            self._bump(key)

    # ---- the server's own writes ---------------------------------------------------------

    def server_write(self, table_name: str, pk: str, vals: Mapping[str, Any]) -> None:
        """A back-office or planning write, stamped by the server's clock as site "server"."""
        table = self.registry[table_name]
        change = Change(seq=1, table=table_name, pk=pk, ts=self.clock.tick(), vals=dict(vals))
        checked = self._check(SERVER_SITE, change)
        if isinstance(checked[0], str):
            raise ValueError(f"{checked[0]}: {checked[1]}")
        _, pk, clean = checked
        if table.kind is Kind.LEDGER:
            if (table.name, pk) in self.ledger:
                raise ValueError("ledger rows are immutable")
            self._store_ledger(table, pk, (clean, change.ts, SERVER_SITE))
        else:
            self._merge_lww(table, pk, clean, change.ts, SERVER_SITE)

    # ---- pull ----------------------------------------------------------------------------

    def pull(self, site: str, cursor: str | None, limit: int) -> PullResponse:
        if limit < 1:
            raise BadRequest("limit must be at least 1")
        try:
            start = int(cursor) if cursor is not None else 0
        except ValueError:
            raise BadRequest("unknown cursor") from None
        rows = sorted((c, key) for key, c in self.row_counter.items() if c > start)
        out: list[PulledChange] = []
        last = start
        taken = 0
        for counter, key in rows:
            entries = self._row_changes(key)
            if out and len(out) + len(entries) > limit:
                break
            out += entries
            last = counter
            taken += 1
        return PullResponse(changes=out, cursor=str(last), more=taken < len(rows),
                            server_ts=self.clock.tick())

    def _row_changes(self, key: Key) -> list[PulledChange]:
        table_name, pk = key
        if key in self.ledger:
            vals, ts, site = self.ledger[key]
            return [PulledChange(table=table_name, pk=pk, ts=ts, site=site, vals=dict(vals))]
        groups: dict[tuple[int, str], dict[str, Any]] = {}
        for name, (value, ts, site) in self.cells.get(key, {}).items():
            groups.setdefault((ts, site), {})[name] = value
        return [PulledChange(table=table_name, pk=pk, ts=ts, site=site, vals=vals)
                for (ts, site), vals in sorted(groups.items())]

    # ---- inspection ----------------------------------------------------------------------

    def dump(self) -> Dump:
        """The same canonical form as ``Replica.dump``."""
        out: Dump = {}
        for (table_name, pk), cells in self.cells.items():
            out.setdefault(table_name, {})[pk] = {n: [v, ts, s] for n, (v, ts, s) in cells.items()}
        for (table_name, pk), (vals, ts, site) in self.ledger.items():
            out.setdefault(table_name, {})[pk] = {n: [v, ts, site] for n, v in vals.items()}
        return out


class MemoryTransport:
    """A device's connection to a :class:`MemoryServer`, through the real codec both ways."""

    def __init__(self, server: MemoryServer, site: str, media_type: str = codec.MSGPACK) -> None:
        self.server = server
        self.site = site
        self.media_type = media_type

    def _wire(self, obj: Any, type_: type[Any]) -> Any:
        return codec.decode(codec.encode(obj, self.media_type), type_, self.media_type)

    def push(self, request: PushRequest) -> PushResponse:
        response = self.server.push(self.site, self._wire(request, PushRequest))
        return self._wire(response, PushResponse)  # type: ignore[no-any-return]

    def pull(self, cursor: str | None, limit: int) -> PullResponse:
        return self._wire(self.server.pull(self.site, cursor, limit), PullResponse)  # type: ignore[no-any-return]


class MemoryServerFixture:
    """The ``ServerFixture`` of the property tests, backed by a :class:`MemoryServer`."""

    def __init__(self, now_ms: Callable[[], int], max_skew_ms: int = 60_000) -> None:
        self.server = MemoryServer(now_ms, max_skew_ms=max_skew_ms)
        self.max_skew_ms = max_skew_ms
        self._media = [codec.MSGPACK, codec.JSON]

    def new_site(self, *, forbidden_tables: frozenset[str] = frozenset()) -> str:
        site = str(uuid.uuid4())
        if forbidden_tables:
            self.server.forbidden[site] = set(forbidden_tables)
        return site

    def transport_for(self, site: str) -> MemoryTransport:
        self._media.reverse()  # alternate JSON and MessagePack between devices
        return MemoryTransport(self.server, site, self._media[0])

    def server_write(self, table: str, pk: str, vals: Mapping[str, Any]) -> None:
        self.server.server_write(table, pk, vals)

    def dump(self) -> Dump:
        return self.server.dump()

    def history(self) -> list[Accepted]:
        return list(self.server.accepted)

    def server_now_ms(self) -> int:
        return self.server.now_ms()
