"""``fieldsync mrp`` in a subprocess, on the demo company loaded with ``fieldsync import``, on
SQLite and PostgreSQL: exactly one JSON document of PLANNING.md's shape on stdout, planned orders
that match a hand computation from the demo CSVs, the same plan as the runs API computes, and a
table for people."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from server.db.engine import open_database
from server.domain.planning.runs import run_mrp

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo-company"
TODAY = "2026-12-01"
PLAN_KEYS = {"today", "planned_orders", "exceptions"}
ORDER_KEYS = {"sku", "warehouse", "kind", "qty", "start", "due", "supplier", "unit_price", "late", "pegging"}
DECIMAL = re.compile(r"^\d+(\.\d+)?$")  # planned quantities and prices are positive, no exponent
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def fieldsync(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("fieldsync")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "server.cli"]
    env = {**os.environ, "FIELDSYNC_DATABASE_URL": url, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([*cmd, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture
def demo(db_url: str) -> str:
    """A fresh database (a temp SQLite file, or a new PostgreSQL database) with the demo company."""
    done = fieldsync(db_url, "import", str(DEMO))
    assert done.returncode == 0, done.stderr
    return db_url


def rows(name: str) -> list[dict[str, str]]:
    with (DEMO / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def orders_of(doc: dict[str, Any], sku: str, warehouse: str) -> list[dict[str, Any]]:
    return [{k: o[k] for k in ("qty", "start", "due", "late", "supplier", "unit_price")}
            for o in doc["planned_orders"] if (o["sku"], o["warehouse"]) == (sku, warehouse)]


def test_mrp_json_is_one_planning_md_document_that_matches_a_hand_computation(demo: str) -> None:
    done = fieldsync(demo, "mrp", "--today", TODAY, "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)  # fails on anything but exactly one JSON document
    assert set(doc) == PLAN_KEYS and doc["today"] == TODAY
    assert doc["planned_orders"] and doc["exceptions"]

    sales = {r["number"] for r in rows("sales_orders.csv")}
    forecasts = {f"forecast:{r['sku']}:{r['date']}" for r in rows("forecasts.csv")}
    products = {r["sku"]: r for r in rows("products.csv")}
    for o in doc["planned_orders"]:
        assert set(o) == ORDER_KEYS, o
        assert o["sku"] in products and o["warehouse"] in {"WH1", "WH2"}
        assert o["kind"] == products[o["sku"]]["kind"]
        assert DECIMAL.match(o["qty"]) and D(o["qty"]) > 0, o
        assert (DATE.match(o["start"]) and DATE.match(o["due"]) and o["start"] <= o["due"]) or o["late"], o
        assert o["start"] >= TODAY and isinstance(o["late"], bool)
        if o["kind"] == "make":
            assert o["supplier"] is None and o["unit_price"] is None
        if o["supplier"] is not None:
            assert DECIMAL.match(o["unit_price"]), o
        assert sum(D(p["qty"]) for p in o["pegging"]) <= D(o["qty"])
        for p in o["pegging"]:
            assert set(p) == {"demand", "qty"} and DECIMAL.match(p["qty"])
            assert p["demand"] in sales | forecasts, p
    for e in doc["exceptions"]:
        assert set(e) == {"sku", "kind", "detail"} and e["sku"] in products

    # By hand, from the demo CSVs, today 2026-12-01:
    #
    # FG-DESK-140 in WH2 (make, 4 days, safety 10, lot for lot): 6 in stock. Forecast 12 on
    # 2027-01-04 (a Monday) less SO-26107's 4 due 2027-01-08 in the same ISO week leaves 8 on
    # 01-04; SO-26107 needs 4 on 01-08. Today 6 < 10: 4 due today, starting 4 days ago: late,
    # moved to today. 01-04: 10 - 8 = 2: 8 more, start 12-31. 01-08: 10 - 4 = 6: 4 more, start 01-04.
    assert orders_of(doc, "FG-DESK-140", "WH2") == [
        {"qty": "4", "start": TODAY, "due": TODAY, "late": True, "supplier": None, "unit_price": None},
        {"qty": "8", "start": "2026-12-31", "due": "2027-01-04", "late": False, "supplier": None, "unit_price": None},
        {"qty": "4", "start": "2027-01-04", "due": "2027-01-08", "late": False, "supplier": None, "unit_price": None},
    ]
    # FG-DESK-160E in WH1 (make, 5 days, safety 5): 6 in stock; SO-26103 needs 25 on 2027-01-11
    # and consumes the week's forecast of 10. 6 - 25 = -19: 24 to get back to 5, start 01-06.
    # Stock covers 6 of SO-26103, this order the other 19 (and 5 of safety stock).
    (desk,) = [o for o in doc["planned_orders"] if (o["sku"], o["warehouse"]) == ("FG-DESK-160E", "WH1")]
    assert (desk["qty"], desk["start"], desk["due"], desk["late"]) == ("24", "2027-01-06", "2027-01-11", False)
    assert desk["pegging"] == [{"demand": "SO-26103", "qty": "19"}]
    # Its frame SA-FRAME-160E in WH1 (make, 3 days, safety 5): 3 in stock, so 2 due today (late),
    # then 24 due 01-06 for the desks. PT-CTRL (1 per frame; buy, safety 20, multiple of 20) in
    # WH1: 21 in stock less 2 for today's frames is 19 < 20: one lot of 20 due today; S02's
    # agreement (38.50, 42 days) is valid today, the order is late and starts today. PO-7001's 60
    # on 12-15 then covers the 24 frames' controls on 01-03 (39 + 60 - 24 = 75).
    assert orders_of(doc, "SA-FRAME-160E", "WH1") == [
        {"qty": "2", "start": TODAY, "due": TODAY, "late": True, "supplier": None, "unit_price": None},
        {"qty": "24", "start": "2027-01-03", "due": "2027-01-06", "late": False, "supplier": None, "unit_price": None},
    ]
    assert orders_of(doc, "PT-CTRL", "WH1") == [
        {"qty": "20", "start": TODAY, "due": TODAY, "late": True, "supplier": "S02", "unit_price": "38.50"}]
    # PT-MOTOR in WH1: 46 - 4 (today's frames) = 42 >= 40, + PO-7001's 120 on 12-15, - 48 on 01-03
    # = 114: nothing to order.
    assert orders_of(doc, "PT-MOTOR", "WH1") == []
    assert any(e["sku"] == "PT-CTRL" and e["kind"] == "late" for e in doc["exceptions"])

    # the runs API computes the same document from the same data
    async def in_process() -> dict[str, Any]:
        db = open_database(demo)
        try:
            return (await run_mrp(db, dt.date.fromisoformat(TODAY))).document
        finally:
            await db.dispose()

    assert asyncio.run(in_process()) == doc
    assert fieldsync(demo, "mrp", "--today", TODAY, "--json").stdout == done.stdout  # deterministic


def test_mrp_prints_a_table_defaults_to_today_and_refuses_a_bad_date(demo: str) -> None:
    done = fieldsync(demo, "mrp", "--today", TODAY)
    assert done.returncode == 0, done.stderr
    assert "Planned orders" in done.stdout and "Exceptions" in done.stdout and "PT-CTRL" in done.stdout

    before = dt.datetime.now(dt.UTC).date().isoformat()
    done = fieldsync(demo, "mrp", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["today"] in {before, dt.datetime.now(dt.UTC).date().isoformat()}

    done = fieldsync(demo, "mrp", "--today", "2026-13-01", "--json")
    assert done.returncode == 2 and done.stdout == "" and "2026-13-01" in done.stderr


def test_mrp_on_a_fresh_database_migrates_it_and_prints_an_empty_plan(db_url: str) -> None:
    done = fieldsync(db_url, "mrp", "--today", TODAY, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"today": TODAY, "planned_orders": [], "exceptions": []}
