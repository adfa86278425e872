"""The test infrastructure itself: db_url gives a working, isolated database on each backend."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.pg import ROOT, free_port

# URLs handed to test_isolated_databases, by backend, to compare across its two runs.
_seen: dict[str, list[str]] = {}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_db_url_works(db_backend: str, db_url: str, request: pytest.FixtureRequest) -> None:
    # Collected once per backend, ids exactly "sqlite" / "postgres"; postgres is marked.
    assert request.node.callspec.id == db_backend
    assert (request.node.get_closest_marker("postgres") is not None) == (db_backend == "postgres")
    url = make_url(db_url)
    if db_backend == "sqlite":
        assert url.drivername == "sqlite+aiosqlite"
        assert url.database and url.database.endswith("test.db")
    else:
        assert url.drivername == "postgresql+asyncpg"
        assert url.database and url.database.startswith("fs_")

    async def go() -> None:
        engine = create_async_engine(db_url)
        try:
            async with engine.begin() as conn:
                assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
                await conn.execute(
                    text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
                )
                await conn.execute(
                    text("INSERT INTO item (id, name) VALUES (:id, :name)"),
                    [{"id": 1, "name": "bolt"}, {"id": 2, "name": "Müller 螺丝"}],
                )
            # A new transaction (and, on SQLite, the file) sees the committed rows.
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT id, name FROM item ORDER BY id"))).all()
                assert [tuple(r) for r in rows] == [(1, "bolt"), (2, "Müller 螺丝")]
                if db_backend == "postgres":
                    # The server orders its change log by transaction ids (xid8).
                    xid = (await conn.execute(text("SELECT pg_current_xact_id()"))).scalar_one()
                    assert int(str(xid)) > 0
                    xmin = (
                        await conn.execute(
                            text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                        )
                    ).scalar_one()
                    assert 0 < xmin <= int(str(xid))
        finally:
            await engine.dispose()

    run(go())


@pytest.mark.parametrize("turn", ["first", "second"])
def test_isolated_databases(turn: str, db_backend: str, db_url: str) -> None:
    """Each test gets its own empty database: a table made by one run is absent in the other."""

    async def go() -> list[str]:
        engine = create_async_engine(db_url)
        try:
            async with engine.begin() as conn:
                # Fails if a previous test's table were visible here.
                await conn.execute(text("CREATE TABLE only_once (turn TEXT)"))
                await conn.execute(text("INSERT INTO only_once VALUES (:t)"), {"t": turn})
                return list((await conn.execute(text("SELECT turn FROM only_once"))).scalars())
        finally:
            await engine.dispose()

    assert run(go()) == [turn]
    earlier = _seen.setdefault(db_backend, [])
    assert db_url not in earlier
    if db_backend == "postgres" and earlier:
        # The earlier test's database was dropped after it.
        async def exists(name: str) -> bool:
            engine = create_async_engine(db_url)
            try:
                async with engine.connect() as conn:
                    found = await conn.execute(
                        text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                    )
                    return found.first() is not None
            finally:
                await engine.dispose()

        for prev in earlier:
            assert not run(exists(make_url(prev).database or "")), prev
    earlier.append(db_url)


def test_free_port() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))


def test_unreachable_postgres_fails_not_skips(tmp_path: Any) -> None:
    """With PostgreSQL out of reach, a postgres test errors out with a clear message."""
    if os.environ.get("FIELDSYNC_INFRA_INNER"):
        pytest.fail("recursion")
    env = dict(os.environ)
    env["FIELDSYNC_TEST_PG_URL"] = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nope"
    env["FIELDSYNC_INFRA_INNER"] = "1"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            # Plugins this run does not need, for a faster start (absent ones are fine).
            *("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:faker"),
            "tests/test_infra.py::test_db_url_works[postgres]",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 error" in out and "skipped" not in out, out
    assert "PostgreSQL is required" in out and "not reachable" in out, out
