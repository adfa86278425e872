"""What every benchmark shares: a fresh database per run, enrolled devices, a server in a
subprocess, a small keep-alive HTTP client for load, and the one way results are printed.

Benchmarks stand outside the product: they may import anything from server/ and sync/, and
nothing imports them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from server.config import Settings
from server.db.engine import Database
from server.domain.sync import devices
from server.domain.sync.clock import ServerClock
from server.domain.sync.devices import BOOTSTRAP, Authenticator
from server.domain.sync.principal import Principal
from sync.protocol import DeviceCreate

__all__ = [
    "LAYERS",
    "ROOT",
    "Device",
    "PySpy",
    "RawHttp",
    "Row",
    "ServerProcess",
    "bench_database",
    "console",
    "enrol_devices",
    "free_port",
    "machine",
    "percentile",
    "report",
]

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BOOT_TOKEN = "bench-bootstrap-" + secrets.token_hex(8)
console = Console(width=150, highlight=False)


# ---- the machine and the report ---------------------------------------------------------


def machine() -> str:
    """One line naming the hardware and software the figures were measured on."""
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = "n/a"
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average {load}")


@dataclass
class Row:
    """One figure against its baseline; ``ratio`` is read against ``goal`` (times: figure over
    baseline, lower is better; rates: figure over ceiling, higher is better)."""

    measure: str
    value: str
    baseline: str = ""
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None


def report(title: str, rows: Sequence[Row], notes: Sequence[str] = ()) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for name, justify in (("measure", "left"), ("value", "right"), ("baseline (same run)", "right"),
                          ("ratio", "right"), ("goal", "left"), ("met", "center")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        met = "" if r.met is None else ("[green]yes[/]" if r.met else "[red]no[/]")
        table.add_row(r.measure, r.value, r.baseline, "" if r.ratio is None else f"{r.ratio:.2f}x",
                      r.goal, met)
    console.print(table)
    for note in notes:
        console.print(f"  {note}")
    console.print(f"  machine: {machine()}")
    # one plain line per ratio, for scripts and the smoke test (rich tables may wrap)
    for r in rows:
        if r.ratio is not None:
            console.print(f"RESULT {r.measure!r} ratio={r.ratio:.3f}", soft_wrap=True)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of already sorted values, nearest-rank."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


# ---- a fresh database per run -------------------------------------------------------------


def pg_url() -> str:
    """The bench PostgreSQL server (started if needed) as scripts/pg.sh prints it."""
    out = subprocess.run(["bash", str(ROOT / "scripts" / "pg.sh")], check=True, capture_output=True,
                         text=True, timeout=180)
    return out.stdout.strip().splitlines()[-1]


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    if database is not None:
        dsn = dsn.rsplit("/", 1)[0] + "/" + database
    return dsn


@dataclass
class BenchDb:
    """The SQLAlchemy URL of a database made for this run, and for PostgreSQL a plain asyncpg
    DSN to the same database (for baselines). ``workdir`` is a scratch folder for files."""

    kind: str
    url: str
    workdir: Path
    dsn: str | None = None


@contextlib.asynccontextmanager
async def bench_database(kind: str) -> AsyncIterator[BenchDb]:
    """A new, empty database (SQLite file or PostgreSQL database), dropped afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="fieldsync-bench-"))
    try:
        if kind == "sqlite":
            yield BenchDb(kind, f"sqlite+aiosqlite:///{workdir / 'server.db'}", workdir)
            return
        if kind != "postgres":
            raise SystemExit(f"--db must be sqlite or postgres, not {kind!r}")
        import asyncpg

        base = pg_url()
        name = "fieldsync_bench_" + secrets.token_hex(4)
        admin = await asyncpg.connect(_asyncpg_dsn(base, "postgres"))
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        finally:
            await admin.close()
        url = base.rsplit("/", 1)[0] + "/" + name
        try:
            yield BenchDb(kind, url, workdir, _asyncpg_dsn(url))
        finally:
            admin = await asyncpg.connect(_asyncpg_dsn(base, "postgres"))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---- devices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    principal: Principal
    token: str

    @property
    def id(self) -> str:
        assert self.principal.device_id is not None
        return self.principal.device_id


async def enrol_devices(db: Database, settings: Settings, n: int, role: str,
                        user: Any = lambda i: f"user{i}", warehouse_id: str | None = None) -> list[Device]:
    """``n`` devices created and enrolled through the devices service, as the API would."""
    clock = ServerClock()
    auth = Authenticator(db, settings)
    out = []
    for i in range(n):
        made = await devices.create_device(db, settings, BOOTSTRAP,
                                           DeviceCreate(user=user(i), role=role, warehouse_id=warehouse_id))  # type: ignore[arg-type]
        enrolled = await devices.enrol(db, clock, made.enrolment_code)
        out.append(Device(await auth(f"Bearer {enrolled.token}"), enrolled.token))
    return out


