"""Master data tests use the server fixtures (tests/server/conftest.py): ``service`` in-process,
``live_server``/``http``/``admin`` over real HTTP, each on SQLite and on PostgreSQL."""

# ruff: noqa: F401  (fixtures are imported by name and requested by name)
from __future__ import annotations

from tests.server.conftest import admin, anyio_backend, http, live_server, service, settings
