"""Kitting (齐套分析): whole units the stock can build through the whole BOM, what runs out first,
and what the receipts due by a date add. Worked examples, then properties against an
independent, recursive feasibility check."""

# ruff: noqa: F811  (the server fixtures are imported by name and requested by name)

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal, localcontext

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from server.config import Settings
from server.domain.planning.kitting import KitResult, KittingDataError, Shortage, kit
from server.domain.planning.kitting_controllers import KittingController
from server.domain.planning.lowlevel import BomCycle
from server.domain.planning.model import BomLine, Item, ItemKind, Receipt
from tests.planning.company import LiveCompany
from tests.server.client import SyncClient
from tests.server.conftest import BOOT, LiveServer, settings  # noqa: F401  (fixtures)

MAKE, BUY, SUB = ItemKind.MAKE, ItemKind.BUY, ItemKind.SUBCONTRACT
WH, OTHER = "WH1", "WH2"
FRIDAY = dt.date(2026, 12, 18)
D = Decimal


def items(**kinds: ItemKind) -> dict[str, Item]:
    return {sku: Item(sku, kind) for sku, kind in kinds.items()}


def bom(*lines: tuple[str, str, str] | tuple[str, str, str, str]) -> dict[str, tuple[BomLine, ...]]:
    out: dict[str, list[BomLine]] = {}
    for parent, comp, qty, *scrap in lines:
        out.setdefault(parent, []).append(BomLine(parent, comp, D(qty), D(scrap[0]) if scrap else D(0)))
    return {p: tuple(ls) for p, ls in out.items()}


def stock(**qty: str) -> dict[tuple[str, str], Decimal]:
    return {(sku, WH): D(q) for sku, q in qty.items()}


# ---- worked examples ---------------------------------------------------------------------------


def test_single_level_the_scarcest_component_decides_and_units_are_whole() -> None:
    # a stool: 3 legs and 1 seat; 10 legs make 3 stools (3.33), 5 seats make 5
    r = kit("STOOL", WH, items(STOOL=MAKE, LEG=BUY, SEAT=BUY), bom(("STOOL", "LEG", "3"), ("STOOL", "SEAT", "1")),
            stock(LEG="10", SEAT="5"))
    assert r.buildable == 3
    assert r.limiting == (Shortage("LEG", D(12), D(10)),)  # the 4th stool needs 12 legs, 10 there
    assert r.limiting[0].short == 2


def test_the_products_own_stock_is_not_buildable_units() -> None:
    r = kit("STOOL", WH, items(STOOL=MAKE, LEG=BUY), bom(("STOOL", "LEG", "3")), stock(STOOL="50", LEG="6"))
    assert r.buildable == 2


def test_multi_level_a_missing_assembly_is_built_from_its_own_components() -> None:
    # desk = frame + top; frame = 4 legs + 8 screws. One frame on the shelf, legs for two more.
    r = kit("DESK", WH, items(DESK=MAKE, FRAME=MAKE, TOP=BUY, LEG=BUY, SCREW=BUY),
            bom(("DESK", "FRAME", "1"), ("DESK", "TOP", "1"), ("FRAME", "LEG", "4"), ("FRAME", "SCREW", "8")),
            stock(FRAME="1", TOP="10", LEG="8", SCREW="100"))
    assert r.buildable == 3
    # the 4th desk: the frame on the shelf is used, 3 frames are built: 12 legs, 8 there
    assert r.limiting == (Shortage("LEG", D(12), D(8)),)


def test_stock_of_an_intermediate_assembly_counts_before_its_components() -> None:
    r = kit("DESK", WH, items(DESK=MAKE, FRAME=MAKE, LEG=BUY),
            bom(("DESK", "FRAME", "1"), ("FRAME", "LEG", "4")), stock(FRAME="2"))
    assert r.buildable == 2
    assert r.limiting == (Shortage("LEG", D(4), D(0)),)


def test_a_component_shared_between_branches_competes_for_the_same_stock() -> None:
    # each desk takes 4 screws itself and 8 through its frame: 12 screws a desk. Looking at each
    # branch alone would promise min(60/4, 60/8) = 7; the truth is 60/12 = 5.
    r = kit("DESK", WH, items(DESK=MAKE, FRAME=MAKE, LEG=BUY, SCREW=BUY),
            bom(("DESK", "FRAME", "1"), ("DESK", "SCREW", "4"), ("FRAME", "SCREW", "8"), ("FRAME", "LEG", "4")),
            stock(SCREW="60", LEG="100"))
    assert r.buildable == 5
    assert r.limiting == (Shortage("SCREW", D(72), D(60)),)


