"""papersift search / show / similar / stats: read-only commands (they never write an index)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from papersift.cli.common import app, err, esc, open_engine, out, parse_day, state
from papersift.models import paper_to_dict


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words, or "a phrase" in quotes.')],
    limit: Annotated[int, typer.Option(min=1, help="How many results to show (at least 1).")] = 10,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many results first (for paging; 0 or more).")] = 0,
    since: Annotated[str | None, typer.Option(help="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before (YYYY-MM-DD).")] = None,
    category: Annotated[str | None, typer.Option(help="arXiv category (cs.CL) or archive (cs).")] = None,
    author: Annotated[str | None, typer.Option(help="Author name or surname.")] = None,
    mode: Annotated[str | None, typer.Option(
        help="lexical, semantic or hybrid (default: hybrid once `papersift embed` has run, else lexical).")] = None,
    sort: Annotated[str, typer.Option(
        help="relevance (best match first) or date (newest first among the matches).")] = "relevance",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Search papers with filters. The default mode is hybrid (BM25 over title, abstract and authors
    fused with embedding similarity) once the papers are embedded, else lexical (BM25 alone)."""
    from papersift.search.service import make_filters
    from papersift.search.service import search as run_search

    filters = make_filters(parse_day(since, "--since"), parse_day(until, "--until"), category, author)
    eng = open_engine()
    try:
        res = run_search(eng, query, limit=limit, offset=offset, filters=filters, mode=mode,
                         sort=sort)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    finally:
        eng.close()
    if as_json:
        print(json.dumps({
            "query": res.query, "mode": res.mode, "sort": res.sort, "total": res.total,
            "total_exact": res.total_exact, "limit": limit, "offset": offset,
            "message": res.message,
            "results": [{"rank": offset + i + 1, "score": round(h.score, 4), "paper": paper_to_dict(h.paper)}
                        for i, h in enumerate(res.hits) if h.paper]}, indent=2, ensure_ascii=False))
        return
    if not res.hits:
        out.print(res.message or "No papers match.")
        return
    out.print(f"{'' if res.total_exact else 'at least '}{res.total} matches")
    for i, h in enumerate(res.hits, start=offset + 1):
        p = h.paper
        assert p is not None
        when = p.published.isoformat() if p.published else "????-??-??"
        authors = ", ".join(p.authors[:3]) + (" et al." if len(p.authors) > 3 else "")
        out.print(f"{i:>3}. [bold]{esc(p.title)}[/]  ({p.id})")
        out.print(f"     {when}  {esc(authors)}  {' '.join(p.categories[:3])}", highlight=False)


@app.command()
def show(paper_id: Annotated[str, typer.Argument(
        help="arXiv id (with or without version) or papersift id.")],
         as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False) -> None:
    """Show one paper by id (arXiv id with or without version, or papersift id)."""
    eng = open_engine()
    try:
        p = eng.store.get(paper_id)
        gone = p is None and eng.store.is_deleted(paper_id)
    finally:
        eng.close()
    if p is None:
        err.print(f"no paper with id {paper_id!r}" + (" (arXiv reported it deleted)" if gone else ""))
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(paper_to_dict(p), indent=2, ensure_ascii=False))
        return
    out.print(f"[bold]{esc(p.title)}[/]")
    out.print(esc(", ".join(p.authors)))
    out.print(f"id {p.id}   published {p.published or '?'}   updated {p.updated or '?'}   "
              f"categories {' '.join(p.categories) or '-'}   doi {p.doi or '-'}")
    for k, v in p.links.items():
        out.print(f"{k}: {v}", highlight=False)
    out.print()
    out.print(esc(p.abstract))


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False) -> None:
    """Counts: papers, sources, categories, date range, index size."""
    from papersift.index.embed_stage import pending
    from papersift.index.owner import describe

    eng = open_engine()
    try:
        s = eng.store.stats()
        s["lexical_docs"] = len(eng.lexical)
        s["lexical_bytes"] = eng.lexical.size_bytes()
        s["lexical_change"] = eng.lexical.seq
        s["vectors"] = len(eng.semantic)
        s["vectors_model"] = eng.semantic.model
        s["vectors_pending"] = pending(eng.db, eng.semantic.model)
        s["index_owner"] = describe(eng.lock.owner())
        s["data_dir"] = str(state.settings.data_dir)
    finally:
        eng.close()
    if as_json:
        print(json.dumps(s, indent=2))
        return
    for k, v in s.items():
        out.print(f"{k:>16}: {v}", highlight=False)


@app.command()
def similar(
    paper_id: Annotated[str, typer.Argument(help="arXiv id (with or without version) or papersift id.")],
    limit: Annotated[int, typer.Option(min=1, help="How many similar papers to show (at least 1).")] = 5,
    recency: Annotated[float, typer.Option(help="0..1: weight of a one-year half-life freshness bonus.")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Papers most similar to one paper (by embedding; by BM25 when no vectors exist)."""
    from papersift.rank.similar import similar as find_similar

    eng = open_engine()
    try:
        pairs = find_similar(eng, paper_id, k=limit, recency=recency)
    except KeyError:
        err.print(f"no paper with id {paper_id!r}")
        raise typer.Exit(1) from None
    finally:
        eng.close()
    if as_json:
        print(json.dumps({"id": paper_id, "results": [{"rank": i, "score": round(s, 4), "paper": paper_to_dict(p)}
                                                       for i, (p, s) in enumerate(pairs, 1)]},
                         indent=2, ensure_ascii=False))
        return
    for i, (p, s) in enumerate(pairs, 1):
        out.print(f"{i:>3}. {esc(p.title)}  ({p.id})  {s:.3f}")
