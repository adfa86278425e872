"""Enrolment over real HTTP, on SQLite and PostgreSQL: one-time codes, secrets kept only as
hashes, warehouse devices bound to a known warehouse, and the bootstrap credential."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uuid_utils
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import create_async_engine

from server.config import Settings, load_settings
from tests.server.client import SyncClient
from tests.server.conftest import BOOT, LiveServer

DEVICES = "/api/v1/devices"
ENROL = "/api/v1/devices/enrol"
PULL = "/api/v1/sync/pull"
PUSH = "/api/v1/sync/push"
REJECTED = "/api/v1/sync/rejected"
BOOT_HEADERS = {"Authorization": f"Bearer {BOOT}"}


def uid() -> str:
    return str(uuid_utils.uuid7())


def error_of(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}"
    body = r.json()
    assert set(body) == {"error", "detail"} and body["detail"], body
    return str(body["error"])


def new_code(http: httpx.Client, user: str = "rep", role: str = "sales", **extra: Any) -> tuple[str, str]:
    r = http.post(DEVICES, json={"user": user, "role": role, **extra}, headers=BOOT_HEADERS)
    assert r.status_code == 201, r.text
    return r.json()["device_id"], r.json()["enrolment_code"]


@contextmanager
def serving(settings: Settings) -> Iterator[httpx.Client]:
    server = LiveServer(settings)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()


def test_an_enrolment_code_works_once(http: httpx.Client) -> None:
    device_id, code = new_code(http, user="alice")
    r = http.post(ENROL, json={"enrolment_code": code})
    assert r.status_code == 200, r.text
    enrolled = r.json()
    assert enrolled["device_id"] == device_id and enrolled["token"] and isinstance(enrolled["server_ts"], int)
    assert enrolled.get("role", "sales") == "sales" and enrolled.get("user", "alice") == "alice"
    assert error_of(http.post(ENROL, json={"enrolment_code": code}), 401) == "bad_enrolment_code"
    assert http.get(PULL, headers={"Authorization": f"Bearer {enrolled['token']}"}).status_code == 200
    [row] = [d for d in http.get(DEVICES, headers=BOOT_HEADERS).json() if d["id"] == device_id]
    assert row["enrolled_at"] is not None and row["user"] == "alice" and row["role"] == "sales"


def test_two_devices_racing_for_one_code_enrol_only_one(http: httpx.Client, live_server: LiveServer) -> None:
    _, code = new_code(http)
    results: list[int] = []
    start = threading.Barrier(6)

    def attempt() -> None:
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            start.wait()
            results.append(client.post(ENROL, json={"enrolment_code": code}).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(200) == 1 and all(s in (401, 409) for s in results if s != 200), results


def test_enrolment_codes_are_case_and_format_tolerant(http: httpx.Client) -> None:
    variants = [
        lambda c: c.lower(),
        lambda c: c.replace("-", ""),
        lambda c: " ".join(c.replace("-", "")[i:i + 4] for i in (0, 4, 8)),
        lambda c: f"  {c.lower().replace('-', ' - ')}  ",
    ]
    for variant in variants:
        device_id, code = new_code(http)
        r = http.post(ENROL, json={"enrolment_code": variant(code)})
        assert r.status_code == 200, (variant(code), r.text)
        assert r.json()["device_id"] == device_id
    _, code = new_code(http)
    assert error_of(http.post(ENROL, json={"enrolment_code": code[:-1]}), 401) == "bad_enrolment_code"
    assert http.post(ENROL, json={"enrolment_code": code}).status_code == 200


def test_tokens_and_codes_are_not_stored_in_clear(http: httpx.Client, db_url: str) -> None:
    enrolled_id, used_code = new_code(http, user="alice")
    token = http.post(ENROL, json={"enrolment_code": used_code}).json()["token"]
    _, pending_code = new_code(http, user="bob")
    secrets = {token, used_code, used_code.replace("-", ""), pending_code, pending_code.replace("-", "")}

    async def dump() -> list[tuple[str, str]]:
        engine = create_async_engine(db_url)
        try:
            async with engine.connect() as conn:
                meta = MetaData()
                await conn.run_sync(meta.reflect)
                cells = []
                for table in meta.sorted_tables:
                    for row in (await conn.execute(select(table))).all():
                        cells += [(table.name, str(v)) for v in row if v is not None]
                return cells
        finally:
            await engine.dispose()

    cells = asyncio.run(dump())
    assert any(name == "sync_device" and value == enrolled_id for name, value in cells)
    leaks = [(name, secret) for name, value in cells for secret in secrets if secret.lower() in value.lower()]
    assert leaks == [], f"secrets stored in clear: {leaks}"


def test_a_warehouse_device_needs_a_known_warehouse(http: httpx.Client, admin: SyncClient) -> None:
    wh, product = uid(), uid()
    admin.write("warehouse", wh, {"code": "WH1", "name": "Main"})
    admin.write("product", product, {"name": "not a warehouse"})
    bodies = {
        "no warehouse_id": {"user": "sam", "role": "warehouse"},
        "null warehouse_id": {"user": "sam", "role": "warehouse", "warehouse_id": None},
        "unknown warehouse": {"user": "sam", "role": "warehouse", "warehouse_id": uid()},
        "not a UUID": {"user": "sam", "role": "warehouse", "warehouse_id": "WH1"},
        "a product id": {"user": "sam", "role": "warehouse", "warehouse_id": product},
    }
    for label, body in bodies.items():
        r = http.post(DEVICES, json=body, headers=admin.headers)
        assert r.status_code == 400, (label, r.status_code, r.text)
        error_of(r, 400)
    assert [d for d in http.get(DEVICES, headers=admin.headers).json() if d["user"] == "sam"] == []
    r = http.post(DEVICES, json={"user": "sam", "role": "warehouse", "warehouse_id": wh.upper()}, headers=admin.headers)
    assert r.status_code == 201, r.text
    [row] = [d for d in http.get(DEVICES, headers=admin.headers).json() if d["user"] == "sam"]
    assert row["warehouse_id"] == wh


def test_the_bootstrap_token_acts_as_back_office_for_device_management(http: httpx.Client) -> None:
    device_id, code = new_code(http, user="first", role="backoffice")
    listed = http.get(DEVICES, headers=BOOT_HEADERS)
    assert listed.status_code == 200 and [d["id"] for d in listed.json()] == [device_id]
    assert http.get(REJECTED, headers=BOOT_HEADERS).status_code == 200
    token = http.post(ENROL, json={"enrolment_code": code}).json()["token"]
    assert http.get(DEVICES, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert http.delete(f"{DEVICES}/{device_id}", headers=BOOT_HEADERS).status_code == 204
    assert error_of(http.get(PULL, headers={"Authorization": f"Bearer {token}"}), 401)
    # it manages devices but is no device: it cannot push or pull as one
    error_of(http.get(PULL, headers=BOOT_HEADERS), 403)
    error_of(http.post(PUSH, json={"site": "bootstrap", "changes": []}, headers=BOOT_HEADERS), 403)


def test_a_code_of_a_revoked_device_no_longer_enrols(http: httpx.Client) -> None:
    device_id, code = new_code(http)
    assert http.delete(f"{DEVICES}/{device_id}", headers=BOOT_HEADERS).status_code == 204
    error_of(http.post(ENROL, json={"enrolment_code": code}), 401)


def test_an_expired_code_no_longer_enrols(db_url: str) -> None:
    with serving(Settings(database_url=db_url, bootstrap_token=BOOT, enrolment_code_ttl_s=-1)) as http:
        _, code = new_code(http)
        assert error_of(http.post(ENROL, json={"enrolment_code": code}), 401) == "bad_enrolment_code"


def test_the_bootstrap_token_is_refused_unless_the_environment_sets_it(db_url: str) -> None:
    with serving(load_settings({"FIELDSYNC_DATABASE_URL": db_url})) as http:
        for header in (f"Bearer {BOOT}", "Bearer", "Bearer bootstrap"):
            error_of(http.post(DEVICES, json={"user": "x", "role": "backoffice"},
                               headers={"Authorization": header}), 401)
        error_of(http.get(DEVICES, headers=BOOT_HEADERS), 401)
    with serving(load_settings({"FIELDSYNC_DATABASE_URL": db_url, "FIELDSYNC_BOOTSTRAP_TOKEN": ""})) as http:
        error_of(http.get(DEVICES, headers={"Authorization": "Bearer"}), 401)
        error_of(http.get(DEVICES, headers=BOOT_HEADERS), 401)
    with serving(load_settings({"FIELDSYNC_DATABASE_URL": db_url, "FIELDSYNC_BOOTSTRAP_TOKEN": "fresh-install"})) as http:
        assert http.get(DEVICES, headers={"Authorization": "Bearer fresh-install"}).status_code == 200
        error_of(http.get(DEVICES, headers=BOOT_HEADERS), 401)
        error_of(http.get(DEVICES, headers={"Authorization": "Bearer fresh-install-x"}), 401)
        error_of(http.get(DEVICES, headers={"Authorization": "Bearer FRESH-INSTALL"}), 401)
