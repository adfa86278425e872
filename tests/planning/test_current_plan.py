"""The current plan over real HTTP on SQLite and PostgreSQL: built on first read, then kept up
to date by net change as phones push orders and stock moves, always equal to a regenerative
run of the same data; and refreshed in the background after a push, off the request path."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server.config import Settings
from server.domain.planning.current import CurrentPlan
from server.domain.sync.principal import Principal
from shared.registry import Role
from tests.planning.company import Company as AsyncCompany
from tests.planning.company import LiveCompany as Company
from tests.planning.company import new_id
from tests.server.client import Service, SyncClient
from tests.server.conftest import (  # noqa: F401  (fixtures)
    BOOT,
    admin,
    anyio_backend,
    http,
    live_server,
    service,
    settings,
)

CURRENT = "/api/v1/planning/current"
RUNS = "/api/v1/planning/mrp/runs"
TODAY = "2027-01-04"


@pytest.fixture
def company(settings: Settings, live_server: Any) -> Iterator[Company]:
    """WH1; DESK (make, 2 days) of 2 LEG (buy, 3 days); LAMP (buy, 1 day); nothing in stock."""
    c = Company(settings.database_url)

    async def build() -> None:
        await c.warehouse("WH1")
        await c.product("DESK", "make", lead_time_days=2)
        await c.product("LEG", "buy", lead_time_days=3)
        await c.product("LAMP", "buy", lead_time_days=1)
        await c.bom("DESK", "LEG", "2")

    c.run(build())
    try:
        yield c
    finally:
        c.close()


def push_order(device: SyncClient, company: Company, number: str, lines: list[tuple[str, str]],
               due: str = "2027-01-11") -> str:
    order = new_id()
    r = device.push([
        device.change("sales_order", order, {"number": number, "owner": device.user, "due_date": due,
                                             "warehouse_id": company.id("warehouse", "WH1"), "status": "submitted"}),
        *(device.change("sales_order_line", new_id(), {"order_id": order, "qty": qty, "unit_price": "9.00",
                                                       "product_id": company.id("product", sku)})
          for sku, qty in lines),
    ])
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text
    return order


def push_move(device: SyncClient, company: Company, sku: str, qty: str, kind: str = "receipt") -> None:
    r = device.push([device.change("stock_move", new_id(), {
        "product_id": company.id("product", sku), "warehouse_id": company.id("warehouse", "WH1"),
        "qty": qty, "kind": kind, "ref": "GRN-1"})])
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text


def orders(doc: dict[str, Any]) -> list[tuple[str, str, str, list[tuple[str, str]]]]:
    return [(o["sku"], o["qty"], o["due"], [(p["demand"], p["qty"]) for p in o["pegging"]])
            for o in doc["plan"]["planned_orders"]]


def current(http: httpx.Client, admin: SyncClient) -> dict[str, Any]:
    r = http.get(CURRENT, params={"today": TODAY}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_pushed_orders_and_stock_moves_change_the_current_plan_by_net_change(
        company: Company, http: httpx.Client, admin: SyncClient) -> None:
    rep = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    store = SyncClient.enrolled(http, BOOT, user="sam", role="warehouse", warehouse_id=company.id("warehouse", "WH1"))
    first = current(http, admin)
    assert first["plan"] == {"today": TODAY, "planned_orders": [], "exceptions": []}
    assert first["stats"]["mode"] == "regenerative"

    # a new order line: the desk and its legs are planned, pegged to the order
    push_order(rep, company, "SO-1", [("DESK", "5")])
    doc = current(http, admin)
    assert orders(doc) == [("LEG", "10", "2027-01-09", [("SO-1", "10")]),
                           ("DESK", "5", "2027-01-11", [("SO-1", "5")])]
    assert doc["stats"]["mode"] == "net_change"
    assert doc["stats"]["products_changed"] == 1  # DESK; LEG was re-netted through it
    assert doc["stats"]["cells_renetted"] == 2 and doc["as_of"] >= first["as_of"]

    # 4 legs come in: the leg order shrinks
    push_move(store, company, "LEG", "4")
    doc = current(http, admin)
    assert orders(doc) == [("LEG", "6", "2027-01-09", [("SO-1", "6")]),
                           ("DESK", "5", "2027-01-11", [("SO-1", "5")])]
    assert doc["stats"]["products_changed"] == 1 and doc["stats"]["cells_renetted"] == 1

    # more pushes; the plan equals a regenerative run on the same data, input version and all
    so2 = push_order(rep, company, "SO-2", [("DESK", "3"), ("LAMP", "7")], due="2027-01-15")
    push_move(store, company, "LAMP", "2")
    push_move(store, company, "DESK", "1", "count")
    r = rep.push([rep.change("sales_order", so2, {"status": "cancelled"})])
    assert r.status_code == 200 and r.json()["rejected"] == [], r.text
    push_order(rep, company, "SO-3", [("LAMP", "3.5")], due="2027-01-05")
    doc = current(http, admin)
    run = http.post(RUNS, json={"today": TODAY}, headers=admin.headers)
    assert run.status_code == 201, run.text
    assert doc["plan"] == run.json()["plan"]
    assert doc["input_version"] == run.json()["input_version"]
    assert orders(doc) == [("LAMP", "1.5", "2027-01-05", [("SO-3", "1.5")]),
                           ("LEG", "4", "2027-01-09", [("SO-1", "4")]),
                           ("DESK", "4", "2027-01-11", [("SO-1", "4")])]


def test_the_current_plan_refuses_other_roles_bad_days_and_a_bom_cycle(
        company: Company, http: httpx.Client, admin: SyncClient) -> None:
    rep = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    assert http.get(CURRENT, headers=rep.headers).status_code == 403
    assert http.get(CURRENT).status_code == 401
    for bad in ("2027-13-01", "soon", "1066-10-14"):
        r = http.get(CURRENT, params={"today": bad}, headers=admin.headers)
        assert r.status_code == 400, (bad, r.text)
    assert current(http, admin)["stats"]["mode"] == "regenerative"
    company.run(company.bom("LEG", "DESK", "1"))  # DESK <- LEG <- DESK: a cycle cannot be planned
    r = http.get(CURRENT, params={"today": TODAY}, headers=admin.headers)
    assert r.status_code == 409 and r.json()["error"] == "bom_cycle" and "DESK" in r.json()["detail"], r.text


@pytest.mark.anyio
async def test_a_push_refreshes_the_built_plan_in_the_background(service: Service) -> None:
    """Once built, the plan follows the data without being read: told of a push, it re-reads
    and re-plans in the background (the next read finds nothing new); told of a push of
    nothing it plans from, it does nothing; before it is built, nothing at all."""
    c = AsyncCompany(service.db, service.clock)
    await c.warehouse("WH1")
    await c.product("LAMP", "buy")
    plans = CurrentPlan(service.db, service.clock)
    boss = Principal(user="boss", role=Role.BACKOFFICE)
    try:
        plans.pushed({"stock_move"})
        await plans.settled()
        assert plans.stats is None
        doc = await plans.read(boss)
        assert doc.plan.planned_orders == [] and doc.stats.mode == "regenerative"
        await c.sales_order("SO-1", [("LAMP", "3")])
        plans.pushed({"customer"})
        await plans.settled()
        assert plans.stats == doc.stats
        plans.pushed({"sales_order", "sales_order_line"})
        await plans.settled()
        stats = plans.stats
        assert stats is not None and stats.mode == "net_change" and stats.products_changed == 1
        doc = await plans.read(boss)
        assert doc.stats == stats  # the read found the plan up to date
        assert [(o.sku, o.qty, [p.demand for p in o.pegging]) for o in doc.plan.planned_orders] == [
            ("LAMP", "3", ["SO-1"])]
    finally:
        await plans.close()
