"""``fieldsync import DIR`` end to end: the installed command in a subprocess, on a real database
named by FIELDSYNC_DATABASE_URL, as a user runs it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from server.db.engine import open_database
from server.demo import DEMO_DIR

FIELDSYNC = Path(sys.executable).with_name("fieldsync")


def _run(db_url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDSYNC_")}
    env.update(FIELDSYNC_DATABASE_URL=db_url, COLUMNS="200")
    return subprocess.run([str(FIELDSYNC), "import", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


def _count(db_url: str, table: str) -> int:
    async def run() -> int:
        db = open_database(db_url)
        try:
            async with db.read() as conn:
                return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
        finally:
            await db.dispose()

    return asyncio.run(run())


def _summary_rows(out: str) -> dict[str, list[str]]:
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if cells and (cells[0].endswith(".csv") or cells[0] == "total"):
            rows[cells[0]] = cells[1:]
    return rows


def test_import_loads_the_demo_company_then_finds_nothing_to_change(db_url: str, tmp_path: Path) -> None:
    first = _run(db_url, str(DEMO_DIR), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    rows = _summary_rows(first.stdout)
    assert f"Imported {DEMO_DIR}:" in first.stdout
    assert rows["products.csv"] == ["37", "37", "0", "0"]  # rows, created, updated, unchanged
    assert rows["bom.csv"] == ["56", "56", "0", "0"]
    assert rows["total"] == ["227", "227", "0", "0"]

    again = _run(db_url, str(DEMO_DIR), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"Imported {DEMO_DIR}: nothing had changed." in again.stdout
    assert _summary_rows(again.stdout)["total"] == ["227", "0", "0", "227"]


def test_a_broken_folder_exits_1_names_every_problem_and_loads_nothing(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "company"
    shutil.copytree(DEMO_DIR, folder)
    stock = (folder / "stock.csv").read_text(encoding="utf-8").replace("FG-DESK-140,WH1,18", "FG-DESK-140,WH1,-18")
    (folder / "stock.csv").write_text(stock, encoding="utf-8")
    with open(folder / "bom.csv", "a", encoding="utf-8") as f:
        f.write("FG-DESK-140,NO-SUCH-SKU,1,0\n")
    (folder / "notes.csv").write_text("anything\n", encoding="utf-8")

    result = _run(db_url, str(folder), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    err = result.stderr
    assert f"2 problems in {folder}; nothing was imported:" in err
    assert "bom.csv:58:component_sku: no product 'NO-SUCH-SKU' in products.csv or in the database" in err
    assert "stock.csv:2:qty: must not be negative, got -18" in err
    assert err.index("bom.csv:58") < err.index("stock.csv:2")  # in load order
    assert "ignored notes.csv: not one of the import files" in err
    assert _count(db_url, "product") == 0


def test_a_dry_run_prints_what_would_change_and_a_missing_folder_is_an_error(db_url: str, tmp_path: Path) -> None:
    dry = _run(db_url, str(DEMO_DIR), "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert f"Dry run of {DEMO_DIR}: nothing was written. An import would do this:" in dry.stdout
    assert _summary_rows(dry.stdout)["total"] == ["227", "227", "0", "0"]
    assert _count(db_url, "product") == 0  # migrated, but empty

    missing = _run(db_url, str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 1
    assert "no such folder" in missing.stderr
