"""papersift eval: score search on a judged (BEIR-layout) collection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, cast

import typer

from papersift.cli.common import app, err, esc, out, progress_bar


@app.command(name="eval")
def eval_cmd(
    collection: Annotated[Path, typer.Argument(help="BEIR-layout dir: corpus.jsonl, queries.jsonl, qrels/.")],
    mode: Annotated[str, typer.Option(help="lexical, semantic, hybrid or all.")] = "all",
    split: Annotated[str, typer.Option(help="qrels file to score (qrels/SPLIT.tsv).")] = "test",
    run: Annotated[Path | None, typer.Option(help="Write a TREC run file (qid Q0 docid rank score tag).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="store the collection in this EMPTY throwaway database (e.g. a PostgreSQL one) "
                               "instead of a SQLite file in the throwaway data dir")] = None,
) -> None:
    """Index a judged collection in a throwaway data dir and score each search mode (never touches the
    deployment's database, whatever PAPERSIFT_DATABASE_URL says)."""
    from papersift.evaluate import evaluate
    from papersift.search.service import MODES

    modes = list(MODES) if mode == "all" else [m.strip() for m in mode.split(",")]
    with progress_bar() as bar:
        task = bar.add_task("embed corpus", total=None, rate="")

        def tick(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            report = evaluate(collection, modes, split=split, run_file=run, progress=tick,
                              database_url=database_url)
        except (FileNotFoundError, ValueError, ImportError) as e:
            err.print(f"[red]error:[/] {esc(str(e))}")
            raise typer.Exit(2) from None
    if as_json:
        print(json.dumps(report, indent=2))
        return
    out.print(f"{report['collection']} ({report['split']}): {report['queries']} queries, {report['docs']} docs,"
              f" embedder {report['embedder'] or '-'}")
    out.print(f"{'mode':<10}{'nDCG@10':>9}{'recall@100':>12}{'MRR@10':>9}{'MAP@100':>9}{'ms/query':>10}")
    for m, r in cast("dict[str, dict[str, float]]", report["modes"]).items():
        out.print(f"{m:<10}{r['nDCG@10']:>9.4f}{r['recall@100']:>12.4f}{r['MRR@10']:>9.4f}{r['MAP@100']:>9.4f}"
                  f"{r['query_ms']:>10.1f}")
