"""Roles and scopes over real HTTP, on SQLite and PostgreSQL: what each kind of device may write,
what it pulls, and who may manage devices. A change outside the role is acknowledged, refused
as ``forbidden`` and never applied; rows outside the scope are never served.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import uuid_utils

from tests.server.client import SyncClient, now_ts
from tests.server.conftest import BOOT

PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"
DEVICES = "/api/v1/devices"
REJECTED = "/api/v1/sync/rejected"
CONFLICTS = "/api/v1/sync/conflicts"


def uid() -> str:
    return str(uuid_utils.uuid7())


def error_of(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}"
    body = r.json()
    assert set(body) == {"error", "detail"} and body["detail"], body
    return str(body["error"])


def push_outcome(client: SyncClient, changes: list[dict[str, Any]]) -> dict[int, str]:
    """Push a batch that must be acknowledged in full; the refused seqs and their reasons."""
    r = client.push(changes)
    assert r.status_code == 200, r.text
    assert r.json()["acked"] == changes[-1]["seq"], r.json()
    return {x["seq"]: x["reason"] for x in r.json()["rejected"]}


def allowed(client: SyncClient, *changes: dict[str, Any]) -> None:
    assert push_outcome(client, list(changes)) == {}


def forbidden(client: SyncClient, *changes: dict[str, Any]) -> None:
    got = push_outcome(client, list(changes))
    assert got == {c["seq"]: "forbidden" for c in changes}, got


def state(client: SyncClient) -> dict[tuple[str, str], dict[str, Any]]:
    """What the device pulls from the start: (table, pk) -> current cells."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        r = client.http.get(PULL, params=params, headers=client.headers)
        assert r.status_code == 200, r.text
        for ch in r.json()["changes"]:
            rows.setdefault((ch["table"], ch["pk"]), {}).update(ch["vals"])
        cursor = r.json()["cursor"]
        if not r.json()["more"]:
            return rows


def pks(rows: dict[tuple[str, str], dict[str, Any]], table: str) -> set[str]:
    return {pk for (t, pk) in rows if t == table}


# ---- sales ---------------------------------------------------------------------------------


def test_a_sales_device_writes_only_customers_it_owns(http: httpx.Client, admin: SyncClient) -> None:
    alice = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    mine, bobs = uid(), uid()
    allowed(admin, admin.change("customer", bobs, {"name": "Bob's client", "owner": "bob"}))
    allowed(alice, alice.change("customer", mine, {"name": "Mine", "phone": "1", "owner": "alice"}))
    allowed(alice, alice.change("customer", mine, {"phone": "2"}))
    forbidden(alice, alice.change("customer", bobs, {"name": "renamed by alice"}))
    forbidden(alice, alice.change("customer", bobs, {"owner": "alice"}))  # no take-over
    forbidden(alice, alice.change("customer", bobs, {"owner": "alice", "name": "now mine"}))
    forbidden(alice, alice.change("customer", mine, {"owner": "bob"}))  # nor giving away
    forbidden(alice, alice.change("customer", uid(), {"name": "for bob", "owner": "bob"}))
    forbidden(alice, alice.change("customer", uid(), {"name": "no owner"}))
    rows = state(admin)
    assert rows[("customer", bobs)] == {**rows[("customer", bobs)], "name": "Bob's client", "owner": "bob"}
    assert rows[("customer", mine)]["owner"] == "alice" and rows[("customer", mine)]["phone"] == "2"
    assert pks(rows, "customer") == {mine, bobs}
    r = http.get(REJECTED, headers=admin.headers)
    refused = [q for q in r.json() if q["site"] == alice.device_id]
    assert len(refused) == 6 and {q["reason"] for q in refused} == {"forbidden"}
    assert {q["user"] for q in refused} == {"alice"}


