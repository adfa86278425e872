"""Convergence: many devices, server-side writes, partial syncs, lost and duplicated messages,
restarts and a device whose clock runs a year fast; once everyone syncs, all agree exactly.

The properties run against a ``ServerFixture`` (below), so the same tests can drive the real
server: add its fixture to ``SERVER_FIXTURES``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from shared.errors import InvalidInput
from shared.registry import DELETED, REGISTRY, Kind
from sync.hlc import HLC, physical_ms
from sync.merge import SERVER_SITE, version
from sync.ports import SeqGap, Transport, TransportError
from sync.protocol import Change, PullResponse, PushRequest, PushResponse
from sync.replica import Replica
from tests.strategies import (
    LEDGER_TABLE,
    PKS,
    Advance,
    Append,
    Edit,
    Network,
    Pull,
    Push,
    Restart,
    ServerEdit,
    Sync,
    clock_skews,
    histories,
)
from tests.sync.memory_server import MemoryServerFixture
from tests.sync.real_server import postgres_fixture, sqlite_fixture

T0 = 1_760_000_000_000  # ms: the shared "real" time the test starts at
MAX_SKEW_MS = 60_000
FORBIDDEN_DEVICE, FORBIDDEN_TABLE = 2, "product"  # device 2 may not write products
# Real SQLite files, on tmpfs where there is one: thousands of small commits, each an fsync.
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None


class AcceptedChange(Protocol):
    site: str
    table: str
    pk: str
    ts: int
    vals: dict[str, Any]
    now_ms: int  # the server's wall clock when it accepted the change


class ServerFixture(Protocol):
    """What the properties need from a server; the memory server and the real one provide it."""

    max_skew_ms: int

    def new_site(self, *, forbidden_tables: frozenset[str] = frozenset()) -> str:
        """Enrol a device (that may not write ``forbidden_tables``) and return its site."""
        ...

    def transport_for(self, site: str) -> Transport: ...

    def server_write(self, table: str, pk: str, vals: Mapping[str, Any]) -> None:
        """Write as site "server" (a back-office edit), stamped by the server's clock."""
        ...

    def dump(self) -> dict[str, dict[str, dict[str, list[Any]]]]:
        """Everything, in ``Replica.dump``'s canonical form."""
        ...

    def history(self) -> list[AcceptedChange]: ...

    def server_now_ms(self) -> int: ...


FixtureFactory = Callable[[Callable[[], int]], ServerFixture]
# the reference implementation, and the real sync service on a SQLite file and on PostgreSQL
SERVER_FIXTURES: dict[str, FixtureFactory] = {
    "memory": MemoryServerFixture, "sqlite": sqlite_fixture, "postgres": postgres_fixture}
REAL = ("sqlite", "postgres")
_OPEN: list[ServerFixture] = []


def opened(make_fixture: FixtureFactory, now_ms: Callable[[], int]) -> ServerFixture:
    """A fixture that is closed when the test ends (the real ones hold a database)."""
    fixture = make_fixture(now_ms)
    _OPEN.append(fixture)
    return fixture


@pytest.fixture(autouse=True)
def _close_fixtures() -> Iterator[None]:
    yield
    while _OPEN:
        close = getattr(_OPEN.pop(), "close", None)
        if close is not None:
            close()


def _can_forbid(fixture: ServerFixture) -> bool:
    """The memory server refuses tables per device; the real server refuses by role, which
    tests/server/test_roles.py covers over HTTP, so there every device is back office."""
    return isinstance(fixture, MemoryServerFixture)


# ---- the world: devices with clocks, faulty networks and restarts ---------------------------


