"""The papersift command line: thin commands over the library."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from papersift.config import Settings, default_data_dir
from papersift.models import paper_to_dict

app = typer.Typer(help="papersift: a self-hosted research-paper discovery engine.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
err = Console(stderr=True)
out = Console(highlight=False)


class State:
    settings: Settings


state = State()


@app.callback()
def main(data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", envvar="PAPERSIFT_DATA",
        help="Data directory (SQLite database + indexes). Default: the platform data dir.")] = None) -> None:
    state.settings = Settings(data_dir=data_dir or default_data_dir())


def _engine():  # imports inside keep `papersift --help` fast
    from papersift.pipeline import open_engine

    return open_engine(state.settings)


def progress_bar(unit: str = "papers") -> Progress:
    return Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=err, transient=False,
                    disable=not err.is_terminal)


def _parse_day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{name} must be an ISO date like 2024-05-31, not {value!r}") from None


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to import.")],
    fmt: Annotated[str, typer.Option("--format", help="auto, hf-text, hf-json, arxiv-atom, arxiv-oai, "
                                     "arxiv-snapshot, bibtex, jsonl, csv")] = "auto",
    force: Annotated[bool, typer.Option(help="Re-read files already ingested unchanged.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Import papers; prints read / new / updated / duplicate / rejected. Re-running is safe."""
    import time

    from papersift import ingest as importers
    from papersift.pipeline import FileReport, ingest_paths

    missing = [p for p in paths if not p.exists()]
    for p in missing:
        err.print(f"[red]error:[/] {p}: no such file or directory")
    paths = [p for p in paths if p.exists()]
    if fmt != "auto" and fmt not in importers.FORMATS:
        raise typer.BadParameter(f"unknown format {fmt!r}; choose from auto, {', '.join(importers.FORMATS)}")
    eng = _engine()
    files = list(importers.iter_paths(paths))
    t0 = time.perf_counter()
    reports: list[FileReport] = []
    with progress_bar() as bar:
        task = bar.add_task("ingest", total=None, rate="")
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
    elapsed = time.perf_counter() - t0
    eng.close()
    summary = {**stats.as_dict(), "files": len(reports), "skipped_files": sum(r.skipped for r in reports),
               "seconds": round(elapsed, 3), "missing": [str(p) for p in missing],
               "errors": [{"source": e.source, "location": e.location, "reason": e.reason}
                          for e in stats.errors[:1000]]}
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        for e in stats.errors[:50]:
            err.print(f"[yellow]rejected[/] {_esc(f'{e.source}:{e.location}: {e.reason}')}", highlight=False)
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


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words, or "a phrase" in quotes.')],
    limit: int = 10,
    offset: int = 0,
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before (YYYY-MM-DD).")] = None,
    category: Annotated[str | None, typer.Option(help="arXiv category (cs.CL) or archive (cs).")] = None,
    author: Annotated[str | None, typer.Option(help="Author name or surname.")] = None,
    mode: Annotated[str | None, typer.Option(
        help="lexical, semantic or hybrid (default: hybrid once `papersift embed` has run, else lexical).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search papers (BM25 over title, abstract and authors) with filters."""
    from papersift.search.service import make_filters
    from papersift.search.service import search as run_search

    filters = make_filters(_parse_day(since, "--since"), _parse_day(until, "--until"), category, author)
    eng = _engine()
    try:
        res = run_search(eng, query, limit=limit, offset=offset, filters=filters, mode=mode)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    if as_json:
        print(json.dumps({
            "query": res.query, "mode": res.mode, "total": res.total, "limit": limit, "offset": offset,
            "message": res.message,
            "results": [{"rank": offset + i + 1, "score": round(h.score, 4), "paper": paper_to_dict(h.paper)}
                        for i, h in enumerate(res.hits) if h.paper]}, indent=2, ensure_ascii=False))
        return
    if not res.hits:
        out.print(res.message or "No papers match.")
        return
    out.print(f"{res.total} matches")
    for i, h in enumerate(res.hits, start=offset + 1):
        p = h.paper
        assert p is not None
        when = p.published.isoformat() if p.published else "????-??-??"
        authors = ", ".join(p.authors[:3]) + (" et al." if len(p.authors) > 3 else "")
        out.print(f"{i:>3}. [bold]{_esc(p.title)}[/]  ({p.id})")
        out.print(f"     {when}  {_esc(authors)}  {' '.join(p.categories[:3])}", highlight=False)


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@app.command()
def show(paper_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show one paper by id (arXiv id with or without version, or papersift id)."""
    eng = _engine()
    p = eng.store.get(paper_id)
    if p is None:
        err.print(f"no paper with id {paper_id!r}")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(paper_to_dict(p), indent=2, ensure_ascii=False))
        return
    out.print(f"[bold]{_esc(p.title)}[/]")
    out.print(_esc(", ".join(p.authors)))
    out.print(f"id {p.id}   published {p.published or '?'}   updated {p.updated or '?'}   "
              f"categories {' '.join(p.categories) or '-'}   doi {p.doi or '-'}")
    for k, v in p.links.items():
        out.print(f"{k}: {v}", highlight=False)
    out.print()
    out.print(_esc(p.abstract))


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Counts: papers, sources, categories, date range, index size."""
    eng = _engine()
    s = eng.store.stats()
    s["lexical_docs"] = len(eng.lexical)
    s["lexical_bytes"] = eng.lexical.size_bytes()
    s["data_dir"] = str(state.settings.data_dir)
    if as_json:
        print(json.dumps(s, indent=2))
        return
    for k, v in s.items():
        out.print(f"{k:>16}: {v}", highlight=False)


@app.command()
def reindex() -> None:
    """Rebuild the lexical index from the store."""
    import time

    from papersift.pipeline import open_engine
    from papersift.pipeline import reindex as run_reindex

    eng = open_engine(state.settings, catch_up_index=False)
    total = eng.store.count()
    t0 = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task("reindex", total=total, rate="")

        def tick(n: int) -> None:
            rate = bar.tasks[0].completed / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, advance=n, rate=f"{rate:,.0f}/s")

        n = run_reindex(eng, tick)
    out.print(f"indexed {n} papers in {time.perf_counter() - t0:.1f}s")


@app.command()
def embed(
    model: Annotated[str | None, typer.Option(help="Embedding model name (default: the bundled one).")] = None,
    batch_size: Annotated[int, typer.Option(help="Texts per model call.")] = 64,
) -> None:
    """Embed papers that lack a vector (resumable; a model change re-embeds into its own index)."""
    import time

    from papersift.semantic import SemanticSide

    eng = _engine()
    try:
        side = SemanticSide(eng, model)
    except ImportError as e:
        err.print(f"[red]error:[/] {_esc(str(e))}")
        raise typer.Exit(2) from None
    todo = side.pending()
    t0 = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(f"embed ({side.embedder.name})", total=todo, rate="")

        def tick(n: int) -> None:
            bar.update(task, advance=n)
            rate = bar.tasks[0].completed / max(time.perf_counter() - t0, 1e-9)
            bar.update(task, rate=f"{rate:,.0f}/s")

        n = side.embed_pending(tick, batch_size=batch_size)
    out.print(f"embedded {n} papers with {side.embedder.name} in {time.perf_counter() - t0:.1f}s; "
              f"{len(side)} vectors")


@app.command()
def similar(
    paper_id: str,
    limit: int = 5,
    recency: Annotated[float, typer.Option(help="0..1: weight of a one-year half-life freshness bonus.")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Papers most similar to one paper (by embedding; by BM25 when no vectors exist)."""
    from papersift.recommend import similar as find_similar

    eng = _engine()
    try:
        pairs = find_similar(eng, paper_id, k=limit, recency=recency)
    except KeyError:
        err.print(f"no paper with id {paper_id!r}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps({"id": paper_id, "results": [{"rank": i, "score": round(s, 4), "paper": paper_to_dict(p)}
                                                       for i, (p, s) in enumerate(pairs, 1)]},
                         indent=2, ensure_ascii=False))
        return
    for i, (p, s) in enumerate(pairs, 1):
        out.print(f"{i:>3}. {_esc(p.title)}  ({p.id})  {s:.3f}")


@app.command(name="eval")
def eval_cmd(
    collection: Annotated[Path, typer.Argument(help="BEIR-layout dir: corpus.jsonl, queries.jsonl, qrels/.")],
    mode: Annotated[str, typer.Option(help="lexical, semantic, hybrid or all.")] = "all",
    split: Annotated[str, typer.Option(help="qrels file to score (qrels/SPLIT.tsv).")] = "test",
    run: Annotated[Path | None, typer.Option(help="Write a TREC run file (qid Q0 docid rank score tag).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Index a judged collection in a throwaway data dir and score each search mode."""
    from papersift.evaluate import evaluate
    from papersift.search.service import MODES

    modes = list(MODES) if mode == "all" else [m.strip() for m in mode.split(",")]
    with progress_bar() as bar:
        task = bar.add_task("embed corpus", total=None, rate="")

        def tick(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = evaluate(collection, modes, split=split, run_file=run, progress=tick)
        except (FileNotFoundError, ValueError, ImportError) as e:
            err.print(f"[red]error:[/] {_esc(str(e))}")
            raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(report, indent=2))
        return
    out.print(f"{report['collection']} ({report['split']}): {report['queries']} queries, {report['docs']} docs,"
              f" embedder {report['embedder'] or '-'}")
    out.print(f"{'mode':<10}{'nDCG@10':>9}{'recall@100':>12}{'MRR@10':>9}{'MAP@100':>9}{'ms/query':>10}")
    for m, r in report["modes"].items():  # type: ignore[union-attr]
        out.print(f"{m:<10}{r['nDCG@10']:>9.4f}{r['recall@100']:>12.4f}{r['MRR@10']:>9.4f}{r['MAP@100']:>9.4f}"
                  f"{r['query_ms']:>10.1f}")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    demo: Annotated[bool, typer.Option(help="Load the demo corpus first if the store is empty.")] = False,
) -> None:
    """Serve the web app and the API."""
    import os

    import uvicorn

    if demo:
        load_demo()
    eng = _engine()  # migrates and catches up the index before workers start
    eng.close()
    os.environ["PAPERSIFT_DATA"] = str(state.settings.data_dir)
    err.print(f"papersift serving {state.settings.data_dir} on http://{host}:{port}")
    uvicorn.run("papersift.web.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level="info")


def load_demo() -> None:
    """Ingest the bundled demo corpus if the store holds no papers."""
    from papersift.pipeline import ingest_paths

    eng = _engine()
    if eng.store.count() == 0:
        from importlib.resources import files

        root = Path(str(files("papersift") / "data" / "demo"))
        err.print(f"loading the demo corpus from {root} ...")
        stats = ingest_paths(eng, [root])
        err.print(f"demo corpus: {stats.as_dict()}")
    eng.close()


@app.command()
def demo() -> None:
    """Load the bundled demo corpus into the data dir if it is empty."""
    load_demo()


user_app = typer.Typer(help="Manage web accounts.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="Username (2-40 letters, digits, '.', '_', '-').")],
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    password: Annotated[str | None, typer.Option(
        envvar="PAPERSIFT_PASSWORD", help="Password (else prompted; or env PAPERSIFT_PASSWORD).")] = None,
) -> None:
    """Create a web account (for example the first admin)."""
    from papersift import accounts

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    eng = _engine()
    try:
        user = accounts.create_user(eng.store.engine, name, password, is_admin=admin)
    except accounts.AccountError as e:
        err.print(f"[red]error:[/] {_esc(str(e))}")
        raise typer.Exit(1) from None
    finally:
        eng.close()
    out.print(f"created {'admin ' if user.is_admin else ''}user {user.username}")


@user_app.command("list")
def user_list() -> None:
    """List web accounts."""
    from papersift import accounts

    eng = _engine()
    for u in accounts.list_users(eng.store.engine):
        out.print(f"{u.username}{'  (admin)' if u.is_admin else ''}  created {u.created_at:%Y-%m-%d}")
    eng.close()


app.add_typer(user_app, name="user")


def run() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
