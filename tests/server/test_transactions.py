"""``Database.run_write`` / ``run_read``: the transactions the sync path runs in, on both databases.

On SQLite the writes queue on one writer thread, and those that queue up together commit
together (group commit), each in a savepoint of its own: one that fails must leave the others
committed and itself not at all. Checkpoints run beside the writer, so the database file keeps
up with the log without a push waiting for it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from server.app import open_service
from server.config import Settings, load_settings
from server.db.schema import sql_tables, sync_state
from server.domain.sync import store
from server.domain.sync.clock import ServerClock
from server.domain.sync.server_writes import ServerWrite, write_as_server
from tests.pg import create_database, drop_database
from tests.server.client import Service

pytestmark = pytest.mark.anyio

warehouse = sql_tables["warehouse"]


def _write(conn: Connection, clock: ServerClock, code: str) -> None:
    write_as_server(conn, clock, [ServerWrite("warehouse", str(uuid.uuid4()), {"code": code})])


def _write_then_fail(conn: Connection, clock: ServerClock, code: str) -> None:
    _write(conn, clock, code)
    raise RuntimeError(f"{code} failed after writing")


def _codes(conn: Connection) -> list[str]:
    return sorted(r.code for r in conn.execute(select(warehouse.c.code)))


def _rev(conn: Connection) -> int:
    return int(conn.execute(select(sync_state.c.rev)).scalar_one())


async def test_writes_queued_together_each_commit_or_fail_alone(service: Service) -> None:
    jobs = [service.db.run_write(_write_then_fail if i % 5 == 3 else _write, service.clock, f"W{i:02d}")
            for i in range(40)]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    failed = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
    assert failed == [i for i in range(40) if i % 5 == 3]
    assert all(isinstance(results[i], RuntimeError) for i in failed)
    assert await service.db.run_read(_codes) == [f"W{i:02d}" for i in range(40) if i % 5 != 3]


async def test_a_write_that_fails_changes_nothing_and_the_next_one_commits(service: Service) -> None:
    with pytest.raises(RuntimeError, match="LOST failed"):
        await service.db.run_write(_write_then_fail, service.clock, "LOST")
    await service.db.run_write(_write, service.clock, "KEPT")
    assert await service.db.run_read(_codes) == ["KEPT"]


async def test_a_read_sees_what_a_write_committed_before_it(service: Service) -> None:
    before = await service.db.run_read(_codes)
    await service.db.run_write(_write, service.clock, "NEW")
    assert await service.db.run_read(_codes) == sorted([*before, "NEW"])


async def test_sqlite_revs_grow_by_one_per_write_even_when_writes_commit_together(tmp_path: Path) -> None:
    db, _ = await open_service(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    try:
        start = await db.run_read(_rev)
        revs = await asyncio.gather(*(db.run_write(store.next_rev) for _ in range(20)))
        assert sorted(revs) == list(range(start + 1, start + 21))
    finally:
        await db.dispose()


async def test_sqlite_checkpoints_reach_the_database_file_while_writes_go_on(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db, _ = await open_service(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    clock = ServerClock()
    try:
        start = os.path.getsize(path)

        def many(conn: Connection, batch: int) -> None:
            write_as_server(conn, clock, [ServerWrite("warehouse", str(uuid.uuid4()),
                                                      {"code": f"B{batch}-{i}", "name": "x" * 200})
                                          for i in range(200)])

        for batch in range(40):  # one at a time: 40 commits, 8,000 rows, about 3 MiB of pages
            await db.run_write(many, batch)
        await asyncio.sleep(0.5)  # the last checkpoint may still be running
        count = await db.run_read(lambda c: c.execute(select(func.count()).select_from(warehouse)).scalar_one())
        assert count == 8000
        # the writer itself checkpoints only past 10,000 pages (about 40 MiB); the file grew,
        # so the checkpoint thread copied the log's pages into it while the writes went on
        assert os.path.getsize(path) > start + 1_000_000
    finally:
        await db.dispose()


def _open_transactions(conn: Connection) -> int:
    """Transactions open on this database right now, this one included."""
    return int(conn.exec_driver_sql(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND xact_start IS NOT NULL AND pid <> 0 AND backend_type = 'client backend'").scalar_one())


@pytest.mark.postgres
async def test_postgres_runs_at_most_the_configured_sync_transactions_at_once(pg_base_url: str) -> None:
    url = await asyncio.to_thread(create_database, pg_base_url)
    try:
        settings = Settings(database_url=url, pg_concurrency=3)
        db, _ = await open_service(settings)
        try:
            seen = await asyncio.gather(*(db.run_write(_open_transactions, hold_s=0.05) for _ in range(12)),
                                        *(db.run_read(_open_transactions) for _ in range(6)))
        finally:
            await db.dispose()
        assert max(seen) <= 3
    finally:
        await asyncio.to_thread(drop_database, url, pg_base_url)


def test_the_postgres_concurrency_setting_must_be_positive() -> None:
    assert load_settings({}).pg_concurrency == 4
    assert load_settings({"FIELDSYNC_PG_CONCURRENCY": "16"}).pg_concurrency == 16
    for bad in ("0", "-2", "many"):
        with pytest.raises(SystemExit, match="FIELDSYNC_PG_CONCURRENCY"):
            load_settings({"FIELDSYNC_PG_CONCURRENCY": bad})
