"""papersift harvest arxiv / harvest hf / fetch arxiv: remote sources into the store (and the indexes,
as their owner), politely (sources/http.py)."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import typer

from papersift.cli.common import app, err, esc, finish_indexing, open_engine, out, parse_day, progress_bar, state

harvest_app = typer.Typer(help="Harvest papers from arXiv (OAI-PMH) and Hugging Face's daily list.",
                          no_args_is_help=True)
fetch_app = typer.Typer(help="Fetch papers on demand.", no_args_is_help=True)
app.add_typer(harvest_app, name="harvest")
app.add_typer(fetch_app, name="fetch")

DelayOpt = Annotated[float | None, typer.Option(
    "--delay", help="Seconds between requests (default PAPERSIFT_HARVEST_DELAY or 3; 0 only for a loopback "
                    "endpoint).")]


def _client(endpoint: str, delay: float | None) -> Any:
    from papersift.sources.http import PoliteClient, check_delay

    d = state.settings.harvest_delay if delay is None else delay
    try:
        check_delay(endpoint, d)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--delay / PAPERSIFT_HARVEST_DELAY") from None
    if not state.settings.contact_email and not _loopback(endpoint):
        err.print("[yellow]note:[/] no contact address for the User-Agent; "
                  "set PAPERSIFT_HARVEST_CONTACT=you@example.org")

    def on_wait(why: str, seconds: float) -> None:
        err.print(f"  waiting {seconds:.1f}s ({esc(why)})", highlight=False, soft_wrap=True)

    return PoliteClient(delay=d, contact=state.settings.contact_email, on_wait=on_wait)


def _loopback(url: str) -> bool:
    from papersift.sources.http import is_loopback

    return is_loopback(url)


def _check_url(url: str, what: str) -> str:
    url = url.strip()
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{what} must be an http:// or https:// URL, not {url!r}", param_hint="--endpoint")
    return url


def _report(rep: Any, as_json: bool, elapsed: float) -> None:
    d = {**rep.as_dict(), "seconds": round(elapsed, 3)}
    if as_json:
        print(json.dumps(d, indent=2))
        return
    for e in rep.errors[:50]:
        err.print(f"[yellow]rejected[/] {esc(f'{e.source}:{e.location}: {e.reason}')}", highlight=False, soft_wrap=True)
    if len(rep.errors) > 50:
        err.print(f"... and {len(rep.errors) - 50} more rejected records (all in the ingest log)")
    extra = ""
    if rep.deleted_unknown:
        extra += f"  (deleted records of papers not held: {rep.deleted_unknown})"
    if rep.restored:
        extra += f"  restored {rep.restored}"
    out.print(f"{rep.line()}{extra}  ({rep.requests} requests, {elapsed:.1f}s)", soft_wrap=True)


def _next_in(job: str | None) -> float | None:
    from papersift.jobs import harvest as jobs

    if job == "harvest-arxiv":
        try:
            return jobs.arxiv_next(state.settings)
        except ValueError:
            return jobs.DAY
    if job == "harvest-hf":
        return state.settings.hf_every
    return None


def _dead_holder(db: Any, job: str) -> bool:
    """If the lease of ``job`` is held by a process of this host that is gone (a killed harvest),
    free it and say so: its lease would otherwise block a re-run until it expires."""
    import os
    import socket

    from papersift.store import jobs as jobs_sql

    row = jobs_sql.get(db, job)
    if row is None or not row.running or not row.lease_owner:
        return False
    _kind, _, rest = row.lease_owner.partition("@")
    host, _, rest = rest.partition(":")
    pid_s = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_s.isdigit() or int(pid_s) == os.getpid():
        return False
    try:
        os.kill(int(pid_s), 0)
        return False  # alive
    except ProcessLookupError:
        pass
    except PermissionError:
        return False  # alive, another user's
    jobs_sql.release(db, job, row.lease_owner)
    err.print(f"{job}: {row.lease_owner} is gone (killed?); taking over its lease")
    return True


def _run(what: str, work: Any, as_json: bool, job: str | None = None) -> Any:
    """Open the data dir as the index owner if nobody else is, run ``work(eng, bar)``, summarise.

    ``job``: run under that worker job's lease (a worker never harvests the same source at the same
    time; the run shows in ``papersift jobs`` and /admin like the worker's)."""
    from contextlib import nullcontext

    from papersift.index.owner import describe
    from papersift.jobs.lease import JobLease, worker_id
    from papersift.sources.http import SourceError
    from papersift.store import jobs as jobs_sql
    from papersift.store.stats import refresh as refresh_stats

    eng = open_engine("auto", owner="harvest")
    t0 = time.perf_counter()
    rep = None
    failure: str | None = None
    busy = False
    try:
        if job:
            _dead_holder(eng.db, job)  # a killed harvest on this host: no need to wait for its lease to expire
        lease: Any = (JobLease(eng.db, job, worker_id("cli"), state.settings.lease_seconds, due_only=False,
                               every=_next_in(job)) if job else nullcontext())
        with lease:
            if job and not lease.acquired:
                row = jobs_sql.get(eng.db, job)
                who = row.lease_owner if row and row.lease_owner else "another process"
                failure, busy = f"{who} is running {job} now; try again when it is done", True
            else:
                if not eng.is_owner:
                    err.print(f"{what}: {describe(eng.lock.owner())} owns the indexes; writing the store only")
                try:
                    with progress_bar() as bar:
                        rep = work(eng, bar)
                except SourceError as e:
                    failure = str(e)
                    if job:
                        lease.outcome, lease.detail = "failed", f"cli: {e}"
                else:
                    if job:
                        lease.detail = f"cli: {rep.line()}"
                    if rep.new or rep.updated or rep.deleted or rep.restored:
                        finish_indexing(eng, what)
                        refresh_stats(eng.db, force=True)
    finally:
        eng.close()
    if failure is not None:
        err.print(f"[red]error:[/] {esc(failure)}")
        if not busy:
            err.print("what was harvested before the error is kept; run the same command again to go on")
        raise typer.Exit(1)
    _report(rep, as_json, time.perf_counter() - t0)
    return rep


