"""The device replica: local reads and writes, tombstones, undoing what the server refuses,
re-stamping after clock skew, and surviving restarts, lost answers and crashes mid-pull."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.errors import InvalidInput
from shared.registry import DELETED, REGISTRY, TABLES, Column
from shared.values import ColType
from sync.hlc import HLC, physical_ms
from sync.ports import SeqGap, TransportError
from sync.protocol import PullResponse, PushRequest, PushResponse
from sync.replica import Replica
from tests.sync.memory_server import MemoryServer, MemoryTransport

T = 1_760_000_000_000
YEAR_MS = 365 * 24 * 3600 * 1000
SKEW = 60_000


def new_id() -> str:
    return str(uuid.uuid4())


PRODUCT, CUSTOMER, ORDER, MOVE = new_id(), new_id(), new_id(), new_id()
WAREHOUSE = new_id()


def move(qty: str = "5", ref: str = "scan-1") -> dict[str, Any]:
    return {"product_id": PRODUCT, "warehouse_id": WAREHOUSE, "qty": qty, "kind": "receipt",
            "ref": ref}


class Wall:
    def __init__(self) -> None:
        self.now = T

    def __call__(self) -> int:
        return self.now


class Flaky:
    """A transport that loses the next answer(s) after the server handled the request."""

    def __init__(self, inner: MemoryTransport) -> None:
        self.inner = inner
        self.lose_push = 0
        self.fail_pull_after = -1  # pages to deliver before the next pull fails
        self.pulled = 0

    def push(self, request: PushRequest) -> PushResponse:
        response = self.inner.push(request)
        if self.lose_push:
            self.lose_push -= 1
            raise TransportError("response lost")
        return response

    def pull(self, cursor: str | None, limit: int) -> PullResponse:
        if self.fail_pull_after == 0:
            self.fail_pull_after = -1
            raise TransportError("connection reset")
        self.fail_pull_after -= 1
        response = self.inner.pull(cursor, limit)
        self.pulled += len(response.changes)
        return response


@dataclasses.dataclass
class Device:
    site: str
    replica: Replica
    net: Flaky
    path: Path


class Env:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.wall = Wall()
        self.server = MemoryServer(self.wall)
        self.devices: list[Device] = []

    def device(self, *, skew_ms: int = 0, forbidden: set[str] | None = None,
               tables: tuple[Any, ...] = TABLES) -> Device:
        site = new_id()
        if forbidden:
            self.server.forbidden[site] = forbidden
        path = self.tmp / f"{site}.db"
        replica = self.open(path, site, skew_ms, tables)
        d = Device(site, replica, Flaky(MemoryTransport(self.server, site)), path)
        self.devices.append(d)
        return d

    def open(self, path: Path, site: str, skew_ms: int = 0,
             tables: tuple[Any, ...] = TABLES) -> Replica:
        return Replica(path, site, HLC(lambda: self.wall.now + skew_ms), tables=tables,
                       max_skew_ms=SKEW)

    def reopen(self, d: Device, skew_ms: int = 0) -> None:
        d.replica.close()
        d.replica = self.open(d.path, d.site, skew_ms)

    def close(self) -> None:
        for d in self.devices:
            d.replica.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.close()


# ---- local writes and reads -------------------------------------------------------------------


def test_a_local_write_shows_at_once_in_wire_form_and_is_queued(env: Env) -> None:
    r = env.device().replica
    seq = r.write("product", PRODUCT, {"sku": "BOLT-8", "standard_cost": "12.50",
                                        "lead_time_days": 3})
    assert seq == 1
    assert r.get("product", PRODUCT) == {
        "id": PRODUCT, "sku": "BOLT-8", "name": None, "barcode": None, "uom": None, "kind": None,
        "lead_time_days": 3, "safety_stock": None, "standard_cost": "12.50",
        "lot_rule": None, "lot_qty": None}
    assert r.write("product", PRODUCT, {"name": "Bolt"}) == 2
    assert [row["name"] for row in r.rows("product")] == ["Bolt"]
    assert r.pending_count() == 2
    assert r.acked_seq == 0


def test_ids_and_values_are_kept_in_their_canonical_form(env: Env) -> None:
    r = env.device().replica
    r.write("sales_order", ORDER.upper(), {"customer_id": CUSTOMER.upper(), "due_date": "2026-03-01"})
    row = r.get("sales_order", ORDER)
    assert row is not None
    assert row["id"] == ORDER
    assert row["customer_id"] == CUSTOMER


@pytest.mark.parametrize(("table", "pk", "vals", "code"), [
    ("invoice", PRODUCT, {"x": 1}, "unknown_table"),
    ("product", PRODUCT, {"colour": "red"}, "unknown_column"),
    ("product", PRODUCT, {"standard_cost": 1.5}, "invalid_value"),  # a float is never money
    ("product", PRODUCT, {"kind": "borrow"}, "invalid_value"),
    ("product", "not-a-uuid", {"sku": "A"}, "invalid_value"),
    ("product", PRODUCT, {DELETED: None}, "invalid_value"),
    ("product", PRODUCT, {}, "invalid_value"),
    ("stock_move", MOVE, {"qty": "1"}, "invalid_value"),  # a ledger is written with append()
])
def test_bad_input_is_refused_before_it_is_queued(env: Env, table: str, pk: str,
                                                  vals: dict[str, Any], code: str) -> None:
    r = env.device().replica
    with pytest.raises(InvalidInput) as caught:
        r.write(table, pk, vals)
    assert caught.value.code == code
    assert r.pending_count() == 0


def test_a_ledger_row_needs_its_required_columns_and_an_lww_table_cannot_be_appended_to(env: Env) -> None:
    r = env.device().replica
    with pytest.raises(InvalidInput, match="required"):
        r.append("stock_move", MOVE, {"product_id": PRODUCT, "qty": "1", "kind": "receipt"})
    with pytest.raises(InvalidInput):
        r.append("product", PRODUCT, {"sku": "A"})
    assert r.pending_count() == 0


def test_a_ledger_row_holds_every_column_and_its_stamp(env: Env) -> None:
    r = env.device().replica
    r.append("stock_move", MOVE, move())
    row = r.get("stock_move", MOVE)
    assert row is not None
    assert {k: row[k] for k in ("qty", "kind", "reason")} == {"qty": "5", "kind": "receipt",
                                                              "reason": None}
    assert physical_ms(row["ts"]) == T


def test_a_deleted_row_is_hidden_and_a_later_write_revives_it_everywhere(env: Env) -> None:
    a, b = env.device(), env.device()
    a.replica.write("customer", CUSTOMER, {"name": "Ann", "owner": "alice"})
    a.replica.delete("customer", CUSTOMER)
    assert a.replica.get("customer", CUSTOMER) is None
    assert a.replica.rows("customer") == []
    hidden = a.replica.get("customer", CUSTOMER, include_deleted=True)
    assert hidden is not None and hidden[DELETED] is True and hidden["name"] == "Ann"
    a.replica.sync(a.net)
    b.replica.sync(b.net)
    assert b.replica.get("customer", CUSTOMER) is None
    env.wall.now += 1_000
    b.replica.write("customer", CUSTOMER, {DELETED: False, "phone": "555"})
    b.replica.sync(b.net)
    a.replica.sync(a.net)
    assert a.replica.get("customer", CUSTOMER) == {
        "id": CUSTOMER, "name": "Ann", "phone": "555", "address": None, "owner": "alice", "code": None}
    assert a.replica.dump() == b.replica.dump() == env.server.dump()


def test_edits_of_different_columns_on_two_devices_both_survive(env: Env) -> None:
    a, b = env.device(), env.device()
    a.replica.write("customer", CUSTOMER, {"name": "Ann"})
    b.replica.write("customer", CUSTOMER, {"phone": "555"})
    for d in (a, b, a):
        d.replica.sync(d.net)
    row = a.replica.get("customer", CUSTOMER)
    assert row is not None and (row["name"], row["phone"]) == ("Ann", "555")
    assert a.replica.dump() == b.replica.dump() == env.server.dump()


def test_a_status_that_would_go_back_is_queued_but_not_shown_and_the_server_records_it(env: Env) -> None:
    d = env.device()
    d.replica.write("sales_order", ORDER, {"status": "confirmed"})
    d.replica.sync(d.net)
    d.replica.write("sales_order", ORDER, {"status": "draft"})
    assert d.replica.get("sales_order", ORDER)["status"] == "confirmed"  # type: ignore[index]
    assert d.replica.pending_count() == 1
    d.replica.sync(d.net)
    assert [(c.current, c.attempted) for c in env.server.conflicts] == [("confirmed", "draft")]
    assert d.replica.dump() == env.server.dump()
    assert env.server.dump()["sales_order"][ORDER]["status"][0] == "confirmed"


# ---- undoing what the server refuses ----------------------------------------------------------


def test_a_refused_edit_is_undone_and_the_servers_value_comes_back(env: Env) -> None:
    env.server.server_write("product", PRODUCT, {"sku": "S-1"})
    d = env.device(forbidden={"product"})
    d.replica.pull(d.net)
    d.replica.write("product", PRODUCT, {"sku": "MINE", "name": "Mine"})
    assert d.replica.get("product", PRODUCT)["sku"] == "MINE"  # type: ignore[index]
    result = d.replica.push(d.net)
    assert [r.reason for r in result.rejected] == ["forbidden"]
    row = d.replica.get("product", PRODUCT)
    assert row is not None and (row["sku"], row["name"]) == ("S-1", None)
    assert d.replica.pending_count() == 0
    assert d.replica.dump() == env.server.dump()


def test_a_refused_new_row_disappears(env: Env) -> None:
    d = env.device(forbidden={"product"})
    d.replica.write("product", PRODUCT, {"sku": "MINE"})
    d.replica.push(d.net)
    assert d.replica.get("product", PRODUCT, include_deleted=True) is None
    assert d.replica.dump() == {}


def test_a_value_pulled_under_a_pending_edit_is_what_a_refusal_falls_back_to(env: Env) -> None:
    d = env.device(forbidden={"product"})
    env.server.server_write("product", PRODUCT, {"sku": "S-1"})
    env.wall.now += 1_000
    d.replica.write("product", PRODUCT, {"sku": "MINE"})  # later than the server's write
    d.replica.pull(d.net)
    assert d.replica.get("product", PRODUCT)["sku"] == "MINE"  # type: ignore[index]
    d.replica.push(d.net)
    assert d.replica.get("product", PRODUCT)["sku"] == "S-1"  # type: ignore[index]
    assert d.replica.dump() == env.server.dump()


def test_a_refusal_whose_answer_was_lost_is_learnt_from_the_resend_and_undone(env: Env) -> None:
    d = env.device(forbidden={"product"})
    d.replica.write("product", PRODUCT, {"sku": "MINE"})
    d.net.lose_push = 1
    with pytest.raises(TransportError):
        d.replica.push(d.net)
    assert d.replica.pending_count() == 1
    result = d.replica.push(d.net)
    assert [r.reason for r in result.rejected] == ["forbidden"]
    assert d.replica.get("product", PRODUCT) is None


def test_a_column_an_older_server_does_not_know_is_refused_and_undone(env: Env) -> None:
    customer = REGISTRY["customer"]
    newer = dataclasses.replace(customer, columns=(*customer.columns, Column("nickname", ColType.TEXT)))
    tables = tuple(newer if t.name == "customer" else t for t in TABLES)
    d = env.device(tables=tables)
    d.replica.write("customer", CUSTOMER, {"name": "Ann", "nickname": "annie"})
    result = d.replica.push(d.net)
    assert [r.reason for r in result.rejected] == ["unknown_column"]
    assert d.replica.get("customer", CUSTOMER) is None


def test_what_this_app_does_not_know_is_skipped_when_pulling(env: Env) -> None:
    customer = REGISTRY["customer"]
    newer = dataclasses.replace(customer, columns=(*customer.columns, Column("nickname", ColType.TEXT)))
    env.server.registry["customer"] = newer
    env.server.server_write("customer", CUSTOMER, {"name": "Ann", "nickname": "annie"})
    d = env.device()
    assert d.replica.pull(d.net) == 1
    assert d.replica.get("customer", CUSTOMER)["name"] == "Ann"  # type: ignore[index]


# ---- ledgers ------------------------------------------------------------------------------


def test_the_same_ledger_id_with_other_values_is_refused_and_the_first_row_wins_everywhere(env: Env) -> None:
    a, b = env.device(), env.device()
    a.replica.append("stock_move", MOVE, move(qty="5"))
    b.replica.append("stock_move", MOVE, move(qty="7"))
    a.replica.sync(a.net)
    result = b.replica.sync(b.net)
    assert [r.reason for r in result.rejected] == ["immutable"]
    assert b.replica.get("stock_move", MOVE)["qty"] == "5"  # type: ignore[index]
    assert a.replica.dump() == b.replica.dump() == env.server.dump()


def test_a_refused_ledger_row_is_deleted_until_the_servers_row_is_pulled(env: Env) -> None:
    a, b = env.device(), env.device()
    a.replica.append("stock_move", MOVE, move(qty="5"))
    a.replica.sync(a.net)
    b.replica.append("stock_move", MOVE, move(qty="7"))
    b.replica.push(b.net)
    assert b.replica.get("stock_move", MOVE) is None
    b.replica.pull(b.net)
    assert b.replica.dump() == env.server.dump()


def test_the_same_ledger_row_from_two_devices_is_kept_once_with_the_first_stamp(env: Env) -> None:
    a, b = env.device(), env.device()
    a.replica.append("stock_move", MOVE, move())
    env.wall.now += 10
    b.replica.append("stock_move", MOVE, move())
    for d in (a, b, a):
        d.replica.sync(d.net)
    assert env.server.dump()["stock_move"][MOVE]["qty"][2] == a.site
    assert a.replica.dump() == b.replica.dump() == env.server.dump()


def test_appending_a_known_id_with_other_values_is_refused_on_the_device(env: Env) -> None:
    d = env.device()
    d.replica.append("stock_move", MOVE, move(qty="5"))
    d.replica.append("stock_move", MOVE, move(qty="5"))  # the same again is harmless
    with pytest.raises(InvalidInput) as caught:
        d.replica.append("stock_move", MOVE, move(qty="6"))
    assert caught.value.code == "immutable"
    d.replica.sync(d.net)
    assert d.replica.dump() == env.server.dump()


# ---- clocks -----------------------------------------------------------------------------------


def test_a_year_fast_device_is_re_stamped_and_loses_nothing(env: Env) -> None:
    fast = env.device(skew_ms=YEAR_MS)
    fast.replica.write("customer", CUSTOMER, {"name": "first", "owner": "alice"})
    fast.replica.write("customer", CUSTOMER, {"name": "second"})
    fast.replica.write("sales_order", ORDER, {"status": "submitted", "customer_id": CUSTOMER})
    fast.replica.append("stock_move", MOVE, move())
    result = fast.replica.push(fast.net, batch_size=1)
    # only the first change reached the server with the fast stamp; the rest never left the
    # device and were re-stamped in place
    assert [r.rejection.reason for r in env.server.refusals] == ["clock_skew"]
    assert result.rejected == ()
    assert result.restamped == 4
    assert fast.replica.pending_count() == 0
    fast.replica.pull(fast.net)
    dump = env.server.dump()
    assert fast.replica.dump() == dump
    assert dump["customer"][CUSTOMER]["name"][0] == "second"
    assert dump["customer"][CUSTOMER]["owner"][0] == "alice"
    assert dump["sales_order"][ORDER]["status"][0] == "submitted"
    assert "stock_move" in dump
    for a in env.server.accepted:
        assert physical_ms(a.ts) <= T + SKEW


def test_a_fast_device_loses_to_a_later_write_from_another_device(env: Env) -> None:
    fast, other = env.device(skew_ms=YEAR_MS), env.device()
    fast.replica.write("customer", CUSTOMER, {"name": "fast"})
    fast.replica.sync(fast.net)
    env.wall.now += 5_000
    other.replica.write("customer", CUSTOMER, {"name": "later"})  # has not seen "fast"
    other.replica.sync(other.net)
    fast.replica.sync(fast.net)
    assert fast.replica.get("customer", CUSTOMER)["name"] == "later"  # type: ignore[index]
    env.wall.now += 5_000
    fast.replica.write("customer", CUSTOMER, {"name": "fast again"})  # and it can still win later
    fast.replica.sync(fast.net)
    other.replica.sync(other.net)
    assert other.replica.get("customer", CUSTOMER)["name"] == "fast again"  # type: ignore[index]


def test_a_fast_device_that_lost_the_skew_answer_still_ends_up_re_stamped(env: Env) -> None:
    fast = env.device(skew_ms=YEAR_MS)
    fast.replica.write("customer", CUSTOMER, {"name": "fast"})
    fast.net.lose_push = 1
    with pytest.raises(TransportError):
        fast.replica.push(fast.net)
    fast.replica.sync(fast.net)
    assert fast.replica.pending_count() == 0
    assert env.server.dump()["customer"][CUSTOMER]["name"][0] == "fast"
    assert fast.replica.dump() == env.server.dump()


# ---- restarts, lost answers and crashes -------------------------------------------------------


def test_the_outbox_survives_reopening_the_file(env: Env) -> None:
    d = env.device()
    d.replica.write("customer", CUSTOMER, {"name": "Ann"})
    d.replica.append("stock_move", MOVE, move())
    env.reopen(d)
    assert d.replica.pending_count() == 2
    assert d.replica.write("customer", CUSTOMER, {"phone": "555"}) == 3
    d.replica.sync(d.net)
    assert d.replica.acked_seq == 3
    assert [a.seq for a in env.server.accepted] == [1, 2, 3]
    assert d.replica.dump() == env.server.dump()


def test_the_cursor_survives_reopening_the_file(env: Env) -> None:
    env.server.server_write("product", PRODUCT, {"sku": "A"})
    d = env.device()
    d.replica.pull(d.net)
    cursor = d.replica.cursor
    assert cursor is not None
    env.reopen(d)
    assert d.replica.cursor == cursor
    env.server.server_write("warehouse", WAREHOUSE, {"code": "W1"})
    d.net.pulled = 0
    d.replica.pull(d.net)
    assert d.net.pulled == 1  # only what is new since the stored cursor
    assert d.replica.dump() == env.server.dump()


def test_the_clock_never_goes_back_across_a_restart(env: Env) -> None:
    d = env.device()
    d.replica.write("customer", CUSTOMER, {"name": "before"})
    env.wall.now -= 3_600_000  # the device's clock is set back an hour while it is off
    env.reopen(d)
    d.replica.write("customer", CUSTOMER, {"name": "after"})
    d.replica.sync(d.net)
    assert d.replica.get("customer", CUSTOMER)["name"] == "after"  # type: ignore[index]


def test_a_lost_push_answer_is_retried_and_the_change_applied_once(env: Env) -> None:
    d = env.device()
    d.replica.write("customer", CUSTOMER, {"name": "Ann"})
    d.net.lose_push = 1
    with pytest.raises(TransportError):
        d.replica.push(d.net)
    assert (d.replica.pending_count(), d.replica.acked_seq) == (1, 0)
    assert d.replica.push(d.net).acked == 1
    assert d.replica.pending_count() == 0
    assert len(env.server.accepted) == 1


def test_a_crash_mid_pull_never_stores_a_cursor_past_its_rows(env: Env) -> None:
    for i in range(5):
        env.server.server_write("warehouse", new_id(), {"code": f"W{i}"})
    d = env.device()
    d.net.fail_pull_after = 2
    with pytest.raises(TransportError):
        d.replica.pull(d.net, limit=1)
    assert d.replica.cursor is not None
    assert len(d.replica.rows("warehouse")) == int(d.replica.cursor) == 2
    env.reopen(d)
    d.replica.pull(d.net, limit=2)
    assert d.replica.dump() == env.server.dump()


def test_the_next_page_is_fetched_while_one_merges_and_a_failed_merge_stores_nothing(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(6):
        env.server.server_write("warehouse", new_id(), {"code": f"W{i}"})
    d = env.device()
    asked: list[str | None] = []
    answered: list[str] = []
    third_asked = threading.Event()
    inner_pull = d.net.pull

    def pull(cursor: str | None, limit: int) -> PullResponse:
        asked.append(cursor)
        response = inner_pull(cursor, limit)
        answered.append(response.cursor)
        if len(asked) == 3:
            third_asked.set()
        return response

    monkeypatch.setattr(d.net, "pull", pull)
    merge = d.replica._merge_page
    merged_pages = 0

    def failing_merge(changes: Any) -> None:
        nonlocal merged_pages
        if merged_pages == 1:
            # page 3 is asked for while page 2 merges (a replica that fetched in turn would
            # only ask after this merge, and this wait would run out)
            assert third_asked.wait(timeout=10)
            raise OSError("disk full")
        merge(changes)
        merged_pages += 1

    monkeypatch.setattr(d.replica, "_merge_page", failing_merge)
    with pytest.raises(OSError, match="disk full"):
        d.replica.pull(d.net, limit=2)
    # page 1 stored with its cursor; page 2 failed and stored nothing; page 3 was fetched ahead
    # (with the cursor the server gave for page 2) and dropped
    assert len(d.replica.rows("warehouse")) == 2 and d.replica.cursor == answered[0]
    assert asked == [None, answered[0], answered[1]]
    monkeypatch.setattr(d.replica, "_merge_page", merge)
    d.replica.pull(d.net, limit=2)
    assert d.replica.dump() == env.server.dump()


def test_a_server_that_lost_acknowledged_changes_answers_gap_and_the_outbox_is_kept(env: Env) -> None:
    d = env.device()
    d.replica.write("customer", CUSTOMER, {"name": "Ann"})
    d.replica.push(d.net)
    env.server.acked[d.site] = 0  # restored from an old backup
    d.replica.write("customer", CUSTOMER, {"name": "Bea"})
    with pytest.raises(SeqGap):
        d.replica.push(d.net)
    assert d.replica.pending_count() == 1


def test_a_replica_file_belongs_to_one_site(env: Env) -> None:
    d = env.device()
    d.replica.close()
    with pytest.raises(ValueError, match="belongs to site"):
        env.open(d.path, new_id())
    d.replica = env.open(d.path, d.site)


def test_sites_must_be_lowercase_uuids(tmp_path: Path) -> None:
    for site in ("server", "not-a-uuid", new_id().upper()):
        with pytest.raises(ValueError):
            Replica(tmp_path / "x.db", site, HLC(Wall()))
