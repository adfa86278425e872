"""Supplier quotas: set by the back office over ``/api/v1/master/supplier-quotas``, honoured by
the allocation of an MRP run, part of the run's input version; bad quotas are refused with a
400 that names the row and the problem, and nothing is written. Real HTTP, SQLite and PostgreSQL."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx

from server.config import Settings
from server.domain.planning.supply import Agreement, AgreementKind
from server.domain.procurement.allocation import allocate
from server.domain.procurement.allocation_model import AllocationInput, Need, Quota
from tests.procurement.helpers import ok
from tests.procurement.test_allocation_mrp import COMPANY, TODAY, _company
from tests.server.client import SyncClient
from tests.server.conftest import BOOT, admin, http, live_server, settings  # noqa: F401  (fixtures)

QUOTAS = "/api/v1/master/supplier-quotas"
RUNS = "/api/v1/planning/mrp/runs"
# S1 (5.00) without a capacity takes all 100 of P unless a quota sends some to S2 (6.00)
UNLIMITED = {"suppliers.csv": "code,name,capacity_per_week,blocked\nS1,One,,false\nS2,Two,,false\nS3,Three,,true\n"}


def _run(http: httpx.Client, admin: SyncClient) -> dict[str, Any]:
    return ok(http.post(RUNS, json={"today": TODAY.isoformat()}, headers=admin.headers), 201)  # type: ignore[no-any-return]


def _split(run: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(o["supplier"], o["qty"], o["unit_price"]) for o in run["plan"]["planned_orders"]]


def test_a_30_percent_quota_set_over_the_api_sends_30_percent_to_the_second_source(
        settings: Settings, http: httpx.Client, admin: SyncClient, tmp_path: Path) -> None:
    _company(settings.database_url, tmp_path, UNLIMITED)
    before = _run(http, admin)
    assert _split(before) == [("S1", "100", "5.00")]

    posted = ok(http.post(QUOTAS, json={"rows": [{"sku": "P", "supplier": "S2", "min_share": "30"}]},
                          headers=admin.headers))
    assert posted["files"] == [{"file": "supplier-quotas", "rows": 1, "created": 1, "updated": 0, "unchanged": 0}]
    listed = ok(http.get(QUOTAS, headers=admin.headers))
    assert listed["rows"] == [{"sku": "P", "supplier": "S2", "min_share": "30", "max_share": None}]

    after = _run(http, admin)
    assert _split(after) == [("S1", "70", "5.00"), ("S2", "30", "6.00")]  # 350 + 180
    assert after["input_version"] != before["input_version"]  # the quota is planning input
    alloc = ok(http.get(f"{RUNS}/{after['id']}/allocation", headers=admin.headers))["allocation"]
    assert alloc["cost"] == "530.00" and alloc["quota_short"] == []
    assert alloc["orders"][0]["quotas"] == ["quota: S2 gets at least 30 % of P's planned volume"]
    # the server's current plan reads the quota too: same plan, same version as the kept run
    current = ok(http.get("/api/v1/planning/current", params={"today": TODAY.isoformat()}, headers=admin.headers))
    assert current["plan"] == after["plan"] and current["input_version"] == after["input_version"]

    # the same row again changes nothing, and the same data plans to the same version
    again = ok(http.post(QUOTAS, json={"rows": [{"sku": "P", "supplier": "S2", "min_share": "30.0"}]},
                         headers=admin.headers))
    assert again["files"][0]["unchanged"] == 1
    assert _run(http, admin)["input_version"] == after["input_version"]
    # raised to 50 % with a maximum of 50 %: an update, and half the volume moves
    ok(http.post(QUOTAS, json={"rows": [{"sku": "P", "supplier": "S2", "min_share": 50, "max_share": "50"}]},
                 headers=admin.headers))
    assert _split(_run(http, admin)) == [("S1", "50", "5.00"), ("S2", "50", "6.00")]


def test_bad_quotas_are_refused_with_the_row_and_the_problem_and_nothing_is_written(
        settings: Settings, http: httpx.Client, admin: SyncClient, tmp_path: Path) -> None:
    _company(settings.database_url, tmp_path, UNLIMITED)
    ok(http.post(QUOTAS, json={"rows": [{"sku": "P", "supplier": "S1", "min_share": "60"}]}, headers=admin.headers))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"sku": "P", "supplier": "S2", "min_share": "101"}, "rows[0].min_share: a share is a percentage from 0 to 100"),
        ({"sku": "P", "supplier": "S2", "min_share": "-1"}, "rows[0].min_share: must not be negative, got -1"),
        ({"sku": "P", "supplier": "S2", "min_share": "lots"}, "rows[0].min_share: expected a plain decimal"),
        ({"sku": "P", "supplier": "S2"}, "rows[0].min_share: required"),
        ({"sku": "P", "supplier": "S2", "min_share": "20", "max_share": "10"},
         "rows[0].max_share: 10 is below min_share 20"),
        ({"sku": "NOPE", "supplier": "S2", "min_share": "10"}, "rows[0].sku: there is no product 'NOPE'"),
        ({"sku": "P", "supplier": "S9", "min_share": "10"}, "rows[0].supplier: there is no supplier 'S9'"),
        ({"sku": "P", "supplier": "S2", "min_share": "50"},
         "sku P: its suppliers' minimum shares add up to 110 %, more than 100"),
        ({"sku": "P", "supplier": "S2", "min_share": "10", "share": "1"}, "rows[0]: unknown column 'share'"),
        ({"sku": "P\u0000", "supplier": "S2", "min_share": "10"}, "rows[0].sku: text contains a NUL character"),
    ]
    for row, message in cases:
        r = http.post(QUOTAS, json={"rows": [row]}, headers=admin.headers)
        assert r.status_code == 400, (row, r.text)
        assert message in r.json()["detail"], (row, r.text)
    # two good rows and a bad one: all or nothing
    r = http.post(QUOTAS, json={"rows": [{"sku": "P", "supplier": "S2", "min_share": "10"},
                                         {"sku": "P", "supplier": "S1", "min_share": "200"}]}, headers=admin.headers)
    assert r.status_code == 400
    assert ok(http.get(QUOTAS, headers=admin.headers))["rows"] == [
        {"sku": "P", "supplier": "S1", "min_share": "60", "max_share": None}]
    # lowering S1 in the same request makes room for S2: the sum is of what would be stored
    ok(http.post(QUOTAS, json={"rows": [{"sku": "P", "supplier": "S1", "min_share": "40"},
                                        {"sku": "P", "supplier": "S2", "min_share": "60"}]}, headers=admin.headers))
    rep = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    assert http.post(QUOTAS, json={"rows": []}, headers=rep.headers).status_code == 403
    assert http.get(QUOTAS, headers=rep.headers).status_code == 403


def test_a_maximum_share_caps_the_cheapest_supplier() -> None:
    lines = tuple(Agreement(s, "P", AgreementKind.PURCHASE, D(1), D(p), dt.date(2026, 1, 1), None, 1, 5)
                  for s, p in (("S1", "5"), ("S2", "6")))
    needs = (Need("P", "WH1", AgreementKind.PURCHASE, D(60), dt.date(2027, 1, 20), 3),
             Need("P", "WH1", AgreementKind.PURCHASE, D(40), dt.date(2027, 1, 27), 3))
    result = allocate(AllocationInput(TODAY, needs, lines, quotas=(Quota("P", "S1", D(0), D("0.25")),)))
    given: dict[str, D] = {}
    for oa in result.orders:
        for p in oa.parts:
            given[p.supplier] = given.get(p.supplier, D(0)) + p.qty
    assert given == {"S1": D(25), "S2": D(75)} and result.cost == D(25 * 5 + 75 * 6)
    assert result.quota_short == ()


assert COMPANY["products.csv"]  # the company of test_allocation_mrp, with S1's capacity lifted
