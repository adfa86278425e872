"""Back-office fixtures: the real app with the demo company, served over real HTTP on loopback,
once for all of tests/web per backend (SQLite and PostgreSQL), and one headless Chromium for the
browser tests (Debian's /usr/bin/chromium driven by Playwright; Playwright never downloads a browser).

Tests that change data (revoking, scheduling orders, running MRP) each pick rows no other test
reads, so the shared server stays fair to every test of the package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from server.app import open_service
from server.config import Settings
from server.demo import load_demo
from tests.pg import PostgresUnavailable, base_pg_url, create_database, drop_database
from tests.server.conftest import LiveServer

T = TypeVar("T")
BOOT = "web-bootstrap-token"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@dataclass
class Demo:
    url: str
    tokens: dict[str, str]  # role -> a device token of the demo's devices ("bootstrap" too)

    def client(self, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Client:
        """A client that sends this site's Origin on every request, as a browser does on POSTs."""
        return httpx.Client(base_url=self.url, timeout=30, follow_redirects=False,
                            headers={"Origin": self.url, **(headers or {})}, **kw)

    @contextmanager
    def login(self, role: str = "backoffice", lang: str = "en") -> Iterator[httpx.Client]:
        """A client signed in through the login form, with its session cookie."""
        with self.client(cookies={"fs_lang": lang}) as c:
            r = c.post("/backoffice/login", data={"token": self.tokens[role]})
            assert r.status_code == 303, r.text
            yield c


def _off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` in a thread of its own: these helpers call asyncio.run, and once the session's
    browser is up, Playwright's event loop runs in the test thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


async def _load(settings: Settings) -> list[tuple[str, str]]:
    db, _ = await open_service(settings)
    try:
        result = await load_demo(db, settings=settings)
    finally:
        await db.dispose()
    return [(d.role, d.enrolment_code) for d in result.devices]


@pytest.fixture(scope="package", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A server with the demo company loaded, and a token for each of its devices' roles."""
    base: str | None = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('web') / 'web.db'}"
    else:
        try:
            base = _off_loop(base_pg_url)
        except PostgresUnavailable as e:
            pytest.fail(f"PostgreSQL is required for the postgres tests: {e}", pytrace=False)
        url = _off_loop(create_database, base)
    settings = Settings(database_url=url, bootstrap_token=BOOT)
    codes = _off_loop(lambda: asyncio.run(_load(settings)))
    server = LiveServer(settings)
    server.start()
    try:
        tokens = {"bootstrap": BOOT}
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for role, code in codes:
                r = c.post("/api/v1/devices/enrol", json={"enrolment_code": code})
                assert r.status_code == 200, r.text
                tokens[role] = r.json()["token"]
        yield Demo(server.url, tokens)
    finally:
        server.stop()
        if base is not None:
            _off_loop(drop_database, url, base)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one module of browser tests (test_browser.py). Module scope, not session:
    Playwright's sync API keeps its event loop running in the test thread while it is open, and
    tests that come after it (anywhere in the session) call asyncio.run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where browser tests leave screenshots (a temp dir; never committed)."""
    return tmp_path_factory.mktemp("screenshots")
