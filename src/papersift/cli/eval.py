"""papersift eval: score search on judged (BEIR-layout) collections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from papersift.cli.common import app, err, esc, out, progress_bar


@app.command(name="eval")
def eval_cmd(
    collections: Annotated[list[Path], typer.Argument(
        help="BEIR-layout dirs (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv); several give one table + mean.")],
    mode: Annotated[str, typer.Option(help="lexical, semantic, hybrid (comma-separated) or all.")] = "all",
    split: Annotated[list[str] | None, typer.Option(
        help="qrels split to score: SPLIT for every collection, or NAME=SPLIT for one (repeatable). "
             "Default: dev, else train, else test.")] = None,
    run: Annotated[Path | None, typer.Option(
        help="Write TREC run files (qid Q0 docid rank score tag): a file for one collection, "
             "a folder (one NAME.SPLIT.trec each) for several.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(
        help="Document-vector cache (keyed by model and exact text). Default: the user cache dir.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Embed every document again; keep nothing.")] = False,
    no_floor: Annotated[bool, typer.Option(
        "--no-floor", help="Rank the whole semantic candidate pool (no similarity floor), to compare.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Store the collection in this EMPTY throwaway database (e.g. a PostgreSQL one) "
                               "instead of a SQLite file in the throwaway data dir; one collection only.")] = None,
) -> None:
    """Index judged collections in throwaway data dirs and score each search mode on each."""
    from papersift.evaluate import evaluate_many, parse_splits
    from papersift.index.vector_cache import default_eval_cache
    from papersift.search.service import MODES

    modes = list(MODES) if mode == "all" else [m.strip() for m in mode.split(",")]
    cache = None if no_cache else (cache_dir or default_eval_cache())
    with progress_bar() as bar:
        task = bar.add_task("embed corpus", total=None, rate="")

        def tick(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            splits = parse_splits(split, collections)
            report = evaluate_many(collections, modes, splits, run_path=run, progress=tick, floor=not no_floor,
                                   cache_dir=cache,
                                   database_url=database_url)
        except (FileNotFoundError, ValueError, ImportError) as e:
            err.print(f"[red]error:[/] {esc(str(e))}")
            raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(report, indent=2))
        return
    reports: list[dict[str, Any]] = report["collections"]  # type: ignore[assignment]
    for r in reports:
        out.print(f"{r['collection']} ({r['split']}): {r['queries']} queries, {r['docs']} docs,"
                  f" embedder {r['embedder'] or '-'}")
    out.print(f"{'collection':<14}{'split':<7}{'mode':<10}{'nDCG@10':>9}{'recall@100':>12}{'MRR@10':>9}"
              f"{'MAP@100':>9}{'ms/query':>10}")
    for r in reports:
        for m, v in r["modes"].items():
            out.print(f"{r['collection'][:13]:<14}{r['split'][:6]:<7}{m:<10}{v['nDCG@10']:>9.4f}"
                      f"{v['recall@100']:>12.4f}{v['MRR@10']:>9.4f}{v['MAP@100']:>9.4f}{v['query_ms']:>10.1f}")
    if len(reports) > 1:
        for m, v in report["mean"].items():  # type: ignore[attr-defined]
            out.print(f"{'mean (' + str(len(reports)) + ')':<14}{'':<7}{m:<10}{v['nDCG@10']:>9.4f}"
                      f"{v['recall@100']:>12.4f}{v['MRR@10']:>9.4f}{v['MAP@100']:>9.4f}")
