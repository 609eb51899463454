"""Job leases and run history for ``papersift worker`` (SQL only; the loop lives in jobs/).

A lease is claimed with one conditional ``UPDATE ... WHERE lease is free or expired`` and the
claimer goes on only if that changed a row (the healthchecks pattern), so any number of workers,
on any number of hosts sharing the database, never run one job at the same time. The runner renews
the lease while it works; a killed runner's lease simply expires and the next claim wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update

from papersift.store import dialect
from papersift.store.db import Database
from papersift.store.schema import job_runs, jobs

KEEP_RUNS = 200  # run-history rows kept per job


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class JobRow:
    name: str
    lease_owner: str | None
    lease_expires_at: datetime | None
    next_run_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str | None
    last_duration_s: float | None
    last_detail: str | None
    runs: int
    failures: int

    @property
    def running(self) -> bool:
        return bool(self.lease_owner) and self.lease_expires_at is not None and self.lease_expires_at > now()


def ensure(db: Database, names: list[str]) -> None:
    """Create the rows of these jobs if missing (due at once)."""
    if not names:
        return
    with db.write() as conn:
        conn.execute(dialect.insert_ignore(db.dialect, jobs, ["name"]),
                     [{"name": n, "runs": 0, "failures": 0} for n in names])


def claim(db: Database, name: str, owner: str, ttl: float, due_only: bool = True) -> bool:
    """Take the lease of job ``name`` for ``ttl`` seconds if it is free (or expired) and, with
    ``due_only``, due. True if this call got it."""
    t = now()
    free = or_(jobs.c.lease_owner.is_(None), jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at <= t)
    cond = [jobs.c.name == name, free]
    if due_only:
        cond.append(or_(jobs.c.next_run_at.is_(None), jobs.c.next_run_at <= t))
    with db.write() as conn:
        res = conn.execute(update(jobs).where(and_(*cond)).values(
            lease_owner=owner, lease_expires_at=t + timedelta(seconds=ttl), last_started_at=t))
        if res.rowcount == 1:
            conn.execute(job_runs.insert().values(job=name, worker=owner, started_at=t))
    return res.rowcount == 1


def renew(db: Database, name: str, owner: str, ttl: float) -> bool:
    """Extend a lease this owner holds; False if it was lost (expired and taken by another)."""
    with db.write() as conn:
        res = conn.execute(update(jobs).where(jobs.c.name == name, jobs.c.lease_owner == owner).values(
            lease_expires_at=now() + timedelta(seconds=ttl)))
    return res.rowcount == 1


def finish(db: Database, name: str, owner: str, outcome: str, duration_s: float, detail: str,
           next_run_at: datetime | None) -> bool:
    """Record the outcome of a run and free the lease. False if the lease was no longer ours (the
    outcome is still written to the run history)."""
    t = now()
    detail = detail[:4000]
    with db.write() as conn:
        res = conn.execute(update(jobs).where(jobs.c.name == name, jobs.c.lease_owner == owner).values(
            lease_owner=None, lease_expires_at=None, last_finished_at=t, last_outcome=outcome,
            last_duration_s=duration_s, last_detail=detail, next_run_at=next_run_at,
            runs=jobs.c.runs + 1, failures=jobs.c.failures + (1 if outcome == "failed" else 0)))
        run_id = conn.execute(select(job_runs.c.id).where(job_runs.c.job == name, job_runs.c.worker == owner,
                                                          job_runs.c.finished_at.is_(None))
                              .order_by(job_runs.c.id.desc()).limit(1)).scalar()
        if run_id is not None:
            conn.execute(update(job_runs).where(job_runs.c.id == run_id).values(
                finished_at=t, outcome=outcome, duration_s=duration_s, detail=detail))
        cutoff = conn.execute(select(job_runs.c.id).where(job_runs.c.job == name).order_by(job_runs.c.id.desc())
                              .offset(KEEP_RUNS).limit(1)).scalar()
        if cutoff is not None:
            conn.execute(delete(job_runs).where(job_runs.c.job == name, job_runs.c.id <= cutoff))
    return res.rowcount == 1


def release(db: Database, name: str, owner: str) -> None:
    with db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.name == name, jobs.c.lease_owner == owner).values(
            lease_owner=None, lease_expires_at=None))


def request_run(db: Database, name: str) -> bool:
    """Make a job due now (``papersift jobs run NAME``); ``index`` also names every host's
    ``index@host:dir`` lease on a shared database."""
    with db.write() as conn:
        cond = or_(jobs.c.name == name, jobs.c.name.like(name.replace("%", "") + "@%")) if "@" not in name \
            else jobs.c.name == name
        return bool(conn.execute(update(jobs).where(cond).values(next_run_at=now())).rowcount)


def get(db: Database, name: str) -> JobRow | None:
    with db.read() as conn:
        row = conn.execute(select(jobs).where(jobs.c.name == name)).first()
    return JobRow(**dict(row._mapping)) if row else None


def all_jobs(db: Database) -> list[JobRow]:
    with db.read() as conn:
        return [JobRow(**dict(r._mapping)) for r in conn.execute(select(jobs).order_by(jobs.c.name))]


def runs(db: Database, name: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    q = select(job_runs).order_by(job_runs.c.id.desc()).limit(limit)
    if name:
        q = q.where(job_runs.c.job == name)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
