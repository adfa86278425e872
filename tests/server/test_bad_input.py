"""Hostile, malformed and tricky input over real HTTP, on SQLite and PostgreSQL.

Every refusal is a 4xx carrying the error body of PROTOCOL.md (``{"error", "detail"}``), never a
500 or 503; a refused push leaves nothing half-written (the device's ``acked`` does not move and
no row of the batch can be pulled); a value-level problem inside a valid push is a per-change
rejection that is acknowledged, quarantined with who sent it, and never applied. The push
semantics a real outbox relies on (lost responses, overlaps, gaps, clock skew, ledgers, status
order, tombstones, MessagePack) are proved here through the same HTTP surface.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import msgspec
import uuid_utils

from tests.server.client import SyncClient, now_ts
from tests.server.conftest import BOOT

PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"
DEVICES = "/api/v1/devices"
ENROL = "/api/v1/devices/enrol"
REJECTED = "/api/v1/sync/rejected"
CONFLICTS = "/api/v1/sync/conflicts"
HEALTH = "/api/v1/health"
JSON = "application/json"
MSGPACK = "application/msgpack"
SECOND_MS = 1000
YEAR_MS = 365 * 24 * 3600 * SECOND_MS


def uid() -> str:
    return str(uuid_utils.uuid7())


def decoded(r: httpx.Response) -> Any:
    if r.headers.get("content-type", "").startswith(MSGPACK):
        return msgspec.msgpack.decode(r.content)
    return r.json()


def refused(r: httpx.Response, status: int | None = None, error: str | None = None) -> dict[str, Any]:
    """The error body of a refusal, after checking it is a 4xx shaped as PROTOCOL.md says."""
    where = f"{r.request.method} {r.request.url.path} -> {r.status_code}: {r.text[:300]!r}"
    assert 400 <= r.status_code < 500, where
    if status is not None:
        assert r.status_code == status, where
    body = decoded(r)
    assert isinstance(body, dict) and set(body) == {"error", "detail"}, where
    assert isinstance(body["error"], str) and body["error"], where
    assert isinstance(body["detail"], str) and body["detail"], where
    if error is not None:
        assert body["error"] == error, where
    return body


def post_raw(http: httpx.Client, path: str, content: bytes, content_type: str = JSON,
             headers: dict[str, str] | None = None) -> httpx.Response:
    return http.post(path, content=content, headers={"Content-Type": content_type, **(headers or {})})


def acked_of(admin: SyncClient, device_id: str) -> int:
    r = admin.http.get(DEVICES, headers=admin.headers)
    assert r.status_code == 200, r.text
    return int(next(d["acked_seq"] for d in r.json() if d["id"] == device_id))


def snapshot(client: SyncClient) -> dict[tuple[str, str], dict[str, Any]]:
    """Everything the device can pull from the start: (table, pk) -> current cells."""
    state: dict[tuple[str, str], dict[str, Any]] = {}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        r = client.http.get(PULL, params=params, headers=client.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        for ch in body["changes"]:
            state.setdefault((ch["table"], ch["pk"]), {}).update(ch["vals"])
        cursor = body["cursor"]
        if not body["more"]:
            return state


def pull_since(client: SyncClient, cursor: str | None) -> tuple[list[dict[str, Any]], str]:
    """Every entry after ``cursor``, and the cursor to continue from."""
    got: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        r = client.http.get(PULL, params=params, headers=client.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        got.extend(body["changes"])
        cursor = body["cursor"]
        if not body["more"]:
            return got, cursor


def quarantined(admin: SyncClient, site: str) -> list[dict[str, Any]]:
    r = admin.http.get(REJECTED, params={"limit": 5000}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return [q for q in r.json() if q["site"] == site]


def accepted(client: SyncClient, changes: list[dict[str, Any]]) -> dict[str, Any]:
    r = client.push(changes)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rejected"] == [], body
    assert body["acked"] == changes[-1]["seq"], body
    return body  # type: ignore[no-any-return]


def rejections(client: SyncClient, changes: list[dict[str, Any]]) -> dict[int, str]:
    """Push a batch that must be acknowledged in full; return the refused seqs and reasons."""
    r = client.push(changes)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["acked"] == changes[-1]["seq"], body
    return {x["seq"]: x["reason"] for x in body["rejected"]}


def batch(site: str, *changes: dict[str, Any]) -> dict[str, Any]:
    return {"site": site, "changes": list(changes)}


def raw_change(seq: int, table: str = "product", pk: str | None = None, ts: int | None = None,
               vals: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"seq": seq, "table": table, "pk": pk or uid(), "ts": now_ts() if ts is None else ts,
            "vals": vals if vals is not None else {"name": "probe"}}


def assert_push_left_nothing(admin: SyncClient, device: SyncClient, acked_before: int,
                             probe_pks: list[str]) -> None:
    assert acked_of(admin, device.device_id) == acked_before
    state = snapshot(admin)
    leaked = [pk for pk in probe_pks if any(key[1] == pk for key in state)]
    assert leaked == [], f"rows of a refused push were written: {leaked}"


# ---- malformed bodies ----------------------------------------------------------------------


def _generic_malformations(valid: dict[str, Any]) -> list[tuple[str, bytes, str]]:
    """Bodies every endpoint taking a message must refuse with 400, built from a valid one."""
    text = json.dumps(valid).encode()
    out = [
        ("truncated JSON", text[: len(text) // 2], JSON),
        ("invalid JSON (trailing comma)", text[:-1] + b",}", JSON),
        ("invalid JSON (single quotes)", text.replace(b'"', b"'"), JSON),
        ("empty body", b"", JSON),
        ("JSON null", b"null", JSON),
        ("JSON list", b"[]", JSON),
        ("JSON string", b'"hello"', JSON),
        ("unknown top-level field", json.dumps({**valid, "surprise": 1}).encode(), JSON),
        ("garbage msgpack", b"\xc1\xff\x00garbage\x93", MSGPACK),
        ("truncated msgpack", msgspec.msgpack.encode(valid)[:-3], MSGPACK),
        ("msgpack sent as JSON", msgspec.msgpack.encode(valid), JSON),
        ("JSON sent as msgpack", text, MSGPACK),
        ("unknown field in msgpack", msgspec.msgpack.encode({**valid, "surprise": 1}), MSGPACK),
    ]
    for key in valid:
        if valid[key] is not None:
            missing = {k: v for k, v in valid.items() if k != key}
            out.append((f"missing {key}", json.dumps(missing).encode(), JSON))
    return out


def test_malformed_push_bodies_are_400_and_write_nothing(http: httpx.Client, admin: SyncClient) -> None:
    dev = SyncClient.enrolled(http, BOOT, user="rep", role="backoffice")
    accepted(dev, [dev.change("product", uid(), {"name": "before"})])
    probe = raw_change(2)  # the valid first change of every refused batch
    site = dev.device_id
    cases = _generic_malformations(batch(site, probe))
    second = raw_change(3)  # each wrong type sits in the change after a valid one
    wrong_types = {
        "seq as a string": {**second, "seq": "3"},
        "vals as a list": {**second, "vals": ["name", "x"]},
        "negative seq": {**second, "seq": -1},
        "seq 0": {**second, "seq": 0},
        "seq beyond 2^62": {**second, "seq": 2**62 + 1},
        "huge seq": {**second, "seq": 10**40},
        "ts beyond 2^63": {**second, "ts": 2**63},
        "huge ts": {**second, "ts": 10**40},
        "negative ts": {**second, "ts": -1},
        "ts as a float": {**second, "ts": 1.5},
        "ts as a string": {**second, "ts": str(now_ts())},
        "table as a number": {**second, "table": 7},
        "pk null": {**second, "pk": None},
        "empty table name": {**second, "table": ""},
        "10k-char table name": {**second, "table": "t" * 10_000},
        "10k-char pk": {**second, "pk": "p" * 10_000},
        "more than 64 columns": {**second, "vals": {f"c{i}": "x" for i in range(65)}},
        "unknown field in a change": {**second, "extra": True},
        "change missing seq": {k: v for k, v in second.items() if k != "seq"},
        "change missing ts": {k: v for k, v in second.items() if k != "ts"},
        "change missing vals": {k: v for k, v in second.items() if k != "vals"},
        "change as a list": [3, "product", uid(), now_ts(), {}],
    }
    for label, bad in wrong_types.items():
        cases.append((f"{label} (after a valid change)", json.dumps(batch(site, probe, bad)).encode(), JSON))
    cases += [
        ("changes as an object", json.dumps({"site": site, "changes": {"0": probe}}).encode(), JSON),
        ("site as a number", json.dumps({"site": 12, "changes": [probe]}).encode(), JSON),
        ("site empty", json.dumps({"site": "", "changes": [probe]}).encode(), JSON),
        ("NaN literal", json.dumps(batch(site, probe, raw_change(3, vals={"safety_stock": float("nan")}))).encode(), JSON),
        ("lone surrogate", json.dumps(batch(site, probe)).encode()[:-2] + b', "x": "\\ud800"}]}', JSON),
        ("non-string column name in msgpack",
         msgspec.msgpack.encode(batch(site, probe, {**raw_change(3), "vals": {1: "x"}})), MSGPACK),
    ]
    failures = []
    for label, body, ctype in cases:
        r = post_raw(http, PUSH, body, ctype, dev.headers)
        if r.status_code != 400:
            failures.append(f"{label}: {r.status_code} {r.text[:160]}")
            continue
        refused(r, 400)
    assert failures == [], "\n".join(failures)
    assert_push_left_nothing(admin, dev, 1, [probe["pk"]])


def test_malformed_device_bodies_are_400_and_create_nothing(http: httpx.Client, admin: SyncClient) -> None:
    devices_before = len(http.get(DEVICES, headers=admin.headers).json())
    create = {"user": "carol", "role": "sales", "warehouse_id": None}
    cases = [(DEVICES, label, body, ctype) for label, body, ctype in _generic_malformations(create)]
    for label, body in {
        "user as a number": {"user": 1, "role": "sales"},
        "unknown role": {"user": "carol", "role": "king"},
        "role null": {"user": "carol", "role": None},
        "empty user": {"user": "", "role": "sales"},
        "user with a NUL byte": {"user": "car\u0000ol", "role": "sales"},
        "user with a newline": {"user": "car\nol", "role": "sales"},
        "10k-char user": {"user": "u" * 10_000, "role": "sales"},
        "warehouse_id as a number": {"user": "carol", "role": "warehouse", "warehouse_id": 5},
        "warehouse_id not a UUID": {"user": "carol", "role": "warehouse", "warehouse_id": "'; DROP TABLE sync_device; --"},
        "warehouse_id with a NUL byte": {"user": "carol", "role": "warehouse", "warehouse_id": "\u0000"},
    }.items():
        cases.append((DEVICES, label, json.dumps(body).encode(), JSON))
    enrol = {"enrolment_code": "ABCD-EFGH-JKLM"}
    cases += [(ENROL, label, body, ctype) for label, body, ctype in _generic_malformations(enrol)]
    for label, body in {
        "code as a number": {"enrolment_code": 1234},
        "code null": {"enrolment_code": None},
        "empty code": {"enrolment_code": ""},
        "10k-char code": {"enrolment_code": "A" * 10_000},
    }.items():
        cases.append((ENROL, label, json.dumps(body).encode(), JSON))
    failures = []
    for path, label, body, ctype in cases:
        headers = admin.headers if path == DEVICES else {}
        r = post_raw(http, path, body, ctype, headers)
        if r.status_code != 400:
            failures.append(f"POST {path} {label}: {r.status_code} {r.text[:160]}")
            continue
        refused(r, 400)
    assert failures == [], "\n".join(failures)
    assert len(http.get(DEVICES, headers=admin.headers).json()) == devices_before


def test_hostile_enrolment_codes_are_refused_as_unknown(http: httpx.Client) -> None:
    for code in ["'; DROP TABLE sync_device; --", "\u0000\u0000\u0000", "ÄÖÜß١٢٣٤٥٦٧٨٩٠١", "%s%s%n",
                 "A" * 128, "ABCD-EFGH-JKLM"]:
        r = http.post(ENROL, json={"enrolment_code": code})
        refused(r, 401, "bad_enrolment_code")


def test_errors_follow_the_accept_header_in_msgpack(http: httpx.Client, admin: SyncClient) -> None:
    r = post_raw(http, PUSH, b"\xc1", MSGPACK, {**admin.headers, "Accept": MSGPACK})
    assert r.headers["content-type"].startswith(MSGPACK)
    assert refused(r, 400)["error"] == "malformed"
    r = http.get(PULL, params={"limit": 0}, headers={**admin.headers, "Accept": MSGPACK})
    assert r.headers["content-type"].startswith(MSGPACK)
    refused(r, 400)
    r = http.get(PULL, headers={"Accept": MSGPACK})
    assert r.headers["content-type"].startswith(MSGPACK)
    refused(r, 401)


# ---- sizes ---------------------------------------------------------------------------------


def test_a_body_over_the_size_limit_is_413_on_every_body_endpoint(http: httpx.Client, admin: SyncClient) -> None:
    big = "x" * (9 * 1024 * 1024)  # the default limit is 8 MiB
    probe = raw_change(1)
    bodies = {
        PUSH: batch(admin.device_id, probe, raw_change(2, vals={"name": big})),
        DEVICES: {"user": big, "role": "sales"},
        ENROL: {"enrolment_code": big},
    }
    for path, body in bodies.items():
        r = post_raw(http, path, json.dumps(body).encode(), JSON, admin.headers)
        refused(r, 413)

    def chunks() -> Any:  # no Content-Length: the server must count as it reads
        yield json.dumps(batch(admin.device_id, probe))[:-2].encode() + b', {"seq": 2, "vals": "'
        for _ in range(9):
            yield b"y" * (1024 * 1024)
        yield b'"}]}'

    r = http.post(PUSH, content=chunks(), headers={**admin.headers, "Content-Type": JSON})
    refused(r, 413)
    assert_push_left_nothing(admin, admin, 0, [probe["pk"]])


def test_more_than_5000_changes_in_one_push_is_400_and_writes_nothing(http: httpx.Client, admin: SyncClient) -> None:
    changes = [raw_change(i + 1, pk=uid(), vals={"name": "n"}) for i in range(5001)]
    r = http.post(PUSH, json=batch(admin.device_id, *changes), headers=admin.headers)
    refused(r, 400)
    assert_push_left_nothing(admin, admin, 0, [changes[0]["pk"], changes[-1]["pk"]])
    r = http.post(PUSH, json=batch(admin.device_id, *changes[:5000]), headers=admin.headers)
    assert r.status_code == 200 and r.json()["acked"] == 5000, r.text[:300]


# ---- hostile strings -----------------------------------------------------------------------


def test_sql_text_in_values_is_stored_verbatim_and_in_pks_is_rejected(http: httpx.Client, admin: SyncClient) -> None:
    evil = "'; DROP TABLE product; --"
    keep = uid()
    c1 = admin.change("product", keep, {"name": evil, "sku": 'x" OR 1=1 --', "barcode": "\\'\\\"%_*"})
    c2 = admin.change("product", evil, {"name": "by an evil pk"})
    c3 = admin.change("customer", uid(), {"name": "Robert'); DROP TABLE customer;--", "owner": "alice"})
    assert rejections(admin, [c1, c2, c3]) == {c2["seq"]: "invalid_value"}
    state = snapshot(admin)
    assert state[("product", keep)]["name"] == evil
    assert state[("product", keep)]["sku"] == 'x" OR 1=1 --'
    assert state[("product", keep)]["barcode"] == "\\'\\\"%_*"
    assert state[("customer", c3["pk"])]["name"] == "Robert'); DROP TABLE customer;--"
    assert not any(key[1] == evil for key in state)
    [q] = [q for q in quarantined(admin, admin.device_id) if q["seq"] == c2["seq"]]
    assert q["pk"] == evil and q["reason"] == "invalid_value"
    accepted(admin, [admin.change("product", uid(), {"name": "the table is still there"})])


def test_nul_bytes_and_long_names_in_values_and_columns_are_rejected_per_change(
        http: httpx.Client, admin: SyncClient) -> None:
    changes = [
        admin.change("product", uid(), {"name": "a\u0000b"}),
        admin.change("product", uid(), {"na\u0000me": "x"}),
        admin.change("product", uid(), {"n" * 10_000: "x"}),
        admin.change("product", uid(), {"name": "x" * 10_000}),
        admin.change("product", uid(), {"name": {"nested": ["json"]}}),
        admin.change("product", uid(), {"name": 12}),
    ]
    got = rejections(admin, changes)
    assert got == {changes[0]["seq"]: "invalid_value", changes[1]["seq"]: "unknown_column",
                   changes[2]["seq"]: "unknown_column", changes[3]["seq"]: "invalid_value",
                   changes[4]["seq"]: "invalid_value", changes[5]["seq"]: "invalid_value"}
    state = snapshot(admin)
    assert not any(("product", c["pk"]) in state for c in changes)
    assert {q["seq"] for q in quarantined(admin, admin.device_id)} == set(got)


def test_nul_bytes_in_a_table_name_or_pk_are_rejected_per_change(http: httpx.Client, admin: SyncClient) -> None:
    # PostgreSQL text cannot hold NUL: the quarantine must still keep these (once a 503 that
    # blocked the device's outbox forever)
    bad_table = admin.change("pro\u0000duct", uid(), {"name": "x"})
    bad_pk = admin.change("product", "\u0000" + uid()[1:], {"name": "x"})
    r = admin.push([bad_table, bad_pk])
    assert r.status_code == 200, r.text
    assert {x["seq"]: x["reason"] for x in r.json()["rejected"]} == {
        bad_table["seq"]: "unknown_table", bad_pk["seq"]: "invalid_value"}
    assert acked_of(admin, admin.device_id) == bad_pk["seq"]
    kept = {q["seq"]: q for q in quarantined(admin, admin.device_id)}
    assert kept[bad_table["seq"]]["reason"] == "unknown_table" and kept[bad_pk["seq"]]["reason"] == "invalid_value"
    assert kept[bad_table["seq"]]["table_name"].startswith("pro") and kept[bad_pk["seq"]]["pk"].endswith(bad_pk["pk"][1:])


def test_a_deeply_nested_value_is_a_refusal_not_a_500(http: httpx.Client, admin: SyncClient) -> None:
    for depth in (200, 5_000):
        seq = acked_of(admin, admin.device_id) + 1
        nested = "[" * depth + "]" * depth
        body = json.dumps(batch(admin.device_id, raw_change(seq, vals={"name": "PLACEHOLDER"})))
        r = post_raw(http, PUSH, body.replace('"PLACEHOLDER"', nested).encode(), JSON, admin.headers)
        if r.status_code == 200:  # a plain wrong type: rejected per change
            assert [x["reason"] for x in r.json()["rejected"]] == ["invalid_value"], r.text
        else:
            refused(r, 400)
    for depth in (5_000,):  # the same in MessagePack
        nested_mp = b"\x91" * depth + b"\x90"
        head = msgspec.msgpack.encode(batch(admin.device_id, raw_change(acked_of(admin, admin.device_id) + 1,
                                                                            vals={"name": "PLACEHOLDER"})))
        r = post_raw(http, PUSH, head.replace(msgspec.msgpack.encode("PLACEHOLDER"), nested_mp), MSGPACK,
                     admin.headers)
        if r.status_code == 200:
            assert [x["reason"] for x in r.json()["rejected"]] == ["invalid_value"], r.text
        else:
            refused(r, 400)


# ---- cursors and limits --------------------------------------------------------------------


def test_forged_borrowed_and_garbage_cursors_are_400(http: httpx.Client, admin: SyncClient) -> None:
    for _ in range(3):
        admin.write("product", uid(), {"name": "p"})
    r = http.get(PULL, params={"limit": 1}, headers=admin.headers)
    cursor = r.json()["cursor"]
    assert r.json()["more"] is True
    other = SyncClient.enrolled(http, BOOT, user="other", role="backoffice")
    flipped = [cursor[:i] + ("A" if cursor[i] != "A" else "B") + cursor[i + 1:]
               for i in (0, len(cursor) // 2, len(cursor) - 2)]
    cases: list[tuple[str, SyncClient, str]] = [
        *[(f"flipped char {i}", admin, c) for i, c in enumerate(flipped)],
        ("cursor issued to another device", other, cursor),
        ("garbage base64", admin, "!!!not*base64$$"),
        ("valid base64 of garbage", admin, "Z2FyYmFnZSBnYXJiYWdlIGdhcmJhZ2UgZ2FyYmFnZQ"),
        ("too short", admin, "QQ"),
        ("1000-char cursor", admin, "A" * 1000),
        ("NUL byte", admin, "ab\u0000cd"),
        ("SQL text", admin, "' OR '1'='1"),
        ("truncated", admin, cursor[:-4]),
        ("extended", admin, cursor + "AAAA"),
    ]
    failures = []
    for label, who, token in cases:
        r = http.get(PULL, params={"cursor": token}, headers=who.headers)
        if r.status_code != 400:
            failures.append(f"{label}: {r.status_code} {r.text[:160]}")
            continue
        refused(r, 400)
    assert failures == [], "\n".join(failures)
    r = http.get(PULL, params={"cursor": cursor}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["changes"], r.text


def test_bad_limits_are_400_on_every_listing(http: httpx.Client, admin: SyncClient) -> None:
    failures = []
    for path in (PULL, REJECTED, CONFLICTS):
        for limit in ("0", "-1", "99999", "abc", "1.5", "", "9" * 40):
            r = http.get(path, params={"limit": limit}, headers=admin.headers)
            if limit == "":  # an empty value may fall back to the default
                if r.status_code != 200:
                    refused(r, 400)
                continue
            if r.status_code != 400:
                failures.append(f"{path}?limit={limit!r}: {r.status_code} {r.text[:160]}")
                continue
            refused(r, 400)
        assert http.get(path, params={"limit": 1}, headers=admin.headers).status_code == 200
    assert failures == [], "\n".join(failures)


# ---- the other endpoints -------------------------------------------------------------------


def test_health_and_unknown_routes_answer_with_the_error_body(http: httpx.Client) -> None:
    assert http.get(HEALTH).json()["status"] == "ok"
    assert http.request("GET", HEALTH, content=b"{not json", params={"x": "\u0000"}).status_code == 200
    refused(http.post(HEALTH, content=b"{}"), 405)
    refused(http.delete(HEALTH), 405)
    refused(http.get("/api/v1/nope"), 404)
    refused(http.put(PUSH, content=b"{}"), 405)
    refused(http.get(PUSH), 405)


def test_device_listing_and_revocation_survive_hostile_input(http: httpx.Client, admin: SyncClient) -> None:
    r = http.request("GET", DEVICES, content=b"{garbage", params={"limit": "-1", "x": "'; --"},
                     headers=admin.headers)
    assert r.status_code == 200 and any(d["id"] == admin.device_id for d in r.json())
    for device_id in ["d" * 10_000, "'; DROP TABLE sync_device; --", uid(), "%ff%fe", "..%2F..%2Fetc"]:
        r = http.delete(f"{DEVICES}/{device_id}", headers=admin.headers)
        refused(r, 404)
    assert http.get(PULL, headers=admin.headers).status_code == 200  # nothing was revoked


def test_junk_bodies_sent_to_get_and_delete_endpoints_are_never_a_server_error(
        http: httpx.Client, admin: SyncClient) -> None:
    junk = [(b'{"truncated": ', JSON), (b"{not json}", JSON), (b"\xc1\xff garbage", MSGPACK),
            (msgspec.msgpack.encode({"limit": 0, "cursor": 5}), MSGPACK), (b"x" * 100_000, JSON)]
    targets = [("GET", HEALTH), ("GET", DEVICES), ("GET", PULL), ("GET", REJECTED), ("GET", CONFLICTS),
               ("DELETE", f"{DEVICES}/{uid()}")]
    failures = []
    for method, path in targets:
        for body, ctype in junk:
            r = http.request(method, path, content=body, headers={**admin.headers, "Content-Type": ctype})
            if r.status_code >= 500:
                failures.append(f"{method} {path} with {body[:20]!r}: {r.status_code} {r.text[:120]}")
            elif r.status_code >= 400:
                refused(r)
    assert failures == [], "\n".join(failures)


def test_revoking_a_device_id_with_a_nul_byte_is_404(http: httpx.Client, admin: SyncClient) -> None:
    # once a 503 on PostgreSQL, which refuses NUL in text
    refused(http.delete(f"{DEVICES}/a%00b", headers=admin.headers), 404, "unknown_device")
    refused(http.delete(f"{DEVICES}/{admin.device_id}%00", headers=admin.headers), 404, "unknown_device")
    assert http.get(PULL, headers=admin.headers).status_code == 200


# ---- value-level problems are per-change rejections ---------------------------------------


def test_value_problems_are_rejected_per_change_acknowledged_quarantined_and_not_applied(
        http: httpx.Client, admin: SyncClient) -> None:
    rep = SyncClient.enrolled(http, BOOT, user="rita", role="backoffice")
    good = rep.change("product", uid(), {"name": "fine", "safety_stock": "12.50"})
    cases = {
        "unknown_table": rep.change("no_such_table", uid(), {"name": "x"}),
        "unknown_column": rep.change("product", uid(), {"colour": "red"}),
        "decimal as a JSON number": rep.change("product", uid(), {"safety_stock": 12.5}),
        "decimal 1e5": rep.change("product", uid(), {"safety_stock": "1e5"}),
        "decimal NaN": rep.change("product", uid(), {"safety_stock": "NaN"}),
        "decimal Infinity": rep.change("product", uid(), {"safety_stock": "Infinity"}),
        "date 2026-02-30": rep.change("sales_order", uid(), {"due_date": "2026-02-30", "owner": "rita"}),
        "date with a time": rep.change("sales_order", uid(), {"due_date": "2026-02-01T10:00:00"}),
        "non-UUID pk": rep.change("product", "not-a-uuid", {"name": "x"}),
        "non-UUID reference": rep.change("sales_order_line", uid(), {"order_id": "order-1"}),
        "ledger row missing a required column": rep.change(
            "stock_move", uid(), {"product_id": uid(), "qty": "1", "kind": "receipt"}),
        "ledger kind not in its choices": rep.change(
            "stock_move", uid(), {"product_id": uid(), "warehouse_id": uid(), "qty": "1", "kind": "theft"}),
        "unknown status": rep.change("sales_order", uid(), {"status": "lost_at_sea"}),
        "bool for a tombstone as text": rep.change("product", uid(), {"_deleted": "yes"}),
        "empty vals": rep.change("product", uid(), {}),
    }
    good_after = rep.change("product", uid(), {"name": "also fine"})
    expected = {
        "unknown_table": "unknown_table", "unknown_column": "unknown_column",
    }
    r = rep.push([good, *cases.values(), good_after])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["acked"] == good_after["seq"]
    got = {x["seq"]: x for x in body["rejected"]}
    for label, change in cases.items():
        assert change["seq"] in got, f"{label} was not rejected"
        assert got[change["seq"]]["reason"] == expected.get(label, "invalid_value"), (label, got[change["seq"]])
        assert got[change["seq"]]["detail"]
    assert set(got) == {c["seq"] for c in cases.values()}
    assert acked_of(admin, rep.device_id) == good_after["seq"]
    state = snapshot(admin)
    assert state[("product", good["pk"])]["safety_stock"] == "12.50"
    assert ("product", good_after["pk"]) in state
    assert not any(key[1] == c["pk"] for c in cases.values() for key in state)
    stored = {q["seq"]: q for q in quarantined(admin, rep.device_id)}
    assert set(stored) == set(got)
    for change in cases.values():
        q = stored[change["seq"]]
        assert q["user"] == "rita" and q["site"] == rep.device_id
        assert q["reason"] == got[change["seq"]]["reason"]
        assert q["table_name"] == change["table"] and q["pk"] == change["pk"] and q["ts"] == change["ts"]
        assert json.loads(q["vals"]) == change["vals"]
    r = rep.push([good_after])  # acknowledged: a resend is a no-op, not a second quarantine entry
    assert r.status_code == 200 and r.json()["acked"] == good_after["seq"] and r.json()["rejected"] == []
    assert len(quarantined(admin, rep.device_id)) == len(got)


# ---- push semantics ------------------------------------------------------------------------


def _conflicts_of(admin: SyncClient, site: str) -> list[dict[str, Any]]:
    r = admin.http.get(CONFLICTS, params={"limit": 5000}, headers=admin.headers)
    assert r.status_code == 200, r.text
    return [c for c in r.json() if c["site"] == site]


def test_a_batch_resent_after_a_lost_response_changes_nothing(http: httpx.Client, admin: SyncClient) -> None:
    dev = SyncClient.enrolled(http, BOOT, user="rep", role="backoffice")
    order, ledger_pk = uid(), uid()
    accepted(admin, [admin.change("sales_order", order, {"status": "shipped"})])
    _, cursor = pull_since(admin, None)
    changes = [
        dev.change("product", uid(), {"name": "p1"}),
        dev.change("stock_move", ledger_pk, {"product_id": uid(), "warehouse_id": uid(), "qty": "5", "kind": "receipt"}),
        dev.change("product", uid(), {"colour": "refused once"}),
        dev.change("sales_order", order, {"status": "draft"}),  # a conflict, recorded once
    ]
    body = json.dumps(batch(dev.device_id, *changes)).encode()
    first = post_raw(http, PUSH, body, JSON, dev.headers)
    assert first.status_code == 200, first.text
    assert first.json()["acked"] == 4 and [x["seq"] for x in first.json()["rejected"]] == [3]
    seen, cursor = pull_since(admin, cursor)
    assert {c["pk"] for c in seen} == {changes[0]["pk"], ledger_pk}
    for _ in range(2):
        again = post_raw(http, PUSH, body, JSON, dev.headers)
        assert again.status_code == 200, again.text
        assert again.json()["acked"] == first.json()["acked"]
        assert again.json()["rejected"] == first.json()["rejected"], "the device must learn its refusals again"
    assert pull_since(admin, cursor)[0] == [], "the resent batch was applied a second time"
    assert len(quarantined(admin, dev.device_id)) == 1
    assert len(_conflicts_of(admin, dev.device_id)) == 1
    assert acked_of(admin, dev.device_id) == 4
    state = snapshot(admin)
    assert [k for k in state if k[0] == "stock_move"] == [("stock_move", ledger_pk)]
    assert state[("sales_order", order)]["status"] == "shipped"


def test_a_batch_overlapping_acked_seqs_applies_only_the_new_ones(http: httpx.Client, admin: SyncClient) -> None:
    dev = SyncClient.enrolled(http, BOOT, user="rep", role="backoffice")
    order = uid()
    accepted(admin, [admin.change("sales_order", order, {"status": "shipped"})])
    c1 = dev.change("product", uid(), {"name": "one"})
    c2 = dev.change("sales_order", order, {"status": "submitted"})  # a conflict
    c3 = dev.change("product", uid(), {"colour": "refused"})
    r = dev.push([c1, c2, c3])
    assert r.status_code == 200 and r.json()["acked"] == 3, r.text
    _, cursor = pull_since(admin, None)
    c4, c5 = dev.change("product", uid(), {"name": "four"}), dev.change("product", uid(), {"name": "five"})
    r = dev.push([c2, c3, c4, c5])
    assert r.status_code == 200 and r.json()["acked"] == 5, r.text
    assert [x["seq"] for x in r.json()["rejected"]] == [3]
    new, _ = pull_since(admin, cursor)
    assert sorted(c["pk"] for c in new) == sorted([c4["pk"], c5["pk"]]), "an acked change was applied again"
    assert len(quarantined(admin, dev.device_id)) == 1
    assert len(_conflicts_of(admin, dev.device_id)) == 1
    r = dev.push([c1, c2])  # wholly acknowledged already: nothing to do, acked stays
    assert r.status_code == 200 and r.json()["acked"] == 5
    assert acked_of(admin, dev.device_id) == 5


def test_a_batch_starting_past_acked_plus_one_is_409_gap(http: httpx.Client, admin: SyncClient) -> None:
    dev = SyncClient.enrolled(http, BOOT, user="rep", role="backoffice")
    accepted(dev, [dev.change("product", uid(), {"name": "one"})])
    skipped = raw_change(3)
    r = http.post(PUSH, json=batch(dev.device_id, skipped, raw_change(4)), headers=dev.headers)
    refused(r, 409, "gap")
    r = http.post(PUSH, json=batch(dev.device_id, raw_change(5)), headers=dev.headers)
    refused(r, 409, "gap")
    assert_push_left_nothing(admin, dev, 1, [skipped["pk"]])


def test_a_batch_with_a_hole_inside_is_409_and_writes_nothing(http: httpx.Client, admin: SyncClient) -> None:
    dev = SyncClient.enrolled(http, BOOT, user="rep", role="backoffice")
    first = raw_change(1)
    r = http.post(PUSH, json=batch(dev.device_id, first, raw_change(2), raw_change(4)), headers=dev.headers)
    refused(r, 409)
    assert_push_left_nothing(admin, dev, 0, [first["pk"]])


def test_the_same_seq_twice_with_different_contents_is_400(http: httpx.Client, admin: SyncClient) -> None:
    dev = SyncClient.enrolled(http, BOOT, user="rep", role="backoffice")
    first, dup = raw_change(1), raw_change(2)
    contradiction = {**dup, "vals": {"name": "something else"}}
    r = http.post(PUSH, json=batch(dev.device_id, first, dup, contradiction), headers=dev.headers)
    refused(r, 400)
    assert_push_left_nothing(admin, dev, 0, [first["pk"], dup["pk"]])
    r = http.post(PUSH, json=batch(dev.device_id, first, dup, dup), headers=dev.headers)
    assert r.status_code == 200 and r.json()["acked"] == 2, r.text


def test_clock_skew_two_minutes_ahead_is_rejected_and_thirty_seconds_is_accepted(
        http: httpx.Client, admin: SyncClient) -> None:
    ahead = admin.change("product", uid(), {"name": "from the future"}, ts=now_ts(120 * SECOND_MS))
    near = admin.change("product", uid(), {"name": "slightly fast"}, ts=now_ts(30 * SECOND_MS))
    r = admin.push([ahead, near])
    assert r.status_code == 200, r.text
    assert r.json()["acked"] == near["seq"]
    assert [(x["seq"], x["reason"]) for x in r.json()["rejected"]] == [(ahead["seq"], "clock_skew")]
    assert r.json()["server_ts"] >= near["ts"], "server_ts must fold in what it accepted"
    state = snapshot(admin)
    assert ("product", ahead["pk"]) not in state
    assert state[("product", near["pk"])]["name"] == "slightly fast"


def test_a_device_a_year_fast_cannot_overwrite_and_loses_nothing(http: httpx.Client, admin: SyncClient) -> None:
    fast = SyncClient.enrolled(http, BOOT, user="fast", role="backoffice")
    pk = uid()
    accepted(admin, [admin.change("product", pk, {"name": "honest", "sku": "S-1"})])
    future = fast.change("product", pk, {"name": "from next year"}, ts=now_ts(YEAR_MS))
    assert rejections(fast, [future]) == {future["seq"]: "clock_skew"}
    assert snapshot(admin)[("product", pk)]["name"] == "honest"
    accepted(admin, [admin.change("product", pk, {"sku": "S-2"})])
    state = snapshot(admin)[("product", pk)]
    assert state == {**state, "name": "honest", "sku": "S-2"}
    [kept] = quarantined(admin, fast.device_id)
    assert kept["reason"] == "clock_skew" and json.loads(kept["vals"]) == {"name": "from next year"}
    # re-stamped against the server's clock, the same edit goes through
    accepted(fast, [fast.change("product", pk, {"name": "from next year"})])
    assert snapshot(admin)[("product", pk)]["name"] == "from next year"


def test_a_ledger_row_resent_identically_is_kept_once_and_changed_is_immutable(
        http: httpx.Client, admin: SyncClient) -> None:
    pk, product, wh = uid(), uid(), uid()
    vals = {"product_id": product, "warehouse_id": wh, "qty": "5", "kind": "receipt", "ref": "PO-1"}
    accepted(admin, [admin.change("stock_move", pk, vals)])
    accepted(admin, [admin.change("stock_move", pk, dict(vals))])
    accepted(admin, [admin.change("stock_move", pk, {**vals, "qty": "5.000"})])  # the same decimal
    changed = admin.change("stock_move", pk, {**vals, "qty": "6"})
    dropped_ref = admin.change("stock_move", pk, {k: v for k, v in vals.items() if k != "ref"})
    assert rejections(admin, [changed, dropped_ref]) == {changed["seq"]: "immutable",
                                                         dropped_ref["seq"]: "immutable"}
    entries = [c for c in pull_since(admin, None)[0] if c["table"] == "stock_move"]
    assert len(entries) == 1
    assert entries[0]["vals"]["qty"] in ("5", "5.000") and entries[0]["vals"]["ref"] == "PO-1"


def test_a_status_moving_back_is_not_applied_and_shows_as_a_conflict(
        http: httpx.Client, admin: SyncClient) -> None:
    rep = SyncClient.enrolled(http, BOOT, user="rep", role="backoffice")
    pk = uid()
    accepted(admin, [admin.change("sales_order", pk, {"status": "shipped", "owner": "rep"})])
    back = rep.change("sales_order", pk, {"status": "submitted", "due_date": "2026-03-01"})
    r = rep.push([back])
    assert r.status_code == 200 and r.json()["acked"] == back["seq"], r.text
    row = snapshot(admin)[("sales_order", pk)]
    assert row["status"] == "shipped"
    assert row["due_date"] == "2026-03-01", "the rest of the change still applies"
    r = http.get(CONFLICTS, headers=admin.headers)
    assert r.status_code == 200, r.text
    [conflict] = [c for c in r.json() if c["pk"] == pk]
    assert conflict["site"] == rep.device_id and conflict["user"] == "rep"
    assert conflict["table_name"] == "sales_order" and conflict["column_name"] == "status"
    assert conflict["attempted"] == "submitted" and conflict["current"] == "shipped"
    accepted(rep, [rep.change("sales_order", pk, {"status": "delivered"})])
    assert snapshot(admin)[("sales_order", pk)]["status"] == "delivered"


def test_two_devices_editing_different_columns_of_a_row_both_keep_their_edit(
        http: httpx.Client, admin: SyncClient) -> None:
    a = SyncClient.enrolled(http, BOOT, user="a", role="backoffice")
    b = SyncClient.enrolled(http, BOOT, user="b", role="backoffice")
    pk = uid()
    accepted(admin, [admin.change("customer", pk, {"name": "Acme", "phone": "111", "owner": "a"})])
    later, earlier = now_ts(5), now_ts(1)  # b edited first but syncs last, with an older stamp
    accepted(a, [a.change("customer", pk, {"name": "Acme Ltd"}, ts=later)])
    accepted(b, [b.change("customer", pk, {"phone": "222"}, ts=earlier)])
    row = snapshot(admin)[("customer", pk)]
    assert (row["name"], row["phone"], row["owner"]) == ("Acme Ltd", "222", "a")


def test_a_tombstone_then_a_later_revival_ends_live(http: httpx.Client, admin: SyncClient) -> None:
    pk = uid()
    accepted(admin, [admin.change("product", pk, {"name": "widget", "sku": "W-1"})])
    accepted(admin, [admin.change("product", pk, {"_deleted": True})])
    assert snapshot(admin)[("product", pk)]["_deleted"] is True
    accepted(admin, [admin.change("product", pk, {"_deleted": False})])
    row = snapshot(admin)[("product", pk)]
    assert row["_deleted"] is False and row["name"] == "widget" and row["sku"] == "W-1"
    stale = admin.change("product", pk, {"_deleted": True}, ts=now_ts(-60 * SECOND_MS))
    accepted(admin, [stale])  # an older tombstone arriving late does not kill the revived row
    assert snapshot(admin)[("product", pk)]["_deleted"] is False


def test_msgpack_requests_and_responses_have_the_same_shapes_as_json(
        http: httpx.Client, admin: SyncClient) -> None:
    mp = {"Content-Type": MSGPACK, "Accept": MSGPACK}
    r = http.post(DEVICES, content=msgspec.msgpack.encode({"user": "mia", "role": "backoffice"}),
                  headers={**admin.headers, **mp})
    assert r.status_code == 201 and r.headers["content-type"].startswith(MSGPACK)
    created = msgspec.msgpack.decode(r.content)
    assert set(created) == {"device_id", "enrolment_code"}
    r = http.post(ENROL, content=msgspec.msgpack.encode({"enrolment_code": created["enrolment_code"]}), headers=mp)
    assert r.status_code == 200 and r.headers["content-type"].startswith(MSGPACK)
    enrolled = msgspec.msgpack.decode(r.content)
    assert {"device_id", "token", "server_ts"} <= set(enrolled)
    dev = SyncClient(http, enrolled["device_id"], enrolled["token"], "mia", "backoffice")

    pk = uid()
    changes = [dev.change("product", pk, {"name": "packed", "safety_stock": "1.25", "lead_time_days": 3}),
               dev.change("product", uid(), {"safety_stock": 1.25})]
    r = http.post(PUSH, content=msgspec.msgpack.encode(batch(dev.device_id, *changes)),
                  headers={**dev.headers, **mp})
    assert r.status_code == 200 and r.headers["content-type"].startswith(MSGPACK), r.content[:200]
    packed = msgspec.msgpack.decode(r.content)
    assert set(packed) == {"acked", "server_ts", "rejected"}
    assert packed["acked"] == 2 and isinstance(packed["server_ts"], int)
    assert [(x["seq"], x["reason"]) for x in packed["rejected"]] == [(2, "invalid_value")]
    assert set(packed["rejected"][0]) == {"seq", "reason", "detail"}

    as_json = http.get(PULL, headers=dev.headers)
    as_mp = http.get(PULL, headers={**dev.headers, "Accept": MSGPACK})
    assert as_mp.status_code == 200 and as_mp.headers["content-type"].startswith(MSGPACK)
    j, m = as_json.json(), msgspec.msgpack.decode(as_mp.content)
    assert set(j) == set(m) == {"changes", "cursor", "more", "server_ts"}
    assert m["changes"] == j["changes"] and m["more"] == j["more"]
    [entry] = [c for c in m["changes"] if c["pk"] == pk]
    assert set(entry) == {"table", "pk", "ts", "site", "vals"}
    assert entry["vals"] == {"name": "packed", "safety_stock": "1.25", "lead_time_days": 3}
    r = http.get(PULL, params={"cursor": m["cursor"]}, headers={**dev.headers, "Accept": MSGPACK})
    assert r.status_code == 200 and msgspec.msgpack.decode(r.content)["changes"] == []
