"""Who wins a cell: versions ``(rank, ts, site)``, status ranks, the site tie-break, and the byte
form the server compares in SQL, which must order exactly like the tuples."""

from __future__ import annotations

import itertools
import uuid

import uuid_utils
from hypothesis import given
from hypothesis import strategies as st

from shared.registry import REGISTRY
from sync.merge import (
    SERVER_SITE,
    site_from_bytes,
    version,
    version_bytes,
    version_from_bytes,
    wins,
)
from sync.outbox import winner

SITE_A = "018f0000-0000-7000-8000-000000000001"
SITE_B = "018f0000-0000-7000-8000-000000000002"

# Device sites are UUIDv7 (v4 in some tests); the all-ones UUID, which is neither, would collide
# with the server's byte form, so it is not drawn.
sites = st.one_of(st.uuids(version=4).map(str), st.builds(lambda: str(uuid_utils.uuid7())),
                  st.just(SERVER_SITE))
stamps = st.integers(0, (1 << 63) - 1)
ranks = st.integers(0, 255)


def test_a_later_stamp_wins() -> None:
    assert wins(version(11, SITE_A), version(10, SITE_B))
    assert not wins(version(10, SITE_B), version(11, SITE_A))


def test_equal_stamps_are_broken_by_site_and_the_server_beats_every_device() -> None:
    assert wins(version(10, SITE_B), version(10, SITE_A))
    assert wins(version(10, SERVER_SITE), version(10, "ffffffff-ffff-ffff-ffff-ffffffffffff"))


def test_the_same_write_again_does_not_win_so_applying_twice_changes_nothing() -> None:
    assert not wins(version(10, SITE_A), version(10, SITE_A))
    assert wins(version(10, SITE_A), None)


def test_a_further_status_beats_a_later_stamp_of_an_earlier_status() -> None:
    status = REGISTRY["sales_order"].by_name["status"]
    shipped = version(10, SITE_A, status.rank("shipped"))
    draft_later = version(99, SITE_B, status.rank("draft"))
    assert wins(shipped, draft_later)
    assert not wins(draft_later, shipped)


def test_winner_keeps_the_furthest_status_and_lww_for_plain_columns() -> None:
    orders = REGISTRY["sales_order"]
    cells = [("confirmed", 5, SITE_A), ("draft", 9, SITE_B), None]
    assert winner(orders, "status", cells) == ("confirmed", 5, SITE_A)
    assert winner(orders, "number", [("A-1", 5, SITE_A), ("A-2", 9, SITE_B)]) == ("A-2", 9, SITE_B)
    assert winner(orders, "number", [None, None]) is None


STATES = (*REGISTRY["sales_order"].by_name["status"].states, None)


@given(st.lists(st.tuples(st.sampled_from(STATES),
                          st.integers(0, 20), st.sampled_from([SITE_A, SITE_B, SERVER_SITE])),
                max_size=5))
def test_the_winner_does_not_depend_on_the_order_writes_arrive_in(cells: list[tuple[object, int, str]]) -> None:
    orders = REGISTRY["sales_order"]
    results = {winner(orders, "status", list(p)) for p in itertools.permutations(cells)}
    assert len(results) == 1


@given(ranks, stamps, sites, ranks, stamps, sites)
def test_byte_order_is_the_tuple_order(r1: int, t1: int, s1: str, r2: int, t2: int, s2: str) -> None:
    a, b = version(t1, s1, r1), version(t2, s2, r2)
    ab, bb = version_bytes(t1, s1, r1), version_bytes(t2, s2, r2)
    assert (a < b) == (ab < bb)
    assert (a == b) == (ab == bb)


@given(ranks, stamps, sites)
def test_versions_survive_the_byte_form(rank: int, ts: int, site: str) -> None:
    assert version_from_bytes(version_bytes(ts, site, rank)) == version(ts, site, rank)


def test_site_bytes_round_trip_for_the_server_and_devices() -> None:
    site = str(uuid.uuid4())
    assert site_from_bytes(version_bytes(1, site)[9:]) == site
    assert site_from_bytes(version_bytes(1, SERVER_SITE)[9:]) == SERVER_SITE
