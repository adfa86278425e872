"""Stock on hand from the ledger: the latest count sets the level, later moves add, earlier
moves are absorbed; the result never depends on the order moves arrive in."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from server.domain.inventory.onhand import Move, level, on_hand, on_hand_of

P, Q = "product-p", "product-q"
W1, W2 = "wh-1", "wh-2"
PHONE_A = "0192f0c4-0000-7000-8000-00000000000a"  # device ids are UUIDs; "server" sorts after them
PHONE_B = "0192f0c4-0000-7000-8000-00000000000b"


def mv(qty: str, kind: str, ts: int, site: str = PHONE_A, *, product: str = P, wh: str = W1,
       id: str = "") -> Move:
    return Move(product, wh, Decimal(qty), kind, ts, site, id or f"{site}:{ts}:{kind}:{qty}")


def test_without_a_count_on_hand_is_the_sum_of_the_moves() -> None:
    moves = [mv("10", "receipt", 1), mv("-3", "issue", 2), mv("-2", "delivery", 3), mv("1.5", "production_in", 4)]
    assert level(moves) == Decimal("6.5")


def test_the_latest_count_sets_the_level_and_later_moves_add() -> None:
    moves = [mv("10", "receipt", 1), mv("-4", "issue", 2), mv("20", "count", 5), mv("-3", "delivery", 6),
             mv("2", "receipt", 7)]
    assert level(moves) == Decimal(19)  # 20 counted, then -3 and +2


def test_an_older_count_is_overridden_by_a_newer_one() -> None:
    moves = [mv("50", "count", 1), mv("-10", "issue", 2), mv("7", "count", 3), mv("1", "receipt", 4)]
    assert level(moves) == Decimal(8)


def test_an_offline_count_merges_with_scans_made_elsewhere_at_the_same_time() -> None:
    """PROTOCOL.md: phone A counts the shelf offline at t=100 (it sees 30). Meanwhile phone B,
    online, scanned 5 out at t=90 (before the count: the counter saw the shelf without them)
    and 4 out at t=110 (after the count). A syncs last. On hand is 30 - 4 = 26 wherever the
    moves arrive first."""
    before = mv("40", "count", 10, PHONE_B)
    b1 = mv("-5", "issue", 90, PHONE_B)
    count = mv("30", "count", 100, PHONE_A)
    b2 = mv("-4", "delivery", 110, PHONE_B)
    server_sees_b_first = [before, b1, b2, count]
    assert level([before, b1, b2]) == Decimal(31)  # before A synced
    assert level(server_sees_b_first) == Decimal(26)
    assert level([count, b2, b1, before]) == Decimal(26)


def test_a_move_that_shares_the_count_stamp_of_another_device_is_ordered_by_site() -> None:
    count = mv("10", "count", 100, PHONE_A)
    same_ts_lower_site = mv("-1", "issue", 100, "0192f0c4-0000-7000-8000-000000000001")
    same_ts_server = mv("-2", "issue", 100, "server")  # "server" sorts after every UUID
    assert level([count, same_ts_lower_site, same_ts_server]) == Decimal(8)


def test_a_move_in_the_same_write_as_the_count_is_absorbed_by_it() -> None:
    count = mv("10", "count", 100, "server", id="b")
    same_write = mv("5", "receipt", 100, "server", id="a")
    assert level([count, same_write]) == Decimal(10)


def test_counts_with_one_stamp_are_ordered_by_id() -> None:
    assert level([mv("3", "count", 5, "server", id="a"), mv("9", "count", 5, "server", id="b")]) == Decimal(9)


def test_levels_are_per_product_and_warehouse() -> None:
    moves = [mv("5", "receipt", 1), mv("7", "count", 2, wh=W2), mv("1", "receipt", 3, product=Q),
             mv("-2", "issue", 4, wh=W2)]
    assert on_hand(moves) == {(P, W1): Decimal(5), (P, W2): Decimal(5), (Q, W1): Decimal(1)}
    assert on_hand_of(moves, Q, W2) == Decimal(0)


def test_on_hand_can_go_negative_when_more_was_scanned_out_than_in() -> None:
    assert level([mv("2", "count", 1), mv("-5", "issue", 2)]) == Decimal(-3)


# ---- order independence -------------------------------------------------------------------

SITES = (PHONE_A, PHONE_B, "server")
moves = st.builds(
    Move,
    product_id=st.sampled_from((P, Q)),
    warehouse_id=st.sampled_from((W1, W2)),
    qty=st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False),
    kind=st.sampled_from(("receipt", "issue", "delivery", "count", "count", "production_in", "production_out")),
    ts=st.integers(0, 12),  # few stamps: moves often tie with counts
    site=st.sampled_from(SITES),
    id=st.uuids().map(str),
)


@given(st.lists(moves, max_size=40), st.randoms(use_true_random=False))
def test_on_hand_does_not_depend_on_the_order_moves_arrive_in(ms: list[Move], rnd: object) -> None:
    shuffled = list(ms)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert on_hand(shuffled) == on_hand(ms)
    # a ledger row delivered twice is one row (set union by id): re-delivery changes nothing
    assert on_hand(list({m.id: m for m in ms + shuffled}.values())) == on_hand(ms)


@given(st.lists(moves, max_size=40), st.lists(moves, max_size=40))
def test_a_count_absorbs_everything_stamped_before_it(before: list[Move], after: list[Move]) -> None:
    """Whatever happened before a count, only the count and what follows it matter."""
    count = Move(P, W1, Decimal(17), "count", 100, "server", "count-id")
    late = [Move(P, W1, m.qty, m.kind if m.kind != "count" else "receipt", 101 + m.ts, m.site, m.id)
            for m in after]
    early = [Move(P, W1, m.qty, m.kind, m.ts, m.site, m.id) for m in before]
    assert level([*early, count, *late]) == Decimal(17) + sum((m.qty for m in late), Decimal(0))


def replay(ms: list[Move]) -> dict[tuple[str, str], Decimal]:
    """The rule as a story: replay moves in write order; a count sets the level, any other move
    changes it. Within one write (same ts and site) the count comes last, so it absorbs them."""
    out: dict[tuple[str, str], Decimal] = {}
    for m in sorted(ms, key=lambda m: (m.ts, m.site, m.kind == "count", m.id)):
        key = (m.product_id, m.warehouse_id)
        out[key] = m.qty if m.kind == "count" else out.get(key, Decimal(0)) + m.qty
    return out


@given(st.lists(moves, max_size=40))
def test_on_hand_equals_replaying_the_ledger_in_write_order(ms: list[Move]) -> None:
    assert on_hand(ms) == replay(ms)
