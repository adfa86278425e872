"""Merge cost: changes from many devices, a share of them in conflict, applied by the push service.

Workload (``--n`` changes, default 100,000): 50 back-office devices edit ``product`` rows; every
change writes ``--cells`` cells of one row. ``--conflict`` of the changes (default 20 %) land on
"hot" rows that ``--writers`` devices (default 4) each write, same cells, different stamps
(a quarter of them share a stamp with another writer, so the site decides). The rest create
rows of their own. Row ids are uuid7 made at the row's first stamp, as a device makes them.
Each device's changes go out in pushes of ``--batch`` (default 500) in seq order, the devices
interleaved, so pushes arrive out of stamp order. All PushRequests are built before the clock
starts; the timed part is only ``push()`` on a real migrated database.

Baselines, same run, the same rows (one per change: id, ts, site and the written cells) in the
same batches with one commit per batch: a plain ``executemany`` into a table with no index
(stdlib ``sqlite3`` on a WAL file, ``synchronous=NORMAL`` like the server; on PostgreSQL also
asyncpg ``executemany`` and ``copy_records_to_table``), and the fairer floor for any merge, an
``executemany`` into a table whose id is a TEXT PRIMARY KEY with rows of a known id replaced
(``INSERT OR REPLACE``; ``ON CONFLICT (id) DO UPDATE`` on PostgreSQL). Each is the median of 3.

After the run every conflicting cell is checked to hold the value of its greatest ``(ts, site)``,
and a sample of the other rows to hold what was written. Then (unless ``--no-phases``) the wall
time of each phase of ``push`` in the same run.

    .venv/bin/python -m bench.merge [--db sqlite|postgres] [--n 100000] [--profile FILE] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import pstats
import random
import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uuid_utils
from sqlalchemy import func, select

from bench.common import BenchDb, Device, Row, bench_database, console, enrol_devices, report
from server.app import open_service
from server.config import Settings
from server.db.schema import sql_tables
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
    """Wall time spent in each phase of ``push`` (the run is one task and pushes go one at a
    time, so wall time is the phase's own cost, waits on the database included). Wraps a few
    coarse functions only, so the overhead is a few calls per push."""
    spent: dict[str, float] = defaultdict(float)
    patched: list[tuple[Any, str, Any]] = []

    def timed(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:  # renamed on the server side: that phase is then not split out
            return

        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                spent[label] += time.perf_counter() - t0

        patched.append((owner, name, original))
        setattr(owner, name, wrapper)

    timed(push_module, "_push_in_transaction", "in transaction")
    timed(push_module, "_resolve", "plan")
    timed(store, "apply_lww", "upsert")
    original_write = db.run_write

    async def run_write(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await original_write(*a, **k)
        finally:
            spent["write"] += time.perf_counter() - t0

    db.run_write = run_write
    try:
        yield spent
    finally:
        db.run_write = original_write
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


# ---- where the time goes ------------------------------------------------------------------


def time_checks(wl: Workload) -> float:
    """Seconds for the stateless checks of every change (``check_change``), timed alone."""
    now = wall_ms()
    t0 = time.perf_counter()
    for dev, req in wl.pushes:
        for c in req.changes:
            check_change(c, dev.principal, now, 60_000)
    return time.perf_counter() - t0


# ---- main ---------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> None:
    async with bench_database(args.db) as bdb:
        await run(bdb, args)


async def run(bdb: BenchDb, args: argparse.Namespace) -> None:
    settings = Settings(database_url=bdb.url)
    db, _ = await open_service(settings)
    try:
        devices = await enrol_devices(db, settings, args.devices, "backoffice")
        wl = build_workload(devices, args.n, args.conflict, args.writers, args.cells, args.batch, args.seed)
        console.print(f"[dim]{wl.n_changes:,} changes ({wl.n_cells:,} cells) from {len(devices)} devices "
                      f"in {len(wl.pushes)} pushes; {len(wl.hot):,} hot rows x {args.writers} writers; "
                      f"database {args.db}[/]")
        timers = contextlib.nullcontext(defaultdict(float)) if args.no_phases else phase_timers(db)
        with timers as spent:
            elapsed = await run_pushes(db, settings, wl, args.profile)
        checked, n_rows = await verify(db, wl, args.sample, args.seed)
    finally:
        await db.dispose()
    batches = wl.baseline_batches()
    plain = median_of(3, lambda: sqlite_baseline(bdb.workdir / "baseline.db", batches))
    keyed = median_of(3, lambda: sqlite_baseline(bdb.workdir / "keyed.db", batches, primary_key=True))
    rows = [
        Row("push service, total", f"{elapsed:.2f} s", f"{plain:.2f} s sqlite3 executemany, no index",
            elapsed / plain, "<= 2x", elapsed / plain <= 2),
        Row("push service vs a keyed table", f"{elapsed:.2f} s",
            f"{keyed:.2f} s sqlite3 INSERT OR REPLACE, TEXT PRIMARY KEY", elapsed / keyed, "(fairer floor)"),
    ]
    if bdb.dsn is not None:
        pg_many, pg_copy = await asyncpg_baselines(bdb.dsn, batches)
        pg_keyed, _ = await asyncpg_baselines(bdb.dsn, batches, primary_key=True)
        rows += [
            Row("push service vs asyncpg", f"{elapsed:.2f} s", f"{pg_many:.2f} s asyncpg executemany, no index",
                elapsed / pg_many, "<= 2x", elapsed / pg_many <= 2),
            Row("push service vs asyncpg, keyed table", f"{elapsed:.2f} s",
                f"{pg_keyed:.2f} s asyncpg ON CONFLICT DO UPDATE, TEXT PRIMARY KEY", elapsed / pg_keyed,
                "(fairer floor)"),
            Row("push service vs COPY", f"{elapsed:.2f} s", f"{pg_copy:.2f} s asyncpg copy",
                elapsed / pg_copy, "(for scale)"),
        ]
    rows.append(Row("changes/s", f"{wl.n_changes / elapsed:,.0f}",
                    f"{wl.n_changes / plain:,.0f} sqlite3"))
    rows.append(Row("cells/s", f"{wl.n_cells / elapsed:,.0f}", f"{wl.n_cells / plain:,.0f} sqlite3"))
    if not args.no_phases:
        checks = time_checks(wl)
        inside = spent["in transaction"]
        phases = [
            ("stateless checks (check_change; before the transaction, timed alone)", checks),
            ("plan: scopes, per-row state where a check needs it (_resolve)", spent["plan"]),
            ("bulk merge: parameters + driver-level executemany (store.apply_lww)", spent["upsert"]),
            ("the rest of the transaction: device row, next_rev, acked",
             inside - spent["plan"] - spent["upsert"]),
            ("BEGIN, COMMIT and the hand-off to the database thread (run_write less the above)",
             spent["write"] - inside),
            ("outside the transaction (batch order, retry wrapper, clock), less the checks",
             elapsed - spent["write"] - checks),
        ]
        report("Where the time goes: phases of push (wall time, same run)",
               [Row(name, f"{t:.2f} s", f"{elapsed:.2f} s", t / elapsed) for name, t in phases],
               ["ratio here = share of the push service's total; the checks were timed alone "
                "and taken out of the rest of the transaction"])
    report(f"Merge: {wl.n_changes:,} changes, {args.conflict:.0%} conflicting, {args.db}", rows, [
        f"correctness: {checked:,} cells checked (every conflicting cell holds its max (ts, site)); "
        f"{n_rows:,} product rows as expected",
        f"batches of {args.batch} changes, {args.cells} cells each, one transaction per batch "
        "(figure and baselines alike); baselines are medians of 3",
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
    p.add_argument("--no-phases", action="store_true", help="skip the phase breakdown of push")
    p.add_argument("--quick", action="store_true", help="a tiny run (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.devices, args.batch, args.sample = 2_000, 10, 100, 200
    return args


def main(argv: list[str] | None = None) -> None:
    asyncio.run(main_async(parse(argv)))


if __name__ == "__main__":
    main()