class FaultyNetwork:
    """A device's network: can be offline, and can lose, duplicate or replay one request."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.online = True
        self.fault = "none"
        self.replay_index = 0
        self.lose_pull = False
        self.sent: list[PushRequest] = []

    def push(self, request: PushRequest) -> PushResponse:
        if not self.online:
            raise TransportError("offline")
        fault, self.fault = self.fault, "none"
        if fault == "lose_request":
            self.sent.append(request)  # it may still arrive later, as a replay
            raise TransportError("request lost")
        if fault == "replay" and self.sent:
            self.inner.push(self.sent[self.replay_index % len(self.sent)])  # a stale copy first
        self.sent.append(request)
        response = self.inner.push(request)
        if fault == "duplicate":
            response = self.inner.push(request)
        if fault == "lose_response":
            raise TransportError("response lost")
        return response

    def pull(self, cursor: str | None, limit: int) -> PullResponse:
        if not self.online:
            raise TransportError("offline")
        response = self.inner.pull(cursor, limit)
        if self.lose_pull:
            self.lose_pull = False
            raise TransportError("response lost")
        return response


@dataclass
class Device:
    site: str
    skew_ms: int
    path: Path
    network: FaultyNetwork
    replica: Replica
    forbidden: frozenset[str] = frozenset()


@dataclass
class World:
    fixture: ServerFixture
    devices: list[Device]
    clock: list[int]
    lww_writes: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    appends: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def now(self) -> int:
        return self.clock[0]

    def open_replica(self, site: str, path: Path, skew_ms: int) -> Replica:
        return Replica(path, site, HLC(lambda: self.clock[0] + skew_ms), max_skew_ms=MAX_SKEW_MS)

    def run(self, op: object) -> None:
        if isinstance(op, Edit):
            d = self.devices[op.device]
            d.replica.write(op.table, op.pk, op.vals)
            self.lww_writes.append((d.site, op.table, op.pk, op.vals))
        elif isinstance(op, Append):
            d = self.devices[op.device]
            try:
                d.replica.append(LEDGER_TABLE, op.pk, op.vals)
            except InvalidInput as exc:  # it already holds this id with other values
                assert exc.code == "immutable"
            else:
                self.appends.append((d.site, op.pk, op.vals))
        elif isinstance(op, ServerEdit):
            self.fixture.server_write(op.table, op.pk, op.vals)
        elif isinstance(op, Push):
            d = self.devices[op.device]
            d.network.fault, d.network.replay_index = op.fault, op.replay_index
            try:
                d.replica.push(d.network, op.batch_size)
            except TransportError:
                pass
            d.network.fault = "none"
        elif isinstance(op, Pull):
            d = self.devices[op.device]
            d.network.lose_pull = op.lose_response
            try:
                d.replica.pull(d.network, op.limit)
            except TransportError:
                pass
            d.network.lose_pull = False
        elif isinstance(op, Sync):
            d = self.devices[op.device]
            try:
                d.replica.sync(d.network)
            except TransportError:
                pass
        elif isinstance(op, Advance):
            self.clock[0] += op.ms
        elif isinstance(op, Restart):
            d = self.devices[op.device]
            d.replica.close()
            d.replica = self.open_replica(d.site, d.path, d.skew_ms)
        elif isinstance(op, Network):
            self.devices[op.device].network.online = op.online
        else:  # pragma: no cover
            raise AssertionError(op)

    def settle(self) -> None:
        """Everyone back online; everyone syncs twice (push, pull, push, pull)."""
        for d in self.devices:
            d.network.online = True
        for _ in range(2):
            for d in self.devices:
                d.replica.push(d.network)
                d.replica.pull(d.network)
        for d in self.devices:
            assert d.replica.pending_count() == 0, d.site

    def close(self) -> None:
        for d in self.devices:
            d.replica.close()


@contextmanager
def world(make_fixture: FixtureFactory, skews: list[int]) -> Iterator[World]:
    clock = [T0]
    fixture = opened(make_fixture, lambda: clock[0])
    with tempfile.TemporaryDirectory(prefix="fieldsync-conv-", dir=SCRATCH) as tmp:
        w = World(fixture, [], clock)
        for i, skew in enumerate(skews):
            forbidden = (frozenset({FORBIDDEN_TABLE}) if i == FORBIDDEN_DEVICE and _can_forbid(fixture)
                         else frozenset())
            site = fixture.new_site(forbidden_tables=forbidden)
            path = Path(tmp) / f"device-{i}.db"
            w.devices.append(Device(site, skew, path, FaultyNetwork(fixture.transport_for(site)),
                                    w.open_replica(site, path, skew), forbidden))
        try:
            yield w
        finally:
            w.close()


# ---- what must hold after everyone synced ---------------------------------------------------


def _key(vals: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(vals.items()))


def assert_everyone_equals_server(w: World) -> None:
    expected = w.fixture.dump()
    for d in w.devices:
        assert d.replica.dump() == expected, f"device {d.site} differs from the server"


def assert_no_lost_writes(w: World) -> None:
    """Every write a device may make was accepted and is reflected in the final state; every
    write it may not make was refused; the year-fast device's accepted stamps are sane."""
    history = w.fixture.history()
    accepted = {(a.site, a.table, a.pk, _key(a.vals)) for a in history}
    forbidden = {d.site: d.forbidden for d in w.devices}
    for site, table, pk, vals in w.lww_writes:
        key = (site, table, pk, _key(vals))
        assert (key in accepted) is (table not in forbidden[site]), key
    final = w.fixture.dump()
    for site, pk, vals in w.appends:
        if (site, LEDGER_TABLE, pk, _key(vals)) not in accepted:  # refused: someone was first
            stored = {n: cell[0] for n, cell in final[LEDGER_TABLE][pk].items()}
            assert stored != vals
    for a in history:
        table = REGISTRY[a.table]
        row = final[a.table][a.pk]
        if table.kind is Kind.LEDGER:
            assert {n: cell[0] for n, cell in row.items()} == a.vals
            continue
        for name, value in a.vals.items():
            column = table.column(name)
            assert column is not None
            value_now, ts_now, site_now = row[name]
            assert version(ts_now, site_now, column.rank(value_now)) >= version(
                a.ts, a.site, column.rank(value)), (a, name)
        assert physical_ms(a.ts) <= a.now_ms + w.fixture.max_skew_ms, a


