"""``fieldsync import DIR`` on a terminal: rich progress bars on stderr while the files are checked
and written, then a table of what changed per file on stdout, or every problem found on stderr
(exit code 1, nothing written)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from server.config import Settings, load_settings
from server.domain.masterdata.importer import ImportRejected, ImportResult, read_folder, run_import
from server.domain.sync.clock import ServerClock
from shared.errors import DomainError

__all__ = ["RichProgress", "import_command", "print_problems", "summary_heading", "summary_table"]

SHOWN_PROBLEMS = 100  # listed on the terminal; the count says how many more there are


class RichProgress:
    """One bar per step (checking a file, writing a table), all kept on screen."""

    def __init__(self, console: Console) -> None:
        self.bars = Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(),
                             TimeElapsedColumn(), console=console)
        self.task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        self.bars.stop()

    def _finish(self) -> None:
        if self.task is not None:
            total = self.bars.tasks[self.task].total or 0
            self.bars.update(self.task, completed=total)

    def start(self, label: str, total: int) -> None:
        self._finish()
        self.task = self.bars.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.bars.advance(self.task, n)


def summary_heading(result: ImportResult, folder: Path | str) -> str:
    if result.dry_run:
        return f"Dry run of {folder}: nothing was written. An import would do this:"
    return f"Imported {folder}:" if result.changed else f"Imported {folder}: nothing had changed."


def summary_table(result: ImportResult) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("file", no_wrap=True)
    for name in ("rows", "created", "updated", "unchanged"):
        table.add_column(name, justify="right")
    for f in result.files:
        table.add_row(f.file, str(f.rows), str(f.created), str(f.updated), str(f.unchanged))
    totals = [sum(getattr(f, k) for f in result.files) for k in ("rows", "created", "updated", "unchanged")]
    table.add_section()
    table.add_row("total", *map(str, totals), style="bold")
    return table


def print_problems(console: Console, exc: ImportRejected, folder: Path | str) -> None:
    n = len(exc.issues)
    console.print(f"[red bold]{n} problem{'s' if n != 1 else ''}[/] in {folder}; nothing was imported:",
                  highlight=False)
    for issue in exc.issues[:SHOWN_PROBLEMS]:
        console.print(str(issue), markup=False, highlight=False, soft_wrap=True)
    if n > SHOWN_PROBLEMS:
        console.print(f"... and {n - SHOWN_PROBLEMS} more", highlight=False)


def import_command(folder: Path, *, dry_run: bool = False, settings: Settings | None = None,
                   err: Console | None = None, out: Console | None = None) -> int:
    """Migrate the database, import ``folder``, print the outcome; the process exit code."""
    from server.app import open_service  # the app imports this package's controllers

    err = err or Console(stderr=True)
    out = out or Console()
    settings = settings or load_settings()

    async def run() -> ImportResult:
        sources, ignored = read_folder(folder)
        for name in ignored:
            err.print(f"[yellow]ignored {name}[/]: not one of the import files", highlight=False)
        db, _ = await open_service(settings)
        try:
            if err.is_terminal:
                with RichProgress(err) as progress:
                    return await run_import(db, ServerClock(), sources, dry_run=dry_run, progress=progress,
                                            ignored=ignored)
            return await run_import(db, ServerClock(), sources, dry_run=dry_run, ignored=ignored)
        finally:
            await db.dispose()

    try:
        result = asyncio.run(run())
    except ImportRejected as exc:
        print_problems(err, exc, folder)
        return 1
    except DomainError as exc:
        err.print(f"[red]import:[/] {exc.detail}", highlight=False)
        return 1
    out.print(summary_heading(result, folder), highlight=False, soft_wrap=True)
    out.print(summary_table(result))
    return 0
