"""MRP with the supplier allocation: split orders with their pegs, subcontract starts planned
again, and ``fieldsync mrp --json`` / the runs API over a real database (SQLite, PostgreSQL)."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import httpx

from server.config import Settings
from server.domain.planning.allocated import Policy, plan_allocated
from server.domain.planning.model import BomLine, Demand, Item, ItemKind, Peg, PlanningInput
from server.domain.planning.supply import Agreement, AgreementKind
from server.domain.procurement.allocation_model import SupplierTerms
from tests.planning.test_mrp_cli import fieldsync
from tests.server.client import SyncClient
from tests.server.conftest import BOOT, admin, http, live_server, settings  # noqa: F401  (fixtures)

TODAY = dt.date(2027, 1, 4)
DUE = dt.date(2027, 1, 20)
BUY, SUB = AgreementKind.PURCHASE, AgreementKind.SUBCONTRACT


def ag(supplier: str, sku: str, price: str, lead: int, kind: AgreementKind = BUY) -> Agreement:
    return Agreement(supplier, sku, kind, D(1), D(price), dt.date(2026, 1, 1), None, 1, lead)


def test_an_order_split_by_capacity_becomes_two_planned_orders_with_their_pegs_split_exactly():
    inp = PlanningInput(TODAY, {"P": Item("P", ItemKind.BUY, 3)}, {}, {},
                        (Demand("SO-1", "P", "WH1", DUE, D("60.5")), Demand("SO-2", "P", "WH1", DUE, D("39.5"))))
    result = plan_allocated(inp, [ag("S1", "P", "5", 5), ag("S2", "P", "6", 2)],
                            Policy({"S1": SupplierTerms("S1", D(70))}))
    got = [(o.supplier, o.qty, o.unit_price, o.start, o.due, o.pegging) for o in result.plan.planned_orders]
    assert got == [
        ("S1", D(70), D(5), dt.date(2027, 1, 15), DUE, (Peg("SO-1", D("60.5")), Peg("SO-2", D("9.5")))),
        ("S2", D(30), D(6), dt.date(2027, 1, 18), DUE, (Peg("SO-2", D(30)),)),
    ]
    assert result.plan.exceptions == () and result.passes == 1
    [oa] = result.allocation.orders
    assert oa.cheapest_rule == "S1" and oa.cost == D(530)


def test_a_subcontract_order_given_to_a_faster_subcontractor_needs_its_components_later():
    items = {"SUB": Item("SUB", ItemKind.SUBCONTRACT, 7), "C": Item("C", ItemKind.BUY, 1)}
    inp = PlanningInput(TODAY, items, {"SUB": (BomLine("SUB", "C", D(2)),)}, {},
                        (Demand("SO-3", "SUB", "WH1", DUE, D(10)),))
    lines = [ag("T1", "SUB", "10", 10, SUB), ag("T2", "SUB", "12", 4, SUB), ag("S9", "C", "1", 1)]
    # T1 is the cheapest (the provisional choice, start 01-10) but has no capacity: T2 gets it,
    # starts 01-16, and its components are planned for that day in a second plan
    result = plan_allocated(inp, lines, Policy({"T1": SupplierTerms("T1", D(0))}))
    orders = {o.sku: o for o in result.plan.planned_orders}
    assert (orders["SUB"].supplier, orders["SUB"].start, orders["SUB"].unit_price) == ("T2", dt.date(2027, 1, 16), D(12))
    assert (orders["C"].due, orders["C"].qty, orders["C"].supplier) == (dt.date(2027, 1, 16), D(20), "S9")
    assert orders["C"].pegging == (Peg("SO-3", D(20)),)
    assert result.passes == 2
    [sub] = [oa for oa in result.allocation.orders if oa.need.sku == "SUB"]
    assert {a.supplier: str(a.reason) for a in sub.alternatives} == {"T1": "capacity"}


def test_late_and_no_supplier_exceptions_follow_the_allocation():
    items = {"P": Item("P", ItemKind.BUY, 3), "Q": Item("Q", ItemKind.BUY, 2)}
    due = TODAY + dt.timedelta(days=2)
    inp = PlanningInput(TODAY, items, {}, {}, (Demand("SO-1", "P", "WH1", due, D(5)),
                                                 Demand("SO-2", "Q", "WH1", due, D(5))))
    result = plan_allocated(inp, [ag("S1", "P", "5", 6)], Policy({}))
    assert [(e.sku, e.kind, e.detail) for e in result.plan.exceptions] == [
        ("P", "late", "due 2027-01-06: should start 2026-12-31, 4 days before today; start moved to 2027-01-04"),
        ("Q", "no_supplier", "due 2027-01-06: no supplier for 5; the product's lead time of 2 days is used"),
    ]


COMPANY = {
    "warehouses.csv": "code,name\nWH1,Main\n",
    "products.csv": ("sku,name,uom,kind,lead_time_days,safety_stock,lot_rule,lot_qty,barcode,standard_cost\n"
                     "P,Part,pcs,buy,3,0,lot_for_lot,,,\n"),
    "suppliers.csv": "code,name,capacity_per_week,blocked\nS1,One,70,false\nS2,Two,,false\nS3,Three,,true\n",
    "price_agreements.csv": ("supplier,sku,kind,min_qty,unit_price,valid_from,valid_to,priority,lead_time_days\n"
                             "S1,P,purchase,1,5.00,2026-01-01,,1,5\n"
                             "S2,P,purchase,1,6.00,2026-01-01,,2,2\n"
                             "S3,P,purchase,1,1.00,2026-01-01,,1,2\n"),
    "customers.csv": "code,name,owner,phone,address\nC1,Customer,alice,,\n",
    "sales_orders.csv": "number,customer,sku,qty,due_date,warehouse\nSO-1,C1,P,100,2027-01-20,WH1\n",
}


def _company(db_url: str, tmp_path: Path, extra: dict[str, str] | None = None) -> None:
    folder = tmp_path / "company"
    folder.mkdir()
    for name, text in {**COMPANY, **(extra or {})}.items():
        (folder / name).write_text(text, encoding="utf-8")
    done = fieldsync(db_url, "import", str(folder))
    assert done.returncode == 0, done.stderr


def test_mrp_json_takes_suppliers_and_prices_from_the_allocation(db_url: str, tmp_path: Path) -> None:
    _company(db_url, tmp_path)
    done = fieldsync(db_url, "mrp", "--today", TODAY.isoformat(), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # exactly one document: nothing else on stdout
    assert [{k: o[k] for k in ("sku", "qty", "start", "due", "supplier", "unit_price", "late", "pegging")}
            for o in doc["planned_orders"]] == [
        {"sku": "P", "qty": "70", "start": "2027-01-15", "due": "2027-01-20", "supplier": "S1",
         "unit_price": "5.00", "late": False, "pegging": [{"demand": "SO-1", "qty": "70"}]},
        {"sku": "P", "qty": "30", "start": "2027-01-18", "due": "2027-01-20", "supplier": "S2",
         "unit_price": "6.00", "late": False, "pegging": [{"demand": "SO-1", "qty": "30"}]},
    ]
    assert doc["exceptions"] == []


def test_mrp_explain_prints_who_got_each_order_and_why_the_others_lost(db_url: str, tmp_path: Path) -> None:
    _company(db_url, tmp_path)
    done = fieldsync(db_url, "mrp", "--today", TODAY.isoformat(), "--explain")
    assert done.returncode == 0, done.stderr
    assert "Supplier allocation: optimal" in done.stdout
    assert "S1 70 @ 5.00" in done.stdout and "S2 30 @ 6.00" in done.stdout
    assert "S3: blocked - S3 is blocked" in done.stdout
    assert fieldsync(db_url, "mrp", "--json", "--explain").returncode == 2  # one JSON document only


def test_a_kept_run_shows_its_allocation_and_why_each_alternative_lost(
        settings: Settings, http: httpx.Client, admin: SyncClient, tmp_path: Path) -> None:
    _company(settings.database_url, tmp_path)
    boss = admin.headers
    run = http.post("/api/v1/planning/mrp/runs", json={"today": TODAY.isoformat()}, headers=boss)
    assert run.status_code == 201, run.text
    r = http.get(f"/api/v1/planning/mrp/runs/{run.json()['id']}/allocation", headers=boss)
    assert r.status_code == 200, r.text
    alloc = r.json()["allocation"]
    assert alloc["status"] == "optimal" and alloc["cost"] == "530.00"
    [order] = alloc["orders"]
    assert [(c["supplier"], c["qty"], c["unit_price"]) for c in order["chosen"]] == [
        ("S1", "70", "5.00"), ("S2", "30", "6.00")]
    assert [(a["supplier"], a["reason"]) for a in order["alternatives"]] == [("S3", "blocked")]
    assert order["cheapest_rule"] == "S1"
    assert http.get("/api/v1/planning/mrp/runs/nope/allocation", headers=boss).status_code == 404
    # the server's current plan (net change) is allocated the same way: same plan, same version
    current = http.get("/api/v1/planning/current", params={"today": TODAY.isoformat()}, headers=boss)
    assert current.status_code == 200, current.text
    assert current.json()["plan"] == run.json()["plan"]
    assert current.json()["input_version"] == run.json()["input_version"]
    rep = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    assert http.get(f"/api/v1/planning/mrp/runs/{run.json()['id']}/allocation", headers=rep.headers).status_code == 403


def test_a_run_can_leave_out_suppliers_below_a_score_unless_allowed(
        settings: Settings, http: httpx.Client, admin: SyncClient, tmp_path: Path) -> None:
    # S1 had a line of Q due 2026-12-15 that never came: quantity accuracy 0, score 0
    extra = {
        "products.csv": COMPANY["products.csv"] + "Q,Other part,pcs,buy,3,0,lot_for_lot,,,\n",
        "purchase_orders.csv": "number,supplier,sku,qty,due_date,warehouse\nPO-1,S1,Q,5,2026-12-15,WH1\n",
    }
    _company(settings.database_url, tmp_path, extra)
    runs = "/api/v1/planning/mrp/runs"
    plain = http.post(runs, json={"today": TODAY.isoformat()}, headers=admin.headers).json()
    strict = http.post(runs, json={"today": TODAY.isoformat(), "min_supplier_score": "50"}, headers=admin.headers)
    assert strict.status_code == 201, strict.text
    assert [(o["supplier"], o["qty"]) for o in strict.json()["plan"]["planned_orders"]] == [("S2", "100")]
    assert strict.json()["input_version"] != plain["input_version"]  # the rule is part of the input
    alloc = http.get(f"{runs}/{strict.json()['id']}/allocation", headers=admin.headers).json()["allocation"]
    assert {a["supplier"]: a["reason"] for a in alloc["orders"][0]["alternatives"]} == {
        "S1": "below_score", "S3": "blocked"}
    allowed = http.post(runs, json={"today": TODAY.isoformat(), "min_supplier_score": 50,
                                    "allow_suppliers": ["S1"]}, headers=admin.headers)
    assert [(o["supplier"], o["qty"]) for o in allowed.json()["plan"]["planned_orders"]] == [
        ("S1", "70"), ("S2", "30")]
    for bad in ("101", "-1", "lots"):
        r = http.post(runs, json={"today": TODAY.isoformat(), "min_supplier_score": bad}, headers=admin.headers)
        assert r.status_code == 400, (bad, r.text)


def test_mrp_refuses_a_score_outside_0_to_100_on_the_command_line(tmp_path: Path) -> None:
    done = fieldsync(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "mrp", "--min-supplier-score", "101")
    assert done.returncode == 2 and "0..100" in done.stderr
