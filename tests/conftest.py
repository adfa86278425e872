"""Shared fixtures: every database test runs on both SQLite and PostgreSQL.

- `db_backend`: "sqlite" or "postgres" (test ids exactly those; postgres is marked
  `pytest.mark.postgres`).
- `db_url`: a fresh, empty database for this test, as an SQLAlchemy async URL:
  SQLite: a real file `sqlite+aiosqlite:///<tmp_path>/test.db`.
  PostgreSQL: a new database `fs_<uuid7 hex>` on the test server, dropped after the test
  (WITH (FORCE), so connections a test leaves open do not block it).
- `pg_base_url`: the test server's base database URL (session-scoped).

PostgreSQL comes from $FIELDSYNC_TEST_PG_URL (scripts/test.sh sets it), or else from running
scripts/pg.sh once. If it cannot be reached the PostgreSQL tests FAIL; they never skip.

No app/server fixtures here: those live next to the tests that use them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg import (
    PostgresUnavailable,
    base_pg_url,
    create_database,
    drop_database,
    drop_stale_databases,
)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    try:
        url = base_pg_url()
    except PostgresUnavailable as e:
        pytest.fail(f"PostgreSQL is required for the postgres tests: {e}", pytrace=False)
    try:
        drop_stale_databases(url)
    except Exception as e:  # housekeeping only; never fail a run over it
        print(f"conftest: could not drop stale test databases: {e}")
    return url


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if db_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    base: str = request.getfixturevalue("pg_base_url")
    url = create_database(base)
    try:
        yield url
    finally:
        drop_database(url, base)
