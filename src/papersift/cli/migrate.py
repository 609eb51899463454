"""papersift migrate --from URL --to URL: copy a whole papersift database to another backend."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from papersift.cli.common import app, err, esc, out, progress_bar


@app.command("migrate")
def migrate(
    source: Annotated[str, typer.Option("--from", help="source database URL, e.g. sqlite:///data/papersift.db")],
    target: Annotated[str, typer.Option("--to", help="target URL, e.g. postgresql+psycopg://user@host/papersift")],
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="rows per transaction")] = 2000,
    replace: Annotated[bool, typer.Option("--replace", help="empty the target's tables first")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Copy every table (papers, aliases, vectors, accounts, votes, jobs, ingest log, counters, …) in
    batches, verify row counts and checksums, reset sequences. Safe to re-run; stop writers first."""
    from papersift.store.db import SchemaOutOfDate
    from papersift.store.migrate import MigrationMismatch, copy_database

    if source == target:
        raise typer.BadParameter("--from and --to are the same database", param_hint="--to")
    bar = progress_bar()
    tasks: dict[str, object] = {}

    def progress(table: str, done: int, total: int) -> None:
        if table not in tasks:
            tasks[table] = bar.add_task(table, total=max(total, 1), rate="")
        bar.update(tasks[table], completed=done if total else 1)  # type: ignore[arg-type]

    try:
        with bar:
            reports = copy_database(source, target, batch=batch, replace=replace, progress=progress)
    except (SchemaOutOfDate, MigrationMismatch) as e:
        err.print(f"[red]error:[/] {esc(str(e))}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps({"tables": [{"table": r.table, "rows": r.target_rows, "copied": r.copied,
                                      "checksum": r.target_checksum, "ok": r.ok} for r in reports]}))
        return
    for r in reports:
        out.print(f"{r.table:<16} {r.target_rows:>10} rows  checksum {r.target_checksum[:12]}  ok")
    out.print(f"copied {sum(r.copied for r in reports)} rows in {len(reports)} tables; every count and checksum "
              "equal")
