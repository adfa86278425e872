"""Test helpers: the PostgreSQL test server, throwaway databases, free ports.

Plain functions (no pytest import), so fixtures in any conftest, and subprocess-based tests,
can use them:

    from tests.pg import base_pg_url, create_database, drop_database, free_port
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import subprocess
import time
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import uuid_utils
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parent.parent
PG_SCRIPT = ROOT / "scripts" / "pg.sh"
ENV_VAR = "FIELDSYNC_TEST_PG_URL"
DB_PREFIX = "fs_"
# Databases left behind by killed runs are dropped once they are this old (their names carry
# a UUIDv7, hence their creation time). Younger ones may belong to a run still going on.
STALE_AFTER_S = 6 * 3600


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server for the tests could be found or started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _asyncpg_dsn(url: URL) -> str:
    """The SQLAlchemy URL as a plain libpq-style DSN that asyncpg understands."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _ping(url: URL) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()


@functools.cache
def base_pg_url() -> str:
    """URL of the base test database (SQLAlchemy form, `postgresql+asyncpg://...`).

    Taken from $FIELDSYNC_TEST_PG_URL; if that is unset, scripts/pg.sh is run (once per
    process) to start the local test server. Raises PostgresUnavailable if PostgreSQL cannot
    be reached: tests must fail, not skip, without it.
    """
    url = os.environ.get(ENV_VAR, "").strip()
    how = f"${ENV_VAR}"
    if not url:
        how = "scripts/pg.sh"
        try:
            proc = subprocess.run(
                ["bash", str(PG_SCRIPT)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=180,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise PostgresUnavailable(f"running {PG_SCRIPT} failed: {e}") from e
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise PostgresUnavailable(
                f"{PG_SCRIPT} exited with {proc.returncode} and printed no URL.\n"
                f"stderr:\n{proc.stderr.strip()}"
            )
        url = lines[-1].strip()
        # Child processes (servers spawned by tests) find the same server.
        os.environ[ENV_VAR] = url
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise PostgresUnavailable(f"{how} gave {url!r}, which is not a postgresql URL")
    if parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    try:
        asyncio.run(_ping(parsed))
    except Exception as e:
        raise PostgresUnavailable(
            f"PostgreSQL at {parsed.render_as_string()} (from {how}) is not reachable: "
            f"{type(e).__name__}: {e}. Run the tests with scripts/test.sh, which starts it."
        ) from e
    return parsed.render_as_string(hide_password=False)


def _db_created_at(name: str) -> float | None:
    """Creation time (unix seconds) encoded in a `fs_<uuid7 hex>` name, or None."""
    hexpart = name[len(DB_PREFIX) :]
    if len(hexpart) != 32 or hexpart[12] != "7":
        return None
    try:
        return int(hexpart[:12], 16) / 1000
    except ValueError:
        return None


async def _create(base: URL, name: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(base), timeout=30)
    try:
        # FILE_COPY (PostgreSQL 15+) beats the default WAL_LOG for a tiny template: ~30% here.
        strategy = " STRATEGY FILE_COPY" if conn.get_server_version().major >= 15 else ""
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0{strategy}')
    finally:
        await conn.close()


async def _drop(base: URL, names: list[str]) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(base), timeout=30)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _stale(base: URL) -> list[str]:
    conn = await asyncpg.connect(_asyncpg_dsn(base), timeout=30)
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", DB_PREFIX + "%"
        )
    finally:
        await conn.close()
    now = time.time()
    out = []
    for r in rows:
        created = _db_created_at(r["datname"])
        if created is not None and now - created > STALE_AFTER_S:
            out.append(r["datname"])
    return out


def drop_stale_databases(base_url: str) -> None:
    """Drop `fs_*` databases that killed test runs left behind long ago."""
    base = make_url(base_url)
    stale = asyncio.run(_stale(base))
    if stale:
        asyncio.run(_drop(base, stale))


def create_database(base_url: str) -> str:
    """Create a fresh empty database `fs_<uuid7 hex>` next to base_url's; return its URL."""
    base = make_url(base_url)
    name = DB_PREFIX + uuid_utils.uuid7().hex
    asyncio.run(_create(base, name))
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str, base_url: str | None = None) -> None:
    """Drop a database made by create_database, closing any connections still open to it."""
    target = make_url(url)
    name = target.database or ""
    if not name.startswith(DB_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    base = make_url(base_url or base_pg_url())
    asyncio.run(_drop(base, [name]))
