"""The device's replica of its synced tables, on stdlib ``sqlite3``: the storage edge of sync.

One local table per registry table with real columns holding wire forms (decimals and dates as
TEXT, flags as INTEGER) and, per cell, the version that wrote it (``<col>__ts``,
``<col>__site``). Ledger tables keep one row per id with ``_ts`` and ``_site``. Beside them:

- ``_outbox``: queued local changes, seq by seq (see ``outbox.py``);
- ``_base`` / ``_ledger_base``: for a cell (ledger id) with pending writes, the server-known
  value and version, so a refused write can be undone and a pulled value lands under the pending
  edit; the visible cell is always ``winner(base, pending writes)``;
- ``_state``: the seq counters, the pull cursor and the clock's last stamp.

Every multi-row operation is one SQLite transaction, so a crash never leaves a cursor ahead of
the rows it covers, an acknowledged entry still queued beside its folded base, or the like.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike
from typing import Any

import msgspec

from shared.errors import InvalidInput
from shared.registry import DELETED, TABLES, Kind, Table
from shared.values import ColType
from sync.hlc import HLC, physical_ms
from sync.merge import SERVER_SITE
from sync.outbox import (
    Cell,
    LedgerRow,
    OutboxEntry,
    build_request,
    checked_pk,
    checked_vals,
    ledger_winner,
    needs_restamp,
    settle,
    winner,
)
from sync.ports import Transport
from sync.protocol import PulledChange, PullResponse, PushResponse, Rejection

__all__ = ["PushResult", "Replica"]

SCHEMA_VERSION = 1
_MAX_SKEW_ROUNDS = 3  # clock-skew refusals one push() call tolerates before giving up for now
_NO_CELL = (None, None, None)
_IN_CHUNK = 500  # ids per ``IN (...)`` list: far below any SQLite's limit on bound parameters

_SQL_TYPE = {
    ColType.TEXT: "TEXT",
    ColType.ID: "TEXT",
    ColType.DECIMAL: "TEXT",
    ColType.DATE: "TEXT",
    ColType.BOOL: "INTEGER",
    ColType.INT: "INTEGER",
}

_encode_json = msgspec.json.Encoder().encode
_decode_vals = msgspec.json.Decoder(dict[str, Any]).decode

Dump = dict[str, dict[str, dict[str, list[Any]]]]


@dataclass(frozen=True)
class PushResult:
    """What one :meth:`Replica.push` achieved."""

    sent: int = 0  # changes put on the wire, resends included
    acked: int = 0  # the device's acknowledged seq afterwards
    rejected: tuple[Rejection, ...] = ()  # refused for good and undone locally: show these
    restamped: int = 0  # changes stamped again after the server found the clock too far ahead


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i:i + _IN_CHUNK]


def _marks(items: Sequence[Any]) -> str:
    return "(" + ", ".join("?" * len(items)) + ")"


def _checked_site(site: str) -> str:
    if site == SERVER_SITE:
        raise ValueError("a device cannot use the server's site")
    canonical = str(uuid.UUID(site))
    if canonical != site:
        raise ValueError(f"a site must be a lowercase text UUID, got {site!r}")
    return site


class _Shape:
    """The SQL of one local table, built once from its registry entry."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.names = table.cell_names
        self.types = {n: (c.type if (c := table.column(n)) else ColType.TEXT) for n in self.names}
        name = _q(table.name)
        if table.kind is Kind.LWW:
            cols = [s for n in self.names for s in (n, f"{n}__ts", f"{n}__site")]
            decl = [
                d
                for n in self.names
                for d in (f"{_q(n)} {_SQL_TYPE[self.types[n]]}", f"{_q(n + '__ts')} INTEGER",
                          f"{_q(n + '__site')} TEXT")
            ]
        else:
            cols = [*self.names, "_ts", "_site"]
            decl = [f"{_q(n)} {_SQL_TYPE[self.types[n]]}" for n in self.names]
            decl += ["_ts INTEGER NOT NULL", "_site TEXT NOT NULL"]
        self.columns = cols
        self.declarations = decl
        self.create = f"CREATE TABLE IF NOT EXISTS {name} (id TEXT PRIMARY KEY, {', '.join(decl)})"
        col_list = ", ".join(_q(c) for c in cols)
        self.select_one = f"SELECT {col_list} FROM {name} WHERE id = ?"
        self.select_in = f"SELECT id, {col_list} FROM {name} WHERE id IN "
        self.select_all = f"SELECT id, {col_list} FROM {name} ORDER BY id"
        marks = ", ".join("?" for _ in range(len(cols) + 1))
        self.upsert = f"INSERT OR REPLACE INTO {name} (id, {col_list}) VALUES ({marks})"
        self.delete = f"DELETE FROM {name} WHERE id = ?"

    def from_sql(self, name: str, value: Any) -> Any:
        if value is not None and self.types[name] is ColType.BOOL:
            return bool(value)
        return value

    def cells(self, row: Iterable[Any]) -> dict[str, Cell]:
        values = list(row)
        out: dict[str, Cell] = {}
        for i, name in enumerate(self.names):
            value, ts, site = values[3 * i: 3 * i + 3]
            if ts is not None:
                out[name] = (self.from_sql(name, value), ts, site)
        return out

    def cell_params(self, pk: str, cells: Mapping[str, Cell]) -> list[Any]:
        params: list[Any] = [pk]
        for name in self.names:
            params.extend(cells.get(name) or _NO_CELL)
        return params

    def new_row_params(self, pk: str, vals: Mapping[str, Any], ts: int, site: str) -> list[Any] | None:
        """``cell_params`` of a row not stored yet that one change writes (``None`` when it
        writes no column this app version knows)."""
        params: list[Any] = [pk]
        known = False
        for name in self.names:
            if name in vals:
                params += (vals[name], ts, site)
                known = True
            else:
                params += _NO_CELL
        return params if known else None

    def ledger_row(self, row: Iterable[Any]) -> LedgerRow:
        values = list(row)
        vals = {n: self.from_sql(n, v) for n, v in zip(self.names, values, strict=False)}
        return LedgerRow(vals=vals, ts=values[-2], site=values[-1])

    def ledger_params(self, pk: str, row: LedgerRow) -> list[Any]:
        return [pk, *(row.vals.get(n) for n in self.names), row.ts, row.site]


