"""papersift worker / jobs: the background worker and what it has been doing."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from papersift.cli.common import app, err, open_engine, out, state

jobs_app = typer.Typer(help="The worker's scheduled jobs.", invoke_without_command=True)
app.add_typer(jobs_app, name="jobs")


@app.command()
def worker(once: Annotated[bool, typer.Option(help="Run the due jobs once and exit.")] = False) -> None:
    """Run the scheduled jobs (index catch-up, embedding, ...) until stopped (Ctrl-C / SIGTERM).

    Migrates the database first. Any number of workers may run: each job runs in one at a time,
    under a lease in the database; one worker at a time owns the indexes of a data dir."""
    from papersift import log
    from papersift.jobs.worker import Worker

    log.setup(state.log_level, default="INFO")
    w = Worker(state.settings)
    w.install_signal_handlers()
    w.run(once=once)


def _ago(t: datetime | None) -> str:
    if t is None:
        return "never"
    secs = (datetime.utcnow() - t).total_seconds()
    if secs < 0:
        return f"in {-secs:.0f}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs / size:.0f}{unit} ago"
    return f"{secs:.0f}s ago"


@jobs_app.callback()
def jobs(ctx: typer.Context,
         as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False) -> None:
    """List each job: schedule, last run, outcome, duration, and who runs it now."""
    if ctx.invoked_subcommand is not None:
        return
    from papersift.jobs.registry import jobs_for
    from papersift.jobs.worker import lease_name
    from papersift.store import jobs as sql

    eng = open_engine()
    try:
        schedule = {j.name: j for j in jobs_for(state.settings)}
        rows = {r.name: r for r in sql.all_jobs(eng.db)}
    finally:
        eng.close()
    for job in schedule.values():  # this data dir's own index@host:dir row (PostgreSQL) is its job's row
        own = lease_name(state.settings, job)
        if own != job.name and own in rows:
            rows[job.name] = rows.pop(own)
    names = sorted(set(schedule) | set(rows))
    data = []
    for name in names:
        r, j = rows.get(name), schedule.get(name)
        data.append({
            "name": name, "every_s": j.every if j else None, "description": j.description if j else "",
            "running_in": r.lease_owner if r and r.running else None,
            "last_started_at": r.last_started_at.isoformat() if r and r.last_started_at else None,
            "last_finished_at": r.last_finished_at.isoformat() if r and r.last_finished_at else None,
            "last_outcome": r.last_outcome if r else None,
            "last_duration_s": round(r.last_duration_s, 3) if r and r.last_duration_s is not None else None,
            "last_detail": r.last_detail if r else None, "runs": r.runs if r else 0,
            "failures": r.failures if r else 0,
            "next_run_at": r.next_run_at.isoformat() if r and r.next_run_at else None})
    if as_json:
        print(json.dumps(data, indent=2))
        return
    for d, name in zip(data, names, strict=True):
        r = rows.get(name)
        every = f"every {d['every_s']:g}s" if d["every_s"] is not None else "not scheduled here"
        state_s = f"running in {d['running_in']}" if d["running_in"] else (d["last_outcome"] or "never run")
        dur = f"{d['last_duration_s']:.2f}s" if d["last_duration_s"] is not None else "-"
        out.print(f"{name:<13} {every:<14} last {_ago(r.last_finished_at if r else None):<10} {state_s:<12} "
                  f"{dur:>8}  runs {d['runs']} ({d['failures']} failed)  {d['last_detail'] or ''}")


@jobs_app.command("run")
def run_now(name: Annotated[str, typer.Argument(help="The job's name, as `papersift jobs` lists it.")]) -> None:
    """Make a job due now (the worker picks it up within a second)."""
    from papersift.jobs.registry import jobs_for
    from papersift.jobs.worker import lease_name
    from papersift.store import jobs as sql

    known = {j.name: j for j in jobs_for(state.settings)}
    if name not in known:
        err.print(f"no job named {name!r}; jobs: {', '.join(known)}")
        raise typer.Exit(1)
    eng = open_engine()
    try:
        sql.ensure(eng.db, [lease_name(state.settings, known[name])])
        sql.request_run(eng.db, name)
    finally:
        eng.close()
    out.print(f"job {name} is due now")