# ---- servers in subprocesses --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A uvicorn server in its own process on a loopback port; ``argv`` after the python
    executable. Its output goes to a log file so a failure can be shown."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    @classmethod
    def fieldsync(cls, database_url: str, **env: str) -> ServerProcess:
        """The real service as shipped: ``fieldsync serve`` (migrates, then uvicorn)."""
        port = free_port()
        return cls([PYTHON, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
                    "--log-level", "warning"],
                   {"FIELDSYNC_DATABASE_URL": database_url, "FIELDSYNC_BOOTSTRAP_TOKEN": BOOT_TOKEN, **env},
                   port)

    @classmethod
    def asgi(cls, app: str, *, factory: bool = False) -> ServerProcess:
        """Any ASGI app by import path, on uvicorn with the same defaults as ``fieldsync serve``."""
        port = free_port()
        argv = [PYTHON, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
                "--log-level", "warning", "--no-access-log"]
        if factory:
            argv.append("--factory")
        return cls(argv, {}, port)

    def start(self, timeout: float = 60.0, health: str = "/api/v1/health") -> ServerProcess:
        fd, name = tempfile.mkstemp(prefix="fieldsync-bench-server-", suffix=".log")
        self.log = Path(name)
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=fd, stderr=fd,
                                     stdin=subprocess.DEVNULL)
        os.close(fd)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(f"GET {health} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not answer {health} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.unlink(missing_ok=True)

    def __enter__(self) -> ServerProcess:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running(server: ServerProcess) -> Iterator[ServerProcess]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---- sampling a server process with py-spy -------------------------------------------------

# Where a sample's time goes: the innermost frame that belongs to one of these, leaf first.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("threads waiting for work (queue, lock)", ("threading.py", "queue.py")),
    ("SQLite (aiosqlite worker thread, lock waits included)", ("aiosqlite/core.py",)),
    ("asyncpg driver", ("asyncpg/",)),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("stateless checks (checks.py, values.py)", ("server/domain/sync/checks.py", "shared/values.py")),
    ("push plan (push.py)", ("server/domain/sync/push.py",)),
    ("bulk merge rows (store.py)", ("server/domain/sync/store.py",)),
    ("pull pages and entries (pull.py)", ("server/domain/sync/pull.py",)),
    ("scopes, cursor", ("server/domain/sync/scopes.py", "server/domain/sync/cursor.py")),
    ("authentication (devices.py)", ("server/domain/sync/devices.py",)),
    ("registry, versions (shared/, sync/merge.py)", ("shared/", "sync/merge.py", "sync/hlc.py")),
    ("wire codec (msgspec)", ("sync/codec.py", "server/web/wire.py", "msgspec")),
    ("other server code", ("server/",)),
    ("Litestar", ("litestar/",)),
    ("uvicorn, httptools", ("uvicorn/", "httptools")),
    ("event loop", ("asyncio/", "selectors.py", "uvloop")),
)


class PySpy:
    """py-spy recording a process while a load runs (non-blocking, so the server is not slowed
    by the sampling itself), and the samples' shares per layer."""

    def __init__(self, exe: str, pid: int, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen([exe, "record", "-p", str(pid), "-o", str(out), "--format", "raw",
                                      "-r", "100", "--nonblocking"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let it attach before the load starts

    def stop(self) -> list[tuple[str, float]]:
        self.proc.send_signal(2)
        self.proc.wait(timeout=60)
        return layer_shares(self.out)


def layer_shares(raw: Path) -> list[tuple[str, float]]:
    """Shares of py-spy ``--format raw`` samples per layer of :data:`LAYERS`."""
    counts: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        layer = "other"
        for frame in reversed(stack.split(";")):
            hit = next((name for name, marks in LAYERS if any(m in frame for m in marks)), None)
            if hit is not None:
                layer = hit
                break
        counts[layer] = counts.get(layer, 0) + int(n)
    return sorted(((k, v / total) for k, v in counts.items()), key=lambda kv: -kv[1]) if total else []


# ---- a small keep-alive HTTP/1.1 client for load generation -------------------------------


class HttpError(Exception):
    pass


class RawHttp:
    """One keep-alive HTTP/1.1 connection over asyncio streams.

    A load generator on a 2-core machine must cost the client side as little as possible, or it
    measures itself: this sends prebuilt request bytes and reads ``Content-Length`` bodies, with
    none of a general client's machinery (no redirects, no chunked uploads, no TLS).
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> RawHttp:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    @staticmethod
    def request_bytes(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value)
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            body = bytearray()
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                body += await self.reader.readexactly(size + 2)
                del body[-2:]
            return status, bytes(body)
        return status, await self.reader.readexactly(length) if length else b""

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
