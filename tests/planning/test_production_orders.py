"""Production orders from sales orders in one step, over real HTTP on SQLite and PostgreSQL: a
sales rep's phone pushes orders, the back office turns them into (combined) production orders,
the phone pulls and reads ``scheduled``, and the next MRP run counts the production orders as
receipts. Refusals write nothing; numbers stay unique when two servers number at once."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from server.config import Settings
from server.db.engine import open_database
from server.db.masterdata import production_order
from server.db.planning_schema import production_order_peg
from server.domain.planning.production import FromSalesOrders, from_sales_orders
from server.domain.sync.clock import ServerClock
from server.domain.sync.principal import Principal
from shared.errors import Conflict
from shared.registry import Role
from tests.planning.company import LiveCompany as Company
from tests.planning.company import new_id
from tests.server.client import SyncClient
from tests.server.conftest import (  # noqa: F401  (fixtures)
    BOOT,
    admin,
    http,
    live_server,
    settings,
)

ENDPOINT = "/api/v1/planning/production-orders/from-sales-orders"
RUNS = "/api/v1/planning/mrp/runs"
TODAY = "2027-01-04"
BACKOFFICE = Principal(user="planner", role=Role.BACKOFFICE)


@pytest.fixture
def company(settings: Settings, live_server: Any) -> Iterator[Company]:
    """WH1; FG-DESK (make, 2 days) of TOP (make, 1 day) and 8 SCREW (buy); FG-CHAIR (make, no
    BOM); nothing in stock. The live server has migrated the database."""
    c = Company(settings.database_url)

    async def build() -> None:
        await c.warehouse("WH1")
        await c.product("FG-DESK", "make", lead_time_days=2)
        await c.product("FG-CHAIR", "make", lead_time_days=2)
        await c.product("TOP", "make", lead_time_days=1)
        await c.product("SCREW", "buy", lead_time_days=5)
        await c.bom("FG-DESK", "TOP", "1")
        await c.bom("FG-DESK", "SCREW", "8")

    c.run(build())
    try:
        yield c
    finally:
        c.close()


def rep(http: httpx.Client) -> SyncClient:
    return SyncClient.enrolled(http, BOOT, user="alice", role="sales")


def push_order(device: SyncClient, company: Company, number: str, lines: list[tuple[str, str]],
               due: str = "2027-01-11", status: str = "submitted") -> str:
    customer = new_id()
    order = new_id()
    changes = [
        device.change("customer", customer, {"name": f"Customer of {number}", "owner": device.user}),
        device.change("sales_order", order, {"number": number, "customer_id": customer, "owner": device.user,
                                             "warehouse_id": company.id("warehouse", "WH1"),
                                             "due_date": due, "status": status}),
        *(device.change("sales_order_line", new_id(), {"order_id": order, "qty": qty, "unit_price": "100.00",
                                                       "product_id": company.id("product", sku)})
          for sku, qty in lines),
    ]
    r = device.push(changes)
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text
    return order


def stored_orders(company: Company) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        async with company.db.read() as conn:
            mos = (await conn.execute(select(production_order).order_by(production_order.c.number))).mappings().all()
            pegs = (await conn.execute(select(production_order_peg))).mappings().all()
        return [{"number": m["number"], "qty": m["qty"], "status": m["status"],
                 "pegs": sorted((p["sales_order_number"], p["qty"]) for p in pegs
                                if p["production_order_id"] == m["id"])} for m in mos]
    return company.run(read())  # type: ignore[no-any-return]


def planned(plan: dict[str, Any], sku: str) -> D:
    return sum((D(o["qty"]) for o in plan["planned_orders"] if o["sku"] == sku), D(0))


def status_seen_by(device: SyncClient, order_id: str) -> str:
    device.pull_all()
    return str(device.seen[("sales_order", order_id)]["status"])


def test_orders_become_combined_production_orders_the_phone_reads_scheduled_and_mrp_counts_them(
        company: Company, http: httpx.Client, admin: SyncClient) -> None:
    phone = rep(http)
    so1 = push_order(phone, company, "SO-1", [("FG-DESK", "10"), ("FG-CHAIR", "4")])
    so2 = push_order(phone, company, "SO-2", [("FG-DESK", "5"), ("SCREW", "100")], status="confirmed")
    so3 = push_order(phone, company, "SO-3", [("FG-DESK", "7")], due="2027-01-18")
    assert status_seen_by(phone, so1) == "submitted"

    before = http.post(RUNS, json={"today": TODAY}, headers=admin.headers)
    assert before.status_code == 201, before.text
    before_plan = before.json()["plan"]
    assert planned(before_plan, "FG-DESK") == 22 and planned(before_plan, "TOP") == 22

    r = http.post(ENDPOINT, json={"orders": ["SO-1", "SO-2"], "combine": True}, headers=admin.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    # one desk order for both sales orders (same product, warehouse, due date), one chair order
    assert body["production_orders"] == [
        {"id": body["production_orders"][0]["id"], "number": "PO-MFG-000001", "sku": "FG-CHAIR",
         "warehouse": "WH1", "qty": "4", "due_date": "2027-01-11", "status": "planned",
         "pegging": [{"sales_order": "SO-1", "qty": "4"}]},
        {"id": body["production_orders"][1]["id"], "number": "PO-MFG-000002", "sku": "FG-DESK",
         "warehouse": "WH1", "qty": "15", "due_date": "2027-01-11", "status": "planned",
         "pegging": [{"sales_order": "SO-1", "qty": "10"}, {"sales_order": "SO-2", "qty": "5"}]},
    ]
    assert body["sales_orders"] == [{"number": "SO-1", "status": "scheduled"},
                                    {"number": "SO-2", "status": "scheduled"}]
    assert stored_orders(company) == [
        {"number": "PO-MFG-000001", "qty": 4, "status": "planned", "pegs": [("SO-1", 4)]},
        {"number": "PO-MFG-000002", "qty": 15, "status": "planned", "pegs": [("SO-1", 10), ("SO-2", 5)]},
    ]

    # the rep's phone learns it on its next pull; SO-3 was not in the request
    assert status_seen_by(phone, so1) == "scheduled"
    assert status_seen_by(phone, so2) == "scheduled"
    assert status_seen_by(phone, so3) == "submitted"

    # the next MRP run: the production orders are receipts covering SO-1 and SO-2 (still demand
    # until shipped), so only SO-3's 7 desks are planned; the tops are still all 22: 7 for
    # SO-3's planned desks, 15 that the open desk order allocates, pegged to its sales orders
    after = http.post(RUNS, json={"today": TODAY}, headers=admin.headers).json()
    assert planned(after["plan"], "FG-DESK") == 7 and planned(after["plan"], "TOP") == 22
    assert planned(after["plan"], "FG-CHAIR") == 0
    desk = [o for o in after["plan"]["planned_orders"] if o["sku"] == "FG-DESK"]
    assert [p["demand"] for o in desk for p in o["pegging"]] == ["SO-3"]
    tops: dict[str, D] = {}
    for o in after["plan"]["planned_orders"]:
        for p in o["pegging"] if o["sku"] == "TOP" else ():
            tops[p["demand"]] = tops.get(p["demand"], D(0)) + D(p["qty"])
    assert tops == {"SO-1": 10, "SO-2": 5, "SO-3": 7}
    compare = http.get(f"{RUNS}/{before.json()['id']}/compare/{after['id']}", headers=admin.headers).json()
    assert compare["inputs_differ"] is True
    assert {(q["sku"], q["difference"]) for q in compare["quantities"]} >= {("FG-DESK", "-15"), ("FG-CHAIR", "-4")}


def test_without_combine_each_order_line_gets_its_own_production_order(
        company: Company, http: httpx.Client, admin: SyncClient) -> None:
    phone = rep(http)
    push_order(phone, company, "SO-1", [("FG-DESK", "10"), ("FG-DESK", "2")])
    push_order(phone, company, "SO-2", [("FG-DESK", "5")])
    r = http.post(ENDPOINT, json={"orders": ["SO-2", "SO-1"], "combine": False}, headers=admin.headers)
    assert r.status_code == 201, r.text
    assert sorted((o["qty"], o["pegging"][0]["sales_order"]) for o in r.json()["production_orders"]) == [
        ("10", "SO-1"), ("2", "SO-1"), ("5", "SO-2")]
    assert [o["number"] for o in stored_orders(company)] == ["PO-MFG-000001", "PO-MFG-000002", "PO-MFG-000003"]


def test_refusals_name_the_order_and_write_nothing(company: Company, http: httpx.Client,
                                                    admin: SyncClient) -> None:
    phone = rep(http)
    so1 = push_order(phone, company, "SO-1", [("FG-DESK", "10")])
    push_order(phone, company, "SO-BUY", [("SCREW", "100")])
    push_order(phone, company, "SO-DRAFT", [("FG-DESK", "1")], status="draft")
    push_order(phone, company, "SO-DONE", [("FG-DESK", "1")], status="in_production")

    def refused(orders: list[str], status: int, code: str, *words: str) -> None:
        r = http.post(ENDPOINT, json={"orders": orders}, headers=admin.headers)
        assert r.status_code == status, r.text
        assert r.json()["error"] == code
        for w in words:
            assert w in r.json()["detail"]

    refused(["SO-1", "SO-404"], 404, "unknown_sales_order", "SO-404")
    refused(["SO-1", "SO-BUY"], 409, "not_schedulable", "SO-BUY", "no open line of a make product")
    refused(["SO-DRAFT", "SO-1"], 409, "not_schedulable", "SO-DRAFT is draft")
    refused(["SO-1", "SO-DONE"], 409, "not_schedulable", "SO-DONE is in_production")
    assert stored_orders(company) == []
    assert status_seen_by(phone, so1) == "submitted"

    assert http.post(ENDPOINT, json={"orders": ["SO-1"]}, headers=admin.headers).status_code == 201
    refused(["SO-1"], 409, "not_schedulable", "SO-1 is scheduled")  # not twice
    assert len(stored_orders(company)) == 1

    # malformed bodies and the wrong role
    for bad in ({"orders": []}, {"orders": "SO-1"}, {"orders": [""]}, {"orders": ["SO-1"], "extra": 1}, {}):
        r = http.post(ENDPOINT, json=bad, headers=admin.headers)
        assert r.status_code == 400 and set(r.json()) == {"error", "detail"}, (bad, r.text)
    r = http.post(ENDPOINT, json={"orders": ["SO-1"]}, headers=phone.headers)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert http.post(ENDPOINT, json={"orders": ["SO-1"]}).status_code == 401


def test_numbers_are_unique_across_two_servers_and_one_order_is_scheduled_once(
        company: Company, http: httpx.Client) -> None:
    phone = rep(http)
    for i in range(12):
        push_order(phone, company, f"SO-{i}", [("FG-DESK", "1"), ("FG-CHAIR", "1")])
    # a number an import already used is skipped
    company.run(company.production_order("PO-MFG-000003", "FG-DESK", "1", "2027-01-11", status="released"))

    async def race() -> list[Any]:
        # two database handles with their own pools: what two server processes would hold
        one, two = open_database(company.db.url), open_database(company.db.url)
        try:
            calls = [from_sales_orders(db, ServerClock(), BACKOFFICE,
                                       FromSalesOrders(orders=[f"SO-{i}"]), dt.datetime.now(dt.UTC))
                     for i, db in zip(range(12), [one, two] * 6, strict=True)]
            # and the same order asked for by both servers at once: one wins
            calls += [from_sales_orders(db, ServerClock(), BACKOFFICE, FromSalesOrders(orders=["SO-0", "SO-1"]),
                                        dt.datetime.now(dt.UTC)) for db in (one, two)]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await one.dispose()
            await two.dispose()

    results = company.run(race())
    ok = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, Conflict) and "is scheduled" in e.detail for e in errors), errors
    # whichever request got there first, every order was scheduled by exactly one of them
    scheduled = sorted(so.number for r in ok for so in r.sales_orders)
    assert scheduled == sorted(f"SO-{i}" for i in range(12))
    assert len(ok) + len(errors) == 14 and len(errors) in (2, 3)
    # two production orders (desk, chair) per successful request, numbered without a gap but
    # for the number the import held
    numbers = [o["number"] for o in stored_orders(company) if o["status"] == "planned"]
    assert sorted(numbers) == sorted(f"PO-MFG-{n:06d}" for n in range(1, 2 * len(ok) + 2) if n != 3)
