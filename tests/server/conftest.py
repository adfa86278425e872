"""Server fixtures: the service in-process on a real database, and the real app over real HTTP.

Every fixture here stands on ``db_url`` (tests/conftest.py), so each test runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn

from server.app import create_app, open_service
from server.config import Settings
from server.domain.sync.clock import ServerClock
from tests.server.client import Service, SyncClient

BOOT = "test-bootstrap-token"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, bootstrap_token=BOOT)


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[Service]:
    """The sync service called in-process (no HTTP), on a migrated real database."""
    db, secret = await open_service(settings)
    try:
        yield Service(db=db, clock=ServerClock(), settings=settings, secret=secret)
    finally:
        await db.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The real app served by uvicorn in a thread, on a loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def admin(http: httpx.Client) -> SyncClient:
    """A back-office device enrolled through the bootstrap token."""
    return SyncClient.enrolled(http, BOOT, user="boss", role="backoffice")
