"""Helpers of the master data tests: the demo folder as texts, copies with one file changed, and
a whole-database snapshot to prove that an import wrote nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.db.engine import Database
from server.db.schema import metadata
from server.demo import DEMO_DIR
from server.domain.masterdata.specs import FILE_NAMES


def demo_files() -> dict[str, str]:
    """Every demo file: name -> its text."""
    return {name: (DEMO_DIR / name).read_text(encoding="utf-8") for name in FILE_NAMES}


def lines(name: str) -> list[str]:
    return demo_files()[name].splitlines()


def with_file(name: str, text: str) -> dict[str, str]:
    """The demo files with ``name`` replaced by ``text``."""
    return {**demo_files(), name: text}


def with_line(name: str, line: int, text: str) -> dict[str, str]:
    """The demo files with line ``line`` (1 = the header) of ``name`` replaced by ``text``."""
    rows = lines(name)
    rows[line - 1] = text
    return with_file(name, "\n".join(rows) + "\n")


def appended(name: str, *extra: str) -> dict[str, str]:
    return with_file(name, "\n".join([*lines(name), *extra]) + "\n")


async def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (versions and _rev included), in a stable order."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with db.read() as conn:
        for name, table in sorted(metadata.tables.items()):
            rows = [dict(r) for r in (await conn.execute(select(table))).mappings()]
            out[name] = sorted(rows, key=lambda r: repr(sorted(r.items(), key=lambda kv: kv[0])))
    return out


async def count(db: Database, table: str) -> int:
    async with db.read() as conn:
        return len((await conn.execute(select(metadata.tables[table]))).all())
