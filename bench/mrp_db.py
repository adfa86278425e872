"""MRP from the database: the generated company of ``bench.mrp`` (20,000 products, 6-level BOMs
with shared components, 50,000 sales order lines, 52 weeks of forecasts, open purchase and
production orders, one price agreement per supplied item) stored in a real SQLite file or a
PostgreSQL database, then planned the way the server plans it.

Timed, in one run on one database:

- loading the planning input and the price agreements from the database in one snapshot
  (``runs.snapshot``, ``load.load_planning``, as the current plan reads it), median of
  ``--repeat``; the loaded input is checked equal to the generated one (same ``input_version``);
- a regenerative ``plan()`` of it with the server's supply rule (``cheapest_valid_agreement``),
  median of ``--repeat``: the baseline;
- 100 new sales order lines written to the database (each its own order), then the current
  plan's update (``planning/current.py``): re-read the input, find the changed skus
  (``netchange.changed_skus``) and ``NetChangePlanner.update``; each step timed, the update
  against the regenerative plan and the whole (read + diff + update) against read + plan.
  The net-change plan is checked equal to a regenerative plan of the new input.

Writing the company is not part of any figure (bulk inserts, reported for information).

    .venv/bin/python -m bench.mrp_db --db sqlite|postgres [--quick] [--products 20000] [--lines 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import uuid_utils
from sqlalchemy import Table

from bench.mrp import TODAY, Company, company, new_lines
from server.db.masterdata import (
    bom_line,
    forecast,
    price_agreement,
    production_order,
    purchase_order_line,
    supplier,
)
from server.db.schema import sql_tables
from server.domain.planning.model import Demand, ItemKind, PlanningInput, ReceiptKind

T = TypeVar("T")
SITE = "00000000-0000-7000-8000-00000000bead"
CHUNK = 5_000


def _id() -> str:
    return str(uuid_utils.uuid7())


class Rows:
    """The rows of the company, table by table, with ids by sku / code / number."""

    def __init__(self) -> None:
        self.tables: list[tuple[Table, list[dict[str, Any]]]] = []
        self.product: dict[str, str] = {}
        self.warehouse: dict[str, str] = {}
        self.supplier: dict[str, str] = {}
        self.rev = 0

    def add(self, table: Table, rows: list[dict[str, Any]]) -> None:
        self.tables.append((table, rows))

    def synced(self, **vals: Any) -> dict[str, Any]:
        self.rev += 1
        return {"id": _id(), "_rev": self.rev, **vals}


def sales_rows(rows: Rows, demands: Iterable[Demand], status: str = "confirmed") -> None:
    """Sales orders with their lines (a demand's ref is its order's number)."""
    orders: dict[str, dict[str, Any]] = {}
    lines = []
    for d in demands:
        order = orders.get(d.ref)
        if order is None:
            order = orders[d.ref] = rows.synced(number=d.ref, warehouse_id=rows.warehouse[d.warehouse],
                                                due_date=d.date, status=status, owner="bench")
        lines.append(rows.synced(order_id=order["id"], product_id=rows.product[d.sku], qty=d.qty,
                                 unit_price=Decimal("10.00")))
    rows.add(sql_tables["sales_order"], list(orders.values()))
    rows.add(sql_tables["sales_order_line"], lines)


def company_rows(co: Company) -> Rows:
    inp = co.inp
    rows = Rows()
    for code in sorted({wh for _, wh in inp.stock} | {d.warehouse for d in inp.demands}):
        rows.warehouse[code] = _id()
    rows.add(sql_tables["warehouse"], [rows.synced(id=pk, code=code, name=code) for code, pk in rows.warehouse.items()])
    products = []
    for sku, it in inp.items.items():
        rows.product[sku] = pk = _id()
        products.append(rows.synced(id=pk, sku=sku, name=sku, kind=str(it.kind), lead_time_days=it.lead_time_days,
                                    safety_stock=it.safety_stock, lot_rule=str(it.lot_rule), lot_qty=it.lot_qty))
    rows.add(sql_tables["product"], products)
    rows.add(bom_line, [{"id": _id(), "parent_id": rows.product[ln.parent], "component_id": rows.product[ln.component],
                         "qty_per": ln.qty_per, "scrap_pct": ln.scrap_pct}
                        for lines in inp.bom.values() for ln in lines])
    ts = 1 << 20
    moves = []
    for (sku, wh), q in inp.stock.items():
        ts += 1
        moves.append(rows.synced(product_id=rows.product[sku], warehouse_id=rows.warehouse[wh], qty=q, kind="count",
                                 ref="inventory", _ts=ts, _site=SITE))
    rows.add(sql_tables["stock_move"], moves)
    sales_rows(rows, (d for d in inp.demands if d.kind != "forecast"))
    rows.add(forecast, [{"id": _id(), "product_id": rows.product[d.sku], "warehouse_id": rows.warehouse[d.warehouse],
                         "date": d.date, "qty": d.qty} for d in inp.demands if d.kind == "forecast"])
    codes = sorted({c.supplier for c in co.choices.values()} | {"SUP000"})
    rows.supplier = {code: _id() for code in codes}
    rows.add(supplier, [{"id": pk, "code": code, "name": code, "capacity_per_week": None, "blocked": False}
                        for code, pk in rows.supplier.items()])
    rows.add(price_agreement, [
        {"id": _id(), "supplier_id": rows.supplier[c.supplier], "product_id": rows.product[sku],
         "kind": "subcontract" if inp.items[sku].kind is ItemKind.SUBCONTRACT else "purchase",
         "min_qty": Decimal(1), "unit_price": c.unit_price, "valid_from": dt.date(2026, 1, 1), "valid_to": None,
         "priority": 1, "lead_time_days": c.lead_time_days} for sku, c in co.choices.items()])
    pos, mos = [], []
    now = dt.datetime.now(dt.UTC)
    for r in inp.receipts:
        if r.kind is ReceiptKind.PRODUCTION:
            mos.append({"id": _id(), "number": r.ref, "product_id": rows.product[r.sku], "qty": r.qty,
                        "due_date": r.date, "warehouse_id": rows.warehouse[r.warehouse], "status": "released",
                        "created_at": now})
        else:
            pos.append({"id": _id(), "number": r.ref, "supplier_id": rows.supplier["SUP000"],
                        "product_id": rows.product[r.sku], "qty": r.qty, "due_date": r.date,
                        "warehouse_id": rows.warehouse[r.warehouse], "status": "open", "qty_received": Decimal(0)})
    rows.add(purchase_order_line, pos)
    rows.add(production_order, mos)
    return rows


async def write_rows(db: Any, rows: Rows) -> int:
    """Every table's rows in one write transaction, by executemany in chunks."""
    n = 0
    async with db.write() as conn:
        for table, lst in rows.tables:
            for i in range(0, len(lst), CHUNK):
                await conn.execute(table.insert(), lst[i:i + CHUNK])
            n += len(lst)
    return n


