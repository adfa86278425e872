"""The hybrid logical clock: packing, monotonic stamps, folding in remote stamps, and the
correction a device learns when its clock runs far ahead of the server's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.hlc import COUNTER_BITS, HLC, MAX_TS, pack, physical_ms, too_far_ahead, unpack

T = 1_760_000_000_000
YEAR_MS = 365 * 24 * 3600 * 1000
SKEW = 60_000

ms_values = st.integers(0, (MAX_TS >> COUNTER_BITS))
counters = st.integers(0, (1 << COUNTER_BITS) - 1)


class Wall:
    """A settable wall clock in ms."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@given(ms_values, counters)
def test_pack_and_unpack_are_inverse(ms: int, counter: int) -> None:
    ts = pack(ms, counter)
    assert unpack(ts) == (ms, counter)
    assert physical_ms(ts) == ms
    assert 0 <= ts <= MAX_TS


@given(ms_values, counters, ms_values, counters)
def test_packed_stamps_sort_like_their_parts(ms1: int, c1: int, ms2: int, c2: int) -> None:
    assert (pack(ms1, c1) < pack(ms2, c2)) == ((ms1, c1) < (ms2, c2))


@pytest.mark.parametrize(("ms", "counter"), [(-1, 0), (0, -1), (0, 1 << COUNTER_BITS)])
def test_pack_refuses_what_does_not_fit(ms: int, counter: int) -> None:
    with pytest.raises(ValueError):
        pack(ms, counter)


def test_tick_follows_the_wall_clock_when_it_moves_on() -> None:
    wall = Wall(T)
    clock = HLC(wall)
    assert clock.tick() == pack(T)
    wall.now += 5
    assert clock.tick() == pack(T + 5)


@given(st.lists(st.integers(-10_000, 10_000), min_size=1, max_size=50))
def test_ticks_strictly_increase_even_when_the_wall_clock_stalls_or_goes_back(steps: list[int]) -> None:
    wall = Wall(T)
    clock = HLC(wall)
    last = clock.tick()
    for step in steps:
        wall.now += step
        ts = clock.tick()
        assert ts > last
        last = ts


def test_observing_a_later_stamp_makes_the_next_tick_sort_after_it() -> None:
    clock = HLC(Wall(T))
    remote = pack(T + 30_000, 7)
    clock.observe(remote)
    assert clock.tick() > remote


def test_observing_an_older_stamp_changes_nothing() -> None:
    clock = HLC(Wall(T))
    mine = clock.tick()
    assert clock.observe(pack(T - 1_000)) == mine
    assert clock.tick() == mine + 1


def test_a_year_fast_clock_is_corrected_to_the_servers_time() -> None:
    wall = Wall(T + YEAR_MS)
    clock = HLC(wall)
    assert physical_ms(clock.tick()) == T + YEAR_MS
    server_ts = pack(T, 3)
    assert clock.correct(server_ts, SKEW) is True
    ts = clock.tick()
    assert server_ts < ts
    assert not too_far_ahead(ts, T, SKEW)
    wall.now += 10_000  # and it keeps following the wall clock, at the server's offset
    assert T + 10_000 <= physical_ms(clock.tick()) <= T + 10_000 + SKEW // 2


def test_a_clock_within_half_the_allowed_skew_is_left_alone() -> None:
    clock = HLC(Wall(T + SKEW // 2))
    clock.tick()
    assert clock.correct(pack(T), SKEW) is False
    assert clock.offset_ms == 0


def test_correct_pulls_back_a_last_stamp_from_the_future_even_if_the_wall_clock_is_right() -> None:
    clock = HLC(Wall(T), last=pack(T + YEAR_MS))  # e.g. restored from a file written while fast
    assert clock.correct(pack(T), SKEW) is True
    assert clock.offset_ms == 0
    assert not too_far_ahead(clock.tick(), T, SKEW)


def test_too_far_ahead_is_strictly_more_than_the_allowed_skew() -> None:
    assert not too_far_ahead(pack(T + SKEW, 65_535), T, SKEW)
    assert too_far_ahead(pack(T + SKEW + 1), T, SKEW)
