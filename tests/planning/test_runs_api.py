"""The MRP runs API over real HTTP on SQLite and PostgreSQL: a back-office run is kept with its
plan and input version, listed and read back unchanged after the data moves on, and two runs
compare per product and warehouse and per planned order. Only the back office may use it."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from server.config import Settings
from tests.planning.company import LiveCompany
from tests.server.client import SyncClient
from tests.server.conftest import BOOT, admin, http, live_server, settings  # noqa: F401  (fixtures)

RUNS = "/api/v1/planning/mrp/runs"
TODAY = "2027-01-04"
PLAN_KEYS = {"today", "planned_orders", "exceptions"}
ORDER_KEYS = {"sku", "warehouse", "kind", "qty", "start", "due", "supplier", "unit_price", "late", "pegging"}


@pytest.fixture
def company(settings: Settings, live_server: Any) -> Iterator[LiveCompany]:
    """FG (make, 2 days) needs 2 PART (buy, 5 days; S01 sells at 2.00, from 100 at 1.50).
    SO-1: 10 FG due 2027-01-11, SO-2: 5 FG due 2027-01-18, nothing in stock."""
    c = LiveCompany(settings.database_url)

    async def build() -> None:
        await c.warehouse("WH1")
        await c.product("FG", "make", lead_time_days=2)
        await c.product("PART", "buy", lead_time_days=5)
        await c.bom("FG", "PART", "2")
        await c.supplier("S01")
        await c.agreement("S01", "PART", "purchase", "1", "2.00", "2026-01-01", None)
        await c.agreement("S01", "PART", "purchase", "100", "1.50", "2026-01-01", None)
        await c.sales_order("SO-1", [("FG", "10")], due="2027-01-11")
        await c.sales_order("SO-2", [("FG", "5")], due="2027-01-18")

    c.run(build())
    try:
        yield c
    finally:
        c.close()


def order(sku: str, qty: str, start: str, due: str, pegs: list[tuple[str, str]], *,
          supplier: str | None = None, price: str | None = None) -> dict[str, Any]:
    return {"sku": sku, "warehouse": "WH1", "kind": "buy" if supplier else "make", "qty": qty,
            "start": start, "due": due, "supplier": supplier, "unit_price": price, "late": False,
            "pegging": [{"demand": d, "qty": q} for d, q in pegs]}


def post_run(http: httpx.Client, device: SyncClient, today: str = TODAY) -> dict[str, Any]:
    r = http.post(RUNS, json={"today": today}, headers=device.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_run_is_kept_with_its_plan_and_input_version_and_listed(
        company: LiveCompany, http: httpx.Client, admin: SyncClient) -> None:
    run = post_run(http, admin)
    assert set(run) == {"id", "created_at", "today", "input_version", "requested_by", "counts", "plan"}
    assert re.fullmatch(r"[0-9a-f]{64}", run["input_version"])
    assert run["today"] == TODAY and run["requested_by"] == "boss"
    plan = run["plan"]
    assert set(plan) == PLAN_KEYS and all(set(o) == ORDER_KEYS for o in plan["planned_orders"])
    assert plan == {"today": TODAY, "exceptions": [], "planned_orders": [
        order("PART", "20", "2027-01-04", "2027-01-09", [("SO-1", "20")], supplier="S01", price="2.00"),
        order("FG", "10", "2027-01-09", "2027-01-11", [("SO-1", "10")]),
        order("PART", "10", "2027-01-11", "2027-01-16", [("SO-2", "10")], supplier="S01", price="2.00"),
        order("FG", "5", "2027-01-16", "2027-01-18", [("SO-2", "5")]),
    ]}
    assert run["counts"] == {"planned_orders": 4, "exceptions": 0}

    later = post_run(http, admin, "2027-01-08")  # a later day: PART for SO-1 is now late
    assert later["input_version"] != run["input_version"]
    assert [o["late"] for o in later["plan"]["planned_orders"]][:1] == [True]

    listed = http.get(RUNS, headers=admin.headers)
    assert listed.status_code == 200
    assert [(r["id"], r["today"], r["counts"]) for r in listed.json()] == [
        (later["id"], "2027-01-08", later["counts"]), (run["id"], TODAY, run["counts"])]
    assert "plan" not in listed.json()[0]
    assert http.get(RUNS, params={"limit": 1}, headers=admin.headers).json()[0]["id"] == later["id"]

    # a kept run does not change when the data does
    company.run(company.write("sales_order_line", company.id("sales_order_line", "SO-1/0"), {"qty": "99"}))
    again = http.get(f"{RUNS}/{run['id']}", headers=admin.headers)
    assert again.status_code == 200 and again.json() == run

    # the same document in MessagePack
    packed = http.get(f"{RUNS}/{run['id']}", headers={**admin.headers, "Accept": "application/msgpack"})
    assert packed.headers["content-type"].startswith("application/msgpack")
    assert msgspec.msgpack.decode(packed.content) == run


def test_two_runs_compare_by_product_and_warehouse_and_by_order(
        company: LiveCompany, http: httpx.Client, admin: SyncClient) -> None:
    a = post_run(http, admin)
    same = post_run(http, admin)
    assert same["input_version"] == a["input_version"] and same["id"] != a["id"]
    r = http.get(f"{RUNS}/{a['id']}/compare/{same['id']}", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "a": {"id": a["id"], "today": TODAY, "input_version": a["input_version"]},
        "b": {"id": same["id"], "today": TODAY, "input_version": a["input_version"]},
        "inputs_differ": False, "quantities": [], "orders": {"added": [], "removed": [], "changed": []}}

    # SO-1 is cancelled and SO-2 grows to 60: PART for SO-2 reaches the 100 tier
    async def change() -> None:
        await company.write("sales_order", company.id("sales_order", "SO-1"), {"status": "cancelled"})
        await company.write("sales_order_line", company.id("sales_order_line", "SO-2/0"), {"qty": "60"})

    company.run(change())
    b = post_run(http, admin)
    diff = http.get(f"{RUNS}/{a['id']}/compare/{b['id']}", headers=admin.headers).json()
    assert diff["inputs_differ"] is True
    assert diff["quantities"] == [
        {"sku": "FG", "warehouse": "WH1", "a": "15", "b": "60", "difference": "45"},
        {"sku": "PART", "warehouse": "WH1", "a": "30", "b": "120", "difference": "90"},
    ]
    assert diff["orders"]["added"] == []
    assert diff["orders"]["removed"] == [
        order("FG", "10", "2027-01-09", "2027-01-11", [("SO-1", "10")]),
        order("PART", "20", "2027-01-04", "2027-01-09", [("SO-1", "20")], supplier="S01", price="2.00"),
    ]
    assert diff["orders"]["changed"] == [
        {"sku": "FG", "warehouse": "WH1", "due": "2027-01-18", "fields": ["qty", "pegging"],
         "a": order("FG", "5", "2027-01-16", "2027-01-18", [("SO-2", "5")]),
         "b": order("FG", "60", "2027-01-16", "2027-01-18", [("SO-2", "60")])},
        {"sku": "PART", "warehouse": "WH1", "due": "2027-01-16", "fields": ["qty", "unit_price", "pegging"],
         "a": order("PART", "10", "2027-01-11", "2027-01-16", [("SO-2", "10")], supplier="S01", price="2.00"),
         "b": order("PART", "120", "2027-01-11", "2027-01-16", [("SO-2", "120")], supplier="S01", price="1.50")},
    ]
    # the other way round, what was removed is added
    back = http.get(f"{RUNS}/{b['id']}/compare/{a['id']}", headers=admin.headers).json()
    assert back["orders"]["added"] == diff["orders"]["removed"]
    assert [q["difference"] for q in back["quantities"]] == ["-45", "-90"]


def test_only_the_back_office_runs_or_reads_plans_and_bad_requests_are_4xx(
        company: LiveCompany, http: httpx.Client, admin: SyncClient) -> None:
    run = post_run(http, admin)
    rep = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    for method, path in (("POST", RUNS), ("GET", RUNS), ("GET", f"{RUNS}/{run['id']}"),
                         ("GET", f"{RUNS}/{run['id']}/compare/{run['id']}")):
        body = {"today": TODAY} if method == "POST" else None
        r = http.request(method, path, json=body, headers=rep.headers)
        assert (r.status_code, r.json()["error"]) == (403, "forbidden"), (method, path, r.text)
        assert http.request(method, path, json=body).status_code == 401
    for missing in (f"{RUNS}/nope", f"{RUNS}/{run['id']}/compare/nope", f"{RUNS}/nope/compare/{run['id']}"):
        r = http.get(missing, headers=admin.headers)
        assert r.status_code == 404 and r.json() == {"error": "unknown_run", "detail": r.json()["detail"]}
    for bad in ({}, {"today": "2027-13-01"}, {"today": "soon"}, {"today": TODAY, "x": 1}, {"today": "0001-01-01"}):
        r = http.post(RUNS, json=bad, headers=admin.headers)
        assert r.status_code == 400 and set(r.json()) == {"error", "detail"}, (bad, r.text)
    assert http.post(RUNS, content=b"{", headers=admin.headers).status_code == 400
    assert [r["id"] for r in http.get(RUNS, headers=admin.headers).json()] == [run["id"]]


def test_data_that_cannot_be_planned_is_a_conflict_and_no_run_is_kept(
        company: LiveCompany, http: httpx.Client, admin: SyncClient) -> None:
    company.run(company.product("FG", "buy"))  # a second live product with the sku FG
    r = http.post(RUNS, json={"today": TODAY}, headers=admin.headers)
    assert r.status_code == 409 and r.json()["error"] == "planning_data" and "FG" in r.json()["detail"]
    assert http.get(RUNS, headers=admin.headers).json() == []
