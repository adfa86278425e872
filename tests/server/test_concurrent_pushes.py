"""Pushes that arrive together (on SQLite: committed together, each in its own savepoint) keep
every guarantee of a push on its own: exactly once, atomic, a refused batch stores nothing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from server.db.schema import rejection, sql_tables
from server.domain.sync import push as push_service
from server.domain.sync.devices import BOOTSTRAP, create_device, enrol
from server.domain.sync.principal import Principal
from shared.errors import Conflict
from shared.registry import Role
from sync.protocol import Change, DeviceCreate, PushRequest, PushResponse
from tests.server.client import Service, now_ts

pytestmark = pytest.mark.anyio

WAREHOUSE = str(uuid.uuid4())
PRODUCT = str(uuid.uuid4())


async def _device(svc: Service, role: str, user: str, warehouse_id: str | None = None) -> Principal:
    created = await create_device(svc.db, svc.settings, BOOTSTRAP,
                                  DeviceCreate(user=user, role=role, warehouse_id=warehouse_id))  # type: ignore[arg-type]
    enrolled = await enrol(svc.db, svc.clock, created.enrolment_code)
    return Principal(user=user, role=Role(role), device_id=enrolled.device_id, warehouse_id=warehouse_id)


def _push(svc: Service, who: Principal, changes: list[Change]) -> Any:
    return push_service.push(svc.db, svc.clock, svc.settings, who, PushRequest(site=who.device_id or "",
                                                                                changes=changes))


def _scan(seq: int, qty: str, pk: str | None = None) -> Change:
    return Change(seq=seq, table="stock_move", pk=pk or str(uuid.uuid4()), ts=now_ts(),
                  vals={"product_id": PRODUCT, "warehouse_id": WAREHOUSE, "qty": qty, "kind": "receipt",
                        "ref": f"scan-{seq}"})


async def _warehouse_and_product(svc: Service) -> None:
    boss = await _device(svc, "backoffice", "boss")
    await _push(svc, boss, [
        Change(seq=1, table="warehouse", pk=WAREHOUSE, ts=now_ts(), vals={"code": "WH1"}),
        Change(seq=2, table="product", pk=PRODUCT, ts=now_ts(), vals={"sku": "BOLT"})])


def _count(table: str) -> Any:
    def run(conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(sql_tables[table])).scalar_one())
    return run


def _total_qty(conn: Connection) -> Any:
    t = sql_tables["stock_move"]
    return sum(float(r.qty) for r in conn.execute(select(t.c.qty)))


async def test_the_same_batch_sent_twice_at_once_is_stored_once(service: Service) -> None:
    svc = service
    await _warehouse_and_product(svc)
    scanner = await _device(svc, "warehouse", "anna", WAREHOUSE)
    batch = [_scan(seq, "5") for seq in range(1, 21)]
    first, second = await asyncio.gather(_push(svc, scanner, batch), _push(svc, scanner, batch))
    assert first.acked == second.acked == 20 and not first.rejected and not second.rejected
    assert await svc.db.run_read(_count("stock_move")) == 20
    assert await svc.db.run_read(_total_qty) == 100


async def test_a_refused_batch_among_others_stores_nothing_and_the_others_commit(service: Service) -> None:
    svc = service
    await _warehouse_and_product(svc)
    scanners = [await _device(svc, "warehouse", f"w{i}", WAREHOUSE) for i in range(8)]
    gapped = scanners[3]
    jobs = []
    for s in scanners:
        if s is gapped:  # starts at seq 5 with nothing acknowledged: 409 gap, nothing stored
            jobs.append(_push(svc, s, [_scan(seq, "1") for seq in range(5, 9)]))
        else:
            jobs.append(_push(svc, s, [_scan(seq, "2") for seq in range(1, 11)]))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    for s, r in zip(scanners, results, strict=True):
        if s is gapped:
            assert isinstance(r, Conflict) and r.code == "gap"
        else:
            assert isinstance(r, PushResponse) and r.acked == 10 and not r.rejected
    assert await svc.db.run_read(_count("stock_move")) == 70
    assert await svc.db.run_read(_total_qty) == 140
    # the gapped device sends from seq 1 afterwards, as a client does, and everything lands once
    done = await _push(svc, gapped, [_scan(seq, "1") for seq in range(1, 9)])
    assert done.acked == 8 and await svc.db.run_read(_count("stock_move")) == 78


async def test_refusals_in_pushes_that_arrive_together_are_each_kept_once(service: Service) -> None:
    svc = service
    reps = [await _device(svc, "sales", f"rep{i}") for i in range(6)]
    jobs = []
    for i, rep in enumerate(reps):
        jobs.append(_push(svc, rep, [
            Change(seq=1, table="customer", pk=str(uuid.uuid4()), ts=now_ts(), vals={"name": "Ok", "owner": f"rep{i}"}),
            Change(seq=2, table="customer", pk=str(uuid.uuid4()), ts=now_ts(), vals={"name": "Theft", "owner": "other"}),
            Change(seq=3, table="nope", pk=str(uuid.uuid4()), ts=now_ts(), vals={"x": 1}),
        ]))
    results = await asyncio.gather(*jobs)
    for r in results:
        assert r.acked == 3 and [x.reason for x in r.rejected] == ["forbidden", "unknown_table"]

    def rejections(conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(rejection)).scalar_one())

    assert await svc.db.run_read(rejections) == 12
    assert await svc.db.run_read(_count("customer")) == 6
