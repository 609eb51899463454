"""papersift ingest / demo: files into the store (and the indexes, as their owner)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from papersift.cli.common import app, err, esc, finish_indexing, open_engine, out, progress_bar, state


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to import.")],
    fmt: Annotated[str, typer.Option("--format", help="auto, hf-text, hf-json, arxiv-atom, arxiv-oai, "
                                     "arxiv-snapshot, bibtex, jsonl, csv")] = "auto",
    force: Annotated[bool, typer.Option(help="Re-read files already ingested unchanged.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import papers; prints read / new / updated / duplicate / rejected. Re-running is safe.

    Indexes them too when no other process owns the indexes; beside a running worker it writes the
    store only and the worker indexes."""
    from papersift import ingest as importers
    from papersift.index.owner import describe
    from papersift.pipeline import FileReport, ingest_paths
    from papersift.store.stats import refresh as refresh_stats

    missing = [p for p in paths if not p.exists()]
    for p in missing:
        err.print(f"[red]error:[/] {p}: no such file or directory")
    paths = [p for p in paths if p.exists()]
    if fmt != "auto" and fmt not in importers.FORMATS:
        raise typer.BadParameter(f"unknown format {fmt!r}; choose from auto, {', '.join(importers.FORMATS)}")
    eng = open_engine("auto", owner="ingest")
    if not eng.is_owner:
        err.print(f"ingest: {describe(eng.lock.owner())} owns the indexes; writing the store only")
    files = list(importers.iter_paths(paths))
    total = _estimated_records(files, fmt)
    t0 = time.perf_counter()
    reports: list[FileReport] = []
    try:
        with progress_bar() as bar:
            task = bar.add_task("ingest", total=total, rate="")
            done = 0

            def tick(n: int) -> None:
                nonlocal done
                done += n
                rate = done / max(time.perf_counter() - t0, 1e-9)
                bar.update(task, advance=n, rate=f"{rate:,.0f}/s")

            def on_file(r: FileReport) -> None:
                reports.append(r)
                bar.update(task, description=f"ingest {len(reports)}/{len(files)} files")

            stats = ingest_paths(eng, paths, fmt, force, tick, on_file)
        if stats.new or stats.updated:
            finish_indexing(eng, "ingest")
            refresh_stats(eng.db, force=True)
    finally:
        eng.close()
    elapsed = time.perf_counter() - t0
    summary = {**stats.as_dict(), "files": len(reports), "skipped_files": sum(r.skipped for r in reports),
               "seconds": round(elapsed, 3), "missing": [str(p) for p in missing],
               "errors": [{"source": e.source, "location": e.location, "reason": e.reason}
                          for e in stats.errors[:1000]]}
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        for e in stats.errors[:50]:
            err.print(f"[yellow]rejected[/] {esc(f'{e.source}:{e.location}: {e.reason}')}", highlight=False)
        if len(stats.errors) > 50:
            err.print(f"... and {len(stats.errors) - 50} more rejected records")
        for r in reports:
            if r.skipped:
                out.print(f"skipped {r.path} (already ingested, unchanged; use --force to re-read)")
        out.print(f"read {stats.read}  new {stats.new}  updated {stats.updated}  duplicate {stats.duplicate}"
                  f"  rejected {stats.rejected}  ({len(reports)} files, {elapsed:.1f}s)")
    accepted = stats.new + stats.updated + stats.duplicate
    all_skipped = reports and all(r.skipped for r in reports)
    if (accepted == 0 and not all_skipped) or (missing and not reports):
        raise typer.Exit(1)


def _estimated_records(files: list[Path], fmt: str) -> int | None:
    """Records to expect, for the progress bar's ETA, when every file is JSON lines (one record a
    line: the arXiv snapshot, generic JSONL); None (no ETA) otherwise."""
    from papersift import ingest as importers
    from papersift.ingest.snapshot_fast import estimate_records
    from papersift.models import ParseError

    if not files or len(files) > 1000:
        return None
    total = 0
    for f in files:
        try:
            kind = importers.detect_format(f) if fmt == "auto" else fmt
        except (ParseError, OSError):
            return None
        n = estimate_records(f) if kind in ("arxiv-snapshot", "jsonl") else None
        if n is None:
            return None
        total += n
    return total


def load_demo() -> None:
    """Ingest the bundled demo corpus if the store holds no papers."""
    from importlib.resources import files

    from papersift.pipeline import ingest_paths
    from papersift.store.stats import refresh as refresh_stats

    eng = open_engine("auto", owner="demo")
    try:
        if eng.store.count() == 0:
            root = Path(str(files("papersift") / "data" / "demo"))
            err.print(f"loading the demo corpus from {root} ...")
            stats = ingest_paths(eng, [root])
            finish_indexing(eng, "demo")
            refresh_stats(eng.db, force=True)
            err.print(f"demo corpus: {stats.as_dict()}")
        else:
            err.print(f"{state.settings.data_dir} already holds {eng.store.count()} papers; demo corpus not loaded")
    finally:
        eng.close()


@app.command()
def demo() -> None:
    """Load the bundled demo corpus into the data dir if it is empty."""
    load_demo()
