"""Requisitions over real HTTP on SQLite and PostgreSQL: edits move lines between suppliers,
approval refuses what cannot be ordered, imported purchase orders reach devices on a refresh, and
every bad request is a 4xx with a message (never a 500). Plus the pure splitting rules."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from server.config import Settings
from server.domain.procurement.requisitions import Component, components_to_send, split_into_orders
from tests.planning.company import LiveCompany as Company
from tests.procurement.helpers import ok
from tests.server.client import SyncClient
from tests.server.conftest import (  # noqa: F401  (fixtures)
    BOOT,
    admin,
    http,
    live_server,
    settings,
)

API = "/api/v1/procurement"
TODAY = dt.date(2026, 12, 1)


def test_a_purchase_order_holds_one_line_per_product_and_a_subcontractor_gets_components_with_scrap() -> None:
    lines = [("A", 1), ("B", 2), ("A", 3), ("A", 4), ("C", 5)]
    assert split_into_orders(lines, lambda ln: ln[0]) == [[("A", 1), ("B", 2), ("C", 5)], [("A", 3)], [("A", 4)]]
    bom = [Component("board", D(2), D(10)), Component("glue", D("0.5"), D(0)), Component("board", D(1), D(0))]
    assert components_to_send(D(10), bom) == {"board": D(32), "glue": D(5)}


@pytest.fixture
def company(settings: Settings, live_server: Any) -> Iterator[Company]:
    """WH1; SCREW from S1 (0.10) or S2 (0.12); NAIL from nobody; an order for 80 SCREW and 20 NAIL."""
    c = Company(settings.database_url)

    async def build() -> None:
        await c.warehouse("WH1")
        await c.product("SCREW", "buy", lead_time_days=5)
        await c.product("NAIL", "buy", lead_time_days=5)
        await c.supplier("S1")
        await c.supplier("S2")
        await c.supplier("S9", blocked=True)
        await c.agreement("S1", "SCREW", "purchase", "1", "0.10", "2026-01-01", None)
        await c.agreement("S2", "SCREW", "purchase", "1", "0.12", "2026-01-01", None)
        await c.sales_order("SO-1", [("SCREW", "80"), ("NAIL", "20")], due="2026-12-20")

    c.run(build())
    try:
        yield c
    finally:
        c.close()


def requisitions(http: httpx.Client, admin: SyncClient) -> dict[str | None, Any]:
    run = ok(http.post("/api/v1/planning/mrp/runs", json={"today": TODAY.isoformat()}, headers=admin.headers), 201)
    made = ok(http.post(f"{API}/requisitions/from-run", json={"run_id": run["id"]}, headers=admin.headers), 201)
    return {r["supplier"]: r for r in made}


def test_a_line_given_another_supplier_moves_to_its_requisition_and_unsourced_lines_wait_for_one(
        company: Company, http: httpx.Client, admin: SyncClient) -> None:
    reqs = requisitions(http, admin)
    assert set(reqs) == {"S1", None}
    unsourced = reqs[None]
    assert [(ln["sku"], ln["unit_price"]) for ln in unsourced["lines"]] == [("NAIL", None)]
    refused = http.post(f"{API}/requisitions/{unsourced['number']}/approve", headers=admin.headers)
    assert refused.status_code == 409 and refused.json()["error"] == "no_supplier"

    nail = unsourced["lines"][0]["id"]
    moved = ok(http.patch(f"{API}/requisitions/{unsourced['number']}/lines/{nail}",
                          json={"supplier": "S2", "unit_price": "0.05"}, headers=admin.headers))
    assert (moved["supplier"], moved["status"], [ln["sku"] for ln in moved["lines"]]) == ("S2", "draft", ["NAIL"])
    empty = http.post(f"{API}/requisitions/{unsourced['number']}/approve", headers=admin.headers)
    assert empty.status_code == 409 and empty.json()["error"] == "empty_requisition"

    screw = reqs["S1"]["lines"][0]["id"]  # S1 -> S2: joins S2's requisition of the same run
    joined = ok(http.patch(f"{API}/requisitions/{reqs['S1']['number']}/lines/{screw}", json={"supplier": "S2"},
                           headers=admin.headers))
    assert joined["number"] == moved["number"] and sorted(ln["sku"] for ln in joined["lines"]) == ["NAIL", "SCREW"]
    left = ok(http.delete(f"{API}/requisitions/{joined['number']}/lines/{nail}", headers=admin.headers))
    assert [ln["sku"] for ln in left["lines"]] == ["SCREW"]

    blocked_line = left["lines"][0]["id"]
    on_blocked = ok(http.patch(f"{API}/requisitions/{left['number']}/lines/{blocked_line}", json={"supplier": "S9"},
                               headers=admin.headers))
    blocked = http.post(f"{API}/requisitions/{on_blocked['number']}/approve", headers=admin.headers)
    assert blocked.status_code == 409 and blocked.json()["error"] == "supplier_blocked"

    listed = ok(http.get(f"{API}/requisitions", params={"status": "draft"}, headers=admin.headers))
    assert {r["number"] for r in listed} == {unsourced["number"], reqs["S1"]["number"], moved["number"],
                                             on_blocked["number"]}


def test_imported_purchase_orders_reach_the_warehouse_on_a_refresh(
        company: Company, http: httpx.Client, admin: SyncClient) -> None:
    company.run(company.purchase_order("PO-7001", "S1", "SCREW", "120", "2026-12-15"))
    assert ok(http.post(f"{API}/expected-receipts/refresh", headers=admin.headers)) == {"written": 1}
    assert ok(http.post(f"{API}/expected-receipts/refresh", headers=admin.headers)) == {"written": 0}
    device = SyncClient.enrolled(http, BOOT, user="wally", role="warehouse",
                                 warehouse_id=company.id("warehouse", "WH1"))
    device.pull_all()
    (expected,) = [v for (t, _), v in device.seen.items() if t == "purchase_receipt"]
    assert (expected["po_number"], expected["qty_expected"], expected["status"], expected["qty_received"]) == (
        "PO-7001", "120", "expected", "0")
    (po,) = ok(http.get(f"{API}/purchase-orders", params={"status": "open"}, headers=admin.headers))
    assert (po["number"], po["requisition"], po["lines"][0]["kind"]) == ("PO-7001", None, None)


def test_bad_requests_and_wrong_roles_get_a_4xx_with_a_message(
        company: Company, http: httpx.Client, admin: SyncClient) -> None:
    reqs = requisitions(http, admin)
    number, line = reqs["S1"]["number"], reqs["S1"]["lines"][0]["id"]
    edit = f"{API}/requisitions/{number}/lines/{line}"
    cases: list[tuple[str, str, Any, int, str]] = [
        ("post", f"{API}/requisitions/from-run", b"{not json", 400, "malformed"),
        ("post", f"{API}/requisitions/from-run", {"run_id": "x", "extra": 1}, 400, "malformed"),
        ("post", f"{API}/requisitions/from-run", {"run_id": ""}, 400, "malformed"),
        ("post", f"{API}/requisitions/from-run", {"run_id": "nope"}, 404, "unknown_run"),
        ("patch", edit, {}, 400, "invalid_value"),
        ("patch", edit, {"qty": "0"}, 400, "invalid_value"),
        ("patch", edit, {"qty": "-3"}, 400, "invalid_value"),
        ("patch", edit, {"qty": 5}, 400, "malformed"),
        ("patch", edit, {"qty": "1e5"}, 400, "invalid_value"),
        ("patch", edit, {"unit_price": "-0.01"}, 400, "invalid_value"),
        ("patch", edit, {"due_date": "2026-13-01"}, 400, "malformed"),
        ("patch", edit, {"supplier": "NOPE"}, 400, "unknown_supplier"),
        ("patch", f"{API}/requisitions/{number}/lines/nope", {"qty": "1"}, 404, "unknown_line"),
        ("patch", f"{API}/requisitions/PR-999999/lines/{line}", {"qty": "1"}, 404, "unknown_requisition"),
        ("post", f"{API}/requisitions/PR-999999/approve", None, 404, "unknown_requisition"),
        ("get", f"{API}/requisitions?status=open", None, 400, "invalid_value"),
        ("get", f"{API}/purchase-orders?status=draft", None, 400, "invalid_value"),
        ("get", f"{API}/purchase-orders?limit=0", None, 400, "malformed"),
        ("get", f"{API}/scorecards?from=yesterday", None, 400, "malformed"),
        ("get", f"{API}/scorecards?from=2026-12-02&to=2026-12-01", None, 400, "invalid_value"),
        ("get", f"{API}/scorecards/NOPE", None, 404, "unknown_supplier"),
    ]
    for method, url, body, status, code in cases:
        kwargs: dict[str, Any] = {"headers": admin.headers}
        if isinstance(body, bytes):
            kwargs["content"] = body
        elif body is not None:
            kwargs["json"] = body
        r = http.request(method.upper(), url, **kwargs)
        assert (r.status_code, r.json()["error"]) == (status, code), (method, url, body, r.text)
        assert r.json()["detail"]

    scanner = SyncClient.enrolled(http, BOOT, user="wally", role="warehouse",
                                  warehouse_id=company.id("warehouse", "WH1"))
    for method, url in [("get", f"{API}/requisitions"), ("post", f"{API}/requisitions/{number}/approve"),
                        ("patch", edit), ("get", f"{API}/purchase-orders"), ("get", f"{API}/scorecards"),
                        ("post", f"{API}/expected-receipts/refresh")]:
        r = http.request(method.upper(), url, headers=scanner.headers, json={"qty": "1"})
        assert r.status_code == 403 and r.json()["error"] == "forbidden", (url, r.text)
    assert http.get(f"{API}/requisitions").status_code == 401
    assert ok(http.get(f"{API}/requisitions/{number}", headers=admin.headers))["status"] == "draft"