def test_a_shared_component_with_intermediate_stock_is_netted_once_at_its_lowest_level() -> None:
    # 2 frames on the shelf save 16 screws: 8 desks need 8*4 + 6*8 = 80 screws
    r = kit("DESK", WH, items(DESK=MAKE, FRAME=MAKE, SCREW=BUY),
            bom(("DESK", "FRAME", "1"), ("DESK", "SCREW", "4"), ("FRAME", "SCREW", "8")),
            stock(FRAME="2", SCREW="80"))
    assert r.buildable == 8
    assert r.limiting == (Shortage("SCREW", D(92), D(80)),)  # 9*4 + 7*8


def test_scrap_adds_its_percentage_to_every_requirement() -> None:
    # 4 legs with 10 % scrap: 4.4 legs a stool; 22 legs make exactly 5, 21.9 only 4
    spec = items(STOOL=MAKE, LEG=BUY), bom(("STOOL", "LEG", "4", "10"))
    assert kit("STOOL", WH, *spec, stock(LEG="22")).buildable == 5
    r = kit("STOOL", WH, *spec, stock(LEG="21.9"))
    assert r.buildable == 4
    assert r.limiting == (Shortage("LEG", D("22.0"), D("21.9")),)


def test_scrap_compounds_through_levels() -> None:
    # frame: 2 tubes at 5 % scrap; desk: 1 frame at 10 % scrap -> 1.1 frames -> 2.31 tubes a desk
    r = kit("DESK", WH, items(DESK=MAKE, FRAME=MAKE, TUBE=BUY),
            bom(("DESK", "FRAME", "1", "10"), ("FRAME", "TUBE", "2", "5")), stock(TUBE="23.1"))
    assert r.buildable == 10
    assert r.limiting == (Shortage("TUBE", D("25.41"), D("23.1")),)


def test_fractional_quantities_stay_exact() -> None:
    r = kit("PAINTED", WH, items(PAINTED=MAKE, PAINT=BUY), bom(("PAINTED", "PAINT", "0.1")), stock(PAINT="0.3"))
    assert r.buildable == 3  # a float would see 0.30000000000000004 > 0.3 and answer 2


def test_several_components_running_out_together_are_all_named() -> None:
    r = kit("STOOL", WH, items(STOOL=MAKE, LEG=BUY, SEAT=BUY), bom(("STOOL", "LEG", "3"), ("STOOL", "SEAT", "1")),
            stock(LEG="6", SEAT="2"))
    assert r.buildable == 2
    assert [s.sku for s in r.limiting] == ["LEG", "SEAT"]


def test_buy_and_subcontract_components_and_make_ones_without_a_bom_come_from_stock_only() -> None:
    r = kit("DESK", WH, items(DESK=MAKE, PANEL=SUB, KNOB=MAKE, STEEL=BUY, BOLT=BUY),
            bom(("DESK", "PANEL", "1"), ("DESK", "KNOB", "1"), ("DESK", "BOLT", "1"), ("PANEL", "STEEL", "1")),
            stock(PANEL="4", STEEL="100", KNOB="3", BOLT="100"))
    assert r.buildable == 3  # the knob has no BOM: 3 in stock; the panel is not built from steel
    assert r.limiting == (Shortage("KNOB", D(4), D(3)),)


def test_a_product_without_components_cannot_be_built() -> None:
    r = kit("KIT", WH, items(KIT=MAKE), {}, {})
    assert r.buildable == 0
    assert r.limiting == (Shortage("KIT", D(1), D(0)),)


def test_stock_of_other_warehouses_and_negative_stock_do_not_count() -> None:
    s = {("LEG", OTHER): D(100), ("LEG", WH): D(-5), ("SEAT", WH): D(9)}
    r = kit("STOOL", WH, items(STOOL=MAKE, LEG=BUY, SEAT=BUY), bom(("STOOL", "LEG", "3"), ("STOOL", "SEAT", "1")), s)
    assert r.buildable == 0
    assert r.limiting == (Shortage("LEG", D(3), D(0)),)