@harvest_app.command("arxiv")
def harvest_arxiv(
    from_: Annotated[str | None, typer.Option("--from", help="Records changed on or after (YYYY-MM-DD). Default: "
                                              "the last harvest's high-water mark (or the list a killed run left).")]
    = None,
    until: Annotated[str | None, typer.Option(help="Records changed on or before (YYYY-MM-DD).")] = None,
    set_spec: Annotated[str | None, typer.Option("--set", help="OAI set: cs, math, physics:hep-th, q-bio, ... "
                                                 "(default: all of arXiv).")] = None,
    endpoint: Annotated[str | None, typer.Option(help="OAI-PMH base URL (default PAPERSIFT_HARVEST_ARXIV_ENDPOINT "
                                                 "or https://oaipmh.arxiv.org/oai).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="arXivRaw (every version's date) or arXiv.")] = None,
    delay: DelayOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Harvest arXiv over OAI-PMH (ListRecords, resumption tokens); resumable, incremental.

    Each page is committed with the token to go on from: a killed harvest resumes where it stopped,
    and a finished one remembers its high-water mark, so a plain re-run fetches only what is new.
    Deleted records hide their papers. Prints pages / new / updated / deleted / rejected."""
    from papersift.harvest import harvest_arxiv as run
    from papersift.sources.oai import FORMATS

    start, end = parse_day(from_, "--from"), parse_day(until, "--until")
    if start and end and end < start:
        raise typer.BadParameter(f"--until {end} is before --from {start}")
    url = _check_url(endpoint or state.settings.arxiv_oai_endpoint, "--endpoint")
    prefix = fmt or state.settings.arxiv_oai_format
    if prefix not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}, not {prefix!r}")
    set_spec = (set_spec or "").strip() or None
    with _client(url, delay) as client:
        def work(eng: Any, bar: Any) -> Any:
            task = bar.add_task("harvest arxiv", total=None, rate="")
            t0 = time.perf_counter()

            def on_page(rep: Any, page: Any) -> None:
                rate = (rep.read / max(time.perf_counter() - t0, 1e-9))
                bar.update(task, completed=page.cursor + page.headers if page.cursor is not None else rep.read,
                           total=rep.list_size, rate=f"{rate:,.0f}/s")
                if not bar.live.is_started or not err.is_terminal:
                    err.print(f"page {rep.pages}: {page.headers} records ({len(page.deleted)} deleted)"
                              f"{f', list of {rep.list_size}' if rep.list_size else ''}; so far {rep.line()}",
                              highlight=False, soft_wrap=True)

            return run(eng, client, endpoint=url, prefix=prefix, set_spec=set_spec, from_=start, until=end,
                       on_page=on_page)

        _run("harvest arxiv", work, as_json, job="harvest-arxiv")


@harvest_app.command("hf")
def harvest_hf(
    day: Annotated[str | None, typer.Option("--date", help="One daily list (YYYY-MM-DD); default today (UTC) "
                                            "and the days since the last harvest.")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First day of a range.")] = None,
    until: Annotated[str | None, typer.Option(help="Last day of a range (default today).")] = None,
    endpoint: Annotated[str | None, typer.Option(help="daily papers API URL (default PAPERSIFT_HARVEST_HF_ENDPOINT "
                                                 "or https://huggingface.co/api/daily_papers).")] = None,
    delay: DelayOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Mirror Hugging Face's daily papers lists: papers with HF's upvotes, submitter, daily date,
    comment count, thumbnail and AI summary (kept beside papersift's own votes). Re-running is safe."""
    from papersift.harvest import harvest_hf as run
    from papersift.harvest import hf_days

    one = parse_day(day, "--date")
    start, end = parse_day(from_, "--from"), parse_day(until, "--until")
    if one and (start or end):
        raise typer.BadParameter("give either --date or --from/--until, not both")
    today = datetime.now(UTC).date()
    try:
        days = [one] if one else (hf_days(start, end or today) if start else None)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    url = _check_url(endpoint or state.settings.hf_endpoint, "--endpoint")
    with _client(url, delay) as client:
        def work(eng: Any, bar: Any) -> Any:
            from papersift.store import harvest as sql

            todo = days
            if todo is None:  # the days since the last harvest (at most hf_days back), today included
                last = sql.get_state(eng.db, "hf").high_water
                back = today - timedelta(days=max(int(state.settings.hf_days) - 1, 0))
                first = max(date.fromisoformat(last), back) if last else back
                todo = hf_days(min(first, today), today)
            task = bar.add_task("harvest hf", total=len(todo), rate="")

            def on_page(rep: Any, d: date) -> None:
                bar.update(task, advance=1, rate="")
                if not err.is_terminal:
                    err.print(f"{d}: so far {rep.line()}", highlight=False, soft_wrap=True)

            return run(eng, client, todo, endpoint=url, on_page=on_page)

        _run("harvest hf", work, as_json, job="harvest-hf")


@fetch_app.command("arxiv")
def fetch_arxiv(
    ids: Annotated[list[str] | None, typer.Argument(help="arXiv ids or arxiv.org URLs.")] = None,
    query: Annotated[str | None, typer.Option("--query", help='An arXiv API search query, e.g. "ti:diffusion AND '
                                              'cat:cs.CV".')] = None,
    max_results: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many papers for --query.")]
    = 100,
    endpoint: Annotated[str | None, typer.Option(help="arXiv API URL (default PAPERSIFT_HARVEST_ARXIV_API or "
                                                 "https://export.arxiv.org/api/query).")] = None,
    delay: DelayOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Fetch papers from the arXiv API by id or search query into the store."""
    from papersift.harvest import fetch_arxiv as run
    from papersift.sources.arxiv_api import normalize_ids

    if bool(ids) == bool(query):
        raise typer.BadParameter("give arXiv ids or --query (one of them)")
    good, bad = normalize_ids(ids or [])
    if bad:
        raise typer.BadParameter(f"not an arXiv id: {', '.join(map(repr, bad))}")
    url = _check_url(endpoint or state.settings.arxiv_api_endpoint, "--endpoint")
    with _client(url, delay) as client:
        def work(eng: Any, bar: Any) -> Any:
            task = bar.add_task("fetch arxiv", total=len(good) if good else max_results, rate="")

            def on_page(rep: Any, page: Any) -> None:
                bar.update(task, completed=rep.read, rate="")

            rep, papers = run(eng, client, ids=good or None, query=query, max_results=max_results,
                              endpoint=url, on_page=on_page)
            if not as_json:
                for p in papers:
                    out.print(f"{p.id}  {esc(p.title)}", highlight=False, soft_wrap=True)
            return rep

        rep = _run("fetch arxiv", work, as_json)
    if good and rep.rejected == len(good):
        raise typer.Exit(1)


@harvest_app.command("status")
def harvest_status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Each harvest's high-water mark (where a plain re-run starts) and the list in progress, if any."""
    from papersift.store import harvest as sql

    eng = open_engine()
    try:
        states = sql.all_states(eng.db)
    finally:
        eng.close()
    rows = [{"source": s.source, "set": s.set_spec, "high_water": s.high_water, "endpoint": s.endpoint,
             "format": s.metadata_prefix, "in_progress": bool(s.token), "pages": s.pages,
             "list_size": s.complete_size, "run_from": s.run_from, "run_until": s.run_until,
             "updated_at": s.updated_at.isoformat() if s.updated_at else None} for s in states]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("nothing harvested yet")
    for r in rows:
        going = ""
        if r["in_progress"]:
            size = f" of a list of {r['list_size']} records" if r["list_size"] else ""
            going = f"  list in progress: page {r['pages']}{size}"
        out.print(f"{r['source']:<9} {r['set'] or 'all':<14} high water {r['high_water'] or '-':<12}{going}  "
                  f"({r['endpoint'] or '-'}, {r['updated_at'] or '-'})", highlight=False, soft_wrap=True)
