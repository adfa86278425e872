"""The real server as a ``ServerFixture`` for the convergence properties.

The sync service (push, pull, enrolment, server writes) runs in-process on a real database —
a SQLite file or a PostgreSQL database — in an event loop on its own thread, with the world's
clock injected. Each example gets a fresh database, copied from a migrated template so that an
example costs milliseconds, not a migration.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url

from server.app import open_service
from server.config import Settings
from server.db.engine import Database, open_database
from server.db.migrate import upgrade
from server.db.schema import sql_tables, version_col
from server.domain.sync import pull as pull_service
from server.domain.sync import push as push_service
from server.domain.sync.clock import ServerClock
from server.domain.sync.devices import BOOTSTRAP, create_device, enrol
from server.domain.sync.principal import Principal
from server.domain.sync.server_writes import ServerWrite, write_as_server
from shared.errors import Conflict
from shared.registry import TABLES, Kind, Role
from shared.values import to_wire
from sync.merge import version_from_bytes
from sync.ports import SeqGap
from sync.protocol import DeviceCreate, PullResponse, PushRequest, PushResponse
from tests.pg import base_pg_url
from tests.sync.memory_server import Accepted

T = TypeVar("T")
Dump = dict[str, dict[str, dict[str, list[Any]]]]


@cache
def _sqlite_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fieldsync-template-"))
    path = folder / "template.db"

    async def make() -> None:
        db = open_database(f"sqlite+aiosqlite:///{path}")
        await upgrade(db)
        await db.dispose()

    asyncio.run(make())
    return path


def _pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@cache
def _pg_template() -> str:
    base = base_pg_url()
    name = "fs_tpl_" + uuid.uuid4().hex[:12]

    async def make() -> None:
        conn = await asyncpg.connect(_pg_dsn(base))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        db = open_database(make_url(base).set(database=name).render_as_string(hide_password=False))
        await upgrade(db)
        await db.dispose()

    asyncio.run(make())

    async def drop() -> None:
        conn = await asyncpg.connect(_pg_dsn(base))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    atexit.register(lambda: asyncio.run(drop()))
    return name


class RealServerFixture:
    """A ``ServerFixture`` over the real sync service and a real database."""

    def __init__(self, now_ms: Callable[[], int], backend: str, max_skew_ms: int = 60_000) -> None:
        self.max_skew_ms = max_skew_ms
        self._now_ms = now_ms
        self._accepted: dict[tuple[str, int], Accepted] = {}
        self._principals: dict[str, Principal] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._tmp: Path | None = None
        self._pg_name: str | None = None
        if backend == "sqlite":
            self._tmp = Path(tempfile.mkdtemp(prefix="fieldsync-real-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
            shutil.copy(_sqlite_template(), self._tmp / "server.db")
            url = f"sqlite+aiosqlite:///{self._tmp / 'server.db'}"
        else:
            template = _pg_template()
            self._pg_name = "fs_" + uuid.uuid4().hex
            self._run(self._admin(f'CREATE DATABASE "{self._pg_name}" TEMPLATE "{template}"'))
            url = make_url(base_pg_url()).set(database=self._pg_name).render_as_string(hide_password=False)
        self.settings = Settings(database_url=url, max_clock_skew_ms=max_skew_ms)
        self.clock = ServerClock(now_ms)
        db, secret = self._run(open_service(self.settings))
        self.db: Database = db
        self.secret = secret

    # ---- plumbing ------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=120)

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(_pg_dsn(base_pg_url()))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def close(self) -> None:
        self._run(self.db.dispose())
        if self._pg_name is not None:
            self._run(self._admin(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)'))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    # ---- ServerFixture -------------------------------------------------------------------

    def new_site(self, *, forbidden_tables: frozenset[str] = frozenset()) -> str:
        # every device is back office: role refusals are tested over HTTP in tests/server
        async def make() -> str:
            created = await create_device(self.db, self.settings, BOOTSTRAP,
                                          DeviceCreate(user="rep", role="backoffice"))
            return (await enrol(self.db, self.clock, created.enrolment_code)).device_id

        site = self._run(make())
        self._principals[site] = Principal(user="rep", role=Role.BACKOFFICE, device_id=site)
        return site

    def transport_for(self, site: str) -> _RealTransport:
        return _RealTransport(self, site)

    def server_write(self, table: str, pk: str, vals: Mapping[str, Any]) -> None:
        async def write() -> None:
            async with self.db.write() as conn:
                await conn.run_sync(write_as_server, self.clock, [ServerWrite(table, pk, dict(vals))])

        self._run(write())

    def dump(self) -> Dump:
        return self._run(self._dump())

    async def _dump(self) -> Dump:
        out: Dump = {}
        async with self.db.read() as conn:
            for table in TABLES:
                t = sql_tables[table.name]
                rows: dict[str, dict[str, list[Any]]] = {}
                for row in (await conn.execute(select(t))).mappings():
                    if table.kind is Kind.LEDGER:
                        rows[row["id"]] = {c.name: [to_wire(row[c.name]), int(row["_ts"]), row["_site"]]
                                           for c in table.columns}
                        continue
                    cells = {}
                    for col in table.cell_names:
                        raw = row[version_col(col)]
                        if raw is not None:
                            _, ts, site = version_from_bytes(bytes(raw))
                            cells[col] = [to_wire(row[col]), ts, site]
                    rows[row["id"]] = cells
                if rows:
                    out[table.name] = rows
        return out

    def history(self) -> list[Accepted]:
        return list(self._accepted.values())

    def server_now_ms(self) -> int:
        return self._now_ms()

    def record(self, site: str, request: PushRequest, response: PushResponse) -> None:
        refused = {r.seq for r in response.rejected}
        for c in request.changes:
            if c.seq <= response.acked and c.seq not in refused and (site, c.seq) not in self._accepted:
                self._accepted[(site, c.seq)] = Accepted(site, c.seq, c.table, c.pk, c.ts, dict(c.vals),
                                                         self._now_ms())


class _RealTransport:
    def __init__(self, fixture: RealServerFixture, site: str) -> None:
        self.fixture = fixture
        self.site = site

    def push(self, request: PushRequest) -> PushResponse:
        f = self.fixture
        try:
            response = f._run(push_service.push(f.db, f.clock, f.settings, f._principals[self.site], request))
        except Conflict as exc:
            if exc.code == "gap":
                raise SeqGap(exc.detail) from None
            raise
        f.record(self.site, request, response)
        return response

    def pull(self, cursor: str | None, limit: int) -> PullResponse:
        f = self.fixture
        return f._run(pull_service.pull(f.db, f.clock, f.secret, f._principals[self.site], cursor, limit))


def sqlite_fixture(now_ms: Callable[[], int]) -> RealServerFixture:
    return RealServerFixture(now_ms, "sqlite")


def postgres_fixture(now_ms: Callable[[], int]) -> RealServerFixture:
    return RealServerFixture(now_ms, "postgres")
