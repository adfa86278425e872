"""Test-side helpers: a thin protocol client over HTTP and the in-process service bundle."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from server.config import Settings
from server.db.engine import Database
from server.domain.sync.clock import ServerClock
from sync.hlc import pack


@dataclass
class Service:
    db: Database
    clock: ServerClock
    settings: Settings
    secret: str


def now_ts(offset_ms: int = 0) -> int:
    return pack(time.time_ns() // 1_000_000 + offset_ms)


@dataclass
class SyncClient:
    """One enrolled device speaking PROTOCOL.md over HTTP, keeping its own seq counter."""

    http: httpx.Client
    device_id: str
    token: str
    user: str
    role: str
    seq: int = 0
    cursor: str | None = None
    seen: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def enrolled(cls, http: httpx.Client, admin_token: str, *, user: str, role: str,
                 warehouse_id: str | None = None) -> SyncClient:
        r = http.post("/api/v1/devices", json={"user": user, "role": role, "warehouse_id": warehouse_id},
                      headers={"Authorization": f"Bearer {admin_token}"})
        assert r.status_code == 201, r.text
        e = http.post("/api/v1/devices/enrol", json={"enrolment_code": r.json()["enrolment_code"]})
        assert e.status_code == 200, e.text
        return cls(http, e.json()["device_id"], e.json()["token"], user, role)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def change(self, table: str, pk: str, vals: dict[str, Any], ts: int | None = None) -> dict[str, Any]:
        self.seq += 1
        return {"seq": self.seq, "table": table, "pk": pk, "ts": ts if ts is not None else now_ts(), "vals": vals}

    def push(self, changes: list[dict[str, Any]]) -> httpx.Response:
        return self.http.post("/api/v1/sync/push", json={"site": self.device_id, "changes": changes},
                              headers=self.headers)

    def write(self, table: str, pk: str, vals: dict[str, Any], ts: int | None = None) -> dict[str, Any]:
        r = self.push([self.change(table, pk, vals, ts)])
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def pull_all(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Pull until ``more`` is false; fold every entry into ``seen`` (table, pk) -> cells."""
        got: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"limit": limit}
            if self.cursor:
                params["cursor"] = self.cursor
            r = self.http.get("/api/v1/sync/pull", params=params, headers=self.headers)
            assert r.status_code == 200, r.text
            body = r.json()
            for ch in body["changes"]:
                got.append(ch)
                cells = self.seen.setdefault((ch["table"], ch["pk"]), {})
                cells.update(ch["vals"])  # pull serves current winners: the latest entry is the state
            self.cursor = body["cursor"]
            if not body["more"]:
                return got
