"""Goods receipt with quality inspection, pushed by warehouse devices over real HTTP on SQLite and
PostgreSQL: accepted goods become stock, the line and its expected receipt move on, and every
receipt the rules refuse comes back as a rejection with its code, storing nothing."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from server.config import Settings
from server.db.masterdata import purchase_order_line
from server.db.schema import sql_tables
from server.domain.procurement import expected_receipts
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


@pytest.fixture
def company(settings: Settings, live_server: Any) -> Iterator[Company]:
    """WH1 and WH2; BOLT (buy) and NUT (buy) from supplier S1; open PO-1 (100 BOLT into WH1),
    PO-2 (10 BOLT into WH2), closed PO-3 (5 BOLT into WH1); their expected receipts written."""
    c = Company(settings.database_url)

    async def build() -> None:
        await c.warehouse("WH1")
        await c.warehouse("WH2")
        await c.product("BOLT", "buy", lead_time_days=3)
        await c.product("NUT", "buy", lead_time_days=3)
        await c.supplier("S1")
        c.ids[("po", "PO-1")] = await c.purchase_order("PO-1", "S1", "BOLT", "100", "2026-12-01")
        c.ids[("po", "PO-2")] = await c.purchase_order("PO-2", "S1", "BOLT", "10", "2026-12-01", "WH2")
        c.ids[("po", "PO-3")] = await c.purchase_order("PO-3", "S1", "BOLT", "5", "2026-12-01", status="closed")
        async with c.db.write() as conn:
            await conn.run_sync(expected_receipts.refresh, c.clock)

    c.run(build())
    try:
        yield c
    finally:
        c.close()


def scanner(http: httpx.Client, company: Company, wh: str = "WH1", user: str = "wally") -> SyncClient:
    return SyncClient.enrolled(http, BOOT, user=user, role="warehouse", warehouse_id=company.id("warehouse", wh))


def receipt(company: Company, po: str, accepted: str, rejected: str | None = None, reason: str | None = None,
            *, wh: str = "WH1", sku: str = "BOLT") -> dict[str, Any]:
    vals: dict[str, Any] = {"receipt_id": company.id("po", po), "product_id": company.id("product", sku),
                            "warehouse_id": company.id("warehouse", wh), "qty_accepted": accepted,
                            "ref": "delivery note 4711"}
    if rejected is not None:
        vals["qty_rejected"] = rejected
    if reason is not None:
        vals["reject_reason"] = reason
    return vals


def push(device: SyncClient, *receipts: dict[str, Any]) -> dict[int, str]:
    r = device.push([device.change("goods_receipt", new_id(), vals) for vals in receipts])
    assert r.status_code == 200, r.text
    return {x["seq"]: f'{x["reason"]} {x["detail"]}' for x in r.json()["rejected"]}


def line(company: Company, po: str) -> tuple[D, str]:
    async def read() -> tuple[D, str]:
        async with company.db.read() as conn:
            row = (await conn.execute(select(purchase_order_line.c.qty_received, purchase_order_line.c.status)
                                      .where(purchase_order_line.c.id == company.id("po", po)))).one()
        return row.qty_received, row.status
    return company.run(read())  # type: ignore[no-any-return]


def stock_received(company: Company) -> list[tuple[D, str]]:
    m = sql_tables["stock_move"]

    async def read() -> list[tuple[D, str]]:
        async with company.db.read() as conn:
            rows = await conn.execute(select(m.c.qty, m.c.ref).where(m.c.kind == "receipt").order_by(m.c.qty))
        return [(r.qty, r.ref) for r in rows]
    return company.run(read())  # type: ignore[no-any-return]


def test_receipts_with_a_rejection_become_stock_and_the_device_sees_the_line_received(
        company: Company, http: httpx.Client) -> None:
    device = scanner(http, company)
    device.pull_all()
    expected = device.seen[("purchase_receipt", company.id("po", "PO-1"))]
    assert (expected["po_number"], expected["qty_expected"], expected["status"], expected["supplier_name"]) == (
        "PO-1", "100", "expected", "Supplier S1")
    assert ("purchase_receipt", company.id("po", "PO-2")) not in device.seen  # another warehouse's

    assert push(device, receipt(company, "PO-1", "55", "5", "crushed boxes")) == {}
    assert line(company, "PO-1") == (D(60), "open")
    device.pull_all()
    assert device.seen[("purchase_receipt", company.id("po", "PO-1"))]["status"] == "receiving"
    assert device.seen[("purchase_receipt", company.id("po", "PO-1"))]["qty_received"] == "60"

    assert push(device, receipt(company, "PO-1", "42")) == {}  # 102: within 5 %
    assert line(company, "PO-1") == (D(102), "closed")
    assert stock_received(company) == [(D(42), "PO-1"), (D(55), "PO-1")]
    device.pull_all()
    assert device.seen[("purchase_receipt", company.id("po", "PO-1"))]["status"] == "received"
    moves = [v for (t, _), v in device.seen.items() if t == "stock_move"]
    assert sorted(D(v["qty"]) for v in moves) == [D(42), D(55)]


def test_an_over_receipt_is_refused_with_the_numbers_that_explain_it(company: Company, http: httpx.Client) -> None:
    device = scanner(http, company)
    assert push(device, receipt(company, "PO-1", "95")) == {}
    refused = push(device, receipt(company, "PO-1", "10", "2", "wet"))
    assert list(refused.values()) == [
        "invalid_value over_receipt: PO-1 expects 100 of BOLT, 95 already received, this receipt brings 12; "
        "tolerance 5 % allows at most 10 more"]
    assert line(company, "PO-1") == (D(95), "open")
    assert stock_received(company) == [(D(95), "PO-1")]


def test_receipts_the_rules_refuse_are_rejected_each_with_its_code_and_stored_nowhere(
        company: Company, http: httpx.Client) -> None:
    device = scanner(http, company)
    unknown = receipt(company, "PO-1", "1")
    unknown["receipt_id"] = new_id()
    refused = push(device,
                   receipt(company, "PO-1", "-1"),
                   receipt(company, "PO-1", "0", "0"),
                   receipt(company, "PO-1", "3", "2"),  # a rejection without a reason
                   receipt(company, "PO-1", "3", "2", "   "),
                   unknown,
                   receipt(company, "PO-3", "1"),  # closed
                   receipt(company, "PO-1", "1", sku="NUT"),
                   receipt(company, "PO-1", "7"))  # the one good receipt of the batch
    codes = {seq: text.split(":")[0] for seq, text in refused.items()}
    assert codes == {1: "invalid_value negative_qty", 2: "invalid_value empty_receipt",
                     3: "invalid_value reason_required", 4: "invalid_value reason_required",
                     5: "invalid_value unknown_receipt", 6: "invalid_value receipt_closed",
                     7: "invalid_value wrong_product"}
    assert line(company, "PO-1") == (D(7), "open")
    assert stock_received(company) == [(D(7), "PO-1")]


def test_only_the_receiving_warehouse_may_receive_and_a_sales_device_not_at_all(
        company: Company, http: httpx.Client) -> None:
    wh1 = scanner(http, company)
    refused = push(wh1, receipt(company, "PO-2", "5"),  # PO-2 goes to WH2
                   receipt(company, "PO-2", "5", wh="WH2"))
    assert refused[1].startswith("forbidden wrong_warehouse: PO-2 (BOLT) is received at WH2")
    assert refused[2].startswith("forbidden warehouse_id must be this device's warehouse")
    rep = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    refused = push(rep, receipt(company, "PO-1", "5"))
    assert refused[1].startswith("forbidden")
    assert line(company, "PO-2") == (D(0), "open") and line(company, "PO-1") == (D(0), "open")
    assert stock_received(company) == []


def test_a_resent_batch_books_nothing_twice(company: Company, http: httpx.Client) -> None:
    device = scanner(http, company)
    batch = [device.change("goods_receipt", new_id(), receipt(company, "PO-1", "30", "1", "scratched")),
             device.change("goods_receipt", new_id(), receipt(company, "PO-1", "80"))]  # over: 111 > 105
    first = device.push(batch)
    again = device.push(batch)
    assert first.status_code == again.status_code == 200
    assert first.json()["rejected"] == again.json()["rejected"] and len(first.json()["rejected"]) == 1
    assert line(company, "PO-1") == (D(31), "open")
    assert stock_received(company) == [(D(30), "PO-1")]


def test_concurrent_receipts_from_two_devices_never_pass_the_tolerance(company: Company, http: httpx.Client,
                                                                        live_server: Any) -> None:
    devices = [scanner(http, company, user=f"scanner{i}") for i in range(2)]

    def run(device: SyncClient) -> int:
        with httpx.Client(base_url=live_server.url, timeout=30) as own:
            device.http = own
            return sum(len(push(device, receipt(company, "PO-1", "10"))) for _ in range(7))

    with ThreadPoolExecutor(2) as pool:
        refused = sum(pool.map(run, devices))
    assert refused == 4  # 14 receipts of 10 against 100 (+5 %): 10 pass
    assert line(company, "PO-1") == (D(100), "closed")
    assert sum(q for q, _ in stock_received(company)) == D(100)