def test_receipts_due_by_the_date_add_units() -> None:
    spec = items(STOOL=MAKE, LEG=BUY, SEAT=BUY), bom(("STOOL", "LEG", "3"), ("STOOL", "SEAT", "1"))
    receipts = [
        Receipt("PO-1", "LEG", WH, dt.date(2026, 12, 15), D(9)),   # by Friday: 3 more stools' legs
        Receipt("PO-2", "LEG", WH, FRIDAY, D(3)),                  # on Friday counts too
        Receipt("PO-3", "LEG", WH, dt.date(2026, 12, 21), D(30)),  # next week: no
        Receipt("PO-4", "LEG", OTHER, dt.date(2026, 12, 1), D(30)),  # another warehouse: no
        Receipt("MO-1", "STOOL", WH, dt.date(2026, 12, 16), D(7)),   # the stool itself: incoming
    ]
    r = kit("STOOL", WH, *spec, stock(LEG="6", SEAT="5"), receipts, FRIDAY)
    assert (r.buildable, r.buildable_by_date, r.extra_by_date, r.incoming) == (2, 5, 3, 7)
    assert r.limiting == (Shortage("LEG", D(9), D(6)),)
    assert r.limiting_by_date == (Shortage("SEAT", D(6), D(5)),)  # 18 legs do 6; seats run out


def test_without_a_date_receipts_are_not_looked_at() -> None:
    r = kit("STOOL", WH, items(STOOL=MAKE, LEG=BUY), bom(("STOOL", "LEG", "1")), stock(LEG="2"),
            [Receipt("PO-1", "LEG", WH, FRIDAY, D(5))])
    assert r == KitResult("STOOL", WH, D(2), (Shortage("LEG", D(3), D(2)),))
    assert r.extra_by_date is None


def test_only_make_products_are_kitted() -> None:
    with pytest.raises(KittingDataError) as e:
        kit("LEG", WH, items(LEG=BUY), {}, {})
    assert e.value.code == "not_make"
    with pytest.raises(KittingDataError):
        kit("NOPE", WH, {}, {}, {})


def test_a_bom_cycle_is_refused_with_the_cycle_named() -> None:
    with pytest.raises(BomCycle) as e:
        kit("A", WH, items(A=MAKE, B=MAKE), bom(("A", "B", "1"), ("B", "A", "1")), stock(B="1"))
    assert e.value.path in (["A", "B", "A"], ["B", "A", "B"])


def test_a_bom_that_needs_nothing_is_refused_rather_than_promising_everything() -> None:
    with pytest.raises(KittingDataError):
        kit("A", WH, items(A=MAKE, B=BUY), bom(("A", "B", "0")), {})


def test_large_quantities_are_found_exactly() -> None:
    r = kit("A", WH, items(A=MAKE, B=BUY), bom(("A", "B", "0.000000007")), stock(B="1234567890.5"))
    assert r.buildable == 176366841500000000
    assert r.buildable * D("0.000000007") <= D("1234567890.5") < (r.buildable + 1) * D("0.000000007")


# ---- properties ---------------------------------------------------------------------------------

SKUS = [f"S{i}" for i in range(6)]


def feasible(q: int, top: str, its: dict[str, Item], b: dict[str, tuple[BomLine, ...]],
             st_: dict[tuple[str, str], Decimal]) -> bool:
    """Independent check: take ``q`` units depth first, each item from what is left on the shelf
    and building the rest from its components (no levels, no netting order)."""
    left = {sku: max(qty, D(0)) for (sku, wh), qty in st_.items() if wh == WH}

    def need(sku: str, qty: Decimal, top_level: bool = False) -> bool:
        if not top_level:
            take = min(qty, left.get(sku, D(0)))
            left[sku] = left.get(sku, D(0)) - take
            qty -= take
        if qty <= 0:
            return True
        lines = b.get(sku, ()) if its[sku].kind is MAKE else ()
        if not lines:
            return False
        results = [need(ln.component, qty * ln.qty_per * (1 + ln.scrap_pct / 100)) for ln in lines]
        return all(results)

    with localcontext(prec=500):
        return need(top, D(q), True)


