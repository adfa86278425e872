"""The docs stay a faithful superset of the registry: every synced table, its kind, every
column and every status order appear in docs/protocol.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.registry import TABLES, Kind

DOC = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_every_synced_table_and_column_is_documented(table) -> None:  # type: ignore[no-untyped-def]
    row = re.search(rf"^\| `{table.name}` \| ([^|]+)\| (.+) \|$", DOC, re.M)
    assert row is not None, f"docs/protocol.md has no row for {table.name}"
    assert row.group(1).strip().startswith(table.kind.value)
    for column in table.columns:
        assert f"`{column.name}`" in row.group(2), f"{table.name}.{column.name} is not documented"


@pytest.mark.parametrize("table", [t for t in TABLES if t.kind is Kind.LWW], ids=lambda t: t.name)
def test_every_status_order_is_documented(table) -> None:  # type: ignore[no-untyped-def]
    for column in table.columns:
        if column.is_status:
            assert f"| `{table.name}.{column.name}` | {', '.join(column.states)} |" in DOC


def test_the_contract_page_is_contained_in_our_docs() -> None:
    """Every path of the fixed contract appears in docs/protocol.md."""
    contract = Path(__file__).resolve().parents[2] / "shared" / "PROTOCOL.md"
    if not contract.exists():  # the contract sits beside the repository, as CI lays it out
        contract = Path("/work/shared/PROTOCOL.md")
    paths = set(re.findall(r"`(?:GET|POST|DELETE) (/api/v1/[^` ?]+)", contract.read_text(encoding="utf-8")))
    assert paths, "no endpoint found in PROTOCOL.md"
    for path in paths:
        assert path in DOC, path