async def _load(db: Any, today: dt.date) -> tuple[PlanningInput, list[Any]]:
    from server.domain.planning.load import load_planning
    from server.domain.planning.runs import snapshot

    async with snapshot(db) as conn:
        return await load_planning(conn, today)


async def _atimed(f: Callable[[], Awaitable[T]]) -> tuple[T, float, float]:
    """``await f()`` with its wall and CPU time (this process's: on PostgreSQL the server's own
    work is not in it)."""
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    out = await f()
    return out, time.perf_counter() - t, time.process_time() - c


def _timed(f: Callable[[], T]) -> tuple[T, float]:
    gc.collect()
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def _cpu_timed(f: Callable[[], T]) -> tuple[T, float, float]:
    """``f()`` with its wall and CPU time (CPU: less disturbed by other processes' load)."""
    gc.collect()
    t, c = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - t, time.process_time() - c


def _document_state(inp: PlanningInput, agreements: Any, planner: Any) -> Any:
    """What ``current._allocated_document`` reads of the current plan's state (no database)."""
    from types import SimpleNamespace

    from server.domain.planning.allocated import AllocationMemo

    return SimpleNamespace(inp=inp, agreements=tuple(agreements), suppliers={}, quotas=(), planner=planner,
                           memo=AllocationMemo(), rendered={})


