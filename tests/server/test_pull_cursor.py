"""The pull cursor never skips a change, even when transactions commit out of order."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from server.domain.sync import pull as pull_service
from server.domain.sync import push as push_service
from server.domain.sync import store
from server.domain.sync.devices import BOOTSTRAP, create_device, enrol
from server.domain.sync.principal import Principal
from server.domain.sync.server_writes import ServerWrite, write_as_server
from shared.registry import Role
from sync.protocol import Change, DeviceCreate, PushRequest
from tests.server.client import Service, now_ts

pytestmark = pytest.mark.anyio


async def _device(svc: Service, role: str = "backoffice", user: str = "boss") -> Principal:
    created = await create_device(svc.db, svc.settings, BOOTSTRAP, DeviceCreate(user=user, role=role))  # type: ignore[arg-type]
    enrolled = await enrol(svc.db, svc.clock, created.enrolment_code)
    return Principal(user=user, role=Role(role), device_id=enrolled.device_id)


async def _pull_all(svc: Service, who: Principal, cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    got = []
    while True:
        page = await pull_service.pull(svc.db, svc.clock, svc.secret, who, cursor, limit)
        got.extend(page.changes)
        cursor = page.cursor
        if not page.more:
            return got, cursor


async def test_a_transaction_that_commits_late_is_not_skipped(service: Service) -> None:
    svc = service
    reader = await _device(svc)
    pusher = await _device(svc, user="rep")
    _, cursor = await _pull_all(svc, reader, None, 10)
    slow_pk, fast_pk = str(uuid.uuid4()), str(uuid.uuid4())

    slow_started, release = asyncio.Event(), asyncio.Event()

    async def slow_writer() -> None:
        # takes its place in the log first, then commits after a later transaction
        async with svc.db.write() as conn:
            await conn.run_sync(write_as_server, svc.clock, [ServerWrite("warehouse", slow_pk, {"code": "SLOW"})])
            slow_started.set()
            await release.wait()

    async def fast_push() -> None:
        await push_service.push(svc.db, svc.clock, svc.settings, pusher, PushRequest(
            site=pusher.device_id or "", changes=[Change(seq=1, table="warehouse", pk=fast_pk, ts=now_ts(),
                                                         vals={"code": "FAST"})]))

    slow = asyncio.create_task(slow_writer())
    await slow_started.wait()
    fast = asyncio.create_task(fast_push())
    if svc.db.is_postgres:
        await fast  # PostgreSQL commits the later transaction first
    else:
        await asyncio.sleep(0.2)  # SQLite queues the second writer behind the first
    seen_early, cursor_mid = await _pull_all_bounded(svc, reader, cursor)
    assert slow_pk not in {c.pk for c in seen_early}
    release.set()
    await slow
    await fast
    seen_late, _ = await _pull_all(svc, reader, cursor_mid, 10)
    pulled = {c.pk for c in seen_early} | {c.pk for c in seen_late}
    assert {slow_pk, fast_pk} <= pulled


async def _pull_all_bounded(svc: Service, who: Principal, cursor: str | None) -> tuple[list[Any], str | None]:
    """Pull while a transaction is still open: rows behind it are held back (``more`` stays
    true), so stop after a few pages instead of waiting for it."""
    got = []
    for _ in range(3):
        page = await pull_service.pull(svc.db, svc.clock, svc.secret, who, cursor, 10)
        got.extend(page.changes)
        cursor = page.cursor
        if not page.more:
            break
    return got, cursor


async def test_concurrent_pushers_and_a_puller_see_every_change(service: Service) -> None:
    svc = service
    reader = await _device(svc)
    pushers = [await _device(svc, user=f"rep{i}") for i in range(8)]
    written: dict[str, str] = {}
    done = asyncio.Event()
    pulled: dict[str, Any] = {}
    cursor: str | None = None

    async def pusher(p: Principal, n: int) -> None:
        seq = 0
        for b in range(12):
            changes = []
            for _ in range(5):
                seq += 1
                pk = str(uuid.uuid4())
                written[pk] = f"{n}-{b}"
                changes.append(Change(seq=seq, table="warehouse", pk=pk, ts=now_ts(), vals={"code": f"{n}-{b}"}))
            await push_service.push(svc.db, svc.clock, svc.settings, p, PushRequest(site=p.device_id or "", changes=changes))
            await asyncio.sleep(0)

    async def puller() -> None:
        nonlocal cursor
        while not done.is_set():
            page = await pull_service.pull(svc.db, svc.clock, svc.secret, reader, cursor, 7)
            for c in page.changes:
                pulled[c.pk] = c.vals.get("code", pulled.get(c.pk))
            cursor = page.cursor
            await asyncio.sleep(0.001)

    pull_task = asyncio.create_task(puller())
    await asyncio.gather(*(pusher(p, i) for i, p in enumerate(pushers)))
    done.set()
    await pull_task
    rest, _ = await _pull_all(svc, reader, cursor, 7)
    for c in rest:
        pulled[c.pk] = c.vals.get("code", pulled.get(c.pk))
    assert pulled == written
    assert len(written) == 8 * 12 * 5


async def test_a_first_sync_returns_current_state_not_history(service: Service) -> None:
    svc = service
    reader = await _device(svc)
    pk = str(uuid.uuid4())
    for i in range(20):
        async with svc.db.write() as conn:
            await conn.run_sync(write_as_server, svc.clock, [ServerWrite("warehouse", pk, {"code": f"v{i}", "name": "N"})])
    got, _ = await _pull_all(svc, reader, None, 1000)
    mine = [c for c in got if c.pk == pk]
    assert len(mine) == 1
    assert mine[0].vals == {"code": "v19", "name": "N"}


async def test_pages_of_any_size_add_up_to_the_same_state(service: Service) -> None:
    svc = service
    reader = await _device(svc)
    async with svc.db.write() as conn:
        await conn.run_sync(write_as_server, svc.clock, [
            ServerWrite("product", str(uuid.uuid4()), {"sku": f"S{i}", "name": f"P{i}"}) for i in range(37)])
    async with svc.db.write() as conn:
        await conn.run_sync(write_as_server, svc.clock, [
            ServerWrite("warehouse", str(uuid.uuid4()), {"code": f"W{i}"}) for i in range(5)])
    full, _ = await _pull_all(svc, reader, None, 5000)
    for limit in (1, 2, 3, 10):
        paged, _ = await _pull_all(svc, reader, None, limit)
        assert sorted((c.table, c.pk) for c in paged) == sorted((c.table, c.pk) for c in full)
        assert len(paged) == len(full)  # no duplicates across pages


async def test_rev_order_is_commit_order_on_sqlite_and_xid_order_on_postgres(service: Service) -> None:
    first = await service.db.run_write(store.next_rev)
    second = await service.db.run_write(store.next_rev)
    assert second > first


async def test_a_transaction_open_in_another_database_does_not_hold_back_pulls(service: Service,
                                                                                 tmp_path: Any) -> None:
    """Transaction ids are server-wide on PostgreSQL: a long transaction of another application
    on the same server must not stall this service's devices."""
    svc = service
    reader = await _device(svc)
    _, cursor = await _pull_all(svc, reader, None, 100)
    if svc.db.is_postgres:
        import asyncpg
        from sqlalchemy.engine import make_url

        url = make_url(svc.settings.database_url)
        other = await asyncpg.connect(url.set(drivername="postgresql", database="postgres")
                                      .render_as_string(hide_password=False))
        tx = other.transaction()
        await tx.start()
        await other.fetchval("SELECT pg_current_xact_id()")  # holds a server-wide transaction id
    else:
        import sqlite3

        other = sqlite3.connect(tmp_path / "other.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("CREATE TABLE t (x)")
    try:
        pk = str(uuid.uuid4())
        async with svc.db.write() as conn:
            await conn.run_sync(write_as_server, svc.clock, [ServerWrite("warehouse", pk, {"code": "NEW"})])
        page = await pull_service.pull(svc.db, svc.clock, svc.secret, reader, cursor, 100)
        assert [c.pk for c in page.changes] == [pk]
        assert page.more is False
    finally:
        if svc.db.is_postgres:
            await tx.rollback()
            await other.close()
        else:
            other.execute("ROLLBACK")
            other.close()
