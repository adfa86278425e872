"""A server killed with SIGKILL in the middle of a push keeps all of the batch or none of it,
and the client's retry completes it."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.procs import ServerProcess
from tests.server.client import SyncClient

BOOT = "kill9-bootstrap"
pytestmark = pytest.mark.slow


def _count(http: httpx.Client, client: SyncClient, pks: set[str]) -> int:
    client.http = http
    client.cursor = None
    client.seen.clear()
    client.pull_all(limit=5000)
    return sum(1 for (table, pk) in client.seen if table == "product" and pk in pks)


def test_kill_9_mid_push_leaves_all_or_nothing_and_retry_completes(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    slow = ServerProcess(db_url, bootstrap=BOOT, log=log, extra_env={"FIELDSYNC_FAULT_PUSH_DELAY_MS": "3000"})
    try:
        with httpx.Client(base_url=slow.url, timeout=30) as http:
            client = SyncClient.enrolled(http, BOOT, user="boss", role="backoffice")
            changes = [client.change("product", str(uuid.uuid4()), {"sku": f"K{i}", "name": f"Killed {i}"})
                       for i in range(1500)]
            outcome: list[object] = []

            def send() -> None:
                try:
                    outcome.append(client.push(changes))
                except httpx.HTTPError as exc:  # the connection dies with the process
                    outcome.append(exc)

            sender = threading.Thread(target=send)
            sender.start()
            time.sleep(1.5)  # the batch is written, the transaction held open by the fault delay
            slow.kill9()
            sender.join(timeout=30)
        assert outcome and isinstance(outcome[0], httpx.HTTPError), "the push must not have completed"
    finally:
        slow.stop()

    pks = {c["pk"] for c in changes}
    again = ServerProcess(db_url, bootstrap=BOOT, log=log)
    try:
        with httpx.Client(base_url=again.url, timeout=60) as http:
            assert _count(http, client, pks) == 0  # nothing of the killed batch is visible
            retry = http.post("/api/v1/sync/push", json={"site": client.device_id, "changes": changes},
                              headers=client.headers)
            assert retry.status_code == 200, retry.text
            assert retry.json()["acked"] == 1500
            assert retry.json()["rejected"] == []
            assert _count(http, client, pks) == 1500
            # and once more, as after a lost response: nothing changes
            again_resp = http.post("/api/v1/sync/push", json={"site": client.device_id, "changes": changes},
                                   headers=client.headers)
            assert again_resp.json()["acked"] == 1500
            assert _count(http, client, pks) == 1500
    finally:
        again.stop()
