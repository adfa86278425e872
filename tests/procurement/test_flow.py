"""The whole procurement flow over real HTTP, on SQLite and PostgreSQL: a sales rep's phone pushes
an order, MRP plans it, the plan's purchases become requisitions, the back office edits and
approves them into purchase orders (a subcontract order sends its components out), the
warehouse's device pulls the expected receipts, pushes receipts with a rejection and one
over-receipt, and stock, order status and the supplier's scorecard all show it."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from server.config import Settings
from server.domain.procurement.scorecard_service import supplier_scores
from tests.planning.company import LiveCompany as Company
from tests.planning.company import new_id
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
TODAY = dt.datetime.now(dt.UTC).date()
DUE = (TODAY + dt.timedelta(days=30)).isoformat()
SINCE = (TODAY - dt.timedelta(days=1)).isoformat()
UNTIL = (TODAY + dt.timedelta(days=60)).isoformat()


@pytest.fixture
def company(settings: Settings, live_server: Any) -> Iterator[Company]:
    """WH1; DESK (make) = TOP (subcontracted to S2, made of 2 BOARD with 10 % scrap) + 8 SCREW
    (bought from S1 at 0.10); 100 BOARD on hand."""
    c = Company(settings.database_url)
    valid_from = (TODAY - dt.timedelta(days=100)).isoformat()

    async def build() -> None:
        await c.warehouse("WH1")
        await c.product("DESK", "make", lead_time_days=2)
        await c.product("TOP", "subcontract", lead_time_days=3)
        await c.product("BOARD", "buy", lead_time_days=4)
        await c.product("SCREW", "buy", lead_time_days=5)
        await c.bom("DESK", "TOP", "1")
        await c.bom("DESK", "SCREW", "8")
        await c.bom("TOP", "BOARD", "2", scrap_pct="10")
        await c.supplier("S1")
        await c.supplier("S2")
        await c.agreement("S1", "SCREW", "purchase", "1", "0.10", valid_from, None)
        await c.agreement("S1", "BOARD", "purchase", "1", "3.00", valid_from, None)
        await c.agreement("S2", "TOP", "subcontract", "1", "20.00", valid_from, None)
        await c.move("BOARD", "WH1", "100", "count")

    c.run(build())
    try:
        yield c
    finally:
        c.close()


def rows(device: SyncClient, table: str) -> dict[str, dict[str, Any]]:
    device.pull_all()
    return {pk: cells for (t, pk), cells in device.seen.items() if t == table}


def on_hand_seen(device: SyncClient, product_id: str, want: str, timeout: float = 20) -> str | None:
    """The device's pulled stock level of a product, waiting for the server's background refresh."""
    deadline = time.monotonic() + timeout
    level = None
    while time.monotonic() < deadline:
        level = next((r.get("on_hand") for r in rows(device, "stock_level").values()
                      if r.get("product_id") == product_id), None)
        if level is not None and D(level) == D(want):
            return level  # type: ignore[no-any-return]
        time.sleep(0.1)
    return level  # type: ignore[no-any-return]


def test_sales_order_to_scorecard(company: Company, http: httpx.Client, admin: SyncClient) -> None:
    wh1, screw, top, board = (company.id("warehouse", "WH1"), company.id("product", "SCREW"),
                              company.id("product", "TOP"), company.id("product", "BOARD"))
    # a sales rep's phone sends the order
    rep = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    customer, order = new_id(), new_id()
    assert ok(rep.push([
        rep.change("customer", customer, {"name": "Office Co", "owner": "alice"}),
        rep.change("sales_order", order, {"number": "SO-1", "customer_id": customer, "owner": "alice",
                                          "warehouse_id": wh1, "due_date": DUE, "status": "submitted"}),
        rep.change("sales_order_line", new_id(), {"order_id": order, "product_id": company.id("product", "DESK"),
                                                  "qty": "10", "unit_price": "400.00"}),
    ]))["rejected"] == []

    # MRP plans it; its purchases become one requisition per supplier
    run = ok(http.post("/api/v1/planning/mrp/runs", json={"today": TODAY.isoformat()}, headers=admin.headers), 201)
    reqs = ok(http.post(f"{API}/requisitions/from-run", json={"run_id": run["id"]}, headers=admin.headers), 201)
    assert [(r["supplier"], r["status"], [(ln["sku"], ln["kind"], ln["qty"], ln["unit_price"]) for ln in r["lines"]])
            for r in reqs] == [("S1", "draft", [("SCREW", "buy", "80", "0.10")]),
                               ("S2", "draft", [("TOP", "subcontract", "10", "20.00")])]
    s1, s2 = reqs
    again = http.post(f"{API}/requisitions/from-run", json={"run_id": run["id"]}, headers=admin.headers)
    assert again.status_code == 409 and again.json()["error"] == "already_requisitioned"

    # the back office orders more screws at a worse price, and approves
    line = s1["lines"][0]["id"]
    edited = ok(http.patch(f"{API}/requisitions/{s1['number']}/lines/{line}",
                           json={"qty": "100", "unit_price": "0.11"}, headers=admin.headers))
    assert (edited["lines"][0]["qty"], edited["lines"][0]["unit_price"]) == ("100", "0.11")
    approved = ok(http.post(f"{API}/requisitions/{s1['number']}/approve", headers=admin.headers), 201)
    (po1,) = approved["purchase_orders"]
    assert (po1["supplier"], [(ln["sku"], ln["qty"], ln["status"]) for ln in po1["lines"]]) == (
        "S1", [("SCREW", "100", "open")])
    twice = http.post(f"{API}/requisitions/{s1['number']}/approve", headers=admin.headers)
    assert twice.status_code == 409 and twice.json()["error"] == "requisition_approved"
    late_edit = http.patch(f"{API}/requisitions/{s1['number']}/lines/{line}", json={"qty": "1"}, headers=admin.headers)
    assert late_edit.status_code == 409 and late_edit.json()["error"] == "requisition_approved"
    sub = ok(http.post(f"{API}/requisitions/{s2['number']}/approve", headers=admin.headers), 201)
    (po2,) = sub["purchase_orders"]
    assert [(i["sku"], i["qty"]) for i in sub["issues"]] == [("BOARD", "22")]  # 10 x 2 x 1.1
    assert ok(http.get(f"{API}/requisitions/{s1['number']}", headers=admin.headers))["purchase_orders"] == [
        po1["number"]]

    # the warehouse's device pulls the expected receipts and the components sent out
    scanner = SyncClient.enrolled(http, BOOT, user="wally", role="warehouse", warehouse_id=wh1)
    expected = rows(scanner, "purchase_receipt")
    screw_line, top_line = po1["lines"][0]["id"], po2["lines"][0]["id"]
    assert {(r["po_number"], r["qty_expected"], r["status"], r["supplier_name"]) for r in expected.values()} == {
        (po1["number"], "100", "expected", "Supplier S1"), (po2["number"], "10", "expected", "Supplier S2")}
    assert [(m["qty"], m["kind"], m["ref"]) for m in rows(scanner, "stock_move").values()
            if m["product_id"] == board and m["kind"] == "issue"] == [("-22", "issue", po2["number"])]

    # it receives: 10 rusty screws rejected, one over-receipt refused, the tops in full
    def receipt(line_id: str, product: str, accepted: str, rejected: str = "0", reason: str | None = None) -> Any:
        return scanner.change("goods_receipt", new_id(), {
            "receipt_id": line_id, "product_id": product, "warehouse_id": wh1, "qty_accepted": accepted,
            "qty_rejected": rejected, "reject_reason": reason, "ref": "DN-1"})

    pushed = ok(scanner.push([receipt(screw_line, screw, "90", "10", "rusty"), receipt(screw_line, screw, "6"),
                              receipt(top_line, top, "10")]))
    assert [(x["seq"], x["reason"], x["detail"].split(":")[0]) for x in pushed["rejected"]] == [
        (2, "invalid_value", "over_receipt")]

    # stock, order status and the expected receipts show it
    assert on_hand_seen(scanner, screw, "90") == "90"
    assert D(on_hand_seen(scanner, top, "10") or "0") == 10
    assert D(on_hand_seen(scanner, board, "78") or "0") == 78
    orders = {po["number"]: po for po in ok(http.get(f"{API}/purchase-orders", params={"status": "closed"},
                                                     headers=admin.headers))}
    assert [(ln["qty_received"], ln["status"]) for ln in orders[po1["number"]]["lines"]] == [("100", "closed")]
    assert [(ln["qty_received"], ln["status"]) for ln in orders[po2["number"]]["lines"]] == [("10", "closed")]
    assert {r["status"] for r in rows(scanner, "purchase_receipt").values()} == {"received"}

    # the scorecard: all on time, 90 % accepted, full quantity, paid 10 % above the agreement
    card = ok(http.get(f"{API}/scorecards/S1", params={"from": SINCE, "to": UNTIL}, headers=admin.headers))
    assert (card["receipts"], card["on_time_rate"], card["quality_rate"], card["quantity_accuracy"],
            card["price_variance"], card["score"]) == (1, "1.0000", "0.9000", "1.0000", "0.1000", "95.5")
    assert company.run(_scores(company))["S1"] == D("95.5")


async def _scores(company: Company) -> dict[str, D]:
    async with company.db.read() as conn:
        return await supplier_scores(conn, TODAY + dt.timedelta(days=60))
