"""Dependencies point inward: mobile, server -> sync -> shared, never back; the sync core does
no I/O and reads no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "shared": {"sync", "server", "mobile", "sqlalchemy", "litestar", "kivy"},
    "sync": {"server", "mobile", "sqlalchemy", "litestar", "kivy"},
    "server": {"mobile", "kivy"},
    "mobile": {"server", "sqlalchemy", "litestar"},
}
PURE_SYNC_CORE = ["hlc.py", "merge.py", "protocol.py", "codec.py", "outbox.py", "ports.py"]
IMPURE = {"sqlite3", "urllib", "socket", "time", "os", "httpx", "asyncio", "random"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_crosses_a_boundary_outward(package: str) -> None:
    offenders = {}
    for path in (ROOT / package).rglob("*.py"):
        bad = _imports(path) & FORBIDDEN[package]
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}


def test_the_sync_core_does_no_io_and_reads_no_clock() -> None:
    offenders = {}
    for name in PURE_SYNC_CORE:
        bad = _imports(ROOT / "sync" / name) & IMPURE
        if bad:
            offenders[name] = sorted(bad)
    assert offenders == {}


def test_presenters_do_not_import_kivy() -> None:
    presenters = ROOT / "mobile" / "presenters"
    for path in presenters.rglob("*.py") if presenters.exists() else []:
        assert "kivy" not in _imports(path), path
