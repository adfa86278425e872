"""MRP engine: a regenerative run over a 20,000-product company, then net-change after 100 new
sales order lines, against the regenerative run on the same data.

The company is generated deterministically (``--seed``), in memory: the engine only, no
database. At full size:

- 20,000 products: 2,000 finished goods (level 0); 800 subassemblies at each of levels 1..5
  (85 % make, 15 % subcontract); 14,000 purchased parts. Each finished good or subassembly has
  0..2 subassemblies of the next level (popular ones picked more often, so they are shared),
  one in ten also one two or more levels further down (a component used at several levels), and
  1..3 purchased parts from a skewed pool (the top parts are in thousands of BOMs); level 5
  has 2..4 purchased parts. Some lines have scrap. So BOMs are 6 make levels deep, 7 with parts.
- Lot rules: purchased parts 40 % multiple, 20 % minimum, 40 % lot-for-lot; 30 % have safety
  stock; 60 % of products have stock in WH1, 20 % in WH2.
- Demand: 50,000 open sales order lines (1..5 lines per order, skewed over finished goods,
  due from 7 days ago to 26 weeks ahead, 80 % WH1), and 52 weekly forecasts (Mondays, WH1) for
  the 1,000 most popular finished goods, consumed by sales of the same ISO week.
- Supply: 3,000 open purchase orders and 600 open production orders in the next 30 days (which
  allocate their components); a supply chooser that answers from a dict for 80 % of purchased
  and subcontracted items.

Timed: ``plan()`` (regenerative) in this process, median of ``--repeat`` runs; then, in a child
process, the peak memory of one regenerative run (``VmHWM``; with ``--tracemalloc`` also the
peak of Python allocations, which slows it);
then a ``NetChangePlanner`` loaded with the same plan takes 100 new sales order lines (random
finished goods, dates and quantities) and re-plans; its result is checked equal to a new
regenerative ``plan()`` over the same input.

    .venv/bin/python -m bench.mrp [--quick] [--products 20000] [--lines 50000] [--seed 7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from server.domain.planning.model import (
    BomLine,
    Demand,
    DemandKind,
    Item,
    ItemKind,
    LotRule,
    PlanningInput,
    Receipt,
    ReceiptKind,
    SupplyChoice,
)

TODAY = dt.date(2027, 1, 4)  # a Monday
QTY_PER = [Decimal(x) for x in ("1", "1", "1", "1", "2", "2", "3", "4", "0.5", "0.25")]


@dataclass
class Company:
    inp: PlanningInput
    choices: dict[str, SupplyChoice]
    fgs: list[str]

    def choose(self, item: Item, warehouse: str, qty: Decimal, need: dt.date) -> SupplyChoice | None:
        return self.choices.get(item.sku)


def _skewed(rng: random.Random, n: int, power: float = 2.0) -> int:
    """An index in [0, n) with small ones much more likely (popular products first)."""
    return min(n - 1, int(n * rng.random() ** power))


def company(products: int = 20_000, lines: int = 50_000, weeks: int = 52, seed: int = 7) -> Company:
    rng = random.Random(seed)
    n_fg = products // 10
    n_sub = products // 25
    levels: list[list[str]] = [[f"FG{i:05d}" for i in range(n_fg)]]
    for lvl in range(1, 6):
        levels.append([f"S{lvl}-{i:05d}" for i in range(n_sub)])
    n_raw = products - n_fg - 5 * n_sub
    raws = [f"P{i:05d}" for i in range(n_raw)]
    items: dict[str, Item] = {}
    choices: dict[str, SupplyChoice] = {}
    for sku in levels[0]:
        ss = Decimal(rng.choice((5, 10, 20))) if rng.random() < 0.2 else Decimal(0)
        items[sku] = Item(sku, ItemKind.MAKE, rng.randint(1, 3), ss)
    for lvl in range(1, 6):
        for sku in levels[lvl]:
            if rng.random() < 0.15:
                items[sku] = Item(sku, ItemKind.SUBCONTRACT, rng.randint(5, 10))
            else:
                rule = LotRule.MIN if rng.random() < 0.2 else LotRule.LOT_FOR_LOT
                items[sku] = Item(sku, ItemKind.MAKE, rng.randint(1, 5), Decimal(0), rule,
                                  Decimal(rng.choice((20, 50))) if rule is LotRule.MIN else None)
    for sku in raws:
        r = rng.random()
        rule, lot = ((LotRule.MULTIPLE, Decimal(rng.choice((10, 25, 50, 100)))) if r < 0.4 else
                     (LotRule.MIN, Decimal(rng.choice((50, 100, 200)))) if r < 0.6 else
                     (LotRule.LOT_FOR_LOT, None))
        ss = Decimal(rng.choice((10, 20, 50, 100))) if rng.random() < 0.3 else Decimal(0)
        items[sku] = Item(sku, ItemKind.BUY, rng.randint(3, 20), ss, rule, lot)
    for sku, item in items.items():
        if item.kind is not ItemKind.MAKE and rng.random() < 0.8:
            choices[sku] = SupplyChoice(f"SUP{rng.randint(1, 200):03d}",
                                        Decimal(rng.randint(50, 5000)) / 100, rng.randint(2, 25))

    def line(parent: str, comp: str) -> BomLine:
        scrap = Decimal(rng.choice((2, 5))) if rng.random() < 0.1 else Decimal(0)
        return BomLine(parent, comp, rng.choice(QTY_PER), scrap)

    bom: dict[str, tuple[BomLine, ...]] = {}
    for lvl in range(6):
        for parent in levels[lvl]:
            comps: dict[str, None] = {}
            if lvl < 5:
                n_sub_lines = rng.choices((0, 1, 2), (15, 60, 25))[0]
                for _ in range(n_sub_lines):
                    comps[levels[lvl + 1][_skewed(rng, n_sub, 1.5)]] = None
                if lvl < 4 and rng.random() < 0.1:
                    deeper = rng.randint(lvl + 2, 5)
                    comps[levels[deeper][_skewed(rng, n_sub, 1.5)]] = None
            for _ in range(rng.randint(2, 4) if lvl == 5 else rng.randint(1, 3)):
                comps[raws[_skewed(rng, n_raw, 3.0)]] = None
            bom[parent] = tuple(line(parent, c) for c in comps)

    stock: dict[tuple[str, str], Decimal] = {}
    for sku in items:
        if rng.random() < 0.6:
            stock[(sku, "WH1")] = Decimal(rng.randint(0, 200))
        if rng.random() < 0.2:
            stock[(sku, "WH2")] = Decimal(rng.randint(0, 100))

    demands: list[Demand] = []
    so = 0
    while len(demands) < lines:
        so += 1
        number = f"SO-{so:06d}"
        wh = "WH1" if rng.random() < 0.8 else "WH2"
        due = TODAY + dt.timedelta(days=rng.randint(-7, 182))
        for _ in range(min(rng.randint(1, 5), lines - len(demands))):
            sku = levels[0][_skewed(rng, n_fg)]
            demands.append(Demand(number, sku, wh, due, Decimal(rng.randint(1, 20))))
    for sku in levels[0][: n_fg // 2]:
        for w in range(weeks):
            day = TODAY + dt.timedelta(weeks=w)
            demands.append(Demand(f"forecast:{sku}:{day.isoformat()}", sku, "WH1", day,
                                  Decimal(rng.randint(5, 30)), DemandKind.FORECAST))

    receipts: list[Receipt] = []
    for i in range(products * 3 // 20):
        sku = raws[_skewed(rng, n_raw, 2.0)]
        receipts.append(Receipt(f"PO-{i:06d}", sku, "WH1", TODAY + dt.timedelta(days=rng.randint(0, 30)),
                                Decimal(rng.randint(1, 20) * 10)))
    made = [s for lvl in levels for s in lvl]
    for i in range(products * 3 // 100):
        sku = made[_skewed(rng, len(made), 1.0)]
        receipts.append(Receipt(f"MO-{i:06d}", sku, "WH1", TODAY + dt.timedelta(days=rng.randint(0, 30)),
                                Decimal(rng.randint(1, 10) * 5), ReceiptKind.PRODUCTION))
    inp = PlanningInput(TODAY, items, bom, stock, tuple(demands), tuple(receipts))
    return Company(inp, choices, levels[0])


def new_lines(co: Company, n: int, seed: int) -> list[Demand]:
    """``n`` new sales order lines (new order numbers) on random finished goods."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        sku = co.fgs[_skewed(rng, len(co.fgs))]
        out.append(Demand(f"SO-NEW-{i // 3:05d}", sku, "WH1" if rng.random() < 0.8 else "WH2",
                          TODAY + dt.timedelta(days=rng.randint(0, 182)), Decimal(rng.randint(1, 20))))
    return out