def assert_fast_device_does_not_win_later_conflicts(w: World) -> None:
    """The year-fast device writes; two minutes later another device, which has not seen that
    write, writes the same cell: the later write wins everywhere."""
    fast, other = w.devices[0], w.devices[1]
    pk = PKS["customer"][0]
    fast.replica.write("customer", pk, {"name": "written by the fast device"})
    fast.replica.sync(fast.network)
    w.clock[0] += 120_000
    other.replica.write("customer", pk, {"name": "written later"})
    w.settle()
    assert w.fixture.dump()["customer"][pk]["name"][0] == "written later"
    assert_everyone_equals_server(w)


def show(skews: list[int], ops: list[Any]) -> None:
    """Print a failing history one step a line (hypothesis shows composite draws poorly)."""
    note(f"clock skews (ms): {skews}\n" + "\n".join(f"  {op!r}" for op in ops))


def report(w: World) -> None:
    """What an example exercised (see ``pytest --hypothesis-show-statistics``)."""
    server = getattr(w.fixture, "server", None)
    if server is not None:  # the memory server shows what it refused
        for reason in sorted({r.rejection.reason for r in server.refusals}):
            event(f"refused {reason}")
        if server.conflicts:
            event("status conflict")
    event(f"writes={min(len(w.lww_writes) // 5 * 5, 20)}")
    event(f"appends={min(len(w.appends), 3)}")


# ---- the properties -------------------------------------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[int], list[Any]]:
    n = draw(st.integers(5, 8))
    return draw(clock_skews(n)), draw(histories(n))


def _converge(make_fixture: FixtureFactory, scenario: tuple[list[int], list[Any]]) -> None:
    skews, ops = scenario
    show(skews, ops)
    with world(make_fixture, skews) as w:
        for op in ops:
            w.run(op)
        w.settle()
        report(w)
        assert_everyone_equals_server(w)
        assert_no_lost_writes(w)
        assert_fast_device_does_not_win_later_conflicts(w)


def _converge_after_restart(make_fixture: FixtureFactory, scenario: tuple[list[int], list[Any]]) -> None:
    """Every device restarts (fresh clock, same file) between the history and the final sync."""
    skews, ops = scenario
    show(skews, ops)
    with world(make_fixture, skews) as w:
        for op in ops:
            w.run(op)
        for i in range(len(w.devices)):
            w.run(Restart(i))
        w.settle()
        assert_everyone_equals_server(w)
        assert_no_lost_writes(w)


_SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


@settings(max_examples=300, deadline=None, suppress_health_check=_SLOW)
@given(scenario=scenarios())
def test_all_devices_converge_to_the_server_state_and_lose_no_write(scenario: tuple[list[int], list[Any]]) -> None:
    _converge(MemoryServerFixture, scenario)


