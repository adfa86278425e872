"""The importer: ``fieldsync import DIR``, ``POST /api/v1/import``, the back-office row upserts
and the demo company all load master data through :func:`run_import`.

Every file is read and checked first (``validate``, no database), then one transaction reads
what is stored, checks the references against it, plans the writes (``plan``), makes them, and
recomputes the stock availability (``stock_level``, ``inventory.availability``) of the products
whose stock, BOM or sales orders changed.
Any problem rolls the whole import back and raises :class:`ImportRejected` listing every problem
as ``file:line:column: message``; nothing is half-loaded. On PostgreSQL the transaction first
takes an advisory lock, so two imports (or two servers loading the demo) run one after the
other and the second finds the first's rows by their keys; on SQLite ``BEGIN IMMEDIATE`` does
the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import uuid_utils
from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.db.engine import Database
from server.db.masterdata import MASTER_TABLES
from server.db.schema import sql_tables
from server.domain.inventory.availability import refresh_in
from server.domain.inventory.onhand import Move, on_hand
from server.domain.masterdata.plan import Counts, Plan, Stored, plan_import
from server.domain.masterdata.specs import FILE_NAMES, FILES, SPECS
from server.domain.masterdata.validate import Issue, ParsedFile, check_across, decode, read_csv
from server.domain.procurement import expected_receipts
from server.domain.sync.clock import ServerClock
from server.domain.sync.server_writes import write_as_server
from shared.errors import InvalidInput

__all__ = [
    "FileResult",
    "ImportRejected",
    "ImportResult",
    "Progress",
    "import_parsed",
    "load_stored",
    "lock_imports",
    "parse_texts",
    "read_folder",
    "run_import",
]

_IMPORT_LOCK = 0x46534D44  # pg_advisory_xact_lock key: one import at a time
MAX_SHOWN = 200  # problems spelled out in an error's detail; the count says how many more
_CHUNK = 500
_FILE_ORDER = {name: i for i, name in enumerate(FILE_NAMES)}
_FILE_OF = {"bom_line": "bom.csv", "supplier": "suppliers.csv", "price_agreement": "price_agreements.csv",
            "forecast": "forecasts.csv", "purchase_order_line": "purchase_orders.csv",
            "production_order": "production_orders.csv"}


class ImportRejected(InvalidInput):
    """The files have problems; nothing was written. ``issues`` lists every one, in file order."""

    code = "invalid_import"

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = sorted(issues, key=_issue_order)
        n = len(self.issues)
        lines = [str(i) for i in self.issues[:MAX_SHOWN]]
        if n > MAX_SHOWN:
            lines.append(f"... and {n - MAX_SHOWN} more")
        super().__init__(f"{n} problem{'s' if n != 1 else ''} found, nothing was imported:\n" + "\n".join(lines))


def _issue_order(i: Issue) -> tuple[int, int]:
    return (_FILE_ORDER.get(i.file, len(_FILE_ORDER)), i.line)  # a stable sort: a line's issues stay in order


@dataclass(frozen=True)
class FileResult:
    file: str
    rows: int
    created: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class ImportResult:
    files: tuple[FileResult, ...]
    dry_run: bool
    ids: Mapping[str, Mapping[Any, str]]  # file -> key -> id of every row the files name
    ignored: tuple[str, ...] = ()  # .csv files in the folder that are not import files

    @property
    def changed(self) -> bool:
        return any(f.created or f.updated for f in self.files)


class Progress(Protocol):
    """Where a long import reports how far it is (the CLI draws rich progress bars)."""

    def start(self, label: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class _Quiet:
    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


def _uuid7() -> str:
    return str(uuid_utils.uuid7())


# ---- reading the files (no database) --------------------------------------------------------


def read_folder(folder: Path) -> tuple[dict[str, bytes], tuple[str, ...]]:
    """The import files present in ``folder`` (raw bytes by file name), and the other ``.csv``
    files there, which are ignored."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder}: no such folder", code="no_folder")
    found = {name: (folder / name).read_bytes() for name in FILE_NAMES if (folder / name).is_file()}
    ignored = tuple(sorted(p.name for p in folder.glob("*.csv") if p.name not in SPECS))
    if not found:
        raise InvalidInput(f"{folder} holds none of the import files ({', '.join(FILE_NAMES)})", code="no_files")
    return found, ignored