# ---- the child that measures memory ---------------------------------------------------------


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure (VmHWM: this process's peak RSS; unlike ru_maxrss it is
    not inherited from the parent across fork and exec)."""
    for line in open("/proc/self/status", encoding="ascii"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(spec: dict[str, Any]) -> dict[str, Any]:
    from server.domain.planning.mrp import plan

    co = company(spec["products"], spec["lines"], spec["weeks"], spec["seed"])
    out: dict[str, Any] = {"rss_before_kib": _status_kib("VmRSS")}
    if spec["tracemalloc"]:
        tracemalloc.start()
        plan(co.inp, co.choose)
        out["py_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        plan(co.inp, co.choose)
    out["maxrss_kib"] = _status_kib("VmHWM")
    return out


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    from bench.common import ROOT

    done = subprocess.run([sys.executable, "-m", "bench.mrp", "--child", json.dumps(spec)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"the memory child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ---- main -----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a tiny company: checks the script works")
    ap.add_argument("--products", type=int, default=20_000)
    ap.add_argument("--lines", type=int, default=50_000, help="open sales order lines")
    ap.add_argument("--weeks", type=int, default=52, help="weeks of forecasts")
    ap.add_argument("--new-lines", type=int, default=100, help="order lines added for net-change")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=1, help="regenerative runs (median)")
    ap.add_argument("--tracemalloc", action="store_true", help="also the tracemalloc peak (slow)")
    ap.add_argument("--profile", metavar="FILE", help="run one regenerative plan under cProfile")
    ap.add_argument("--profile-update", metavar="FILE",
                    help="run the net-change update under cProfile (its time then includes the profiler's)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    if args.quick:
        args.products, args.lines, args.weeks, args.new_lines = 500, 1_000, 8, 10
    run(args)


def _timed(f: Any) -> tuple[Any, float, float]:
    """``f()`` with its wall and CPU time, after a full collection (so that no earlier garbage
    is collected on its time; what it allocates itself, it pays for)."""
    gc.collect()
    w, c = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - w, time.process_time() - c


def run(args: argparse.Namespace) -> None:
    from bench.common import Row, console, report
    from server.domain.planning.mrp import plan
    from server.domain.planning.netchange import NetChangePlanner

    t0 = time.perf_counter()
    co = company(args.products, args.lines, args.weeks, args.seed)
    inp = co.inp
    n_bom = sum(len(v) for v in inp.bom.values())
    console.print(f"[dim]company: {len(inp.items):,} products, {n_bom:,} BOM lines, "
                  f"{len(inp.demands):,} demand lines, {len(inp.receipts):,} receipts "
                  f"(generated in {time.perf_counter() - t0:.1f} s)[/]")
    if args.profile:
        import cProfile

        cProfile.runctx("plan(inp, co.choose)", globals(), {"plan": plan, "inp": inp, "co": co},
                        args.profile)
    runs = [_timed(lambda: plan(inp, co.choose)) for _ in range(max(1, args.repeat))]
    result = runs[-1][0]
    regen = statistics.median(r[1] for r in runs)
    regen_cpu = statistics.median(r[2] for r in runs)
    n_pegs = sum(len(o.pegging) for o in result.planned_orders)
    console.print(f"[dim]regenerative plan: {len(result.planned_orders):,} planned orders, {n_pegs:,} pegs, "
                  f"{len(result.exceptions):,} exceptions[/]")
    del result, runs

    mem = run_child({"products": args.products, "lines": args.lines, "weeks": args.weeks,
                     "seed": args.seed, "tracemalloc": args.tracemalloc})

    planner, load, _ = _timed(lambda: NetChangePlanner(inp, co.choose))
    before = {(o.sku, o.warehouse, o.due): o for o in planner.plan.planned_orders}  # not timed
    added = new_lines(co, args.new_lines, args.seed + 1)
    new_inp = PlanningInput(inp.today, inp.items, inp.bom, inp.stock, inp.demands + tuple(added),
                            inp.receipts)
    update = lambda: planner.update(new_inp, {d.sku for d in added})  # noqa: E731
    if args.profile_update:
        profiled = update
        update = lambda: _profiled(profiled, args.profile_update)  # noqa: E731
    delta, net, net_cpu = _timed(update)
    stats = planner.last_stats
    kinds = change_kinds(before, delta.orders)
    del before
    net_plan, assemble, _ = _timed(lambda: planner.plan)
    full, regen_after, regen_after_cpu = _timed(lambda: plan(new_inp, co.choose))
    if full != net_plan:
        raise SystemExit("WRONG: the net-change plan differs from the regenerative plan")
    n_orders = len(full.planned_orders)
    del full, net_plan

    # the baseline: the faster of the two regenerative runs (the one on the new input runs with
    # the planner's state in memory as well, which slows it)
    base = min(regen, regen_after)
    base_cpu = min(regen_cpu, regen_after_cpu)
    rows = [
        Row("regenerative MRP, wall time", f"{regen:.2f} s", "20 s target", regen / 20, "<= 1x (20 s)",
            regen <= 20),
        Row("  CPU time of the same run", f"{regen_cpu:.2f} s"),
        Row(f"net-change after {args.new_lines} new order lines", f"{net * 1000:.0f} ms",
            f"{base:.2f} s regenerative", net / base, "<= 0.02x", net / base <= 0.02),
        Row("  CPU time of the same update", f"{net_cpu * 1000:.0f} ms", f"{base_cpu:.2f} s CPU",
            net_cpu / base_cpu),
        Row("  regenerative run on the new input (planner in memory)", f"{regen_after:.2f} s"),
        Row("  + the whole plan as one Plan (planner.plan)", f"{assemble * 1000:.0f} ms"),
        Row("  planned orders that changed", f"{stats['orders_changed']:,}", f"{n_orders:,} in the plan"),
        Row("    of which new / gone / quantity, dates or supplier changed",
            f"{kinds['new']:,} / {kinds['gone']:,} / {kinds['changed']:,}"),
        Row("    of which only their pegging changed", f"{kinds['pegs only']:,}"),
        Row("  cells re-netted (of which resumed mid-way) / all", f"{stats['renetted']:,} ({stats['resumed']:,})",
            f"{stats['cells']:,} cells"),
        Row("  cells whose pegs only were updated", f"{stats['repegged']:,}"),
        Row("peak RSS of a regenerative run (VmHWM, own process)", f"{mem['maxrss_kib'] / 1024:.0f} MiB",
            f"{mem['rss_before_kib'] / 1024:.0f} MiB with the input built"),
    ]
    if "py_peak_bytes" in mem:
        rows.append(Row("  tracemalloc peak during plan()", f"{mem['py_peak_bytes'] / 2**20:.0f} MiB"))
    rows.append(Row("net-change planner first load (a regenerative run keeping its state)", f"{load:.2f} s"))
    report(f"MRP engine: {len(inp.items):,} products, {len(inp.demands):,} demand lines, "
           f"{n_orders:,} planned orders", rows,
           ["the net-change plan equals the regenerative plan of the same input: checked",
            "each time starts after a full gc.collect(); plan() and update() leave what they made in the "
            "collector's oldest generation (mrp.to_oldest_generation)",
            f"orders that changed: {stats['orders_changed'] / n_orders:.1%} of the plan; a net change that must "
            "equal the regenerative plan recomputes at least those",
            f"orders that appeared, went or changed quantity, dates or supplier: "
            f"{(kinds['new'] + kinds['gone'] + kinds['changed']) / n_orders:.1%} of the plan: re-planning only those, "
            "at the regenerative run's cost per order, is already that share of it"])


def _profiled(f: Any, path: str) -> Any:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    out = prof.runcall(f)
    prof.dump_stats(path)
    pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    return out


def change_kinds(before: dict[tuple[str, str, dt.date], Any],
                 changed: tuple[tuple[str, str, dt.date, Any], ...]) -> dict[str, int]:
    """The orders a net change gave, by what changed about them against the plan before it."""
    out = {"new": 0, "gone": 0, "changed": 0, "pegs only": 0}
    for sku, wh, due, o in changed:
        old = before.get((sku, wh, due))
        if old is None:
            out["new"] += 1
        elif o is None:
            out["gone"] += 1
        elif (old.qty, old.start, old.late, old.supplier, old.unit_price) != (o.qty, o.start, o.late,
                                                                                  o.supplier, o.unit_price):
            out["changed"] += 1
        else:
            out["pegs only"] += 1
    return out


if __name__ == "__main__":
    main()
