"""papersift follow / library / feedback / foryou: a user's interests and recommendations from
the command line, so the whole flow can be scripted."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from papersift.cli.common import app, err, esc, finish_indexing, open_engine, out, progress_bar
from papersift.engine import Engine

library_app = typer.Typer(help="A user's library: import, list, export, save, remove, tag.", no_args_is_help=True)


def _user(eng: Engine, name: str) -> Any:
    from papersift import accounts

    user = accounts.get_user(eng.db, name)
    if user is None:
        err.print(f"[red]error:[/] no user {esc(name)!r} (create one with `papersift user create`)")
        raise typer.Exit(1)
    return user


def _fail(e: Exception) -> typer.Exit:
    err.print(f"[red]error:[/] {esc(str(e))}")
    return typer.Exit(1)


@app.command("follow")
def follow(
    name: Annotated[str, typer.Argument(help="Username.")],
    author: Annotated[list[str] | None, typer.Option("--author", "-a", help="Follow an author (repeatable).")] = None,
    category: Annotated[list[str] | None, typer.Option(
        "--category", "-c", help="Follow an arXiv category: cs.CL, or a whole archive: cs (repeatable).")] = None,
    query: Annotated[list[str] | None, typer.Option(
        "--query", "-q", help="Follow a keyword or saved search (repeatable).")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Stop following the given ones instead.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the follows as JSON.")] = False,
) -> None:
    """Follow authors, categories and searches; with none given, list what NAME follows."""
    from papersift.accounts import AccountError, interests

    wanted = [("author", v) for v in author or []] + [("category", v) for v in category or []] + \
             [("query", v) for v in query or []]
    if remove and not wanted:
        raise typer.BadParameter("--remove needs --author, --category or --query")
    eng = open_engine()
    try:
        user = _user(eng, name)
        for kind, value in wanted:
            try:
                if remove:
                    gone = interests.unfollow(eng.db, user, kind, value)
                    err.print(f"{'stopped following' if gone else 'was not following'} {kind} {esc(value)}")
                else:
                    f, new = interests.follow(eng.db, user, kind, value)
                    err.print(f"{'now following' if new else 'already following'} {f.kind} {esc(f.value)}")
            except AccountError as e:
                raise _fail(e) from None
        rows = interests.follows_of(eng.db, user)
    finally:
        eng.close()
    if as_json:
        out.print_json(json.dumps([{"kind": f.kind, "value": f.value, "since": f.created_at.isoformat()}
                                   for f in rows]))
    elif not wanted:
        if not rows:
            out.print(f"{esc(name)} follows nothing yet")
        for f in rows:
            out.print(f"{f.kind:9} {esc(f.value)}")


@app.command("feedback")
def feedback(
    name: Annotated[str, typer.Argument(help="Username.")],
    paper: Annotated[str, typer.Argument(help="Paper id, arXiv id or URL.")],
    value: Annotated[str, typer.Argument(help="up, down or clear.")],
) -> None:
    """Thumbs up / down on a paper (what the For-you ranker learns from), or clear it."""
    from papersift.accounts import AccountError, interests

    v = {"up": 1, "down": -1, "clear": 0}.get(value.strip().lower())
    if v is None:
        raise typer.BadParameter(f"value must be up, down or clear, not {value!r}")
    eng = open_engine()
    try:
        p = interests.set_feedback(eng.store, _user(eng, name), paper, v)
    except AccountError as e:
        raise _fail(e) from None
    finally:
        eng.close()
    out.print(f"{value} {esc(p.id)}: {esc(p.title)}")


@app.command("foryou")
def foryou(
    name: Annotated[str, typer.Argument(help="Username.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=200, help="How many papers.")] = 20,
    since: Annotated[str | None, typer.Option(
        help="Only papers new since this date or time (ISO, UTC), e.g. 2025-02-27.")] = None,
    no_trending: Annotated[bool, typer.Option("--no-trending", help="Leave the trending prior out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """NAME's For-you papers, each with the reasons it was picked."""
    from papersift.models import paper_to_dict
    from papersift.rank import foryou as ranker

    when = None
    if since:
        try:
            when = datetime.fromisoformat(since.strip())
        except ValueError:
            raise typer.BadParameter(f"--since must look like 2025-02-27 or 2025-02-27T08:00, not {since!r}") \
                from None
    eng = open_engine()
    try:
        user = _user(eng, name)
        picks = ranker.recommend(eng, user.id, since=when, limit=limit, include_trending=not no_trending)
        mode = ranker.mode(eng)
    finally:
        eng.close()
    if as_json:
        out.print_json(json.dumps({"user": user.username, "mode": mode, "picks": [
            {"paper": paper_to_dict(p.paper), "score": p.score, "reasons": p.reasons} for p in picks]},
            default=str))
        return
    if mode == "keywords":
        err.print("no vectors yet (run `papersift embed`): similarity is by keywords (BM25 profile)")
    if not picks:
        out.print("nothing to recommend yet: follow authors or categories, save papers, or give feedback")
    for i, p in enumerate(picks, 1):
        out.print(f"{i:2}. [bold]{esc(p.paper.title)}[/]  [dim]{esc(p.paper.id)}  {p.score:.3f}[/]")
        for r in p.reasons:
            out.print(f"      · {esc(r)}")