@pytest.mark.parametrize("backend", REAL)
@settings(max_examples=30, deadline=None, suppress_health_check=_SLOW)
@given(scenario=scenarios())
def test_devices_and_the_real_server_converge_and_lose_no_write(
        backend: str, scenario: tuple[list[int], list[Any]]) -> None:
    _converge(SERVER_FIXTURES[backend], scenario)


@settings(max_examples=80, deadline=None, suppress_health_check=_SLOW)
@given(scenario=scenarios())
def test_devices_converge_after_a_restart_in_the_middle_of_everything(scenario: tuple[list[int], list[Any]]) -> None:
    _converge_after_restart(MemoryServerFixture, scenario)


@pytest.mark.parametrize("backend", REAL)
@settings(max_examples=10, deadline=None, suppress_health_check=_SLOW)
@given(scenario=scenarios())
def test_devices_restarting_against_the_real_server_converge(
        backend: str, scenario: tuple[list[int], list[Any]]) -> None:
    _converge_after_restart(SERVER_FIXTURES[backend], scenario)


# ---- the server fixture speaks PROTOCOL.md (what the properties above rely on) ---------------

FIXTURE_PARAMS = pytest.mark.parametrize("make_fixture", SERVER_FIXTURES.values(),
                                         ids=SERVER_FIXTURES.keys())
ROW = PKS["customer"][0]


def _ts(ms: int = T0, counter: int = 0) -> int:
    return (ms << 16) | counter


def _push(fixture: ServerFixture, site: str, *changes: tuple[int, str, str, dict[str, Any]],
          ts: int | None = None) -> PushResponse:
    return fixture.transport_for(site).push(PushRequest(site=site, changes=[
        Change(seq=seq, table=table, pk=pk, ts=ts if ts is not None else _ts(counter=seq), vals=vals)
        for seq, table, pk, vals in changes]))


@FIXTURE_PARAMS
def test_a_change_is_applied_once_however_often_it_is_sent(make_fixture: FixtureFactory) -> None:
    fixture = opened(make_fixture, lambda: T0)
    site = fixture.new_site()
    first = (1, "customer", ROW, {"name": "Ann"})
    assert _push(fixture, site, first).acked == 1
    assert _push(fixture, site, first, (2, "customer", ROW, {"phone": "555"})).acked == 2
    assert _push(fixture, site, first).acked == 2
    assert [(a.seq, a.vals) for a in fixture.history()] == [(1, {"name": "Ann"}), (2, {"phone": "555"})]


@FIXTURE_PARAMS
def test_a_batch_starting_past_the_acked_seq_is_refused_as_a_gap(make_fixture: FixtureFactory) -> None:
    fixture = opened(make_fixture, lambda: T0)
    site = fixture.new_site()
    with pytest.raises(SeqGap):
        _push(fixture, site, (2, "customer", ROW, {"name": "Ann"}))
    assert fixture.dump() == {}


@FIXTURE_PARAMS
@pytest.mark.parametrize(("table", "vals", "reason"), [
    ("invoice", {"name": "x"}, "unknown_table"),
    ("customer", {"colour": "red"}, "unknown_column"),
    ("stock_move", {DELETED: True}, "unknown_column"),
    ("product", {"standard_cost": 1.5}, "invalid_value"),
    ("product", {"kind": "borrow"}, "invalid_value"),
    ("stock_move", {"qty": "1"}, "invalid_value"),
    ("product", {"sku": "A"}, "forbidden"),
])
def test_a_change_that_cannot_be_applied_is_refused_with_its_reason_and_still_acknowledged(
        make_fixture: FixtureFactory, table: str, vals: dict[str, Any], reason: str) -> None:
    fixture = opened(make_fixture, lambda: T0)
    if reason == "forbidden" and not _can_forbid(fixture):
        table, vals, reason = "customer", {"name": 7}, "invalid_value"  # the real server forbids by role
    site = fixture.new_site(forbidden_tables=frozenset({"product"}))
    response = _push(fixture, site, (1, table, ROW, vals))
    assert response.acked == 1
    assert [(r.seq, r.reason) for r in response.rejected] == [(1, reason)]
    assert fixture.dump() == {}


