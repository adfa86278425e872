"""Two server processes on one database behave as one service: concurrent pushers through
both, a puller through either, and no gaps or duplicates."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.procs import ServerProcess
from tests.server.client import SyncClient

BOOT = "two-procs-bootstrap"
PUSHERS, BATCHES, PER_BATCH = 6, 15, 20
pytestmark = pytest.mark.slow


def test_pushes_through_two_processes_and_pulls_through_either_miss_nothing(db_url: str, tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    servers = [ServerProcess(db_url, bootstrap=BOOT, log=tmp_path / f"s{i}.log") for i in range(2)]
    try:
        clients = [httpx.Client(base_url=s.url, timeout=60) for s in servers]
        admin = SyncClient.enrolled(clients[0], BOOT, user="boss", role="backoffice")
        pushers = [SyncClient.enrolled(clients[i % 2], BOOT, user=f"rep{i}", role="backoffice") for i in range(PUSHERS)]
        written: dict[str, str] = {}
        lock = threading.Lock()
        stop = threading.Event()
        pulled: dict[str, str] = {}
        times_seen: dict[str, int] = {}
        pages = 0
        errors: list[BaseException] = []

        def push_loop(n: int, c: SyncClient) -> None:
            try:
                with httpx.Client(timeout=60) as own:
                    for b in range(BATCHES):
                        own.base_url = servers[(n + b) % 2].url  # alternate processes batch by batch
                        c.http = own
                        batch = []
                        for _ in range(PER_BATCH):
                            pk = str(uuid.uuid4())
                            with lock:
                                written[pk] = f"{n}:{b}"
                            batch.append(c.change("warehouse", pk, {"code": f"{n}:{b}"}))
                        r = c.push(batch)
                        assert r.status_code == 200, r.text
                        assert r.json()["acked"] == c.seq
            except BaseException as exc:  # surfaced in the main thread
                errors.append(exc)

        def pull_loop() -> None:
            nonlocal pages
            try:
                with httpx.Client(timeout=60) as own:
                    while not stop.is_set():
                        own.base_url = servers[pages % 2].url  # alternate processes page by page
                        admin.http = own
                        params = {"limit": 13, **({"cursor": admin.cursor} if admin.cursor else {})}
                        r = own.get("/api/v1/sync/pull", params=params, headers=admin.headers)
                        assert r.status_code == 200, r.text
                        for ch in r.json()["changes"]:
                            if ch["table"] == "warehouse":
                                times_seen[ch["pk"]] = times_seen.get(ch["pk"], 0) + 1
                                pulled[ch["pk"]] = ch["vals"]["code"]
                        admin.cursor = r.json()["cursor"]
                        pages += 1
            except BaseException as exc:
                errors.append(exc)

        started = time.perf_counter()
        threads = [threading.Thread(target=push_loop, args=(i, c)) for i, c in enumerate(pushers)]
        puller = threading.Thread(target=pull_loop)
        puller.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        elapsed = time.perf_counter() - started
        stop.set()
        puller.join(timeout=60)
        assert not errors, errors
        with httpx.Client(base_url=servers[1].url, timeout=60) as last:
            admin.http = last
            for ch in admin.pull_all(limit=50):
                if ch["table"] == "warehouse":
                    times_seen[ch["pk"]] = times_seen.get(ch["pk"], 0) + 1
                    pulled[ch["pk"]] = ch["vals"]["code"]
        assert len(written) == PUSHERS * BATCHES * PER_BATCH
        assert pulled == written
        assert set(times_seen.values()) == {1}  # rows written once are served once: no duplicates
        with capsys.disabled():
            print(f"\n[two processes, {db_url.split(':')[0]}] {len(written)} changes in "
                  f"{PUSHERS * BATCHES} pushes through 2 processes in {elapsed:.2f} s "
                  f"({len(written) / elapsed:.0f} changes/s) while pulling {pages} pages concurrently")
    finally:
        for s in servers:
            s.stop()