class Replica:
    """A device's synced tables, its outbox and its sync state, in one SQLite file."""

    def __init__(self, path: str | PathLike[str], site: str, clock: HLC,
                 tables: Iterable[Table] = TABLES, max_skew_ms: int = 60_000) -> None:
        self.site = _checked_site(site)
        self.clock = clock
        self.max_skew_ms = max_skew_ms
        self._shapes = {t.name: _Shape(t) for t in tables}
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._next_seq = 1
        self._acked = 0
        self._sent = 0
        self._cursor: str | None = None
        self._stored_clock = 0
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._create_schema()
        except BaseException:
            self._db.execute("ROLLBACK")
            self._db.close()
            raise
        self._db.execute("COMMIT")
        self._load_state()
        self.clock.observe(self._stored_clock)

    # ---- lifecycle and state ---------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Replica:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def acked_seq(self) -> int:
        """The highest seq the server has acknowledged (accepted or refused)."""
        return self._acked

    @property
    def cursor(self) -> str | None:
        """Where the next pull starts (``None`` before the first one)."""
        return self._cursor

    def pending_count(self) -> int:
        """How many local changes still wait for the server's acknowledgement."""
        (n,) = self._db.execute("SELECT count(*) FROM _outbox").fetchone()
        return int(n)

    def _create_schema(self) -> None:
        db = self._db
        db.execute("CREATE TABLE IF NOT EXISTS _state (id INTEGER PRIMARY KEY CHECK (id = 1), "
                   "schema_version INTEGER NOT NULL, site TEXT NOT NULL, next_seq INTEGER NOT NULL, "
                   "acked_seq INTEGER NOT NULL, sent_seq INTEGER NOT NULL, cursor TEXT, "
                   "clock_last INTEGER NOT NULL)")
        db.execute("INSERT OR IGNORE INTO _state VALUES (1, ?, ?, 1, 0, 0, NULL, 0)",
                   (SCHEMA_VERSION, self.site))
        db.execute("CREATE TABLE IF NOT EXISTS _outbox (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, "
                   "pk TEXT NOT NULL, ts INTEGER NOT NULL, vals TEXT NOT NULL)")
        db.execute("CREATE INDEX IF NOT EXISTS _outbox_row ON _outbox (tbl, pk)")
        db.execute("CREATE TABLE IF NOT EXISTS _base (tbl TEXT NOT NULL, pk TEXT NOT NULL, "
                   "col TEXT NOT NULL, value, ts INTEGER NOT NULL, site TEXT NOT NULL, "
                   "PRIMARY KEY (tbl, pk, col))")
        db.execute("CREATE TABLE IF NOT EXISTS _ledger_base (tbl TEXT NOT NULL, pk TEXT NOT NULL, "
                   "vals TEXT NOT NULL, ts INTEGER NOT NULL, site TEXT NOT NULL, "
                   "PRIMARY KEY (tbl, pk))")
        for shape in self._shapes.values():
            db.execute(shape.create)
            have = {r[1] for r in db.execute(f"PRAGMA table_info({_q(shape.table.name)})")}
            for column, decl in zip(shape.columns, shape.declarations, strict=True):
                if column not in have:  # a column the registry gained since this file was made
                    db.execute(f"ALTER TABLE {_q(shape.table.name)} ADD COLUMN {decl}")

    def _load_state(self) -> None:
        row = self._db.execute("SELECT site, next_seq, acked_seq, sent_seq, cursor, clock_last "
                               "FROM _state").fetchone()
        site, self._next_seq, self._acked, self._sent, self._cursor, self._stored_clock = row
        if site != self.site:
            raise ValueError(f"this replica file belongs to site {site}, not {self.site}")

    def _save_state(self) -> None:
        self._db.execute("UPDATE _state SET next_seq = ?, acked_seq = ?, sent_seq = ?, cursor = ?, "
                         "clock_last = ?", (self._next_seq, self._acked, self._sent, self._cursor,
                                            self.clock.last))

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._save_state()
        except BaseException:
            self._db.execute("ROLLBACK")
            self._load_state()
            raise
        self._db.execute("COMMIT")

    def _shape(self, table: str, kind: Kind | None = None) -> _Shape:
        shape = self._shapes.get(table)
        if shape is None:
            raise InvalidInput(f"no synced table {table!r}", "unknown_table")
        if kind is not None and shape.table.kind is not kind:
            verb = "append" if shape.table.kind is Kind.LEDGER else "write"
            raise InvalidInput(f"{table} is a {shape.table.kind} table: use {verb}()", "invalid_value")
        return shape

    # ---- local writes ------------------------------------------------------------------------

    def write(self, table: str, pk: str, vals: Mapping[str, Any]) -> int:
        """Write columns of an lww row (wire-form values); returns the change's seq.

        The change is applied locally by the merge rule (a status that would go back does not
        change what the device shows) and queued for the server either way.
        """
        shape = self._shape(table, Kind.LWW)
        pk = checked_pk(pk)
        clean = checked_vals(shape.table, vals)
        with self._tx():
            seq = self._queue(shape, pk, self.clock.tick(), clean)
            self._refresh(shape, pk, clean)
        return seq

    def delete(self, table: str, pk: str) -> int:
        """Tombstone an lww row; a later ``write(..., {"_deleted": False})`` revives it."""
        return self.write(table, pk, {DELETED: True})

    def append(self, table: str, pk: str, vals: Mapping[str, Any]) -> int:
        """Record a ledger row (all its columns, once); returns the change's seq.

        Appending an id the device already holds with the same values is allowed (the server keeps
        the first); with different values it is refused here, as the server would refuse it.
        """
        shape = self._shape(table, Kind.LEDGER)
        pk = checked_pk(pk)
        clean = checked_vals(shape.table, vals)
        current = self._ledger_visible(shape, pk)
        if current is not None and current.vals != clean:
            raise InvalidInput(f"{table} {pk} is already recorded with other values; record a "
                               "compensating row instead", "immutable")
        with self._tx():
            seq = self._queue(shape, pk, self.clock.tick(), clean)
            self._refresh(shape, pk, clean)
        return seq

    def _queue(self, shape: _Shape, pk: str, ts: int, vals: dict[str, Any]) -> int:
        """Snapshot the base of every clean cell the change touches, then queue the change."""
        pending = self._pending(shape.table.name, pk)
        if shape.table.kind is Kind.LWW:
            dirty = {name for e in pending for name in e.vals}
            cells = self._cells(shape, pk)
            for name in vals:
                if name not in dirty and name in cells:
                    self._set_base(shape, pk, name, cells[name])
        elif not pending and (row := self._ledger_visible(shape, pk)) is not None:
            self._set_ledger_base(shape, pk, row)
        seq = self._next_seq
        self._db.execute("INSERT INTO _outbox (seq, tbl, pk, ts, vals) VALUES (?, ?, ?, ?, ?)",
                         (seq, shape.table.name, pk, ts, _encode_json(vals)))
        self._next_seq += 1
        return seq

    # ---- reads -------------------------------------------------------------------------------

    def get(self, table: str, pk: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        """A row's wire-form values with its ``id`` (ledger rows also carry their ``ts``)."""
        shape = self._shape(table)
        pk = checked_pk(pk)
        row = self._db.execute(shape.select_one, (pk,)).fetchone()
        return None if row is None else self._present(shape, pk, row, include_deleted)

    def rows(self, table: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every row of a table, by id (ids are UUIDv7, so roughly by creation time)."""
        shape = self._shape(table)
        out = []
        for pk, *row in self._db.execute(shape.select_all).fetchall():
            if (shown := self._present(shape, pk, row, include_deleted)) is not None:
                out.append(shown)
        return out

    def _present(self, shape: _Shape, pk: str, row: Iterable[Any],
                 include_deleted: bool) -> dict[str, Any] | None:
        if shape.table.kind is Kind.LEDGER:
            ledger = shape.ledger_row(row)
            return {"id": pk, **ledger.vals, "ts": ledger.ts}
        cells = shape.cells(row)
        deleted = bool(cells[DELETED][0]) if DELETED in cells else False
        if deleted and not include_deleted:
            return None
        out: dict[str, Any] = {"id": pk}
        out.update({c.name: cells[c.name][0] if c.name in cells else None
                    for c in shape.table.columns})
        if include_deleted:
            out[DELETED] = deleted
        return out

    def dump(self) -> Dump:
        """The canonical state: table → id → cell → ``[value, ts, site]``, tombstones included.

        Ledger rows list every column with the row's stamp. Equal dumps mean equal replicas.
        """
        out: Dump = {}
        for name, shape in self._shapes.items():
            rows: dict[str, dict[str, list[Any]]] = {}
            for pk, *row in self._db.execute(shape.select_all).fetchall():
                if shape.table.kind is Kind.LEDGER:
                    ledger = shape.ledger_row(row)
                    rows[pk] = {n: [v, ledger.ts, ledger.site] for n, v in ledger.vals.items()}
                else:
                    rows[pk] = {n: list(cell) for n, cell in shape.cells(row).items()}
            if rows:
                out[name] = rows
        return out

    # ---- sync ----------------------------------------------------------------------------------

    def sync(self, transport: Transport) -> PushResult:
        """Push everything, pull everything, and push again if anything is still pending."""
        first = self.push(transport)
        self.pull(transport)
        if not self.pending_count():
            return first
        second = self.push(transport)
        return PushResult(sent=first.sent + second.sent, acked=second.acked,
                          rejected=first.rejected + second.rejected,
                          restamped=first.restamped + second.restamped)

    def push(self, transport: Transport, batch_size: int = 500) -> PushResult:
        """Send the outbox in seq order until it is empty; settle each answer in one transaction.

        Raises :class:`~sync.ports.TransportError` when an answer is lost: whatever was settled
        before stays settled, and the rest is simply sent again next time.
        """
        sent = restamped = skew_rounds = 0
        rejected: list[Rejection] = []
        while entries := self._next_batch(batch_size):
            if entries[-1].seq > self._sent:
                with self._tx():  # before the wire: from now on these entries never change
                    self._sent = entries[-1].seq
            response = transport.push(build_request(self.site, entries))
            sent += len(entries)
            refused, skewed, re = self._settle(entries, response)
            rejected += refused
            restamped += re
            if self._acked < entries[0].seq:  # the server took nothing: do not spin
                break
            if skewed:
                skew_rounds += 1
                if skew_rounds >= _MAX_SKEW_ROUNDS:
                    break
        return PushResult(sent=sent, acked=self._acked, rejected=tuple(rejected),
                          restamped=restamped)

    def _next_batch(self, size: int) -> list[OutboxEntry]:
        rows = self._db.execute("SELECT seq, tbl, pk, ts, vals FROM _outbox WHERE seq > ? "
                                "ORDER BY seq LIMIT ?", (self._acked, size)).fetchall()
        return [OutboxEntry(seq, tbl, pk, ts, _decode_vals(vals)) for seq, tbl, pk, ts, vals in rows]

    def _settle(self, entries: list[OutboxEntry],
                response: PushResponse) -> tuple[list[Rejection], int, int]:
        outcome = settle(entries, response)
        touched: dict[tuple[str, str], set[str]] = {}
        with self._tx():
            self.clock.observe(response.server_ts)
            for entry in outcome.accepted:
                self._fold(entry)
            for entry in entries:
                if entry.seq <= outcome.acked:
                    touched.setdefault((entry.table, entry.pk), set()).update(entry.vals)
            if outcome.skewed:
                self.clock.correct(response.server_ts, self.max_skew_ms)
                # queued again before the old entries go, so their cells' bases are kept as they
                # are; ticked first and in their original order, as they were written first
                for entry in outcome.skewed:
                    if entry.table in self._shapes:
                        self._queue(self._shapes[entry.table], entry.pk, self.clock.tick(),
                                    entry.vals)
            self._db.execute("DELETE FROM _outbox WHERE seq <= ?", (outcome.acked,))
            self._acked = max(self._acked, outcome.acked)
            restamped = 0
            if outcome.skewed:
                limit_ms = physical_ms(response.server_ts) + self.max_skew_ms // 2
                stale = needs_restamp(self._all_pending(), sent_seq=self._sent, limit_ms=limit_ms)
                for entry in stale:
                    self._db.execute("UPDATE _outbox SET ts = ? WHERE seq = ?",
                                     (self.clock.tick(), entry.seq))
                    touched.setdefault((entry.table, entry.pk), set()).update(entry.vals)
                restamped = len(outcome.skewed) + len(stale)
            for (table, pk), names in sorted(touched.items()):
                if table in self._shapes:
                    self._refresh(self._shapes[table], pk, names)
        return [r for _, r in outcome.refused], len(outcome.skewed), restamped

    def _fold(self, entry: OutboxEntry) -> None:
        """An accepted change is now server state: fold it into its cells' bases."""
        shape = self._shapes.get(entry.table)
        if shape is None:
            return
        mine = (entry.ts, self.site)
        if shape.table.kind is Kind.LEDGER:
            if self._ledger_base(shape, entry.pk) is None:
                self._set_ledger_base(shape, entry.pk, LedgerRow(entry.vals, *mine))
            return
        bases = self._bases(shape, entry.pk)
        for name, value in entry.vals.items():
            best = winner(shape.table, name, [bases.get(name), (value, *mine)])
            if best is not None:
                self._set_base(shape, entry.pk, name, best)

    def pull(self, transport: Transport, limit: int = 1000) -> int:
        """Pull until the server says there is no more; returns how many changes were merged.

        Each page is merged, and its cursor stored, in one transaction. While a page is merged,
        the next one is already being fetched (on a thread of its own, with the cursor the
        server gave), so a long first sync waits on the network and on the local database at
        the same time rather than in turn. A page that fails to merge stores nothing, and the
        page fetched ahead of it is dropped.
        """
        merged = 0
        ahead: ThreadPoolExecutor | None = None
        try:
            response = transport.pull(self._cursor, limit)
            while True:
                previous = self._cursor
                done = not response.more or (previous == response.cursor and not response.changes)
                upcoming: Future[PullResponse] | None = None
                if not done:
                    ahead = ahead or ThreadPoolExecutor(1, thread_name_prefix="replica-pull")
                    upcoming = ahead.submit(transport.pull, response.cursor, limit)
                with self._tx():
                    self.clock.observe(response.server_ts)
                    self._merge_page(response.changes)
                    self._cursor = response.cursor
                merged += len(response.changes)
                if upcoming is None:
                    return merged
                response = upcoming.result()
        finally:
            if ahead is not None:
                ahead.shutdown(wait=True, cancel_futures=True)

    def _merge_page(self, changes: Sequence[PulledChange]) -> None:
        """Merge a page of pulled changes cell by cell: bigger version wins, under pending edits too.

        In bulk, per table: the pending outbox entries and the current cells of the page's rows
        (and the bases of those with pending edits) are read with one query per chunk of ids,
        the changes are merged in memory in page order, and the results are written with one
        ``executemany`` per statement. Every write replaces a whole row (or base) by its key, so
        the end state is the one merging change by change would leave. A row that comes twice
        in one page (the server sends each row once per page, but a page is just a list) starts
        a new run, merged after the run before it is written, so it sees the stored row exactly
        as a change-by-change merge would.
        """
        any_pending = self._db.execute("SELECT EXISTS (SELECT 1 FROM _outbox)").fetchone()[0]
        run: dict[str, list[PulledChange]] = {}
        seen: set[tuple[str, str]] = set()
        for change in changes:
            if change.table not in self._shapes:  # a table this app version does not know
                continue
            self.clock.observe(change.ts)
            key = (change.table, change.pk)
            if key in seen:
                self._merge_run(run, any_pending)
                run, seen = {}, set()
            seen.add(key)
            run.setdefault(change.table, []).append(change)
        self._merge_run(run, any_pending)

    def _merge_run(self, by_table: Mapping[str, list[PulledChange]], any_pending: bool) -> None:
        """Merge changes of distinct rows, grouped by table (see :meth:`_merge_page`)."""
        for name, changes in by_table.items():
            shape = self._shapes[name]
            pending = self._pending_of(name, [c.pk for c in changes]) if any_pending else {}
            if shape.table.kind is Kind.LEDGER:
                self._merge_ledger_run(shape, changes, pending)
            else:
                self._merge_lww_run(shape, changes, pending)

    def _merge_ledger_run(self, shape: _Shape, changes: list[PulledChange],
                          pending: Mapping[str, list[OutboxEntry]]) -> None:
        params: list[list[Any]] = []
        for change in changes:
            pk = change.pk
            row = LedgerRow({n: change.vals.get(n) for n in shape.names}, change.ts, change.site)
            if pk in pending:  # the server's row lands under a local append
                self._set_ledger_base(shape, pk, row)
                self._refresh(shape, pk, shape.names)
            else:
                params.append(shape.ledger_params(pk, row))
        if params:
            self._db.executemany(shape.upsert, params)

    def _merge_lww_run(self, shape: _Shape, changes: list[PulledChange],
                       pending: Mapping[str, list[OutboxEntry]]) -> None:
        table, types = shape.table, shape.types
        stored = self._cells_of(shape, [c.pk for c in changes])
        dirty = {pk: {n for e in entries for n in e.vals} for pk, entries in pending.items()}
        bases_of = self._bases_of(shape, list(dirty)) if dirty else {}
        upserts: list[list[Any]] = []
        gone: list[tuple[str]] = []
        new_bases: list[tuple[Any, ...]] = []
        for change in changes:
            pk = change.pk
            if pk not in stored and pk not in dirty:  # a new row (all of a first sync)
                params = shape.new_row_params(pk, change.vals, change.ts, change.site)
                if params is not None:
                    upserts.append(params)
                else:  # nothing was ever written here that the server kept
                    gone.append((pk,))
                continue
            cells = stored.get(pk, {})
            row_dirty = dirty.get(pk, ())
            bases = bases_of.get(pk, {})
            for name, value in change.vals.items():
                if name not in types:  # a column this app version does not know
                    continue
                cell: Cell = (value, change.ts, change.site)
                if name in row_dirty:  # under a pending edit: the pulled cell goes to the base
                    best = winner(table, name, [bases.get(name), cell])
                    if best is not None:
                        new_bases.append((table.name, pk, name, *best))
                old = cells.get(name)
                best = cell if old is None else winner(table, name, [old, cell])
                if best is not None:
                    cells[name] = best
            if cells:
                upserts.append(shape.cell_params(pk, cells))
            else:  # nothing was ever written here that the server kept
                gone.append((pk,))
        if upserts:
            self._db.executemany(shape.upsert, upserts)
        if gone:
            self._db.executemany(shape.delete, gone)
        if new_bases:
            self._db.executemany("INSERT OR REPLACE INTO _base VALUES (?, ?, ?, ?, ?, ?)", new_bases)

    # ---- pending writes over the server's state ---------------------------------------------

    def _refresh(self, shape: _Shape, pk: str, names: Iterable[str]) -> None:
        """Show ``winner(base, pending writes)`` in the cells ``names`` whose pending writes
        changed, and drop the bases of those that have none left.

        A missing base row means the server holds nothing in that cell.
        """
        name = shape.table.name
        pending = self._pending(name, pk)
        if shape.table.kind is Kind.LEDGER:
            base = self._ledger_base(shape, pk)
            rows = [LedgerRow(e.vals, e.ts, self.site) for e in pending]
            shown = ledger_winner(base, rows)
            if shown is None:
                self._db.execute(shape.delete, (pk,))
            else:
                self._db.execute(shape.upsert, shape.ledger_params(pk, shown))
            if not pending:
                self._db.execute("DELETE FROM _ledger_base WHERE tbl = ? AND pk = ?", (name, pk))
            return
        bases = self._bases(shape, pk)
        cells = self._cells(shape, pk)
        writes: dict[str, list[Cell]] = {}
        for e in pending:
            for col, value in e.vals.items():
                writes.setdefault(col, []).append((value, e.ts, self.site))
        for col in set(names):
            if col not in shape.types:
                continue
            best = winner(shape.table, col, [bases.get(col), *writes.get(col, [])])
            if best is None:
                cells.pop(col, None)
            else:
                cells[col] = best
            if col not in writes and col in bases:
                self._db.execute("DELETE FROM _base WHERE tbl = ? AND pk = ? AND col = ?",
                                 (name, pk, col))
        self._store_cells(shape, pk, cells)

    def _pending(self, table: str, pk: str) -> list[OutboxEntry]:
        rows = self._db.execute("SELECT seq, ts, vals FROM _outbox WHERE tbl = ? AND pk = ? "
                                "ORDER BY seq", (table, pk)).fetchall()
        return [OutboxEntry(seq, table, pk, ts, _decode_vals(vals)) for seq, ts, vals in rows]

    def _pending_of(self, table: str, pks: Sequence[str]) -> dict[str, list[OutboxEntry]]:
        """The pending entries of many rows of one table, by id, each in seq order."""
        out: dict[str, list[OutboxEntry]] = {}
        for chunk in _chunks(pks):
            sql = f"SELECT seq, pk, ts, vals FROM _outbox WHERE tbl = ? AND pk IN {_marks(chunk)} ORDER BY seq"
            rows = self._db.execute(sql, (table, *chunk)).fetchall()
            for seq, pk, ts, vals in rows:
                out.setdefault(pk, []).append(OutboxEntry(seq, table, pk, ts, _decode_vals(vals)))
        return out

    def _all_pending(self) -> list[OutboxEntry]:
        rows = self._db.execute("SELECT seq, tbl, pk, ts, vals FROM _outbox ORDER BY seq")
        return [OutboxEntry(seq, tbl, pk, ts, _decode_vals(vals)) for seq, tbl, pk, ts, vals in rows]

    def _cells(self, shape: _Shape, pk: str) -> dict[str, Cell]:
        row = self._db.execute(shape.select_one, (pk,)).fetchone()
        return {} if row is None else shape.cells(row)

    def _cells_of(self, shape: _Shape, pks: Sequence[str]) -> dict[str, dict[str, Cell]]:
        """The current cells of many rows, by id (rows not stored are absent)."""
        out: dict[str, dict[str, Cell]] = {}
        for chunk in _chunks(pks):
            for pk, *row in self._db.execute(shape.select_in + _marks(chunk), chunk):
                out[pk] = shape.cells(row)
        return out

    def _store_cells(self, shape: _Shape, pk: str, cells: Mapping[str, Cell]) -> None:
        if cells:
            self._db.execute(shape.upsert, shape.cell_params(pk, cells))
        else:  # nothing was ever written here that the server kept
            self._db.execute(shape.delete, (pk,))

    def _bases(self, shape: _Shape, pk: str) -> dict[str, Cell]:
        rows = self._db.execute("SELECT col, value, ts, site FROM _base WHERE tbl = ? AND pk = ?",
                                (shape.table.name, pk)).fetchall()
        return {col: (shape.from_sql(col, v), ts, site) for col, v, ts, site in rows
                if col in shape.types}

    def _bases_of(self, shape: _Shape, pks: Sequence[str]) -> dict[str, dict[str, Cell]]:
        """The bases of many rows of one table, by id."""
        out: dict[str, dict[str, Cell]] = {}
        for chunk in _chunks(pks):
            sql = f"SELECT pk, col, value, ts, site FROM _base WHERE tbl = ? AND pk IN {_marks(chunk)}"
            rows = self._db.execute(sql, (shape.table.name, *chunk)).fetchall()
            for pk, col, v, ts, site in rows:
                if col in shape.types:
                    out.setdefault(pk, {})[col] = (shape.from_sql(col, v), ts, site)
        return out

    def _set_base(self, shape: _Shape, pk: str, col: str, cell: Cell) -> None:
        self._db.execute("INSERT OR REPLACE INTO _base VALUES (?, ?, ?, ?, ?, ?)",
                         (shape.table.name, pk, col, *cell))

    def _ledger_visible(self, shape: _Shape, pk: str) -> LedgerRow | None:
        row = self._db.execute(shape.select_one, (pk,)).fetchone()
        return None if row is None else shape.ledger_row(row)

    def _ledger_base(self, shape: _Shape, pk: str) -> LedgerRow | None:
        row = self._db.execute("SELECT vals, ts, site FROM _ledger_base WHERE tbl = ? AND pk = ?",
                               (shape.table.name, pk)).fetchone()
        return None if row is None else LedgerRow(_decode_vals(row[0]), row[1], row[2])

    def _set_ledger_base(self, shape: _Shape, pk: str, row: LedgerRow) -> None:
        self._db.execute("INSERT OR REPLACE INTO _ledger_base VALUES (?, ?, ?, ?, ?)",
                         (shape.table.name, pk, _encode_json(row.vals), row.ts, row.site))
