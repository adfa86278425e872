"""Merge cost: changes from many devices, a share of them in conflict, applied by the push service.

Workload (``--n`` changes, default 100,000): 50 back-office devices edit ``product`` rows; every
change writes ``--cells`` cells of one row. ``--conflict`` of the changes (default 20 %) land on
"hot" rows that ``--writers`` devices (default 4) each write, same cells, different stamps
(a quarter of them share a stamp with another writer, so the site decides). The rest create
rows of their own. Row ids are uuid7 made at the row's first stamp, as a device makes them.
Each device's changes go out in pushes of ``--batch`` (default 500) in seq order, the devices
interleaved, so pushes arrive out of stamp order. All PushRequests are built before the clock
starts; the timed part is only ``push()`` on a real migrated database.

Baseline, same run: the same rows (one per change: id, ts, site and the written cells) put with
a plain ``executemany`` into a plain table, in the same batches with one commit per batch:
stdlib ``sqlite3`` on a WAL file (``synchronous=NORMAL`` like the server); on PostgreSQL also
asyncpg ``executemany`` and ``copy_records_to_table`` into a plain table on the same server.

After the run every conflicting cell is checked to hold the value of its greatest ``(ts, site)``,
and a sample of the other rows to hold what was written.

Then two breakdowns of where the time goes (the same upserts through fewer layers; the phases
of ``push``), and with ``--proposals`` the cheaper upsert shapes docs/performance.md proposes,
timed on the same batches and verified the same way.

    .venv/bin/python -m bench.merge [--db sqlite|postgres] [--n 100000] [--proposals] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import pstats
import random
import shutil
import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uuid_utils
from sqlalchemy import create_engine, func, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite.pysqlite import dialect as sqlite_dialect

from bench.common import BenchDb, Device, Row, bench_database, console, enrol_devices, report
from server.app import open_service
from server.config import Settings
from server.db.engine import open_database
from server.db.schema import sql_tables, version_col
from server.domain.sync import push as push_module
from server.domain.sync import store
from server.domain.sync.checks import check_change
from server.domain.sync.clock import ServerClock, wall_ms
from server.domain.sync.push import push
from sync.hlc import pack, physical_ms
from sync.protocol import Change, PushRequest

CELLS = ("name", "barcode", "uom", "sku")


@dataclass
class Workload:
    pushes: list[tuple[Device, PushRequest]]
    # per hot row and cell: every (ts, site, value) written to it
    hot: dict[str, dict[str, list[tuple[int, str, str]]]] = field(default_factory=dict)
    cold: dict[str, dict[str, str]] = field(default_factory=dict)
    n_changes: int = 0
    n_cells: int = 0

    def baseline_batches(self) -> list[list[tuple[Any, ...]]]:
        """The same data as plain rows, one per change, in the same batches as the pushes."""
        out = []
        for dev, req in self.pushes:
            out.append([(c.pk, c.ts, dev.id, *c.vals.values()) for c in req.changes])
        return out


def build_workload(devices: list[Device], n: int, conflict: float, writers: int, cells: int,
                   batch: int, seed: int) -> Workload:
    rng = random.Random(seed)
    cols = CELLS[:cells]
    now = wall_ms()
    base_ms = now - 15 * 60_000  # stamps spread over the last 15 minutes: none too far ahead
    per_device: dict[int, list[tuple[str, int, dict[str, str]]]] = defaultdict(list)
    wl = Workload(pushes=[])

    def new_pk(ts: int) -> str:
        # devices make uuid7 ids when they create a row, so ids follow the stamps' time order
        return str(uuid_utils.uuid7(nanoseconds=physical_ms(ts) * 1_000_000 + rng.randrange(1_000_000)))

    def stamp() -> int:
        return pack(base_ms + rng.randrange(10 * 60_000), rng.randrange(4))

    n_hot_rows = round(n * conflict) // writers
    for h in range(n_hot_rows):
        stamps = [stamp() for _ in range(writers)]
        for w in range(1, writers):
            if rng.random() < 0.25:
                stamps[w] = stamps[0]  # a tie on ts: the site decides
        pk = new_pk(min(stamps))
        wl.hot[pk] = {c: [] for c in cols}
        for w, d in enumerate(rng.sample(range(len(devices)), writers)):
            vals = {c: f"{c} hot{h} w{w} d{d}" for c in cols}
            per_device[d].append((pk, stamps[w], vals))
            for c in cols:
                wl.hot[pk][c].append((stamps[w], devices[d].id, vals[c]))
    n_cold = n - n_hot_rows * writers
    for i in range(n_cold):
        d = i % len(devices)
        ts = stamp()
        pk = new_pk(ts)
        vals = {c: f"{c} cold{i}" for c in cols}
        per_device[d].append((pk, ts, vals))
        wl.cold[pk] = vals
    queues: list[list[PushRequest]] = []
    for d, writes in sorted(per_device.items()):
        writes.sort(key=lambda w: w[1])  # a device's stamps grow with its seq
        changes = [Change(seq=i + 1, table="product", pk=pk, ts=ts, vals=vals)
                   for i, (pk, ts, vals) in enumerate(writes)]
        queues.append([PushRequest(site=devices[d].id, changes=changes[i:i + batch])
                       for i in range(0, len(changes), batch)])
    by_site = {dev.id: dev for dev in devices}
    rounds = max(len(q) for q in queues)
    for r in range(rounds):
        order = list(range(len(queues)))
        rng.shuffle(order)
        for q in order:
            if r < len(queues[q]):
                req = queues[q][r]
                wl.pushes.append((by_site[req.site], req))
    wl.n_changes = sum(len(req.changes) for _, req in wl.pushes)
    wl.n_cells = wl.n_changes * len(cols)
    return wl


# ---- the figure ---------------------------------------------------------------------------


@contextlib.contextmanager
def phase_timers(db: Any) -> Iterator[dict[str, float]]:
    """Wall time spent in each phase of ``push`` (the run is one task, so wall time is the
    phase's own cost, waits on the database included). Wraps a few coarse functions only, so
    the overhead is a few calls per push."""
    spent: dict[str, float] = defaultdict(float)
    patched: list[tuple[Any, str, Any]] = []

    def timed(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        async def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await original(*a, **k)
            finally:
                spent[label] += time.perf_counter() - t0

        patched.append((owner, name, original))
        setattr(owner, name, wrapper)

    timed(push_module, "_push_in_transaction", "in transaction")
    timed(push_module, "_resolve", "plan")
    timed(store, "apply_lww", "upsert")
    original_write = db.write

    @contextlib.asynccontextmanager
    async def write() -> AsyncIterator[Any]:
        t0 = time.perf_counter()
        async with original_write() as conn:
            spent["begin"] += time.perf_counter() - t0
            yield conn
            t0 = time.perf_counter()
        spent["commit"] += time.perf_counter() - t0

    db.write = write
    try:
        yield spent
    finally:
        db.write = original_write
        for owner, name, original in patched:
            setattr(owner, name, original)


async def run_pushes(db: Any, settings: Settings, wl: Workload, profile: str | None) -> float:
    clock = ServerClock()
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    for dev, req in wl.pushes:
        res = await push(db, clock, settings, dev.principal, req)
        if res.rejected or res.acked != req.changes[-1].seq:
            raise SystemExit(f"push refused something: acked {res.acked}, rejected {res.rejected[:3]}")
    if prof:
        prof.disable()
    elapsed = time.perf_counter() - t0
    if prof and profile:
        prof.dump_stats(profile)
        console.print(f"[yellow]profiled run (cProfile slows it): stats in {profile}[/]")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    return elapsed


async def verify(db: Any, wl: Workload, sample: int, seed: int) -> tuple[int, int]:
    """Check every conflicting cell and a sample of the others; returns (cells checked, rows)."""
    t = sql_tables["product"]
    cols = list(next(iter(wl.hot.values())).keys()) if wl.hot else list(next(iter(wl.cold.values())))
    rng = random.Random(seed + 1)
    cold_pks = rng.sample(sorted(wl.cold), min(sample, len(wl.cold)))
    want_pks = list(wl.hot) + cold_pks
    got: dict[str, dict[str, Any]] = {}
    async with db.read() as conn:
        n_rows = int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
        for i in range(0, len(want_pks), 500):
            chunk = want_pks[i:i + 500]
            res = await conn.execute(select(t.c.id, *[t.c[c] for c in cols]).where(t.c.id.in_(chunk)))
            for r in res.mappings():
                got[r["id"]] = dict(r)
    checked = 0
    for pk, cells in wl.hot.items():
        for c, writes in cells.items():
            ts, site, value = max(writes)  # (ts, site) decides; values are unique per write
            if got.get(pk, {}).get(c) != value:
                raise SystemExit(f"WRONG MERGE: product {pk}.{c} holds {got.get(pk, {}).get(c)!r}, "
                                 f"expected {value!r} from ts={ts} site={site}")
            checked += 1
    for pk in cold_pks:
        for c, value in wl.cold[pk].items():
            if got.get(pk, {}).get(c) != value:
                raise SystemExit(f"WRONG: product {pk}.{c} holds {got.get(pk, {}).get(c)!r}, expected {value!r}")
            checked += 1
    expected_rows = len(wl.hot) + len(wl.cold)
    if n_rows != expected_rows:
        raise SystemExit(f"WRONG: {n_rows} product rows, expected {expected_rows}")
    return checked, n_rows


# ---- baselines ----------------------------------------------------------------------------


def _plain_columns(n_cells: int) -> str:
    return ", ".join(["id TEXT", "ts INTEGER", "site TEXT"] + [f"c{i} TEXT" for i in range(n_cells)])


def sqlite_baseline(path: Path, batches: list[list[tuple[Any, ...]]], *, primary_key: bool = False) -> float:
    """Seconds to executemany the rows into a plain table (with ``primary_key``: one whose id
    is a TEXT PRIMARY KEY, the index any merge needs, rows with a known id replaced)."""
    width = len(batches[0][0])
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    columns = _plain_columns(width - 3)
    if primary_key:
        columns = columns.replace("id TEXT", "id TEXT PRIMARY KEY", 1)
    conn.execute(f"CREATE TABLE plain ({columns})")
    verb = "INSERT OR REPLACE" if primary_key else "INSERT"
    sql = f"{verb} INTO plain VALUES ({', '.join('?' * width)})"
    t0 = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    if not primary_key:
        assert conn.execute("SELECT count(*) FROM plain").fetchone()[0] == sum(map(len, batches))
    conn.close()
    return elapsed


def median_of(runs: int, fn: Any) -> float:
    """The median of ``runs`` timings: the baselines are short, so one slow run (another
    process on a 2-core machine) would skew the ratio."""
    return statistics.median(fn() for _ in range(runs))


async def asyncpg_baselines(dsn: str, batches: list[list[tuple[Any, ...]]], runs: int = 3,
                            *, primary_key: bool = False) -> tuple[float, float]:
    """Median seconds for asyncpg ``executemany`` and ``copy_records_to_table`` into a plain
    table, in the same batches with one transaction per batch. With ``primary_key`` the id is
    a primary key and executemany replaces known rows (ON CONFLICT DO UPDATE); no COPY then."""
    import asyncpg

    width = len(batches[0][0])
    columns = _plain_columns(width - 3).replace("INTEGER", "BIGINT")
    sql = f"INSERT INTO plain_pg VALUES ({', '.join(f'${i + 1}' for i in range(width))})"
    if primary_key:
        columns = columns.replace("id TEXT", "id TEXT PRIMARY KEY", 1)
        names = ["ts", "site"] + [f"c{i}" for i in range(width - 3)]
        sql += " ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{n} = excluded.{n}" for n in names)
    conn = await asyncpg.connect(dsn)
    many, copy = [], []
    try:
        for _ in range(runs):
            for out, use_copy in ((many, False), (copy, True)):
                if use_copy and primary_key:
                    continue
                await conn.execute("DROP TABLE IF EXISTS plain_pg")
                await conn.execute(f"CREATE TABLE plain_pg ({columns})")
                t0 = time.perf_counter()
                for rows in batches:
                    async with conn.transaction():
                        if use_copy:
                            await conn.copy_records_to_table("plain_pg", records=rows)
                        else:
                            await conn.executemany(sql, rows)
                out.append(time.perf_counter() - t0)
        await conn.execute("DROP TABLE IF EXISTS plain_pg")
    finally:
        await conn.close()
    return statistics.median(many), statistics.median(copy) if copy else float("nan")


# ---- where the time goes: the same upserts through fewer layers ---------------------------


class _Dialect:
    def __init__(self, name: str) -> None:
        self.dialect = type("D", (), {"name": name})()


def upsert_batches(wl: Workload) -> list[list[dict[str, Any]]]:
    """The parameters ``push`` hands the bulk merge, per push (sorted by id as it does)."""
    out = []
    for i, (dev, req) in enumerate(wl.pushes):
        rows = [store.lww_params("product", c.pk, c.ts, dev.id, c.vals, i + 1) for c in req.changes]
        out.append(sorted(rows, key=lambda r: r["id"]))
    return out


def time_pure(wl: Workload) -> tuple[float, float]:
    """Seconds for the stateless checks of every change, and for building the upsert rows."""
    now = wall_ms()
    t0 = time.perf_counter()
    for dev, req in wl.pushes:
        for c in req.changes:
            check_change(c, dev.principal, now, 60_000)
    checks = time.perf_counter() - t0
    t0 = time.perf_counter()
    upsert_batches(wl)
    return checks, time.perf_counter() - t0


async def layers(bdb: BenchDb, template: Path | None, wl: Workload) -> list[tuple[str, float]]:
    """The server's own upsert statement and parameters, run (1) straight on the driver,
    (2) through SQLAlchemy Core, and for SQLite (3) through SQLAlchemy on the sync pysqlite
    driver, each on an empty migrated product table."""
    batches = upsert_batches(wl)
    out: list[tuple[str, float]] = []
    if bdb.kind == "sqlite":
        assert template is not None
        stmt = store._lww_upsert(_Dialect("sqlite"), "product")
        compiled = stmt.compile(dialect=sqlite_dialect())
        sql, order = str(compiled), compiled.positiontup
        tuples = [[tuple(r[k] for k in order) for r in rows] for rows in batches]
        path = bdb.workdir / "layer-driver.db"
        shutil.copy(template, path)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        t0 = time.perf_counter()
        for rows in tuples:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
        out.append(("upsert SQL on the driver (stdlib sqlite3)", time.perf_counter() - t0))
        conn.close()
        path = bdb.workdir / "layer-sa-sync.db"
        shutil.copy(template, path)
        engine = create_engine(f"sqlite:///{path}")
        with engine.connect() as c:
            c.exec_driver_sql("PRAGMA journal_mode=WAL")
            c.exec_driver_sql("PRAGMA synchronous=NORMAL")
        t0 = time.perf_counter()
        for rows in batches:
            with engine.begin() as c:
                c.execute(stmt, rows)
        out.append(("+ SQLAlchemy Core (sync pysqlite)", time.perf_counter() - t0))
        engine.dispose()
        path = bdb.workdir / "layer-sa-async.db"
        shutil.copy(template, path)
        db = open_database(f"sqlite+aiosqlite:///{path}")
    else:
        import asyncpg

        assert bdb.dsn is not None
        stmt = store._lww_upsert(_Dialect("postgresql"), "product")
        compiled = stmt.compile(dialect=asyncpg_dialect())
        sql, order = str(compiled), compiled.positiontup
        tuples = [[tuple(r[k] for k in order) for r in rows] for rows in batches]
        conn = await asyncpg.connect(bdb.dsn)
        try:
            await conn.execute("TRUNCATE product CASCADE")
            t0 = time.perf_counter()
            for rows in tuples:
                async with conn.transaction():
                    await conn.executemany(sql, rows)
            out.append(("upsert SQL on the driver (asyncpg)", time.perf_counter() - t0))
            await conn.execute("TRUNCATE product CASCADE")
        finally:
            await conn.close()
        db = open_database(bdb.url)
    try:
        t0 = time.perf_counter()
        for rows in batches:
            async with db.write() as c:
                await store.apply_lww(c, "product", rows)
        out.append((f"+ SQLAlchemy Core async ({'aiosqlite' if bdb.kind == 'sqlite' else 'asyncpg'}), "
                    "i.e. store.apply_lww", time.perf_counter() - t0))
    finally:
        await db.dispose()
    return out


# ---- proposals: cheaper shapes of the same merge, to weigh server changes -----------------


def narrow_upsert(table: str, cells: tuple[str, ...], style: str) -> tuple[str, list[str]]:
    """The server's merge rule as SQL for only the cells a group of rows writes (instead of
    every column with NULLs): ``qmark``/``dollar`` for executemany, ``unnest`` for one
    statement per batch taking one array per column (PostgreSQL)."""
    names = ["id", *[x for c in cells for x in (c, version_col(c))], "_rev"]
    sets = []
    for c in cells:
        v = version_col(c)
        newer = f"({table}.{v} IS NULL OR excluded.{v} > {table}.{v})"
        sets.append(f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE {table}.{c} END")
        sets.append(f"{v} = CASE WHEN {newer} THEN excluded.{v} ELSE {table}.{v} END")
    sets.append("_rev = excluded._rev")
    tail = f" ON CONFLICT (id) DO UPDATE SET {', '.join(sets)}"
    head = f"INSERT INTO {table} ({', '.join(names)}) "
    if style == "qmark":
        return head + f"VALUES ({', '.join('?' * len(names))})" + tail, names
    if style == "dollar":
        return head + f"VALUES ({', '.join(f'${i + 1}' for i in range(len(names)))})" + tail, names
    types = ["text", *[t for _ in cells for t in ("text", "bytea")], "bigint"]
    arrays = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(types))
    return head + f"SELECT * FROM unnest({arrays})" + tail, names


def by_cells(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Rows grouped by the cells they write (those with a version)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[tuple(c for c in (*CELLS, "_deleted") if r.get(version_col(c)) is not None)].append(r)
    return groups


def fold_same_id(rows: list[dict[str, Any]], cells: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per id, each cell from the greater version: what the upsert does row by row,
    done first, because one INSERT ... ON CONFLICT may not touch a row twice (PostgreSQL)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen = out.get(r["id"])
        if seen is None:
            out[r["id"]] = dict(r)
            continue
        for c in cells:
            v = r[version_col(c)]
            if v is not None and (seen[version_col(c)] is None or v > seen[version_col(c)]):
                seen[c], seen[version_col(c)] = r[c], v
    return list(out.values())


async def proposals(bdb: BenchDb, template: Path | None, wl: Workload) -> list[tuple[str, float]]:
    """The same batches through the shapes docs/performance.md proposes, each checked with
    :func:`verify` afterwards (so a proposal that merges wrongly fails loudly)."""
    batches = upsert_batches(wl)
    out: list[tuple[str, float]] = []
    if bdb.kind == "sqlite":
        assert template is not None
        path = bdb.workdir / "proposal.db"
        shutil.copy(template, path)
        db = open_database(f"sqlite+aiosqlite:///{path}")
        t0 = time.perf_counter()
        for rows in batches:
            async with db.write() as conn:
                for cells, group in by_cells(rows).items():
                    sql, names = narrow_upsert("product", cells, "qmark")
                    await conn.exec_driver_sql(sql, [tuple(r[n] for n in names) for r in group])
        out.append(("proposal: written cells only, exec_driver_sql (aiosqlite)", time.perf_counter() - t0))
        try:
            await verify(db, wl, 500, 0)
        finally:
            await db.dispose()
        return out
    import asyncpg

    assert bdb.dsn is not None
    for label, style in (("written cells only, asyncpg executemany", "dollar"),
                         ("written cells only, one unnest() INSERT per batch (asyncpg)", "unnest")):
        conn = await asyncpg.connect(bdb.dsn)
        try:
            await conn.execute("TRUNCATE product CASCADE")
            t0 = time.perf_counter()
            for rows in batches:
                async with conn.transaction():
                    for cells, group in by_cells(rows).items():
                        sql, names = narrow_upsert("product", cells, style)
                        if style == "unnest":
                            folded = fold_same_id(group, cells)
                            await conn.execute(sql, *[[r[n] for r in folded] for n in names])
                        else:
                            await conn.executemany(sql, [tuple(r[n] for n in names) for r in group])
            out.append((f"proposal: {label}", time.perf_counter() - t0))
        finally:
            await conn.close()
        db = open_database(bdb.url)
        try:
            await verify(db, wl, 500, 0)
        finally:
            await db.dispose()
    return out


# ---- main ---------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    async with bench_database(args.db) as bdb:
        await run(bdb, args)


async def run(bdb: BenchDb, args: argparse.Namespace) -> None:
    settings = Settings(database_url=bdb.url)
    db, _ = await open_service(settings)
    template: Path | None = None
    if bdb.kind == "sqlite":  # an empty migrated database, for the layer runs
        await db.dispose()
        template = bdb.workdir / "template.db"
        shutil.copy(bdb.workdir / "server.db", template)
        db, _ = await open_service(settings)
    try:
        devices = await enrol_devices(db, settings, args.devices, "backoffice")
        wl = build_workload(devices, args.n, args.conflict, args.writers, args.cells, args.batch, args.seed)
        console.print(f"[dim]{wl.n_changes:,} changes ({wl.n_cells:,} cells) from {len(devices)} devices "
                      f"in {len(wl.pushes)} pushes; {len(wl.hot):,} hot rows x {args.writers} writers; "
                      f"database {args.db}[/]")
        with phase_timers(db) as spent:
            elapsed = await run_pushes(db, settings, wl, args.profile)
        checked, n_rows = await verify(db, wl, args.sample, args.seed)
    finally:
        await db.dispose()
    batches = wl.baseline_batches()
    base_sqlite = median_of(3, lambda: sqlite_baseline(bdb.workdir / "baseline.db", batches))
    rows = [
        Row("push service, total", f"{elapsed:.2f} s", f"{base_sqlite:.2f} s sqlite3 executemany",
            elapsed / base_sqlite, "<= 2x", elapsed / base_sqlite <= 2),
    ]
    if bdb.dsn is not None:
        pg_many, pg_copy = await asyncpg_baselines(bdb.dsn, batches)
        rows += [
            Row("push service vs asyncpg", f"{elapsed:.2f} s", f"{pg_many:.2f} s asyncpg executemany",
                elapsed / pg_many, "<= 2x", elapsed / pg_many <= 2),
            Row("push service vs COPY", f"{elapsed:.2f} s", f"{pg_copy:.2f} s asyncpg copy",
                elapsed / pg_copy, "(for scale)"),
        ]
    rows.append(Row("changes/s", f"{wl.n_changes / elapsed:,.0f}",
                    f"{wl.n_changes / base_sqlite:,.0f} sqlite3"))
    rows.append(Row("cells/s", f"{wl.n_cells / elapsed:,.0f}", f"{wl.n_cells / base_sqlite:,.0f} sqlite3"))
    if not args.no_layers:
        checks, params = time_pure(wl)
        steps = await layers(bdb, template, wl)
        steps.append(("+ checks, scopes, plan, bookkeeping: push service", elapsed))
        if args.proposals:
            steps += await proposals(bdb, template, wl)
        if bdb.dsn is None:
            ref, ref_name = base_sqlite, "sqlite3"
            with_pk = median_of(3, lambda: sqlite_baseline(bdb.workdir / "pk.db", batches, primary_key=True))
        else:
            ref, ref_name = pg_many, "asyncpg"
            with_pk, _ = await asyncpg_baselines(bdb.dsn, batches, primary_key=True)
        table = [Row(f"plain executemany, {ref_name} (the baseline)", f"{ref:.2f} s", ratio=1.0),
                 Row("(plain executemany into a table with a TEXT PRIMARY KEY)", f"{with_pk:.2f} s",
                     f"{ref:.2f} s", with_pk / ref)]
        table += [Row(name, f"{t:.2f} s", f"{ref:.2f} s", t / ref) for name, t in steps]
        table += [Row("  of which: stateless checks (check_change), alone", f"{checks:.2f} s"),
                  Row("  of which: building upsert rows (lww_params), alone", f"{params:.2f} s")]
        report("Where the time goes (1): the same upserts through fewer layers", table)
        inside = spent["in transaction"]
        phases = [
            ("stateless checks (check_change; timed alone)", checks),
            ("plan: scopes, state, versions, upsert rows (_resolve)", spent["plan"]),
            ("bulk upsert through SQLAlchemy (store.apply_lww)", spent["upsert"]),
            ("the rest of the transaction: device row, next_rev, acked",
             inside - spent["plan"] - spent["upsert"] - checks),
            ("BEGIN (pool checkout) and COMMIT", spent["begin"] + spent["commit"]),
            ("outside the transaction (batch order, retry wrapper, clock)",
             elapsed - inside - spent["begin"] - spent["commit"]),
        ]
        report("Where the time goes (2): phases of push (wall time, one run)",
               [Row(name, f"{t:.2f} s", f"{elapsed:.2f} s", t / elapsed) for name, t in phases],
               ["ratio here = share of the push service's total"])
    report(f"Merge: {wl.n_changes:,} changes, {args.conflict:.0%} conflicting, {args.db}", rows, [
        f"correctness: {checked:,} cells checked (every conflicting cell holds its max (ts, site)); "
        f"{n_rows:,} product rows as expected",
        f"batches of {args.batch} changes, {args.cells} cells each, one transaction per batch "
        "(figure and baseline alike)",
    ] + (["[yellow]profiled: the time includes cProfile's overhead[/]"] if args.profile else []))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.merge", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--n", type=int, default=100_000, help="changes in all")
    p.add_argument("--devices", type=int, default=50)
    p.add_argument("--conflict", type=float, default=0.2, help="share of changes on contested rows")
    p.add_argument("--writers", type=int, default=4, help="devices writing each contested row")
    p.add_argument("--cells", type=int, default=2, choices=range(1, len(CELLS) + 1), help="cells per change")
    p.add_argument("--batch", type=int, default=500, help="changes per push")
    p.add_argument("--sample", type=int, default=2000, help="uncontested rows to spot-check")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--profile", metavar="FILE", help="run under cProfile and dump stats to FILE")
    p.add_argument("--proposals", action="store_true",
                   help="also time the cheaper upsert shapes docs/performance.md proposes")
    p.add_argument("--no-layers", action="store_true", help="skip the where-the-time-goes runs")
    p.add_argument("--quick", action="store_true", help="a tiny run (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.devices, args.batch, args.sample = 2_000, 10, 100, 200
    return args


def main(argv: list[str] | None = None) -> None:
    asyncio.run(main_async(parse(argv)))


if __name__ == "__main__":
    main()