@library_app.command("import")
def library_import(
    name: Annotated[str, typer.Argument(help="Username.")],
    file: Annotated[Path, typer.Argument(help="BibTeX, Zotero BibTeX / CSV / RDF export, or a papersift CSV/JSONL.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="auto, bibtex, zotero-csv, zotero-rdf, csv, jsonl.")]
    = "auto",
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Add this tag to every entry.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import a BibTeX / Zotero export into NAME's library (matched by arXiv id, DOI, title)."""
    from papersift.accounts import AccountError, interests
    from papersift.ingest.library import FORMATS

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    eng = open_engine("auto", owner="library-import")
    try:
        user = _user(eng, name)
        with progress_bar() as bar:
            task = bar.add_task(f"importing {file.name}", total=None, rate="")
            try:
                report = interests.import_library(eng.store, user, file, fmt, tags=tag)
            except AccountError as e:
                raise _fail(e) from None
            bar.update(task, completed=report.entries, total=report.entries)
        if eng.is_owner and report.added_papers:
            eng.catch_up()
        else:
            finish_indexing(eng, "library import")
    finally:
        eng.close()
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    else:
        m = report.matched
        out.print(f"{report.entries} entries: {m['arxiv']} matched by arXiv id, {m['doi']} by DOI, "
                  f"{m['title']} by title, {report.added_papers} added as new papers; {report.saved} newly saved, "
                  f"{report.already_saved} already in the library")
        for bad in report.errors:
            err.print(f"[yellow]skipped[/] {esc(bad.location)}: {esc(bad.reason)}")
    if report.errors and not report.entries:
        raise typer.Exit(1)


@library_app.command("list")
def library_list(
    name: Annotated[str, typer.Argument(help="Username.")],
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Only papers with this tag.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """NAME's saved papers, newest first, with their tags."""
    from papersift.accounts import interests
    from papersift.models import paper_to_dict

    eng = open_engine()
    try:
        rows = interests.library_papers(eng.store, _user(eng, name), tag=tag)
    finally:
        eng.close()
    if as_json:
        out.print_json(json.dumps([{"paper": paper_to_dict(p), "tags": r.tags, "saved_at": r.saved_at.isoformat()}
                                   for p, r in rows], default=str))
        return
    if not rows:
        out.print("the library is empty" + (f" (tag {esc(tag)})" if tag else ""))
    for p, r in rows:
        tags = f"  [cyan]{esc(', '.join(r.tags))}[/]" if r.tags else ""
        out.print(f"{esc(p.id):24} {esc(p.title)}{tags}")


@library_app.command("export")
def library_export(
    name: Annotated[str, typer.Argument(help="Username.")],
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Only papers with this tag.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (else stdout).")] = None,
) -> None:
    """NAME's library as BibTeX (tags as keywords)."""
    from papersift.accounts import interests
    from papersift.fsutil import open_atomic

    eng = open_engine()
    try:
        rows = interests.library_papers(eng.store, _user(eng, name), tag=tag)
    finally:
        eng.close()
    text = interests.bibtex([(p, r.tags) for p, r in rows])
    if output is None:
        typer.echo(text, nl=False)
        return
    with open_atomic(output, "w") as fh:
        fh.write(text)
    err.print(f"wrote {len(rows)} entries to {esc(str(output))}")


@library_app.command("save")
def library_save(
    name: Annotated[str, typer.Argument(help="Username.")],
    paper: Annotated[list[str], typer.Argument(help="Paper ids, arXiv ids or URLs.")],
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Tag (repeatable).")] = None,
) -> None:
    """Save papers to NAME's library (tags are added to those saved already)."""
    from papersift.accounts import AccountError, interests

    eng = open_engine()
    try:
        user = _user(eng, name)
        for ref in paper:
            try:
                p, new = interests.save(eng.store, user, ref, tag)
            except AccountError as e:
                raise _fail(e) from None
            out.print(f"{'saved' if new else 'already saved'} {esc(p.id)}: {esc(p.title)}")
    finally:
        eng.close()


@library_app.command("remove")
def library_remove(
    name: Annotated[str, typer.Argument(help="Username.")],
    paper: Annotated[list[str], typer.Argument(help="Paper ids, arXiv ids or URLs.")],
) -> None:
    """Remove papers from NAME's library."""
    from papersift.accounts import AccountError, interests

    eng = open_engine()
    try:
        user = _user(eng, name)
        for ref in paper:
            try:
                gone = interests.unsave(eng.store, user, ref)
            except AccountError as e:
                raise _fail(e) from None
            out.print(f"{'removed' if gone else 'not in the library:'} {esc(ref)}")
    finally:
        eng.close()


@library_app.command("tag")
def library_tag(
    name: Annotated[str, typer.Argument(help="Username.")],
    paper: Annotated[str, typer.Argument(help="Paper id, arXiv id or URL (saved already).")],
    add: Annotated[list[str] | None, typer.Option("--add", help="Tag to add (repeatable).")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Tag to remove (repeatable).")] = None,
) -> None:
    """Add or remove tags of a saved paper."""
    from papersift.accounts import AccountError, interests

    eng = open_engine()
    try:
        tags = interests.change_tags(eng.store, _user(eng, name), paper, add, remove)
    except AccountError as e:
        raise _fail(e) from None
    finally:
        eng.close()
    out.print(f"{esc(paper)}: {esc(', '.join(tags)) or '(no tags)'}")


app.add_typer(library_app, name="library")
