"""The planning loader on SQLite and PostgreSQL: what it reads from a real database into a
PlanningInput (items, BOM, stock with count semantics, open demand, scheduled receipts), what it
leaves out, and the input version that tells two loads of the same data apart from different
data."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from server.domain.planning.load import load_planning
from server.domain.planning.model import (
    BomLine,
    Demand,
    DemandKind,
    Item,
    ItemKind,
    LotRule,
    Receipt,
    ReceiptKind,
)
from server.domain.planning.runs import input_version, snapshot
from server.domain.planning.supply import Agreement, AgreementKind
from tests.planning.company import Company
from tests.server.client import Service
from tests.server.conftest import anyio_backend, service, settings  # noqa: F401  (fixtures)

pytestmark = pytest.mark.anyio
TODAY = dt.date(2027, 1, 4)


async def load(service: Service, today: dt.date = TODAY):  # type: ignore[no-untyped-def]
    async with snapshot(service.db) as conn:
        return await load_planning(conn, today)


async def small_company(service: Service) -> Company:
    c = Company(service.db, service.clock)
    await c.warehouse("WH1")
    await c.warehouse("WH2")
    await c.product("FG", "make", lead_time_days=4, safety_stock="10", lot_rule="min", lot_qty="20")
    await c.product("PART", "buy", lead_time_days=7)
    await c.product("LEG", "subcontract")
    await c.bom("FG", "PART", "2", "5")
    await c.bom("FG", "LEG", "4")
    return c


async def test_items_and_bom_are_keyed_by_sku_with_defaults_for_what_is_not_set(service: Service) -> None:
    c = await small_company(service)
    gone = await c.product("OLD", "buy")
    await c.bom("FG", "OLD", "1")
    await c.delete("product", gone)
    await c.write("product", "00000000-0000-7000-8000-000000000001", {"name": "no sku yet", "kind": "buy"})
    inp, _ = await load(service)
    assert inp.today == TODAY
    assert inp.items == {
        "FG": Item("FG", ItemKind.MAKE, 4, D(10), LotRule.MIN, D(20)),
        "PART": Item("PART", ItemKind.BUY, 7, D(0), LotRule.LOT_FOR_LOT, None),
        "LEG": Item("LEG", ItemKind.SUBCONTRACT, 0, D(0), LotRule.LOT_FOR_LOT, None),
    }
    # a deleted product is gone with its BOM lines
    assert inp.bom == {"FG": (BomLine("FG", "LEG", D(4), D(0)), BomLine("FG", "PART", D(2), D(5)))}


async def test_stock_is_the_latest_count_plus_the_moves_after_it_per_warehouse_code(service: Service) -> None:
    c = await small_company(service)
    await c.move("PART", "WH1", "-3", "issue")  # before the count: the counter saw it happen
    await c.move("PART", "WH1", "100", "count")
    await c.move("PART", "WH1", "25", "receipt")
    await c.move("PART", "WH1", "-5.5", "issue")
    await c.move("PART", "WH2", "7", "receipt")  # no count: the plain sum
    await c.move("PART", "WH2", "1", "receipt")
    await c.move("FG", "WH2", "4", "count")
    inp, _ = await load(service)
    assert inp.stock == {("FG", "WH2"): D(4), ("PART", "WH1"): D("119.5"), ("PART", "WH2"): D(8)}


async def test_open_sales_orders_are_demand_by_number_and_the_rest_is_not(service: Service) -> None:
    c = await small_company(service)
    for number, status in [("SO-DRAFT", "draft"), ("SO-SUB", "submitted"), ("SO-CONF", "confirmed"),
                           ("SO-SCHED", "scheduled"), ("SO-PROD", "in_production"), ("SO-READY", "ready"),
                           ("SO-SHIP", "shipped"), ("SO-DONE", "delivered"), ("SO-CANC", "cancelled")]:
        await c.sales_order(number, [("FG", "1")], status=status)
    await c.sales_order(None, [("FG", "2")], status=None)  # a phone's order without a status: a draft
    deleted = await c.sales_order("SO-DEL", [("FG", "3")])
    await c.delete("sales_order", deleted)
    await c.sales_order("SO-LINE-DEL", [("FG", "4"), ("PART", "5")], warehouse="WH2")
    await c.delete("sales_order_line", c.id("sales_order_line", "SO-LINE-DEL/0"))
    await c.sales_order("SO-ZERO", [("FG", "0")])
    unnumbered = await c.sales_order(None, [("LEG", "6")], due=None, status="submitted")
    inp, _ = await load(service)
    jan11 = dt.date(2027, 1, 11)
    assert sorted(inp.demands, key=lambda d: d.ref) == sorted([
        Demand("SO-SUB", "FG", "WH1", jan11, D(1), DemandKind.SALES),
        Demand("SO-CONF", "FG", "WH1", jan11, D(1), DemandKind.SALES),
        Demand("SO-SCHED", "FG", "WH1", jan11, D(1), DemandKind.SALES),
        Demand("SO-PROD", "FG", "WH1", jan11, D(1), DemandKind.SALES),
        Demand("SO-READY", "FG", "WH1", jan11, D(1), DemandKind.SALES),
        Demand("SO-LINE-DEL", "PART", "WH2", jan11, D(5), DemandKind.SALES),
        # no number: named by its id; no due date: due today
        Demand(unnumbered, "LEG", "WH1", TODAY, D(6), DemandKind.SALES),
    ], key=lambda d: d.ref)


async def test_forecasts_are_demand_named_forecast_sku_date(service: Service) -> None:
    c = await small_company(service)
    await c.forecast("FG", "WH1", "2027-01-11", "30")
    await c.forecast("FG", "WH2", "2027-01-04", "12.5")
    await c.forecast("PART", "WH1", "2027-01-18", "0")
    inp, _ = await load(service)
    assert sorted(inp.demands, key=lambda d: d.ref) == [
        Demand("forecast:FG:2027-01-04", "FG", "WH2", dt.date(2027, 1, 4), D("12.5"), DemandKind.FORECAST),
        Demand("forecast:FG:2027-01-11", "FG", "WH1", dt.date(2027, 1, 11), D(30), DemandKind.FORECAST),
    ]


async def test_open_purchase_and_production_orders_are_scheduled_receipts_with_what_was_issued_and_delivered(service: Service) -> None:
    c = await small_company(service)
    await c.supplier("S01")
    await c.purchase_order("PO-1", "S01", "PART", "120", "2027-01-15")
    await c.purchase_order("PO-2", "S01", "PART", "60", "2027-01-20", "WH2", received="45.5")
    await c.purchase_order("PO-3", "S01", "PART", "50", "2027-01-22", received="50")
    await c.purchase_order("PO-4", "S01", "PART", "70", "2027-01-25", status="closed", received="10")
    await c.production_order("MO-1", "FG", "20", "2027-01-08", status="planned")
    await c.production_order("MO-2", "FG", "15", "2027-01-09", status="released")
    await c.production_order("MO-3", "FG", "99", "2027-01-10", status="done")
    await c.production_order("MO-4", "FG", "99", "2027-01-10", status="cancelled")
    # what was issued to MO-2 and what it delivered: stock moves whose ref is its number
    await c.move("PART", "WH1", "-12", "production_out", "MO-2")
    await c.move("PART", "WH2", "-4", "production_out", "MO-2")  # from another warehouse: issued all the same
    await c.move("PART", "WH1", "1.5", "production_out", "MO-2")  # one part handed back
    await c.move("LEG", "WH1", "-9", "production_out", "MO-9")  # an order that is not open
    await c.move("FG", "WH1", "5", "production_in", "MO-2")
    await c.move("PART", "WH1", "-7", "issue", "MO-1")  # a plain issue is not issued to the order
    inp, _ = await load(service)
    assert sorted(inp.receipts, key=lambda r: r.ref) == [
        Receipt("MO-1", "FG", "WH1", dt.date(2027, 1, 8), D(20), ReceiptKind.PRODUCTION),
        Receipt("MO-2", "FG", "WH1", dt.date(2027, 1, 9), D(10), ReceiptKind.PRODUCTION, (("PART", D("14.5")),)),
        Receipt("PO-1", "PART", "WH1", dt.date(2027, 1, 15), D(120)),
        Receipt("PO-2", "PART", "WH2", dt.date(2027, 1, 20), D("14.5")),
    ]


async def test_agreements_carry_their_suppliers_code_and_blocked_flag(service: Service) -> None:
    c = await small_company(service)
    await c.supplier("S01")
    await c.supplier("S09", blocked=True)
    await c.agreement("S01", "PART", "purchase", "1", "4.20", "2026-01-01", "2027-12-31", 1, 14)
    await c.agreement("S09", "PART", "purchase", "300", "3.95", "2026-01-01", None, 2)
    await c.agreement("S01", "LEG", "subcontract", "1", "6.50", "2026-01-01", None)
    _, agreements = await load(service)
    assert agreements == [
        Agreement("S01", "LEG", AgreementKind.SUBCONTRACT, D(1), D("6.50"), dt.date(2026, 1, 1), None, 1, None),
        Agreement("S01", "PART", AgreementKind.PURCHASE, D(1), D("4.20"), dt.date(2026, 1, 1),
                  dt.date(2027, 12, 31), 1, 14),
        Agreement("S09", "PART", AgreementKind.PURCHASE, D(300), D("3.95"), dt.date(2026, 1, 1), None, 2, None,
                  blocked=True),
    ]


async def test_the_input_version_changes_with_the_data_and_only_with_it(service: Service) -> None:
    c = await small_company(service)
    await c.move("PART", "WH1", "100", "count")
    await c.sales_order("SO-1", [("FG", "10")])
    await c.supplier("S01")
    await c.agreement("S01", "PART", "purchase", "1", "4.20", "2026-01-01", None)
    first = input_version(*await load(service))
    assert input_version(*await load(service)) == first  # same data, same version
    assert input_version(*await load(service, TODAY + dt.timedelta(days=1))) != first  # another day
    await c.write("sales_order_line", c.id("sales_order_line", "SO-1/0"), {"qty": "10.000"})
    assert input_version(*await load(service)) == first  # the same quantity, written differently
    await c.write("sales_order_line", c.id("sales_order_line", "SO-1/0"), {"qty": "11"})
    second = input_version(*await load(service))
    assert second != first
    await c.agreement("S01", "PART", "purchase", "100", "4.00", "2026-01-01", None)
    assert input_version(*await load(service)) not in (first, second)  # agreements count too