def test_a_sales_device_writes_its_orders_and_their_lines_but_not_another_reps(
        http: httpx.Client, admin: SyncClient) -> None:
    alice = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    customer, product, bobs_order, bobs_line = uid(), uid(), uid(), uid()
    allowed(admin,
            admin.change("customer", customer, {"name": "C", "owner": "alice"}),
            admin.change("product", product, {"name": "P", "sku": "P-1"}),
            admin.change("sales_order", bobs_order, {"owner": "bob", "status": "submitted"}),
            admin.change("sales_order_line", bobs_line, {"order_id": bobs_order, "product_id": product, "qty": "1"}))
    order, line = uid(), uid()
    allowed(alice,
            alice.change("sales_order", order, {"customer_id": customer, "owner": "alice", "status": "draft",
                                                 "due_date": "2026-06-01"}),
            alice.change("sales_order_line", line, {"order_id": order, "product_id": product, "qty": "2",
                                                    "unit_price": "9.90"}))
    allowed(alice, alice.change("sales_order_line", line, {"qty": "3"}))
    forbidden(alice, alice.change("sales_order_line", uid(), {"order_id": bobs_order, "product_id": product,
                                                               "qty": "1"}))
    forbidden(alice, alice.change("sales_order_line", bobs_line, {"qty": "100"}))
    forbidden(alice, alice.change("sales_order_line", line, {"order_id": bobs_order}))  # moving a line over
    forbidden(alice, alice.change("sales_order", bobs_order, {"status": "cancelled"}))
    forbidden(alice, alice.change("sales_order", uid(), {"owner": "bob", "status": "draft"}))
    forbidden(alice, alice.change("sales_order_line", uid(), {"qty": "1"}))  # a line of no order
    rows = state(admin)
    assert rows[("sales_order_line", line)]["qty"] == "3" and rows[("sales_order_line", line)]["order_id"] == order
    assert rows[("sales_order_line", bobs_line)]["qty"] == "1"
    assert rows[("sales_order", bobs_order)]["status"] == "submitted"
    assert pks(rows, "sales_order") == {order, bobs_order}
    assert pks(rows, "sales_order_line") == {line, bobs_line}


def test_a_line_pushed_before_its_order_in_one_batch_is_forbidden(http: httpx.Client, admin: SyncClient) -> None:
    alice = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    order = uid()
    line = alice.change("sales_order_line", uid(), {"order_id": order, "qty": "1"})
    head = alice.change("sales_order", order, {"owner": "alice", "status": "draft"})
    assert push_outcome(alice, [line, head]) == {line["seq"]: "forbidden"}
    assert pks(state(admin), "sales_order") == {order}


def test_a_sales_device_may_not_write_products_stock_or_warehouse_tables(
        http: httpx.Client, admin: SyncClient) -> None:
    alice = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    product = uid()
    allowed(admin, admin.change("product", product, {"name": "P"}))
    attempts = [
        alice.change("product", product, {"name": "cheaper"}),
        alice.change("product", uid(), {"name": "new"}),
        alice.change("product_price", uid(), {"product_id": product, "unit_price": "0.01"}),
        alice.change("stock_move", uid(), {"product_id": product, "warehouse_id": uid(), "qty": "100",
                                           "kind": "receipt"}),
        alice.change("stock_level", uid(), {"product_id": product, "on_hand": "999"}),
        alice.change("warehouse", uid(), {"code": "X"}),
        alice.change("delivery_task", uid(), {"status": "done"}),
        alice.change("purchase_receipt", uid(), {"status": "received"}),
    ]
    forbidden(alice, *attempts)
    rows = state(admin)
    assert rows[("product", product)]["name"] == "P"
    assert not any(pk == a["pk"] for a in attempts[1:] for (_, pk) in rows)


def test_a_sales_device_pulls_only_its_own_customers_orders_and_lines_all_products_and_no_stock(
        http: httpx.Client, admin: SyncClient) -> None:
    wh = uid()
    mine = {"customer": uid(), "sales_order": uid(), "sales_order_line": uid()}
    bobs = {"customer": uid(), "sales_order": uid(), "sales_order_line": uid()}
    products = {uid(), uid()}
    changes = [admin.change("warehouse", wh, {"code": "WH1", "name": "Main"})]
    changes += [admin.change("product", p, {"name": "P"}) for p in products]
    for owner, ids in (("alice", mine), ("bob", bobs)):
        changes += [
            admin.change("customer", ids["customer"], {"name": owner, "owner": owner}),
            admin.change("sales_order", ids["sales_order"], {"customer_id": ids["customer"], "owner": owner,
                                                             "status": "confirmed"}),
            admin.change("sales_order_line", ids["sales_order_line"], {"order_id": ids["sales_order"],
                                                                       "qty": "1"}),
        ]
    move, task, receipt = uid(), uid(), uid()
    changes += [
        admin.change("stock_move", move, {"product_id": next(iter(products)), "warehouse_id": wh, "qty": "4",
                                          "kind": "receipt"}),
        admin.change("delivery_task", task, {"order_id": mine["sales_order"], "warehouse_id": wh, "status": "open"}),
        admin.change("purchase_receipt", receipt, {"warehouse_id": wh, "status": "expected"}),
    ]
    allowed(admin, *changes)
    alice = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    rows = state(alice)
    for table in ("customer", "sales_order", "sales_order_line"):
        assert pks(rows, table) == {mine[table]}, table
    assert pks(rows, "product") == products
    assert pks(rows, "stock_move") == set()
    assert pks(rows, "delivery_task") == set() and pks(rows, "purchase_receipt") == set()
    assert rows[("sales_order", mine["sales_order"])]["status"] == "confirmed"
    # a customer handed over to alice is hers to pull from then on
    allowed(admin, admin.change("customer", bobs["customer"], {"owner": "alice"}))
    assert bobs["customer"] in pks(state(alice), "customer")