def parse_texts(sources: Mapping[str, str | bytes], progress: Progress | None = None
                ) -> tuple[dict[str, ParsedFile], list[Issue]]:
    """Read and check each file on its own (header, cells, keys, rules within the file)."""
    unknown = sorted(set(sources) - set(SPECS))
    if unknown:
        raise InvalidInput(f"unknown file{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                           f"the import files are {', '.join(FILE_NAMES)}", code="unknown_file")
    if not sources:
        raise InvalidInput(f"no files to import; the import files are {', '.join(FILE_NAMES)}", code="no_files")
    progress = progress or _Quiet()
    files: dict[str, ParsedFile] = {}
    issues: list[Issue] = []
    for spec in FILES:
        if spec.name not in sources:
            continue
        raw = sources[spec.name]
        if isinstance(raw, bytes):
            decoded, problem = decode(spec.name, raw)
            if problem is not None:
                issues.append(problem)
                files[spec.name] = ParsedFile(spec, broken=True)
                continue
            assert decoded is not None
            raw = decoded
        progress.start(f"checking {spec.name}", max(raw.count("\n"), 1))
        parsed, found = read_csv(spec, raw)
        progress.advance(max(raw.count("\n"), 1))
        files[spec.name] = parsed
        issues += found
    return files, issues


# ---- what is stored -----------------------------------------------------------------------------


def _live_first(rows: Iterable[Any], key: Callable[[Any], Any]) -> dict[Any, dict[str, Any]]:
    """Rows by natural key; of several with one key, a live one, then the oldest id."""
    out: dict[Any, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (bool(r._mapping.get("_deleted")), r.id)):
        k = key(r)
        if k is not None and k not in out and not (isinstance(k, tuple) and None in k):
            out[k] = dict(r._mapping)
    return out


async def _all(conn: AsyncConnection, table: Table, *columns: str) -> list[Any]:
    cols = [table.c[c] for c in ("id", *columns)]
    if "_deleted" in table.c:
        cols.append(table.c._deleted)
    return list(await conn.execute(select(*cols)))


async def _in(conn: AsyncConnection, table: Table, column: str, values: Iterable[Any], *columns: str) -> list[Any]:
    vals = sorted(set(values))
    cols = [table.c[c] for c in ("id", *columns)]
    if "_deleted" in table.c:
        cols.append(table.c._deleted)
    out: list[Any] = []
    for i in range(0, len(vals), _CHUNK):
        out += list(await conn.execute(select(*cols).where(table.c[column].in_(vals[i:i + _CHUNK]))))
    return out


async def load_stored(conn: AsyncConnection, files: Mapping[str, ParsedFile]) -> Stored:
    """The stored rows ``files`` may refer to or update (only what they need)."""
    t, m = sql_tables, MASTER_TABLES
    s = Stored()
    s.warehouses = _live_first(await _all(conn, t["warehouse"], "code", "name"), lambda r: r.code)
    s.products = _live_first(await _all(conn, t["product"], *SPECS["products.csv"].columns), lambda r: r.sku)
    s.customers = _live_first(await _all(conn, t["customer"], *SPECS["customers.csv"].columns), lambda r: r.code)
    s.suppliers = _live_first(await _all(conn, m["supplier"], *SPECS["suppliers.csv"].columns), lambda r: r.code)
    if "bom.csv" in files:
        s.bom = _live_first(await _all(conn, m["bom_line"], "parent_id", "component_id", "qty_per", "scrap_pct"),
                            lambda r: (r.parent_id, r.component_id))
    if "sales_orders.csv" in files:
        numbers = {r["number"] for r in files["sales_orders.csv"].rows}
        s.sales_orders = _live_first(await _in(conn, t["sales_order"], "number", numbers, "number", "customer_id",
                                               "warehouse_id", "due_date", "owner"), lambda r: r.number)
        order_ids = [r["id"] for r in s.sales_orders.values()]
        s.sales_lines = _live_first(await _in(conn, t["sales_order_line"], "order_id", order_ids, "order_id",
                                              "product_id", "qty"), lambda r: (r.order_id, r.product_id))
        pp = t["product_price"]
        for r in await conn.execute(select(pp.c.product_id, pp.c.valid_from, pp.c.unit_price)
                                    .where(pp.c._deleted.is_not(True), pp.c.unit_price.is_not(None))):
            s.prices.setdefault(r.product_id, []).append((r.valid_from, r.unit_price))
    if "stock.csv" in files:
        counted = {r["sku"] for r in files["stock.csv"].rows}
        product_ids = [p["id"] for sku, p in s.products.items() if sku in counted]
        sm = t["stock_move"]
        moves = await _in(conn, sm, "product_id", product_ids, "product_id", "warehouse_id", "qty", "kind",
                          "_ts", "_site")
        s.on_hand = on_hand(Move(r.product_id, r.warehouse_id, r.qty, r.kind, r._ts, r._site, r.id)
                            for r in moves if r.qty is not None and r.warehouse_id is not None)
    if "price_agreements.csv" in files:
        s.price_agreements = _live_first(
            await _all(conn, m["price_agreement"], *[c.name for c in m["price_agreement"].c if c.name != "id"]),
            lambda r: (r.supplier_id, r.product_id, r.kind, r.min_qty, r.valid_from))
    if "forecasts.csv" in files:
        s.forecasts = _live_first(await _all(conn, m["forecast"], "product_id", "warehouse_id", "date", "qty"),
                                  lambda r: (r.product_id, r.warehouse_id, r.date))
    if "purchase_orders.csv" in files:
        po = m["purchase_order_line"]
        numbers = {r["number"] for r in files["purchase_orders.csv"].rows}
        s.purchase_lines = _live_first(await _in(conn, po, "number", numbers, "number", "supplier_id", "product_id",
                                                 "qty", "due_date", "warehouse_id"),
                                       lambda r: (r.number, r.product_id))
    if "production_orders.csv" in files:
        numbers = {r["number"] for r in files["production_orders.csv"].rows}
        s.production_orders = _live_first(await _in(conn, m["production_order"], "number", numbers, "number",
                                                    "product_id", "qty", "due_date", "warehouse_id"),
                                          lambda r: r.number)
    return s


# ---- writing ------------------------------------------------------------------------------------------


async def _apply(conn: AsyncConnection, clock: ServerClock, plan: Plan, progress: Progress) -> None:
    for name in FILE_NAMES:  # synced rows first: the master tables refer to products and warehouses
        writes = plan.synced.get(name)
        if writes:
            progress.start(f"writing {name}", len(writes))
            await conn.run_sync(write_as_server, clock, writes)
            progress.advance(len(writes))
    for table_name, table in MASTER_TABLES.items():  # in dependency order
        inserts, updates = plan.inserts.get(table_name, []), plan.updates.get(table_name, [])
        if not inserts and not updates:
            continue
        progress.start(f"writing {_FILE_OF[table_name]}", len(inserts) + len(updates))
        for i in range(0, len(inserts), _CHUNK):
            await conn.execute(insert(table), inserts[i:i + _CHUNK])
            progress.advance(len(inserts[i:i + _CHUNK]))
        await _update(conn, table, updates)
        progress.advance(len(updates))
    po_lines = [r["id"] for r in (*plan.inserts.get("purchase_order_line", []),
                                  *plan.updates.get("purchase_order_line", []))]
    if po_lines or plan.updates.get("supplier"):  # open orders reach the warehouse's devices
        progress.start("updating expected receipts", 1)
        await conn.run_sync(expected_receipts.refresh, clock, None if plan.updates.get("supplier") else po_lines)
        progress.advance()
    if plan.new_warehouses or plan.touched_products or plan.touched_orders:
        progress.start("updating stock availability", 1)
        await refresh_in(conn, clock, None if plan.new_warehouses else plan.touched_products,
                         orders=plan.touched_orders)
        progress.advance()


async def _update(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Each row's changed columns, one executemany per set of changed columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(sorted(k for k in r if k != "id")), []).append(r)
    for cols, group in groups.items():
        stmt = (update(table).where(table.c.id == bindparam("pk"))
                .values({c: bindparam(f"v_{c}", type_=table.c[c].type) for c in cols}))
        await conn.execute(stmt, [{"pk": r["id"], **{f"v_{c}": r[c] for c in cols}} for r in group])


async def lock_imports(conn: AsyncConnection) -> None:
    """Serialise imports for the rest of the transaction (PostgreSQL; SQLite's write lock
    already does). Without it two imports could both create a product with the same sku."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _IMPORT_LOCK})


def _now(clock: ServerClock) -> dt.datetime:
    return dt.datetime.fromtimestamp(clock.now_ms() / 1000, dt.UTC)


async def import_parsed(conn: AsyncConnection, clock: ServerClock, files: Mapping[str, ParsedFile],
                        issues: Sequence[Issue] = (), *, dry_run: bool = False,
                        new_id: Callable[[], str] = _uuid7, progress: Progress | None = None) -> ImportResult:
    """Check ``files`` against what is stored and load them, in the caller's transaction.
    Raises :class:`ImportRejected` (with ``issues`` found earlier) when anything is wrong."""
    progress = progress or _Quiet()
    stored = await load_stored(conn, files)
    problems = [*issues, *check_across(files, stored.known())]
    if problems:
        raise ImportRejected(problems)
    plan = plan_import(files, stored, new_id=new_id, now=_now(clock))
    if not dry_run:
        await _apply(conn, clock, plan, progress)
    counts = [(name, plan.counts.get(name, Counts())) for name in FILE_NAMES if name in files]
    return ImportResult(
        files=tuple(FileResult(name, c.rows, c.created, c.updated, c.unchanged) for name, c in counts),
        dry_run=dry_run, ids=plan.ids)


async def run_import(db: Database, clock: ServerClock, sources: Mapping[str, str | bytes], *,
                     dry_run: bool = False, progress: Progress | None = None,
                     new_id: Callable[[], str] = _uuid7, ignored: tuple[str, ...] = ()) -> ImportResult:
    """Check every file in ``sources`` (file name -> CSV text or bytes), then load them all in
    one transaction, or (``dry_run``) only say what loading would change."""
    files, issues = parse_texts(sources, progress)
    async with (db.read() if dry_run else db.write()) as conn:
        if not dry_run:
            await lock_imports(conn)
        result = await import_parsed(conn, clock, files, issues, dry_run=dry_run, new_id=new_id, progress=progress)
    return ImportResult(result.files, result.dry_run, result.ids, ignored)
