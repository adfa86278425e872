"""Push and pull throughput over real HTTP on loopback, against the ceiling of the same load on
a bare ASGI app.

The server is the real service in its own process (``python -m server.cli serve``, the
``fieldsync serve`` entry point: uvicorn, one worker). This process is the load generator:
``--devices`` sales devices (default 50), enrolled over HTTP, each on its own keep-alive
connection, each sending ``--pushes`` pushes (10) of ``--changes`` changes (100) back to back
(closed loop: the next push leaves when the answer to the last one came). The first push of a
device creates customers it owns; later pushes create new ones and edit earlier ones, half and
half. Every request body is encoded before the clock starts.

Then pulls: the server first wrote a catalogue of ``--products`` products; every device makes
a first sync, ``--pull-pages`` pages of ``--pull-limit`` entries, each page asked with the cursor
the last one returned.

The ceiling, same run: the same requests to a bare ASGI app on uvicorn (same loop and HTTP
parser as ``fieldsync serve``) in its own process, which decodes each push body with msgspec into
the protocol's PushRequest and answers an ack, storing nothing, and answers each pull with a
page of the same size and shape encoded with msgspec. Goal: at least half the ceiling's rate,
p99 below 250 ms.

    .venv/bin/python -m bench.http_throughput [--db sqlite|postgres] [--devices 50] [--format json|msgpack]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import uuid_utils

from bench.common import (
    BOOT_TOKEN,
    BenchDb,
    PySpy,
    RawHttp,
    Row,
    ServerProcess,
    bench_database,
    enrol_devices,
    percentile,
    report,
)
from server.app import open_service
from server.config import Settings
from server.domain.sync.clock import ServerClock, wall_ms
from server.domain.sync.pull import pull as pull_service
from server.domain.sync.push import push as push_service
from server.domain.sync.server_writes import ServerWrite, write_as_server
from sync.codec import JSON, MSGPACK, decode, encode, media_type_for
from sync.hlc import pack
from sync.protocol import Change, PulledChange, PullResponse, PushRequest, PushResponse

PUSH_PATH = "/api/v1/sync/push"
PULL_PATH = "/api/v1/sync/pull"


# ---- the catalogue, shared by the seeding and by the ceiling's pull pages ------------------


def product_vals(i: int) -> dict[str, Any]:
    return {"sku": f"SKU-{i:06d}", "name": f"Product {i} standard grade", "barcode": f"{4006381333931 + i}",
            "uom": "pcs", "kind": ("make", "buy", "subcontract")[i % 3], "lead_time_days": 3 + i % 20,
            "safety_stock": f"{i % 50}.000", "standard_cost": f"{1 + i % 997}.25"}


async def seed_catalogue(url: str, n: int, batch: int = 2000) -> None:
    db, _ = await open_service(Settings(database_url=url))
    clock = ServerClock()
    try:
        for start in range(0, n, batch):
            writes = [ServerWrite("product", str(uuid_utils.uuid7()), product_vals(i))
                      for i in range(start, min(n, start + batch))]
            async with db.write() as conn:
                await conn.run_sync(write_as_server, clock, writes)
    finally:
        await db.dispose()


# ---- the ceiling: a bare ASGI app that decodes and answers, storing nothing -----------------


def _ceiling_page(limit: int) -> list[PulledChange]:
    ts = pack(wall_ms())
    return [PulledChange(table="product", pk=str(uuid_utils.uuid7()), ts=ts, site="server",
                         vals=product_vals(i)) for i in range(limit)]


_PAGE = _ceiling_page(int(os.environ.get("BENCH_PULL_LIMIT", "500")))


async def ceiling_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What any server must do at least: parse HTTP, decode the body, encode an answer."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    headers = dict(scope["headers"])
    path = scope["path"]
    if path == PUSH_PATH:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        req = decode(body, PushRequest, media_type_for(headers.get(b"content-type", b"").decode()))
        answer: Any = PushResponse(acked=req.changes[-1].seq, server_ts=pack(wall_ms()))
    elif path == PULL_PATH:
        answer = PullResponse(changes=_PAGE, cursor="c" * 40, more=True, server_ts=pack(wall_ms()))
    else:
        answer = {"status": "ok"}
    media = media_type_for(headers.get(b"accept", b"").decode())
    out = encode(answer, media)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", media.encode()), (b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})


# ---- the load ------------------------------------------------------------------------------


@dataclass
class DeviceLoad:
    device_id: str
    token: str
    pushes: list[bytes]  # full HTTP requests, ready to write


def enrol_over_http(base: str, n: int) -> list[tuple[str, str]]:
    out = []
    with httpx.Client(base_url=base, timeout=60) as http:
        boot = {"Authorization": f"Bearer {BOOT_TOKEN}"}
        for i in range(n):
            r = http.post("/api/v1/devices", json={"user": f"rep{i}", "role": "sales"}, headers=boot)
            r.raise_for_status()
            e = http.post("/api/v1/devices/enrol", json={"enrolment_code": r.json()["enrolment_code"]})
            e.raise_for_status()
            out.append((e.json()["device_id"], e.json()["token"]))
    return out


def build_pushes(devices: list[tuple[str, str]], pushes: int, changes: int, media: str,
                 seed: int) -> list[DeviceLoad]:
    rng = random.Random(seed)
    now = wall_ms()
    out = []
    for i, (device_id, token) in enumerate(devices):
        owned: list[str] = []
        seq = 0
        reqs = []
        for p in range(pushes):
            batch = []
            for _ in range(changes):
                seq += 1
                ts = pack(now - 60_000 + seq)
                if p > 0 and rng.random() < 0.5:
                    pk = rng.choice(owned)
                    vals: dict[str, Any] = {"name": f"Customer {pk[-6:]} rev {seq}", "phone": f"+49 30 {seq:07d}"}
                else:
                    pk = str(uuid_utils.uuid7())
                    owned.append(pk)
                    vals = {"name": f"Customer {pk[-6:]}", "phone": f"+49 30 {seq:07d}",
                            "address": f"{seq} Main Street, Springfield", "owner": f"rep{i}"}
                batch.append(Change(seq=seq, table="customer", pk=pk, ts=ts, vals=vals))
            body = encode(PushRequest(site=device_id, changes=batch), media)
            reqs.append(RawHttp.request_bytes("POST", PUSH_PATH, {
                "Authorization": f"Bearer {token}", "Content-Type": media, "Accept": media}, body))
        out.append(DeviceLoad(device_id, token, reqs))
    return out


class _Ack(msgspec.Struct):
    acked: int


class _Page(msgspec.Struct):
    changes: list[msgspec.Raw]
    cursor: str
    more: bool


@dataclass
class LoadResult:
    wall_s: float
    latencies_ms: list[float]
    items: int  # changes pushed, or entries pulled
    layers: list[tuple[str, float]] = field(default_factory=list)  # py-spy shares, when asked

    @property
    def rate(self) -> float:
        return self.items / self.wall_s

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


async def push_load(port: int, loads: list[DeviceLoad], media: str) -> LoadResult:
    conns = [await RawHttp(port).connect() for _ in loads]
    latencies: list[float] = []
    dec = msgspec.json.Decoder(_Ack) if media == JSON else msgspec.msgpack.Decoder(_Ack)
    changes_per_push = 0

    async def device(conn: RawHttp, load: DeviceLoad) -> None:
        for raw in load.pushes:
            t0 = time.perf_counter()
            status, body = await conn.send(raw)
            latencies.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                raise SystemExit(f"push answered {status}: {body[:300]!r}")
            dec.decode(body)

    changes_per_push = _changes_in(loads[0].pushes[0], media)
    t0 = time.perf_counter()
    await asyncio.gather(*(device(c, ld) for c, ld in zip(conns, loads, strict=True)))
    wall = time.perf_counter() - t0
    for c in conns:
        await c.close()
    n = sum(len(ld.pushes) for ld in loads) * changes_per_push
    return LoadResult(wall, sorted(latencies), n)


def _changes_in(raw: bytes, media: str) -> int:
    body = raw.split(b"\r\n\r\n", 1)[1]
    return len(decode(body, PushRequest, media).changes)


async def pull_load(port: int, devices: list[tuple[str, str]], pages: int, limit: int, media: str) -> LoadResult:
    conns = [await RawHttp(port).connect() for _ in devices]
    latencies: list[float] = []
    dec = msgspec.json.Decoder(_Page) if media == JSON else msgspec.msgpack.Decoder(_Page)
    entries = 0

    async def device(conn: RawHttp, token: str) -> None:
        nonlocal entries
        cursor: str | None = None
        headers = {"Authorization": f"Bearer {token}", "Accept": media}
        for _ in range(pages):
            query = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
            raw = RawHttp.request_bytes("GET", f"{PULL_PATH}?{urllib.parse.urlencode(query)}", headers)
            t0 = time.perf_counter()
            status, body = await conn.send(raw)
            latencies.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                raise SystemExit(f"pull answered {status}: {body[:300]!r}")
            page = dec.decode(body)
            entries += len(page.changes)
            cursor = page.cursor
            if not page.more:
                break

    t0 = time.perf_counter()
    await asyncio.gather(*(device(c, tok) for c, (_, tok) in zip(conns, devices, strict=True)))
    wall = time.perf_counter() - t0
    for c in conns:
        await c.close()
    return LoadResult(wall, sorted(latencies), entries)


def run_loop(coro: Any) -> Any:
    """Run the load on uvloop when present (as the servers do), so the client costs less."""
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)


# ---- main ---------------------------------------------------------------------------------


def measure(bdb: BenchDb, args: argparse.Namespace) -> tuple[dict[str, LoadResult], dict[str, LoadResult]]:
    media = MSGPACK if args.format == "msgpack" else JSON
    run_loop(seed_catalogue(bdb.url, args.products))
    real: dict[str, LoadResult] = {}
    ceiling: dict[str, LoadResult] = {}
    with ServerProcess.fieldsync(bdb.url) as server:
        devices = enrol_over_http(server.base, args.devices)
        loads = build_pushes(devices, args.pushes, args.changes, media, args.seed)
        spy = PySpy(args.py_spy, server.pid, bdb.workdir / "push.txt") if args.py_spy else None
        real["push"] = run_loop(push_load(server.port, loads, media))
        if spy:
            real["push"].layers = spy.stop()
            spy = PySpy(args.py_spy, server.pid, bdb.workdir / "pull.txt")
        real["pull"] = run_loop(pull_load(server.port, devices, args.pull_pages, args.pull_limit, media))
        if spy:
            real["pull"].layers = spy.stop()
    bare = ServerProcess.asgi("bench.http_throughput:ceiling_app")
    bare.env["BENCH_PULL_LIMIT"] = str(args.pull_limit)
    with bare.start(health="/api/v1/health"):
        # the ceiling's runs are short, so one hiccup of a shared machine would move it a lot:
        # the median of several runs of the same load
        ceiling["push"] = median_run(lambda: run_loop(push_load(bare.port, loads, media)))
        ceiling["pull"] = median_run(lambda: run_loop(
            pull_load(bare.port, devices, args.pull_pages, args.pull_limit, media)))
    return real, ceiling


async def in_process(url: str, args: argparse.Namespace) -> dict[str, LoadResult]:
    """The same pushes and pulls through the services called in-process, one at a time, on a
    fresh database: what the service itself sustains without HTTP and without concurrency."""
    await seed_catalogue(url, args.products)
    settings = Settings(database_url=url)
    db, secret = await open_service(settings)
    clock = ServerClock()
    out: dict[str, LoadResult] = {}
    try:
        devs = await enrol_devices(db, settings, args.devices, "sales", user=lambda i: f"rep{i}")
        loads = build_pushes([(d.id, d.token) for d in devs], args.pushes, args.changes, JSON, args.seed)
        reqs = [[decode(raw.split(b"\r\n\r\n", 1)[1], PushRequest, JSON) for raw in ld.pushes] for ld in loads]
        latencies: list[float] = []
        t0 = time.perf_counter()
        for r in range(args.pushes):  # in rounds, as the concurrent devices' pushes arrive
            for dev, dev_reqs in zip(devs, reqs, strict=True):
                t = time.perf_counter()
                res = await push_service(db, clock, settings, dev.principal, dev_reqs[r])
                latencies.append((time.perf_counter() - t) * 1000)
                if res.rejected:
                    raise SystemExit(f"in-process push refused: {res.rejected[:2]}")
        n = sum(len(q.changes) for dev_reqs in reqs for q in dev_reqs)
        out["push"] = LoadResult(time.perf_counter() - t0, sorted(latencies), n)
        latencies, entries = [], 0
        t0 = time.perf_counter()
        for dev in devs:
            cursor: str | None = None
            for _ in range(args.pull_pages):
                t = time.perf_counter()
                page = await pull_service(db, clock, secret, dev.principal, cursor, args.pull_limit)
                latencies.append((time.perf_counter() - t) * 1000)
                entries += len(page.changes)
                cursor = page.cursor
                if not page.more:
                    break
        out["pull"] = LoadResult(time.perf_counter() - t0, sorted(latencies), entries)
    finally:
        await db.dispose()
    return out


def median_run(run: Any, times: int = 5) -> LoadResult:
    results = sorted((run() for _ in range(times)), key=lambda r: r.rate)
    return results[len(results) // 2]


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)

    async def with_db() -> None:
        async with bench_database(args.db) as bdb:
            # the load runs on its own event loop in this thread: leave this one idle meanwhile
            real, ceiling = await asyncio.to_thread(measure, bdb, args)
        async with bench_database(args.db) as bdb:
            service = await in_process(bdb.url, args)
        show(real, ceiling, service, args)

    asyncio.run(with_db())


def show(real: dict[str, LoadResult], ceiling: dict[str, LoadResult], service: dict[str, LoadResult],
         args: argparse.Namespace) -> None:
    rows = []
    for kind, unit in (("push", "changes/s"), ("pull", "entries/s")):
        r, c, s = real[kind], ceiling[kind], service[kind]
        rows.append(Row(f"{kind}: {unit}", f"{r.rate:,.0f}", f"{c.rate:,.0f} bare ASGI", r.rate / c.rate,
                        ">= 0.5 of ceiling", r.rate / c.rate >= 0.5))
        rows.append(Row(f"{kind}: {unit} vs the service in-process", f"{r.rate:,.0f}",
                        f"{s.rate:,.0f} in-process", r.rate / s.rate, "(for scale)"))
        rows.append(Row(f"{kind}: p50 latency", f"{r.p(50):.0f} ms", f"{c.p(50):.0f} ms"))
        rows.append(Row(f"{kind}: p99 latency", f"{r.p(99):.0f} ms", f"{c.p(99):.0f} ms", None,
                        "< 250 ms", r.p(99) < 250))
        rows.append(Row(f"{kind}: requests, wall time", f"{len(r.latencies_ms):,} in {r.wall_s:.2f} s",
                        f"{len(c.latencies_ms):,} in {c.wall_s:.2f} s"))
    for kind in ("push", "pull"):
        if real[kind].layers:
            report(f"Where the server's time goes under the {kind} load (py-spy samples, all threads)",
                   [Row(name, f"{share:.1%}") for name, share in real[kind].layers if share >= 0.005])
    report(f"HTTP throughput on loopback, {args.devices} devices, {args.db}, {args.format}", rows, [
        f"push: {args.devices} devices x {args.pushes} pushes x {args.changes} changes, closed loop, "
        "one keep-alive connection per device",
        f"pull: {args.devices} devices x {args.pull_pages} pages x {args.pull_limit} entries "
        f"(catalogue of {args.products:,} products)",
        "server: fieldsync serve (uvicorn, 1 worker) in its own process; ceiling: bare ASGI app on "
        "uvicorn in its own process (median of 5 runs); load generator: this process",
        "in-process: the same pushes and pulls through push()/pull() called one at a time on a fresh "
        f"database (p50 {service['push'].p(50):.0f} ms per push, {service['pull'].p(50):.0f} ms per pull page)",
    ])


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.http_throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--devices", type=int, default=50)
    p.add_argument("--pushes", type=int, default=10, help="pushes per device")
    p.add_argument("--changes", type=int, default=100, help="changes per push")
    p.add_argument("--products", type=int, default=10_000, help="catalogue size for the pulls")
    p.add_argument("--pull-pages", type=int, default=10, help="pages each device pulls")
    p.add_argument("--pull-limit", type=int, default=500, help="entries per page")
    p.add_argument("--format", choices=("json", "msgpack"), default="json")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--py-spy", metavar="EXE", help="sample the server with this py-spy during the loads")
    p.add_argument("--quick", action="store_true", help="a tiny run (smoke test)")
    args = p.parse_args(argv)
    if args.quick:
        args.devices, args.pushes, args.changes = 4, 2, 20
        args.products, args.pull_pages, args.pull_limit = 300, 2, 50
    return args


if __name__ == "__main__":
    main()