# ---- warehouse -----------------------------------------------------------------------------


def _two_warehouses(admin: SyncClient) -> tuple[str, str]:
    wh1, wh2 = uid(), uid()
    allowed(admin, admin.change("warehouse", wh1, {"code": "WH1", "name": "Main"}),
            admin.change("warehouse", wh2, {"code": "WH2", "name": "Annex"}))
    return wh1, wh2


def test_a_warehouse_device_appends_stock_moves_only_for_its_warehouse(
        http: httpx.Client, admin: SyncClient) -> None:
    wh1, wh2 = _two_warehouses(admin)
    scanner = SyncClient.enrolled(http, BOOT, user="sam", role="warehouse", warehouse_id=wh1)
    product = uid()
    ok = scanner.change("stock_move", uid(), {"product_id": product, "warehouse_id": wh1, "qty": "-2",
                                              "kind": "issue", "ref": "SO-1"})
    allowed(scanner, ok)
    other = scanner.change("stock_move", uid(), {"product_id": product, "warehouse_id": wh2, "qty": "5",
                                                 "kind": "receipt"})
    forbidden(scanner, other)
    forbidden(scanner, scanner.change("product", product, {"name": "renamed"}))
    forbidden(scanner, scanner.change("customer", uid(), {"name": "x", "owner": "sam"}))
    forbidden(scanner, scanner.change("sales_order", uid(), {"status": "draft"}))
    rows = state(admin)
    assert ("stock_move", ok["pk"]) in rows and ("stock_move", other["pk"]) not in rows
    assert rows[("stock_move", ok["pk"])]["qty"] == "-2"


def test_a_warehouse_device_writes_only_the_status_of_its_warehouses_tasks_and_receipts(
        http: httpx.Client, admin: SyncClient) -> None:
    wh1, wh2 = _two_warehouses(admin)
    task1, task2, receipt1, receipt2 = uid(), uid(), uid(), uid()
    allowed(admin,
            admin.change("delivery_task", task1, {"warehouse_id": wh1, "status": "open", "due_date": "2026-05-01"}),
            admin.change("delivery_task", task2, {"warehouse_id": wh2, "status": "open"}),
            admin.change("purchase_receipt", receipt1, {"warehouse_id": wh1, "status": "expected", "qty_expected": "10"}),
            admin.change("purchase_receipt", receipt2, {"warehouse_id": wh2, "status": "expected"}))
    scanner = SyncClient.enrolled(http, BOOT, user="sam", role="warehouse", warehouse_id=wh1)
    allowed(scanner, scanner.change("delivery_task", task1, {"status": "picking"}),
            scanner.change("purchase_receipt", receipt1, {"status": "receiving"}))
    forbidden(scanner,
              scanner.change("delivery_task", task2, {"status": "done"}),
              scanner.change("purchase_receipt", receipt2, {"status": "received"}),
              scanner.change("delivery_task", task1, {"due_date": "2026-01-01"}),
              scanner.change("delivery_task", task1, {"status": "done", "due_date": "2026-01-01"}),
              scanner.change("purchase_receipt", receipt1, {"qty_expected": "99"}),
              scanner.change("delivery_task", task1, {"warehouse_id": wh2}),
              scanner.change("delivery_task", uid(), {"status": "open"}),  # may not create tasks
              scanner.change("delivery_task", task1, {"_deleted": True}))
    rows = state(admin)
    assert rows[("delivery_task", task1)]["status"] == "picking"
    assert rows[("delivery_task", task1)]["due_date"] == "2026-05-01"
    assert rows[("delivery_task", task1)]["warehouse_id"] == wh1
    assert rows[("delivery_task", task2)]["status"] == "open"
    assert rows[("purchase_receipt", receipt1)]["status"] == "receiving"
    assert rows[("purchase_receipt", receipt1)]["qty_expected"] == "10"
    assert rows[("purchase_receipt", receipt2)]["status"] == "expected"
    assert rows[("delivery_task", task1)].get("_deleted") in (None, False)


