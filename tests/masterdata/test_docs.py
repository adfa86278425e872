"""docs/import.md stays a faithful user's guide: every file of the importer, every column with
whether it is required, and every kind of the HTTP API are described there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.domain.masterdata.specs import FILES, KINDS, FileSpec

DOC = (Path(__file__).resolve().parents[2] / "docs" / "import.md").read_text(encoding="utf-8")


def _section(name: str) -> str:
    start = DOC.index(f"### `{name}`")
    end = DOC.find("\n### ", start + 1)
    return DOC[start:end]


@pytest.mark.parametrize("spec", FILES, ids=lambda s: s.name)
def test_every_file_and_column_is_documented_with_its_requiredness(spec: FileSpec) -> None:
    section = _section(spec.name)
    for col in spec.cols:
        row = re.search(rf"^\| `{col.name}` \| ([^|]+) \| ([^|]+) \|", section, re.M)
        assert row is not None, f"{spec.name}: column {col.name} is not documented"
        assert row.group(2).strip().startswith("yes" if col.required else "no"), (spec.name, col.name)
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, re.M)
    assert documented == list(spec.columns), spec.name  # in the file's order, nothing extra
    assert f"Key: {', '.join(f'`{k}`' for k in spec.key)}" in " ".join(section.split())


def test_every_kind_of_the_api_is_documented() -> None:
    for kind in KINDS:
        assert f"`{kind}`" in DOC, kind
    for path in ("POST /api/v1/import", "GET /api/v1/master/{kind}", "POST /api/v1/master/{kind}"):
        assert path in DOC, path
