"""Real server processes for end-to-end tests: ``fieldsync serve`` started as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
FIELDSYNC = str(Path(sys.executable).with_name("fieldsync"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, db_url: str, *, bootstrap: str, log: Path, extra_env: dict[str, str] | None = None,
                 workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "FIELDSYNC_DATABASE_URL": db_url, "FIELDSYNC_BOOTSTRAP_TOKEN": bootstrap,
               **(extra_env or {})}
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(
            [FIELDSYNC, "serve", "--port", str(self.port), "--workers", str(workers), "--log-level", "warning"],
            env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self._log.name}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not become healthy")

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