@FIXTURE_PARAMS
def test_refusals_are_reported_again_when_a_batch_is_resent(make_fixture: FixtureFactory) -> None:
    """A device whose answer was lost learns its refusals from the resend, or it could never
    undo them."""
    fixture = opened(make_fixture, lambda: T0)
    site = fixture.new_site()
    batch = [(1, "customer", ROW, {"name": "Ann"}), (2, "product", PKS["product"][0], {"colour": "red"}),
             (3, "customer", ROW, {"name": "Ann"})]
    _push(fixture, site, *batch)
    again = _push(fixture, site, *batch)
    assert [(r.seq, r.reason) for r in again.rejected] == [(2, "unknown_column")]


@FIXTURE_PARAMS
def test_a_change_stamped_too_far_ahead_is_refused_as_clock_skew(make_fixture: FixtureFactory) -> None:
    fixture = opened(make_fixture, lambda: T0)
    site = fixture.new_site()
    response = _push(fixture, site, (1, "customer", ROW, {"name": "Ann"}),
                     ts=_ts(T0 + fixture.max_skew_ms + 1))
    assert [r.reason for r in response.rejected] == ["clock_skew"]
    assert physical_ms(response.server_ts) <= T0 + fixture.max_skew_ms
    ok = _push(fixture, site, (2, "customer", ROW, {"name": "Ann"}), ts=_ts(T0 + fixture.max_skew_ms))
    assert ok.rejected == []


@FIXTURE_PARAMS
def test_a_status_that_would_go_back_is_not_applied(make_fixture: FixtureFactory) -> None:
    fixture = opened(make_fixture, lambda: T0)
    site = fixture.new_site()
    order = PKS["sales_order"][0]
    _push(fixture, site, (1, "sales_order", order, {"status": "shipped"}),
          (2, "sales_order", order, {"status": "draft", "number": "SO-1"}))
    cells = fixture.dump()["sales_order"][order]
    assert (cells["status"][0], cells["number"][0]) == ("shipped", "SO-1")


@FIXTURE_PARAMS
def test_a_ledger_row_resent_unchanged_is_accepted_and_changed_is_refused_immutable(
        make_fixture: FixtureFactory) -> None:
    fixture = opened(make_fixture, lambda: T0)
    a, b = fixture.new_site(), fixture.new_site()
    row = {"product_id": PKS["product"][0], "warehouse_id": PKS["product"][1], "qty": "2",
           "kind": "receipt"}
    move = PKS[LEDGER_TABLE][0]
    assert _push(fixture, a, (1, LEDGER_TABLE, move, row)).rejected == []
    assert _push(fixture, b, (1, LEDGER_TABLE, move, row)).rejected == []
    changed = _push(fixture, b, (2, LEDGER_TABLE, move, {**row, "qty": "3"}))
    assert [r.reason for r in changed.rejected] == ["immutable"]
    assert fixture.dump()[LEDGER_TABLE][move]["qty"] == ["2", _ts(counter=1), a]


@FIXTURE_PARAMS
@pytest.mark.parametrize("limit", [1, 2, 3, 1000])
def test_pulling_until_no_more_returns_every_row_with_its_winning_stamps(
        make_fixture: FixtureFactory, limit: int) -> None:
    fixture = opened(make_fixture, lambda: T0)
    site = fixture.new_site()
    _push(fixture, site, *[(i + 1, "customer", pk, {"name": f"n{i}"})
                           for i, pk in enumerate(PKS["customer"])])
    fixture.server_write("customer", ROW, {"phone": "555"})
    transport = fixture.transport_for(site)
    cursor: str | None = None
    seen: dict[str, dict[str, list[Any]]] = {}
    for _ in range(20):
        page = transport.pull(cursor, limit)
        for ch in page.changes:
            for name, value in ch.vals.items():
                seen.setdefault(ch.pk, {})[name] = [value, ch.ts, ch.site]
        cursor = page.cursor
        if not page.more:
            break
    assert seen == fixture.dump()["customer"]
    assert seen[ROW]["phone"][2] == SERVER_SITE
    assert transport.pull(cursor, limit).changes == []