def test_a_warehouse_device_pulls_only_its_warehouses_rows(http: httpx.Client, admin: SyncClient) -> None:
    wh1, wh2 = _two_warehouses(admin)
    product, customer = uid(), uid()
    m1, m2, t1, t2, r1, r2 = (uid() for _ in range(6))
    allowed(admin,
            admin.change("product", product, {"name": "P"}),
            admin.change("customer", customer, {"name": "C", "owner": "alice"}),
            admin.change("stock_move", m1, {"product_id": product, "warehouse_id": wh1, "qty": "1", "kind": "receipt"}),
            admin.change("stock_move", m2, {"product_id": product, "warehouse_id": wh2, "qty": "1", "kind": "receipt"}),
            admin.change("delivery_task", t1, {"warehouse_id": wh1, "status": "open"}),
            admin.change("delivery_task", t2, {"warehouse_id": wh2, "status": "open"}),
            admin.change("purchase_receipt", r1, {"warehouse_id": wh1, "status": "expected"}),
            admin.change("purchase_receipt", r2, {"warehouse_id": wh2, "status": "expected"}))
    scanner = SyncClient.enrolled(http, BOOT, user="sam", role="warehouse", warehouse_id=wh1)
    allowed(scanner, scanner.change("stock_move", uid(), {"product_id": product, "warehouse_id": wh1, "qty": "2",
                                                  "kind": "count"}))
    rows = state(scanner)
    assert m1 in pks(rows, "stock_move") and m2 not in pks(rows, "stock_move")
    assert len(pks(rows, "stock_move")) == 2
    assert pks(rows, "delivery_task") == {t1} and pks(rows, "purchase_receipt") == {r1}
    assert product in pks(rows, "product")
    assert pks(rows, "customer") == set() and pks(rows, "sales_order") == set()


# ---- back office and device management -----------------------------------------------------


def test_back_office_may_write_every_table(http: httpx.Client, admin: SyncClient) -> None:
    wh, product, customer, order = uid(), uid(), uid(), uid()
    allowed(admin,
            admin.change("warehouse", wh, {"code": "WH", "name": "W"}),
            admin.change("product", product, {"sku": "S", "name": "P", "barcode": "123", "uom": "pc", "kind": "buy"}),
            admin.change("product_price", uid(), {"product_id": product, "unit_price": "2.50", "currency": "EUR"}),
            admin.change("stock_level", uid(), {"product_id": product, "warehouse_id": wh, "on_hand": "3"}),
            admin.change("customer", customer, {"name": "C", "owner": "anyone"}),
            admin.change("sales_order", order, {"customer_id": customer, "owner": "anyone", "status": "draft"}),
            admin.change("sales_order_line", uid(), {"order_id": order, "product_id": product, "qty": "1"}),
            admin.change("stock_move", uid(), {"product_id": product, "warehouse_id": wh, "qty": "1", "kind": "count"}),
            admin.change("delivery_task", uid(), {"order_id": order, "warehouse_id": wh, "status": "open"}),
            admin.change("purchase_receipt", uid(), {"warehouse_id": wh, "product_id": product, "status": "expected"}))
    allowed(admin, admin.change("customer", customer, {"owner": "someone else"}))


