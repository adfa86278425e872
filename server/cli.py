"""The ``fieldsync`` command: ``serve`` and ``migrate`` (planning commands come with their issues).

Every command opens the database named by ``FIELDSYNC_DATABASE_URL`` and brings its schema to
the current version first, so each works on a fresh database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rich.console import Console

from server.config import load_settings

__all__ = ["main"]

console = Console(stderr=True)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import open_service

    settings = load_settings()

    async def prepare() -> None:
        db, _ = await open_service(settings)  # migrate once, before any worker starts
        try:
            if args.demo:
                from server.demo import load_demo, print_demo

                print_demo(console, await load_demo(db))
        finally:
            await db.dispose()

    asyncio.run(prepare())
    where = settings.database_url.split("@")[-1]
    console.print(f"[bold]fieldsync[/] serving on http://{args.host}:{args.port}  "
                  f"(database {where}, {args.workers} worker{'s' if args.workers > 1 else ''})")
    uvicorn.run("server.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, access_log=args.access_log,
                timeout_graceful_shutdown=5)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from server.app import open_service
    from server.db.migrate import current_revision

    async def run() -> str | None:
        db, _ = await open_service(load_settings())
        try:
            return await current_revision(db)
        finally:
            await db.dispose()

    console.print(f"schema at revision {asyncio.run(run())}")
    return 0


def _iso_date(text: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _score(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"a score is 0..100, got {text!r}")
    return value


def _mrp(args: argparse.Namespace) -> int:
    """Run MRP on the current data: one JSON document on stdout with ``--json`` (everything
    else, migrations included, goes to stderr), else a table of planned orders and exceptions."""
    import datetime as dt
    import json

    from server.app import open_service
    from server.domain.planning.runs import MrpResult, ScoreRule, run_mrp
    from shared.errors import DomainError

    today: dt.date = args.today or dt.datetime.now(dt.UTC).date()
    rule = (None if args.min_supplier_score is None
            else ScoreRule(args.min_supplier_score, frozenset(args.allow_supplier or ())))

    async def run() -> MrpResult:
        db, _ = await open_service(load_settings())
        try:
            return await run_mrp(db, today, rule)
        finally:
            await db.dispose()

    try:
        result = asyncio.run(run())
    except DomainError as exc:
        console.print(f"[red]mrp: {exc.detail}[/]")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(result.document, indent=2) + "\n")
        sys.stdout.flush()
    else:
        out = Console()
        out = out if out.is_terminal else Console(width=200)  # a file: wide
        _print_plan(out, result.document)
        if args.explain and result.allocation is not None:
            _print_allocation(out, result.allocation)
    return 0


def _print_allocation(out: Console, allocation: Any) -> None:
    """Who got each buy and subcontract order, and why every other supplier lost."""
    from rich.table import Table

    from server.domain.planning.render import price_text, qty_text

    table = Table(title=(f"Supplier allocation: {allocation.status}, proven within {allocation.gap:.2%}, "
                         f"cost {price_text(allocation.cost)}"), title_justify="left")
    for name in ("sku", "wh", "due", "qty", "chosen", "alternatives (why they lost)"):
        table.add_column(name, no_wrap=name != "alternatives (why they lost)")
    for oa in allocation.orders:
        n = oa.need
        chosen = "\n".join(f"{p.supplier} {qty_text(p.qty)} @ {price_text(p.unit_price)}"
                           + (" late" if p.late else "")
                           + (f" ({qty_text(p.over_capacity)} over capacity)" if p.over_capacity else "")
                           for p in oa.parts) or "no supplier"
        lost = "\n".join([*(f"{a.supplier}: {a.reason} - {a.detail}" for a in oa.alternatives), *oa.quotas])
        table.add_row(n.sku, n.warehouse, n.due.isoformat(), qty_text(n.qty), chosen, lost)
    out.print(table)


def _print_plan(out: Console, doc: dict[str, Any]) -> None:
    from rich.table import Table

    orders = Table(title=f"Planned orders (today {doc['today']})", title_justify="left")
    for name, justify in (("sku", "left"), ("wh", "left"), ("kind", "left"), ("qty", "right"),
                          ("start", "left"), ("due", "left"), ("supplier", "left"),
                          ("price", "right"), ("late", "left")):
        orders.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    orders.add_column("pegged to")
    for o in doc["planned_orders"]:
        pegs = ", ".join(f"{p['demand']} {p['qty']}" for p in o["pegging"])
        orders.add_row(o["sku"], o["warehouse"], o["kind"], o["qty"], o["start"], o["due"],
                       o["supplier"] or "", o["unit_price"] or "", "[red]late[/]" if o["late"] else "",
                       pegs)
    out.print(orders)
    exceptions = Table(title="Exceptions", title_justify="left")
    exceptions.add_column("sku", no_wrap=True)
    exceptions.add_column("kind", no_wrap=True)
    exceptions.add_column("detail")
    for e in doc["exceptions"]:
        exceptions.add_row(e["sku"], e["kind"], e["detail"])
    out.print(exceptions)
    out.print(f"{len(doc['planned_orders'])} planned orders, {len(doc['exceptions'])} exceptions")


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from server.domain.masterdata.console import import_command

    return import_command(Path(args.dir), dry_run=args.dry_run, err=console)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldsync", description="Offline-first sync and planning server.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default=os.environ.get("FIELDSYNC_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("FIELDSYNC_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=1, help="server processes (share one database)")
    serve.add_argument("--demo", action="store_true", help="load the demo company on first start")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--access-log", action="store_true")
    serve.set_defaults(func=_serve)
    migrate = sub.add_parser("migrate", help="create or upgrade the schema and exit")
    migrate.set_defaults(func=_migrate)
    imp = sub.add_parser("import", help="check and load the master data CSV files of a folder (PLANNING.md)")
    imp.add_argument("dir", metavar="DIR", help="folder with warehouses.csv, products.csv, bom.csv, ...")
    imp.add_argument("--dry-run", action="store_true", help="check everything, show what would change, write nothing")
    imp.set_defaults(func=_import)
    mrp = sub.add_parser("mrp", help="run MRP on the current data and print the plan")
    mrp.add_argument("--today", type=_iso_date, default=None,
                     help="the planning day, YYYY-MM-DD (default: today, UTC)")
    shape = mrp.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print exactly one JSON document (PLANNING.md)")
    shape.add_argument("--explain", action="store_true",
                       help="after the plan, who got each buy and subcontract order and why the others lost")
    mrp.add_argument("--min-supplier-score", type=_score, default=None, metavar="0..100",
                     help="allocate no order to a supplier whose scorecard score is below this")
    mrp.add_argument("--allow-supplier", action="append", metavar="CODE",
                     help="a supplier allowed despite a low score (repeatable)")
    mrp.set_defaults(func=_mrp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "workers", 1) < 1:
        console.print("[red]--workers must be at least 1[/]")
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
