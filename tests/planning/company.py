"""Test-side builder of a small company in a real database: synced rows through the server's own
write path (``write_as_server``), server-only master data by plain inserts. Each call is one
write transaction, so stock moves written later carry later stamps."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import uuid_utils

from server.db.engine import Database, open_database
from server.db.masterdata import (
    bom_line,
    forecast,
    price_agreement,
    production_order,
    purchase_order_line,
    supplier,
)
from server.domain.sync.clock import ServerClock
from server.domain.sync.server_writes import ServerWrite, write_as_server


def new_id() -> str:
    return str(uuid_utils.uuid7())


class Company:
    def __init__(self, db: Database, clock: ServerClock) -> None:
        self.db = db
        self.clock = clock
        self.ids: dict[tuple[str, str], str] = {}  # (kind, natural key) -> id

    def id(self, kind: str, key: str) -> str:
        return self.ids[(kind, key)]

    async def write(self, table: str, pk: str, vals: dict[str, Any]) -> str:
        async with self.db.write() as conn:
            await conn.run_sync(write_as_server, self.clock, [ServerWrite(table, pk, vals)])
        return pk

    async def insert(self, table: Any, **values: Any) -> str:
        values.setdefault("id", new_id())
        async with self.db.write() as conn:
            await conn.execute(table.insert().values(**values))
        return str(values["id"])

    async def warehouse(self, code: str) -> str:
        pk = await self.write("warehouse", new_id(), {"code": code, "name": f"Warehouse {code}"})
        self.ids[("warehouse", code)] = pk
        return pk

    async def product(self, sku: str, kind: str, **vals: Any) -> str:
        pk = await self.write("product", new_id(), {"sku": sku, "name": sku, "kind": kind, **vals})
        self.ids[("product", sku)] = pk
        return pk

    async def delete(self, table: str, pk: str) -> None:
        await self.write(table, pk, {"_deleted": True})

    async def sales_order(self, number: str | None, lines: list[tuple[str, str]], *, warehouse: str = "WH1",
                          due: str | None = "2027-01-11", status: str | None = "confirmed",
                          owner: str = "alice") -> str:
        vals: dict[str, Any] = {"number": number, "warehouse_id": self.id("warehouse", warehouse),
                                "due_date": due, "owner": owner}
        if status is not None:
            vals["status"] = status
        pk = await self.write("sales_order", new_id(), vals)
        if number:
            self.ids[("sales_order", number)] = pk
        for i, (sku, qty) in enumerate(lines):
            line = await self.write("sales_order_line", new_id(), {
                "order_id": pk, "product_id": self.id("product", sku), "qty": qty, "unit_price": "1.00"})
            self.ids[("sales_order_line", f"{number}/{i}")] = line
        return pk

    async def move(self, sku: str, warehouse: str, qty: str, kind: str, ref: str = "test") -> str:
        return await self.write("stock_move", new_id(), {
            "product_id": self.id("product", sku), "warehouse_id": self.id("warehouse", warehouse),
            "qty": qty, "kind": kind, "ref": ref})

    async def bom(self, parent: str, component: str, qty_per: str, scrap_pct: str = "0") -> str:
        return await self.insert(bom_line, parent_id=self.id("product", parent),
                                 component_id=self.id("product", component),
                                 qty_per=Decimal(qty_per), scrap_pct=Decimal(scrap_pct))

    async def supplier(self, code: str, *, blocked: bool = False) -> str:
        pk = await self.insert(supplier, code=code, name=f"Supplier {code}", capacity_per_week=None,
                               blocked=blocked)
        self.ids[("supplier", code)] = pk
        return pk

    async def agreement(self, supplier_code: str, sku: str, kind: str, min_qty: str, unit_price: str,
                        valid_from: str, valid_to: str | None, priority: int = 1,
                        lead_time_days: int | None = None) -> str:
        return await self.insert(
            price_agreement, supplier_id=self.id("supplier", supplier_code),
            product_id=self.id("product", sku), kind=kind, min_qty=Decimal(min_qty),
            unit_price=Decimal(unit_price), valid_from=dt.date.fromisoformat(valid_from),
            valid_to=dt.date.fromisoformat(valid_to) if valid_to else None, priority=priority,
            lead_time_days=lead_time_days)

    async def forecast(self, sku: str, warehouse: str, date: str, qty: str) -> str:
        return await self.insert(forecast, product_id=self.id("product", sku),
                                 warehouse_id=self.id("warehouse", warehouse),
                                 date=dt.date.fromisoformat(date), qty=Decimal(qty))

    async def purchase_order(self, number: str, supplier_code: str, sku: str, qty: str, due: str,
                             warehouse: str = "WH1", *, status: str = "open", received: str = "0") -> str:
        return await self.insert(
            purchase_order_line, number=number, supplier_id=self.id("supplier", supplier_code),
            product_id=self.id("product", sku), qty=Decimal(qty), due_date=dt.date.fromisoformat(due),
            warehouse_id=self.id("warehouse", warehouse), status=status, qty_received=Decimal(received))

    async def production_order(self, number: str, sku: str, qty: str, due: str, warehouse: str = "WH1",
                               *, status: str = "planned") -> str:
        return await self.insert(
            production_order, number=number, product_id=self.id("product", sku), qty=Decimal(qty),
            due_date=dt.date.fromisoformat(due), warehouse_id=self.id("warehouse", warehouse),
            status=status, created_at=dt.datetime.now(dt.UTC))


class LiveCompany(Company):
    """The builder on its own event loop and database handle, called from synchronous tests that
    talk HTTP to the live server (which runs its own loop in a thread)."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        super().__init__(open_database(url), ServerClock())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.db.dispose())
        self.loop.close()
