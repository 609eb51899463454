"""The Typer app, its global options, and what every command shares."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from typer.core import TyperGroup

from papersift import log, models
from papersift.config import Settings, default_data_dir

if TYPE_CHECKING:
    from papersift.engine import Engine

err = Console(stderr=True)
READ_ONLY_EXIT = 4  # exit code of a command that would write in read-only mode


class _Commands(TyperGroup):
    """Every command: a write refused by read-only mode ends in one line and exit code 4."""

    def invoke(self, ctx: Any) -> Any:  # typer.core.TyperGroup.invoke takes its vendored click Context
        from papersift.store.db import ReadOnlyStore

        try:
            return super().invoke(ctx)
        except ReadOnlyStore as e:
            err.print(f"[red]error:[/] {esc(str(e))}")
            raise typer.Exit(READ_ONLY_EXIT) from None


app = typer.Typer(help="papersift: a self-hosted research-paper discovery engine.", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=_Commands)
out = Console(highlight=False)


class State:
    settings: Settings
    log_level: str | None = None


state = State()


@app.callback()
def main(data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", envvar="PAPERSIFT_DATA",
        help="Data directory (SQLite database + indexes). Default: the platform data dir.")] = None,
         log_level: Annotated[str | None, typer.Option(
             "--log-level", envvar="PAPERSIFT_LOG_LEVEL",
             help="DEBUG, INFO, WARNING (default for commands) or ERROR.")] = None,
         read_only: Annotated[bool, typer.Option(
             "--read-only", envvar="PAPERSIFT_READ_ONLY",
             help="Serve and search only; every write is refused (also on for an unwritable data dir).")]
         = False) -> None:
    state.settings = Settings(data_dir=data_dir or default_data_dir())
    state.settings.read_only = state.settings.read_only or read_only
    state.log_level = log_level
    log.setup(log_level)


def esc(text: str) -> str:
    return escape(text)


def open_engine(role: str = "reader", owner: str = "cli", wait: float = 0.0) -> Engine:
    """Open the data dir for a command. A brand-new database gets its schema here; an existing one
    that is behind must be migrated with ``papersift db upgrade`` (said in one line, exit 2)."""
    from papersift.engine import IndexBusy, read_only_reason
    from papersift.engine import open_engine as _open
    from papersift.index.embedders import model_name
    from papersift.store import Database, SchemaOutOfDate
    from papersift.store.db import ReadOnlyStore

    try:
        model_name(state.settings.embedder)
    except ValueError as e:
        err.print(f"[red]error:[/] {esc(str(e))}")
        raise typer.Exit(2) from None
    reason = read_only_reason(state.settings)
    if reason and role != "reader":
        raise ReadOnlyStore(f"{reason}: this command writes")
    if not reason:
        state.settings.ensure()
    try:
        db = Database(state.settings.db_url, read_only=bool(reason))
        try:
            fresh = db.revision() is None
        finally:
            db.close()
        if fresh and reason:
            raise SchemaOutOfDate(f"{state.settings.db_url} holds no papersift database, and {reason} "
                                  "cannot create one")
        return _open(state.settings, role, owner=owner, wait=wait, upgrade=fresh)
    except SchemaOutOfDate as e:
        err.print(f"[red]error:[/] {esc(str(e))}")
        raise typer.Exit(2) from None
    except IndexBusy as e:
        err.print(f"[red]error:[/] {esc(str(e))}; stop it or try again when it is done")
        raise typer.Exit(3) from None


def progress_bar() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=err, transient=False,
                    disable=not err.is_terminal)


def parse_day(value: str | None, name: str) -> date | None:
    try:
        return models.parse_day(value, name)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


def finish_indexing(eng: Engine, what: str, wait: float = 600.0) -> None:
    """After a store-only write (another process owned the indexes): leave the indexing to a running
    worker, or wait for a short-lived owner (another ingest) to finish and catch up ourselves."""
    from papersift.index.owner import describe, is_worker

    if eng.is_owner:
        return
    owner = eng.lock.owner()
    if is_worker(owner):
        err.print(f"{what}: {describe(owner)} owns the indexes and will index them")
        return
    if owner:
        err.print(f"{what}: waiting for {describe(owner)} to release the indexes, to index them")
    if eng.become_owner("cli", wait=wait):
        eng.catch_up()
        eng.catch_up_vectors(force_save=True)
    else:
        err.print(f"{what}: the indexes are still owned by {describe(eng.lock.owner())}; "
                  "they will be indexed by the next owner (worker, ingest or embed)")