@st.composite
def kits(draw: st.DrawFn) -> tuple[dict[str, Item], dict[str, tuple[BomLine, ...]], dict[tuple[str, str], Decimal]]:
    """Random DAG BOMs (a component always sits later in SKUS than its parent), shared
    components and intermediate stock included."""
    its = {"S0": Item("S0", MAKE)}
    for sku in SKUS[1:]:
        its[sku] = Item(sku, draw(st.sampled_from([MAKE, MAKE, BUY, SUB])))
    lines: dict[str, tuple[BomLine, ...]] = {}
    for i, parent in enumerate(SKUS[:-1]):
        comps = draw(st.lists(st.sampled_from(SKUS[i + 1:]), unique=True, min_size=1 if i == 0 else 0, max_size=3))
        lines[parent] = tuple(BomLine(parent, c, draw(st.decimals("0.01", "4", places=2)),
                                      draw(st.sampled_from([D(0), D(0), D(5), D("12.5")]))) for c in comps)
    stock_ = {(sku, WH): draw(st.decimals("-2", "200", places=draw(st.sampled_from([0, 1, 3]))))
              for sku in SKUS[1:] if draw(st.integers(0, 9)) > 1}  # mostly in stock
    return its, lines, stock_


@hsettings(max_examples=300, deadline=None)
@given(kits())
def test_buildable_units_can_be_built_and_one_more_cannot(spec: tuple) -> None:  # type: ignore[type-arg]
    its, b, stock_ = spec
    r = kit("S0", WH, its, b, stock_)
    n = int(r.buildable)
    assert feasible(n, "S0", its, b, stock_)
    assert not feasible(n + 1, "S0", its, b, stock_)
    assert r.limiting and all(s.short > 0 for s in r.limiting)


@hsettings(max_examples=150, deadline=None)
@given(kits(), st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 20), st.decimals("0", "30", places=1)),
                        max_size=6))
def test_receipts_never_lower_what_can_be_built(spec: tuple, raw: list) -> None:  # type: ignore[type-arg]
    its, b, stock_ = spec
    receipts = [Receipt(f"R{i}", sku, WH, dt.date(2026, 12, day), qty) for i, (sku, day, qty) in enumerate(raw)]
    r = kit("S0", WH, its, b, stock_, receipts, FRIDAY)
    assert r.buildable_by_date is not None and r.buildable_by_date >= r.buildable
    later = dict(stock_)
    for rc in receipts:
        if rc.date <= FRIDAY and rc.sku != "S0":
            later[(rc.sku, WH)] = max(later.get((rc.sku, WH), D(0)), D(0)) + rc.qty
    n = int(r.buildable_by_date)
    assert feasible(n, "S0", its, b, later) and not feasible(n + 1, "S0", its, b, later)


# ---- the endpoint, over real HTTP on SQLite and PostgreSQL ---------------------------------------
# (fixtures from tests/server/conftest.py, imported by name and requested by name)

KITTING = "/api/v1/planning/kitting"