def _allocated_document(state: Any) -> Any:
    from server.domain.planning.current import _allocated_document as document

    return document(state)


def _spread(xs: Sequence[float]) -> str:
    return f"{statistics.median(xs):.2f} s" + (f" ({min(xs):.2f}..{max(xs):.2f})" if len(xs) > 1 else "")


async def run(args: argparse.Namespace) -> None:
    from bench.common import Row, bench_database, console, report
    from server.db.engine import open_database
    from server.db.migrate import upgrade
    from server.domain.planning.mrp import plan
    from server.domain.planning.netchange import NetChangePlanner, changed_skus
    from server.domain.planning.runs import input_version
    from server.domain.planning.supply import cheapest_valid_agreement

    co = company(args.products, args.lines, args.weeks, args.seed)
    async with bench_database(args.db) as bdb:
        db = open_database(bdb.url)
        try:
            await upgrade(db)
            rows = company_rows(co)
            n_rows, t_write, _ = await _atimed(lambda: write_rows(db, rows))
            console.print(f"[dim]{args.db}: company written, {n_rows:,} rows in {t_write:.1f} s[/]")

            loads, plans, load_cpu = [], [], []
            for _ in range(max(1, args.repeat)):
                (inp, agreements), t, c = await _atimed(lambda: _load(db, TODAY))
                loads.append(t)
                load_cpu.append(c)
            if input_version(inp) != input_version(co.inp):
                raise SystemExit("WRONG: the input loaded from the database differs from the generated one")
            choose = cheapest_valid_agreement(agreements, TODAY)
            plan_cpu = []
            for _ in range(max(1, args.repeat)):
                result, t, c = _cpu_timed(lambda: plan(inp, choose))
                plans.append(t)
                plan_cpu.append(c)
            n_orders = len(result.planned_orders)
            del result
            load, regen = statistics.median(loads), statistics.median(plans)

            planner, t_build = _timed(lambda: NetChangePlanner(inp, choose))
            doc_state = cold = None
            if args.allocate:  # the current plan's document: first read (nothing to reuse yet)
                doc_state = _document_state(inp, agreements, planner)
                _, t_cold, c_cold = _cpu_timed(lambda: _allocated_document(doc_state))
                cold = (sum(1 for o in planner.plan.planned_orders if o.kind.value != "make"), t_cold, c_cold)
            added = [Demand(f"SO-NEW-{i:05d}", d.sku, d.warehouse, d.date, d.qty)
                     for i, d in enumerate(new_lines(co, args.new_lines, args.seed + 1))]
            extra = Rows()
            extra.product, extra.warehouse, extra.rev = rows.product, rows.warehouse, rows.rev
            sales_rows(extra, added)
            await write_rows(db, extra)
            (inp2, _), reread, reread_cpu = await _atimed(lambda: _load(db, TODAY))
            changed, diff, diff_cpu = _cpu_timed(lambda: changed_skus(inp, inp2))
            _, update, update_cpu = _cpu_timed(lambda: planner.update(inp2, changed))
            stats = planner.last_stats
            if planner.plan != plan(inp2, choose):
                raise SystemExit("WRONG: the net-change plan differs from the regenerative plan")
            warm = None
            if doc_state is not None:  # ... and its read after the update, reusing what did not change
                doc_state.inp = inp2
                warm_doc, t_warm, c_warm = _cpu_timed(lambda: _allocated_document(doc_state))
                if warm_doc != _allocated_document(_document_state(inp2, agreements, planner)):
                    raise SystemExit("WRONG: the document reusing the last one differs from a fresh one")
                del warm_doc
                warm = (0, t_warm, c_warm)
        finally:
            await db.dispose()

    server_net = reread + diff + update
    rows_out = [
        Row("load the planning input", _spread(loads)),
        Row("regenerative plan() of it", _spread(plans)),
        Row("regenerative MRP from the database (load + plan)", f"{load + regen:.2f} s", "20 s target",
            (load + regen) / 20, "<= 1x (20 s)", load + regen <= 20),
        Row("  CPU time: load / plan() (this process)",
            f"{statistics.median(load_cpu):.2f} s / {statistics.median(plan_cpu):.2f} s"),
        Row(f"net-change update after {args.new_lines} new order lines", f"{update * 1000:.0f} ms",
            f"{regen:.2f} s plan()", update / regen, "<= 0.02x", update / regen <= 0.02),
        Row("  CPU time: update / plan()", f"{update_cpu * 1000:.0f} ms",
            f"{statistics.median(plan_cpu):.2f} s CPU", update_cpu / statistics.median(plan_cpu)),
        Row("net change, server path (re-read + diff + update)", f"{server_net:.2f} s",
            f"{load + regen:.2f} s load + plan", server_net / (load + regen)),
        Row("  re-read / diff (changed skus) / update", f"{reread:.2f} s / {diff * 1000:.0f} ms / {update * 1000:.0f} ms",
            f"{len(changed)} skus changed"),
        Row("  CPU time: server path / load + plan()", f"{reread_cpu + diff_cpu + update_cpu:.2f} s",
            f"{statistics.median(load_cpu) + statistics.median(plan_cpu):.2f} s CPU",
            (reread_cpu + diff_cpu + update_cpu) / (statistics.median(load_cpu) + statistics.median(plan_cpu))),
        Row("  cells re-netted (resumed) / all", f"{stats['renetted']:,} ({stats['resumed']:,})",
            f"{stats['cells']:,} cells"),
        Row("  net-change planner first build", f"{t_build:.2f} s"),
    ]
    if cold is not None and warm is not None:
        rows_out.append(Row("the current plan's document (allocation + rendering), first read",
                            f"{cold[1]:.1f} s ({cold[2]:.1f} s CPU)", f"{cold[0]:,} buy and subcontract orders",
                            cold[1] / (load + regen)))
        rows_out.append(Row("  its read after the update, reusing what did not change",
                            f"{warm[1]:.1f} s ({warm[2]:.1f} s CPU)", f"{cold[1]:.1f} s the whole plan",
                            warm[1] / cold[1]))
    report(f"MRP from {args.db}: {len(co.inp.items):,} products, {len(co.inp.demands):,} demand lines, "
           f"{n_orders:,} planned orders", rows_out,
           ["the loaded input equals the generated one (input_version); the net-change plan equals the "
            "regenerative plan of the new input: checked",
            f"writing the company ({n_rows:,} rows, bulk inserts) took {t_write:.1f} s and is not timed above"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--quick", action="store_true", help="a tiny company: checks the script works")
    ap.add_argument("--allocate", action="store_true",
                    help="also time the supplier allocation of the whole plan, before the update and again "
                         "after it reusing what did not change (about two minutes more)")
    ap.add_argument("--products", type=int, default=20_000)
    ap.add_argument("--lines", type=int, default=50_000, help="open sales order lines")
    ap.add_argument("--weeks", type=int, default=52, help="weeks of forecasts")
    ap.add_argument("--new-lines", type=int, default=100, help="order lines added for net-change")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=1, help="loads and regenerative runs (median)")
    args = ap.parse_args()
    if args.quick:
        args.products, args.lines, args.weeks, args.new_lines = 500, 1_000, 8, 10
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
