"""Availability on SQLite and PostgreSQL: ``refresh_availability`` turns the stock ledger, open
sales orders and BOMs into synced ``stock_level`` rows, writes only the rows whose figures
changed, and a sales device pulls them over HTTP."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from server.db.schema import sql_tables
from server.demo import load_demo
from server.domain.inventory.availability import (
    Touched,
    on_hand_by_product_warehouse,
    refresh_availability,
    refresh_touched,
    touched_by,
)
from tests.planning.company import Company, new_id
from tests.server.client import Service, SyncClient, now_ts
from tests.server.conftest import BOOT, admin, anyio_backend, http, live_server, service, settings  # noqa: F401

pytestmark = pytest.mark.anyio
stock_level = sql_tables["stock_level"]


async def levels(service: Service, c: Company) -> dict[tuple[str, str], dict[str, Any]]:
    """Live stock_level rows by (sku, warehouse code)."""
    sku = {pk: key for (kind, key), pk in c.ids.items() if kind == "product"}
    code = {pk: key for (kind, key), pk in c.ids.items() if kind == "warehouse"}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    async with service.db.read() as conn:
        for r in (await conn.execute(select(stock_level))).mappings():
            if not r["_deleted"]:
                key = (sku[r["product_id"]], code[r["warehouse_id"]])
                assert key not in out, f"two live rows for {key}"
                out[key] = dict(r)
    return out


def figures(row: dict[str, Any]) -> tuple[D | None, D | None, D | None]:
    return row["on_hand"], row["available"], row["buildable"]


async def desk_company(service: Service) -> Company:
    """Desk = frame + top + 4 screws; frame = 4 legs + 8 screws (shared screws)."""
    c = Company(service.db, service.clock)
    await c.warehouse("WH1")
    await c.warehouse("WH2")
    await c.product("DESK", "make")
    await c.product("FRAME", "make")
    for sku in ("TOP", "LEG", "SCREW"):
        await c.product(sku, "buy")
    await c.bom("DESK", "FRAME", "1")
    await c.bom("DESK", "TOP", "1")
    await c.bom("DESK", "SCREW", "4")
    await c.bom("FRAME", "LEG", "4")
    await c.bom("FRAME", "SCREW", "8")
    return c


async def test_a_refresh_writes_the_three_figures_for_every_product_and_warehouse(service: Service) -> None:
    c = await desk_company(service)
    await c.move("DESK", "WH1", "5", "count")
    await c.move("DESK", "WH1", "-1", "delivery")
    await c.move("FRAME", "WH1", "1", "production_in")
    await c.move("TOP", "WH1", "10", "receipt")
    await c.move("LEG", "WH1", "9", "receipt")
    await c.move("SCREW", "WH1", "40", "count")
    await c.move("LEG", "WH2", "100", "receipt")
    await c.sales_order("SO-1", [("DESK", "3")])  # confirmed: open
    await c.sales_order("SO-2", [("DESK", "2"), ("TOP", "1")], status="scheduled")
    await c.sales_order("SO-3", [("DESK", "50")], status="draft")  # not an order yet
    await c.sales_order("SO-4", [("DESK", "50")], status="shipped")  # its goods already left
    await c.sales_order("SO-5", [("TOP", "4")], warehouse="WH2")

    done = await refresh_availability(service.db, service.clock)
    assert done.pairs == 10 and done.written == 10 and done.ts is not None

    got = {k: figures(v) for k, v in (await levels(service, c)).items()}
    # WH1: one frame on the shelf, legs for two more; screws: 4 a desk + 8 a built frame
    # 3 desks: 12 + 16 = 28 screws, 8 legs; a 4th desk would need 12 legs. Desk available: 4 - 5.
    assert got[("DESK", "WH1")] == (D(4), D(0), D(3))
    assert got[("FRAME", "WH1")] == (D(1), D(1), D(2))  # its own stock is not "buildable": 9 legs / 4
    assert got[("TOP", "WH1")] == (D(10), D(9), None)
    assert got[("LEG", "WH1")] == (D(9), D(9), None)
    assert got[("SCREW", "WH1")] == (D(40), D(40), None)
    assert got[("DESK", "WH2")] == (D(0), D(0), D(0))  # legs there, but no screws, frames or tops
    assert got[("FRAME", "WH2")] == (D(0), D(0), D(0))
    assert got[("TOP", "WH2")] == (D(0), D(0), None)  # 4 ordered, none there: never below 0
    assert got[("LEG", "WH2")] == (D(100), D(100), None)


async def test_count_semantics_decide_on_hand(service: Service) -> None:
    c = await desk_company(service)
    await c.move("LEG", "WH1", "10", "receipt")
    await c.move("LEG", "WH1", "-3", "issue")
    await c.move("LEG", "WH1", "20", "count")  # absorbs the two before it
    await c.move("LEG", "WH1", "-2", "issue")
    async with service.db.read() as conn:
        assert await on_hand_by_product_warehouse(conn) == {(c.id("product", "LEG"), c.id("warehouse", "WH1")): D(18)}
    await refresh_availability(service.db, service.clock)
    assert figures((await levels(service, c))[("LEG", "WH1")]) == (D(18), D(18), None)


async def test_a_second_refresh_writes_nothing_and_a_change_rewrites_only_its_rows(service: Service) -> None:
    c = await desk_company(service)
    await c.move("LEG", "WH1", "8", "receipt")
    await c.move("SCREW", "WH1", "100", "receipt")
    await c.move("TOP", "WH1", "100", "receipt")
    await refresh_availability(service.db, service.clock)
    before = await levels(service, c)

    again = await refresh_availability(service.db, service.clock)
    assert (again.written, again.ts) == (0, None)
    assert await levels(service, c) == before  # not even a version moved

    await c.move("LEG", "WH1", "4", "receipt")  # one more frame, so one more desk
    third = await refresh_availability(service.db, service.clock, {c.id("product", "LEG")})
    assert third.written == 3  # LEG's on hand, FRAME's and DESK's buildable; nothing in WH2
    after = await levels(service, c)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {("LEG", "WH1"), ("FRAME", "WH1"), ("DESK", "WH1")}
    assert {k: figures(after[k]) for k in changed} == {
        ("LEG", "WH1"): (D(12), D(12), None), ("FRAME", "WH1"): (D(0), D(0), D(3)),
        ("DESK", "WH1"): (D(0), D(0), D(3))}
    assert all(after[k]["id"] == before[k]["id"] for k in after)  # rows keep their ids


async def test_a_refresh_of_a_component_reaches_every_product_that_uses_it(service: Service) -> None:
    c = await desk_company(service)
    await c.move("TOP", "WH1", "10", "receipt")
    await c.move("SCREW", "WH1", "100", "receipt")
    await refresh_availability(service.db, service.clock)
    await c.move("LEG", "WH1", "8", "receipt")
    done = await refresh_availability(service.db, service.clock, {c.id("product", "LEG")})
    assert done.pairs == 6  # LEG, FRAME, DESK x 2 warehouses
    got = await levels(service, c)
    assert got[("FRAME", "WH1")]["buildable"] == 2 and got[("DESK", "WH1")]["buildable"] == 2


async def test_orders_name_the_products_of_their_lines(service: Service) -> None:
    c = await desk_company(service)
    await c.move("TOP", "WH1", "10", "receipt")
    order = await c.sales_order("SO-1", [("TOP", "6")])
    await refresh_availability(service.db, service.clock)
    assert (await levels(service, c))[("TOP", "WH1")]["available"] == 4
    await c.write("sales_order", order, {"status": "cancelled"})
    done = await refresh_availability(service.db, service.clock, (), orders={order})
    assert done.written == 1
    assert (await levels(service, c))[("TOP", "WH1")]["available"] == 10


async def test_an_existing_row_is_reused_and_a_duplicate_pair_is_tombstoned(service: Service) -> None:
    c = await desk_company(service)
    await c.move("LEG", "WH1", "7", "receipt")
    pair = {"product_id": c.id("product", "LEG"), "warehouse_id": c.id("warehouse", "WH1")}
    first, second = sorted([new_id(), new_id()])
    await c.write("stock_level", second, {**pair, "on_hand": "1", "available": "1"})
    await c.write("stock_level", first, {**pair, "on_hand": "7", "available": "2"})
    await refresh_availability(service.db, service.clock)
    async with service.db.read() as conn:
        rows = {r.id: r for r in await conn.execute(
            select(stock_level).where(stock_level.c.product_id == pair["product_id"],
                                      stock_level.c.warehouse_id == pair["warehouse_id"]))}
    assert set(rows) == {first, second}
    assert not rows[first]._deleted and (rows[first].on_hand, rows[first].available) == (D(7), D(7))
    assert rows[second]._deleted is True


async def test_rows_of_deleted_products_and_warehouses_are_tombstoned(service: Service) -> None:
    c = await desk_company(service)
    await refresh_availability(service.db, service.clock)
    assert len(await levels(service, c)) == 10
    await c.move("FRAME", "WH1", "2", "count")
    await c.move("SCREW", "WH1", "8", "count")
    await refresh_availability(service.db, service.clock)
    assert (await levels(service, c))[("DESK", "WH1")]["buildable"] == 0  # no tops
    await c.delete("product", c.id("product", "TOP"))
    done = await refresh_availability(service.db, service.clock, {c.id("product", "TOP")})
    assert done.written == 3  # TOP's two rows, and the desk no longer waits for a top
    assert (await levels(service, c))[("DESK", "WH1")]["buildable"] == 2
    await c.delete("warehouse", c.id("warehouse", "WH2"))
    await refresh_availability(service.db, service.clock)
    assert set(await levels(service, c)) == {(s, "WH1") for s in ("DESK", "FRAME", "LEG", "SCREW")}


async def test_a_bom_cycle_leaves_buildable_empty_but_the_refresh_goes_on(service: Service) -> None:
    c = await desk_company(service)
    await c.bom("LEG", "DESK", "1")  # nonsense, but LEG is a buy product: not exploded
    await c.bom("FRAME", "DESK", "1")  # a real cycle: desk -> frame -> desk
    await c.move("TOP", "WH1", "3", "receipt")
    await refresh_availability(service.db, service.clock)
    got = await levels(service, c)
    assert got[("DESK", "WH1")]["buildable"] is None and got[("FRAME", "WH1")]["buildable"] is None
    assert figures(got[("TOP", "WH1")]) == (D(3), D(3), None)


async def test_the_demo_company_keeps_its_rows_and_figures(service: Service) -> None:
    """The demo writes one stock_level row per product and warehouse; a refresh reuses them and
    agrees with their figures (it only adds what the demo leaves out)."""
    await load_demo(service.db, settings=service.settings, clock=service.clock)
    async with service.db.read() as conn:
        demo = {r.id: r for r in await conn.execute(select(stock_level))}
    await refresh_availability(service.db, service.clock)
    async with service.db.read() as conn:
        now = {r.id: r for r in await conn.execute(select(stock_level))}
    assert set(now) == set(demo)
    assert all((now[k].on_hand, now[k].available) == (demo[k].on_hand, demo[k].available) for k in demo)
    assert (await refresh_availability(service.db, service.clock)).written == 0


# ---- over HTTP: a warehouse device pushes, a sales device pulls --------------------------------


def pulled(changes: list[dict[str, Any]], table: str) -> set[str]:
    return {ch["pk"] for ch in changes if ch["table"] == table}


def state(client: SyncClient) -> dict[tuple[str, str], dict[str, Any]]:
    """The stock_level rows a device holds, by (product_id, warehouse_id)."""
    return {(cells["product_id"], cells["warehouse_id"]): cells
            for (t, _), cells in client.seen.items() if t == "stock_level"}


async def test_moves_pushed_by_warehouse_devices_reach_a_sales_device_as_stock_levels(
        service: Service, http: httpx.Client) -> None:
    c = await desk_company(service)
    wh1 = c.id("warehouse", "WH1")
    leg, frame, desk = (c.id("product", s) for s in ("LEG", "FRAME", "DESK"))
    await c.move("SCREW", "WH1", "200", "receipt")
    await c.move("TOP", "WH1", "200", "receipt")
    await c.sales_order("SO-1", [("DESK", "1")])
    await refresh_availability(service.db, service.clock)
    scanner = SyncClient.enrolled(http, BOOT, user="sam", role="warehouse", warehouse_id=wh1)
    counter = SyncClient.enrolled(http, BOOT, user="cora", role="warehouse", warehouse_id=wh1)
    rep = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    assert len(pulled(rep.pull_all(), "stock_level")) == 10
    assert state(rep)[(desk, wh1)]["buildable"] == "0"

    def move(qty: str, kind: str) -> dict[str, Any]:
        return {"product_id": leg, "warehouse_id": wh1, "qty": qty, "kind": kind, "ref": "test"}

    # the scanner receives 20 legs and issues 3 (online); the counter counted 16 legs offline
    # between those scans and syncs last; 4 more legs were scanned in after the count
    t0 = now_ts(-50_000)
    scanner.write("stock_move", new_id(), move("20", "receipt"), ts=t0)
    scanner.write("stock_move", new_id(), move("-3", "issue"), ts=t0 + (10_000 << 16))
    scanner.write("stock_move", new_id(), move("4", "receipt"), ts=t0 + (30_000 << 16))
    counter.write("stock_move", new_id(), move("16", "count"), ts=t0 + (20_000 << 16))

    # the server refreshes after each push in the background; an explicit refresh on top of it
    # finds what is left to do (nothing once the background caught up): together they wrote
    # exactly LEG, FRAME and DESK in WH1, and WH2 has nothing new
    done = await refresh_availability(service.db, service.clock, {leg})
    assert done.written <= 3
    assert len(pulled(rep.pull_all(), "stock_level")) == 3
    held = state(rep)
    assert (held[(leg, wh1)]["on_hand"], held[(leg, wh1)]["available"]) == ("20", "20")  # 16 + 4
    assert held[(frame, wh1)]["buildable"] == "5"  # 20 legs / 4
    assert (held[(desk, wh1)]["available"], held[(desk, wh1)]["buildable"]) == ("0", "5")

    assert (await refresh_availability(service.db, service.clock)).written == 0
    assert rep.pull_all() == []  # nothing to download again

    scanner.write("stock_move", new_id(), move("-8", "issue"))
    await refresh_availability(service.db, service.clock, {leg})
    assert len(pulled(rep.pull_all(), "stock_level")) == 3
    held = state(rep)
    assert held[(leg, wh1)]["on_hand"] == "12" and held[(desk, wh1)]["buildable"] == "3"


async def test_concurrent_refreshes_create_each_pair_once(service: Service) -> None:
    c = await desk_company(service)
    await c.move("LEG", "WH1", "3", "receipt")
    results = await asyncio.gather(*(refresh_availability(service.db, service.clock) for _ in range(4)))
    assert sorted(r.written for r in results) == [0, 0, 0, 10]
    assert len(await levels(service, c)) == 10  # levels() fails on two live rows for one pair


def test_touched_by_names_what_accepted_changes_may_have_moved() -> None:
    assert touched_by([("customer", "c1", {"name": "x"}), ("delivery_task", "t1", {"status": "done"})]) is None
    t = touched_by([
        ("stock_move", "m1", {"product_id": "p1", "warehouse_id": "w1", "qty": "1", "kind": "receipt"}),
        ("sales_order_line", "l1", {"qty": "3"}),
        ("sales_order_line", "l2", {"order_id": "o2", "product_id": "p2"}),
        ("sales_order", "o1", {"status": "cancelled"}),
        ("product", "p3", {"_deleted": True}),
    ])
    assert t == Touched(products=frozenset({"p1", "p2", "p3"}), orders=frozenset({"o1", "o2"}),
                        lines=frozenset({"l1", "l2"}))
    everything = touched_by([("warehouse", "w9", {"code": "WH9"})])
    assert everything is not None and everything.everything


async def test_refresh_touched_follows_a_line_whose_qty_changed(service: Service) -> None:
    c = await desk_company(service)
    await c.move("TOP", "WH1", "10", "receipt")
    await c.sales_order("SO-1", [("TOP", "6")])
    await refresh_availability(service.db, service.clock)
    line = c.id("sales_order_line", "SO-1/0")
    await c.write("sales_order_line", line, {"qty": "9"})
    done = await refresh_touched(service.db, service.clock, [("sales_order_line", line, {"qty": "9"})])
    assert done is not None and done.written == 1
    assert (await levels(service, c))[("TOP", "WH1")]["available"] == 1
    wh = await c.warehouse("WH3")
    done = await refresh_touched(service.db, service.clock, [("warehouse", wh, {"code": "WH3"})])
    assert done is not None and done.written == 5  # every product gets a row in the new warehouse
    assert await refresh_touched(service.db, service.clock, [("customer", new_id(), {"name": "x"})]) is None