@pytest.mark.parametrize("role", ["sales", "warehouse"])
def test_only_back_office_manages_devices_and_reads_the_quarantine(
        http: httpx.Client, admin: SyncClient, role: str) -> None:
    wh = uid()
    allowed(admin, admin.change("warehouse", wh, {"code": "WH1", "name": "Main"}))
    dev = SyncClient.enrolled(http, BOOT, user="u", role=role, warehouse_id=wh if role == "warehouse" else None)
    victim = SyncClient.enrolled(http, BOOT, user="v", role="sales")
    h = dev.headers
    assert error_of(http.post(DEVICES, json={"user": "x", "role": "backoffice"}, headers=h), 403)
    assert error_of(http.get(DEVICES, headers=h), 403)
    assert error_of(http.delete(f"{DEVICES}/{victim.device_id}", headers=h), 403)
    assert error_of(http.delete(f"{DEVICES}/{dev.device_id}", headers=h), 403)
    assert error_of(http.get(REJECTED, headers=h), 403)
    assert error_of(http.get(CONFLICTS, headers=h), 403)
    assert http.get(PULL, headers=victim.headers).status_code == 200  # still enrolled
    assert [d for d in http.get(DEVICES, headers=admin.headers).json() if d["user"] == "x"] == []
    assert http.get(DEVICES, headers=admin.headers).status_code == 200
    assert http.delete(f"{DEVICES}/{victim.device_id}", headers=admin.headers).status_code == 204


def test_pushing_as_another_devices_site_is_403_and_writes_nothing(http: httpx.Client, admin: SyncClient) -> None:
    alice = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    pk = uid()
    change = {"seq": 1, "table": "product", "pk": pk, "ts": now_ts(), "vals": {"name": "spoofed"}}
    r = http.post(PUSH, json={"site": admin.device_id, "changes": [change]}, headers=alice.headers)
    assert error_of(r, 403)
    r = http.post(PUSH, json={"site": "server", "changes": [change]}, headers=alice.headers)
    assert error_of(r, 403)
    assert ("product", pk) not in state(admin)
    devices = {d["id"]: d for d in http.get(DEVICES, headers=admin.headers).json()}
    assert devices[admin.device_id]["acked_seq"] == 0 and devices[alice.device_id]["acked_seq"] == 0


def test_a_revoked_devices_token_is_401_on_push_and_pull(http: httpx.Client, admin: SyncClient) -> None:
    alice = SyncClient.enrolled(http, BOOT, user="alice", role="sales")
    allowed(alice, alice.change("customer", uid(), {"name": "C", "owner": "alice"}))
    assert http.delete(f"{DEVICES}/{alice.device_id}", headers=admin.headers).status_code == 204
    pk = uid()
    assert error_of(alice.push([alice.change("customer", pk, {"name": "late", "owner": "alice"})]), 401)
    assert error_of(http.get(PULL, headers=alice.headers), 401)
    assert ("customer", pk) not in state(admin)
    assert http.delete(f"{DEVICES}/{alice.device_id}", headers=admin.headers).status_code in (204, 404)
    assert error_of(http.get(PULL, headers=alice.headers), 401)  # revoking twice does not revive it
    [row] = [d for d in http.get(DEVICES, headers=admin.headers).json() if d["id"] == alice.device_id]
    assert row["revoked_at"] is not None
    for name in ("created_at", "enrolled_at", "revoked_at", "last_seen_at"):  # in UTC on both databases
        assert dt.datetime.fromisoformat(row[name]).utcoffset() == dt.timedelta(0), (name, row[name])


AUTHENTICATED = [("POST", PUSH), ("GET", PULL), ("GET", REJECTED), ("GET", CONFLICTS), ("GET", DEVICES),
                 ("POST", DEVICES), ("DELETE", f"{DEVICES}/{'0' * 8}-0000-7000-8000-{'0' * 12}")]


def test_no_wrong_or_malformed_authorization_is_401_everywhere(http: httpx.Client, admin: SyncClient) -> None:
    headers: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer not-a-real-token"},
        {"Authorization": f"Bearer {admin.token}x"},
        {"Authorization": f"Bearer {admin.token[:-1]}"},
        {"Authorization": admin.token},
        {"Authorization": f"Basic {admin.token}"},
        {"Authorization": f"Token {admin.token}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {'a' * 5000}"},
        {"Authorization": f"Bearer {admin.token}, Bearer {admin.token}"},
        {"Authorization": "Bearer ' OR '1'='1"},
    ]
    body = {"site": admin.device_id, "changes": []}
    failures = []
    for method, path in AUTHENTICATED:
        for h in headers:
            r = http.request(method, path, headers=h,
                             json=body if path == PUSH else {"user": "x", "role": "sales"} if method == "POST" else None)
            if r.status_code != 401 or set(r.json()) != {"error", "detail"}:
                failures.append(f"{method} {path} with {h}: {r.status_code} {r.text[:120]}")
    assert failures == [], "\n".join(failures)
    assert http.get(PULL, headers=admin.headers).status_code == 200
