"""First sync: a new device pulls a catalogue into its replica over real HTTP.

The server first writes ``--rows`` products (default 100,000) with ``write_as_server``, in
batches, then serves them from its own process (``python -m server.cli serve``, the
``fieldsync serve`` entry point) on loopback. A sales device is enrolled over HTTP, and a fresh
process (so its memory is its own) opens a ``sync.replica.Replica`` on a SQLite file and calls
``pull(transport, limit)`` through ``sync.http_transport.HttpTransport`` until the server says
there is no more (the replica fetches the next page while it merges one, so the two overlap).
That process reports its wall time, the rows it holds, and its peak memory
(``VmHWM``; with ``--tracemalloc`` also the peak of Python allocations, which slows it).
Then, unless ``--no-replay``, it fetches every page once more into memory and times
``Replica.pull`` alone over those pages on fresh files (median of 3): the replica's own merge
cost, with no server, HTTP or decoding in it and less exposed to the machine's load.

Baseline, same run: the same product rows (every column the server stores) copied between two
SQLite files with stdlib ``sqlite3``: ``fetchmany(limit)`` from one, ``executemany`` into the
other, one commit per page, WAL and ``synchronous=FULL`` as the replica uses. Goal: <= 3x.

    .venv/bin/python -m bench.first_sync [--db sqlite|postgres] [--rows 100000] [--limit 5000] [--no-replay]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Only the standard library at module level: the client process imports this module, and its
# peak memory must be the replica's, not the server's (SQLAlchemy, Litestar) nor the bench's.
if TYPE_CHECKING:
    from bench.common import BenchDb

ROOT = Path(__file__).resolve().parent.parent


# ---- the client, in its own process -------------------------------------------------------


def peak_rss_kib() -> int:
    """This process's peak resident memory. ``VmHWM`` rather than ``ru_maxrss``: on Linux the
    latter survives ``exec`` and so reports the parent's size when that was larger."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def client(spec: dict[str, Any]) -> dict[str, Any]:
    """Open a replica, pull everything, and say how long it took and how much memory it held."""
    import tracemalloc

    from sync.codec import JSON, MSGPACK
    from sync.hlc import HLC
    from sync.http_transport import HttpTransport
    from sync.replica import Replica

    rss_before = peak_rss_kib()
    if spec["tracemalloc"]:
        tracemalloc.start()
    transport = HttpTransport(spec["base"], spec["token"], media_type=MSGPACK if spec["format"] == "msgpack" else JSON,
                              timeout=300)
    waited = 0.0
    pages = 0
    fetch = transport.pull

    def timed_pull(cursor: str | None, limit: int) -> Any:
        nonlocal waited, pages
        t = time.perf_counter()
        try:
            return fetch(cursor, limit)
        finally:
            waited += time.perf_counter() - t
            pages += 1

    transport.pull = timed_pull  # type: ignore[method-assign]
    t0 = time.perf_counter()
    replica = Replica(spec["path"], spec["site"], HLC(lambda: time.time_ns() // 1_000_000))
    merged = replica.pull(transport, spec["limit"])
    wall = time.perf_counter() - t0
    (rows,) = replica._db.execute("SELECT count(*) FROM product").fetchone()
    replica.close()
    out: dict[str, Any] = {"wall_s": wall, "merged": merged, "rows": rows, "waited_s": waited, "pages": pages,
                           "maxrss_kib": peak_rss_kib(), "rss_before_kib": rss_before}
    if spec["tracemalloc"]:
        out["py_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if spec["replays"]:
        out["replay_s"] = replay_merges(fetch, spec)
    return out


def replay_merges(fetch: Any, spec: dict[str, Any]) -> list[float]:
    """The replica's own merge cost without the server, HTTP and decoding in the way: fetch every
    page once more into memory (after the figure and its peak memory were taken), then time
    ``Replica.pull`` over those pages on fresh files, ``spec["replays"]`` times."""
    from sync.hlc import HLC
    from sync.replica import Replica

    responses, cursor = [], None
    while True:
        page = fetch(cursor, spec["limit"])
        responses.append(page)
        if not page.more or not page.changes:
            break
        cursor = page.cursor

    class Replay:
        def __init__(self) -> None:
            self.i = 0

        def pull(self, cursor: str | None, limit: int) -> Any:
            self.i += 1
            return responses[self.i - 1]

    times = []
    for i in range(spec["replays"]):
        path = Path(spec["path"]).with_suffix(f".replay{i}.db")
        t0 = time.perf_counter()
        replica = Replica(path, spec["site"], HLC(lambda: time.time_ns() // 1_000_000))
        replica.pull(Replay(), spec["limit"])  # type: ignore[arg-type]
        times.append(time.perf_counter() - t0)
        replica.close()
        path.unlink()
    return times


def run_client(spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.first_sync", "--client", json.dumps(spec)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"the client failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ---- the baseline -------------------------------------------------------------------------


async def export_rows(url: str, path: Path) -> tuple[list[str], int]:
    """The server's product rows, every column, into a plain SQLite file (not timed)."""
    from sqlalchemy import select

    from server.app import open_service
    from server.config import Settings
    from server.db.schema import sql_tables



    t = sql_tables["product"]
    names = [c.name for c in t.columns]
    db, _ = await open_service(Settings(database_url=url))
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(t))).all()
    finally:
        await db.dispose()
    src = sqlite3.connect(path, isolation_level=None)
    src.execute(f"CREATE TABLE product ({', '.join(names)})")
    src.execute("BEGIN")
    src.executemany(f"INSERT INTO product VALUES ({', '.join('?' * len(names))})",
                    [tuple(str(v) if v is not None and not isinstance(v, int | str | bytes) else v for v in r)
                     for r in rows])
    src.execute("COMMIT")
    src.close()
    return names, len(rows)


def copy_baseline(src_path: Path, dst_path: Path, names: list[str], limit: int) -> float:
    dst_path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    src = sqlite3.connect(src_path)
    dst = sqlite3.connect(dst_path, isolation_level=None)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("PRAGMA synchronous=FULL")
    dst.execute(f"CREATE TABLE product ({', '.join(names)})")
    insert = f"INSERT INTO product VALUES ({', '.join('?' * len(names))})"
    cur = src.execute("SELECT * FROM product")
    while rows := cur.fetchmany(limit):
        dst.execute("BEGIN")
        dst.executemany(insert, rows)
        dst.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    src.close()
    dst.close()
    return elapsed


# ---- main ---------------------------------------------------------------------------------


async def run(bdb: BenchDb, args: argparse.Namespace) -> None:
    import httpx

    from bench.common import BOOT_TOKEN, Row, ServerProcess, console, report
    from bench.http_throughput import seed_catalogue



    t0 = time.perf_counter()
    await seed_catalogue(bdb.url, args.rows, batch=args.seed_batch)
    console.print(f"[dim]{args.rows:,} products written by the server in {time.perf_counter() - t0:.1f} s "
                  f"({args.db})[/]")
    server = ServerProcess.fieldsync(bdb.url)
    with server:
        with httpx.Client(base_url=server.base, timeout=60) as http:
            boot = {"Authorization": f"Bearer {BOOT_TOKEN}"}
            made = http.post("/api/v1/devices", json={"user": "newrep", "role": "sales"}, headers=boot)
            made.raise_for_status()
            e = http.post("/api/v1/devices/enrol", json={"enrolment_code": made.json()["enrolment_code"]})
            e.raise_for_status()
        spec = {"base": server.base, "token": e.json()["token"], "site": e.json()["device_id"],
                "path": str(bdb.workdir / "replica.db"), "limit": args.limit, "format": args.format,
                "tracemalloc": args.tracemalloc, "replays": 0 if args.no_replay else 3}
        got = await asyncio.to_thread(run_client, spec)
    if got["rows"] != args.rows:
        raise SystemExit(f"WRONG: the replica holds {got['rows']} products, expected {args.rows}")
    names, n = await export_rows(bdb.url, bdb.workdir / "source.db")
    assert n == args.rows
    base = sorted(copy_baseline(bdb.workdir / "source.db", bdb.workdir / "copy.db", names, args.limit)
                  for _ in range(3))[1]
    wall = got["wall_s"]
    rows = [
        Row("first sync, wall time", f"{wall:.2f} s", f"{base:.2f} s sqlite3 copy", wall / base, "<= 3x",
            wall / base <= 3),
        Row("  fetching pages: transport.pull (server + HTTP + decode), overlapped with merging",
            f"{got['waited_s']:.2f} s", f"{got['pages']} pages"),
        Row("  the rest: merging that no fetch overlapped (the last page), start and finish",
            f"{max(0.0, wall - got['waited_s']):.2f} s"),
    ]
    if "replay_s" in got:
        replay = sorted(got["replay_s"])[len(got["replay_s"]) // 2]
        rows.append(Row("replica merge alone: the same pages replayed from memory", f"{replay:.2f} s",
                        f"{base:.2f} s sqlite3 copy", replay / base, "(no server, HTTP, decode)"))
    rows += [
        Row("rows/s", f"{args.rows / wall:,.0f}", f"{args.rows / base:,.0f}"),
        Row("client peak RSS (VmHWM)", f"{got['maxrss_kib'] / 1024:.0f} MiB",
            f"{got['rss_before_kib'] / 1024:.0f} MiB at start"),
    ]
    if "py_peak_bytes" in got:
        rows.append(Row("client peak Python allocations", f"{got['py_peak_bytes'] / 2**20:.1f} MiB"))
    report(f"First sync of {args.rows:,} products into a Replica over HTTP, {args.db}", rows, [
        f"pages of {args.limit} entries, {args.format}; the client ran in its own process; "
        f"{got['merged']:,} entries merged, {got['rows']:,} product rows in the replica",
        "baseline: the same rows copied file to file with stdlib sqlite3 (median of 3); the replay "
        "(median of 3) runs after the figure and its peak memory were taken",
    ] + (["[yellow]tracemalloc was on: the wall time includes its overhead[/]"] if args.tracemalloc else []))


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.first_sync", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--rows", type=int, default=100_000, help="products in the catalogue")
    p.add_argument("--limit", type=int, default=5000, help="entries per pull page")
    p.add_argument("--format", choices=("json", "msgpack"), default="msgpack")
    p.add_argument("--seed-batch", type=int, default=2000, help="products per write_as_server call")
    p.add_argument("--tracemalloc", action="store_true", help="also measure Python's peak allocations")
    p.add_argument("--no-replay", action="store_true",
                   help="skip timing the replica's merge alone on the same pages replayed from memory")
    p.add_argument("--quick", action="store_true", help="a tiny run (smoke test)")
    p.add_argument("--client", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.rows, args.limit = 2_000, 500
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.client:
        print(json.dumps(client(json.loads(args.client))))
        return


    from bench.common import bench_database

    async def go() -> None:
        async with bench_database(args.db) as bdb:
            await run(bdb, args)

    asyncio.run(go())


if __name__ == "__main__":
    main()