class KittingServer(LiveServer):
    """The real app over real HTTP, with the kitting controller registered if app.py does not
    register it (yet)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        app = self.server.config.app
        if not any(r.path == KITTING for r in app.routes):
            app.register(KittingController)


@pytest.fixture
def kit_http(settings: Settings) -> Iterator[httpx.Client]:
    server = KittingServer(settings)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()


@pytest.fixture
def desk_co(settings: Settings, kit_http: httpx.Client) -> Iterator[LiveCompany]:
    """Desk = frame + top + 4 screws, frame = 4 legs + 8 screws. WH1 holds 2 desks, 1 frame,
    8 legs, 10 tops, 100 screws; one desk is on order."""
    c = LiveCompany(settings.database_url)

    async def build() -> None:
        await c.warehouse("WH1")
        await c.warehouse("WH2")
        await c.product("DESK", "make")
        await c.product("FRAME", "make")
        for sku in ("TOP", "LEG", "SCREW"):
            await c.product(sku, "buy")
        for parent, comp, qty in (("DESK", "FRAME", "1"), ("DESK", "TOP", "1"), ("DESK", "SCREW", "4"),
                                  ("FRAME", "LEG", "4"), ("FRAME", "SCREW", "8")):
            await c.bom(parent, comp, qty)
        for sku, qty in (("DESK", "2"), ("FRAME", "1"), ("LEG", "8"), ("TOP", "10"), ("SCREW", "100")):
            await c.move(sku, "WH1", qty, "count")
        await c.sales_order("SO-1", [("DESK", "1")])
        await c.supplier("S01")
        await c.purchase_order("PO-1", "S01", "LEG", "10", "2026-12-15", received="2")  # 8 to come
        await c.purchase_order("PO-2", "S01", "LEG", "100", "2026-12-30")  # after Friday
        await c.purchase_order("PO-3", "S01", "LEG", "100", "2026-12-01", warehouse="WH2")
        await c.purchase_order("PO-4", "S01", "LEG", "100", "2026-12-01", status="closed")
        await c.production_order("MO-1", "FRAME", "2", "2026-12-17")
        await c.production_order("MO-2", "DESK", "5", "2026-12-16", status="released")
        await c.production_order("MO-3", "FRAME", "50", "2026-12-10", status="done")

    c.run(build())
    try:
        yield c
    finally:
        c.close()


def ask(http: httpx.Client, device: SyncClient | None, **params: str) -> httpx.Response:
    return http.get(KITTING, params=params, headers=device.headers if device else {})


def test_the_endpoint_answers_buildable_limiting_and_what_receipts_add_by_a_date(
        desk_co: LiveCompany, kit_http: httpx.Client) -> None:
    rep = SyncClient.enrolled(kit_http, BOOT, user="alice", role="sales")
    r = ask(kit_http, rep, sku="DESK", warehouse="WH1")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "sku": "DESK", "warehouse": "WH1", "on_hand": "2", "available": "1", "buildable": "3",
        "limiting": [{"sku": "LEG", "required": "12", "available": "8", "short": "4"}],
        "by": None, "buildable_by": None, "extra_by": None, "incoming_by": None, "limiting_by": []}

    r = ask(kit_http, rep, sku="DESK", warehouse="WH1", by="2026-12-18")
    assert r.status_code == 200, r.text
    body = r.json()
    # by Friday: 8 legs (PO-1) and 2 frames (MO-1): 3 frames + 16 legs -> 7 desks; MO-2 brings 5 desks
    assert (body["by"], body["buildable"], body["buildable_by"], body["extra_by"], body["incoming_by"]) == (
        "2026-12-18", "3", "7", "4", "5")
    assert body["limiting_by"] == [{"sku": "LEG", "required": "20", "available": "16", "short": "4"}]


def test_back_office_may_ask_in_messagepack_and_a_warehouse_device_may_not_ask(
        desk_co: LiveCompany, kit_http: httpx.Client) -> None:
    office = SyncClient.enrolled(kit_http, BOOT, user="boss", role="backoffice")
    r = kit_http.get(KITTING, params={"sku": "FRAME", "warehouse": "WH1"},
                     headers={**office.headers, "Accept": "application/msgpack"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/msgpack")
    assert msgspec.msgpack.decode(r.content)["buildable"] == "2"
    store = SyncClient.enrolled(kit_http, BOOT, user="sam", role="warehouse",
                                warehouse_id=desk_co.id("warehouse", "WH1"))
    r = ask(kit_http, store, sku="DESK", warehouse="WH1")
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    assert ask(kit_http, None, sku="DESK", warehouse="WH1").status_code == 401


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"sku": "NOPE", "warehouse": "WH1"}, 404, "unknown_product"),
    ({"sku": "DESK", "warehouse": "WH9"}, 404, "unknown_warehouse"),
    ({"sku": "LEG", "warehouse": "WH1"}, 400, "not_make"),
    ({"sku": "DESK", "warehouse": "WH1", "by": "Friday"}, 400, "malformed"),
    ({"sku": "DESK"}, 400, "malformed"),
    ({"sku": "DE\x00SK", "warehouse": "WH1"}, 400, "invalid_query"),
    ({"sku": "D" * 500, "warehouse": "WH1"}, 400, "malformed"),
])
def test_bad_questions_get_the_one_error_body(desk_co: LiveCompany, kit_http: httpx.Client,
                                              params: dict[str, str], status: int, code: str) -> None:
    office = SyncClient.enrolled(kit_http, BOOT, user="boss", role="backoffice")
    r = ask(kit_http, office, **params)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error", "detail"} and r.json()["error"] == code


def test_the_warehouse_may_be_named_by_id_and_the_endpoint_is_documented(
        desk_co: LiveCompany, kit_http: httpx.Client) -> None:
    office = SyncClient.enrolled(kit_http, BOOT, user="boss", role="backoffice")
    r = ask(kit_http, office, sku="DESK", warehouse=desk_co.id("warehouse", "WH2"))
    assert r.status_code == 200 and r.json()["warehouse"] == "WH2" and r.json()["buildable"] == "0"
    doc = kit_http.get("/schema/openapi.json").json()
    assert set(doc["paths"][KITTING]["get"]["responses"]) >= {"200", "400", "401", "403", "404"}
