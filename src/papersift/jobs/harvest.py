"""The worker's harvest jobs: ``harvest-arxiv`` (daily, after arXiv's announcement) and
``harvest-hf`` (hourly). Registered on import (listed in registry.JOB_MODULES).

Settings (config.py, env ``PAPERSIFT_HARVEST_*``): endpoints, OAI sets, the daily UTC time, the HF
interval, the delay between requests and the contact address. ``PAPERSIFT_HARVEST=0`` turns both off.

Offline (or with the remote down) a run fails politely: the polite client logs one warning line per
try, the run is recorded as failed with the reason, and the next try comes after a backoff (5 min,
doubling up to the job's own period). The server and the other jobs are not affected. A run indexes
as it goes when this worker owns the indexes, then makes the embed job due.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime, timedelta

from papersift.config import Settings
from papersift.jobs.registry import Job, JobContext, Result, register
from papersift.sources.http import PoliteClient, SourceError, check_delay

log = logging.getLogger(__name__)
DAY = 86_400.0
FIRST_BACKOFF = 300.0
RETRY_BACKOFF = 5.0  # first wait between the tries of one request (doubling, with jitter)
_backoff: dict[str, float] = {}  # job -> seconds to wait after its next failure (this process)
_backoff_lock = threading.Lock()


def seconds_until(at: str, now: datetime | None = None) -> float:
    """Seconds from ``now`` (UTC) to the next ``HH:MM`` UTC; ValueError for a bad time."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", at or "")
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"PAPERSIFT_HARVEST_ARXIV_AT must be a UTC time like 03:30, not {at!r}")
    now = now or datetime.now(UTC)
    nxt = now.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=0, microsecond=0)
    if nxt <= now:
        nxt += timedelta(days=1)
    return (nxt - now).total_seconds()


def arxiv_next(settings: Settings) -> float:
    return seconds_until(settings.arxiv_harvest_at) if settings.arxiv_harvest_at.strip() else DAY


def _failed(job: str, period: float, why: str) -> Result:
    with _backoff_lock:
        wait = min(_backoff.get(job, FIRST_BACKOFF), period)
        _backoff[job] = min(wait * 2, period)
    log.warning("job %s: %s; next try in %.0fs", job, why, wait)
    return Result(f"failed: {why} (next try in {wait:.0f}s)", failed=True, next_in=wait)


def _succeeded(job: str) -> None:
    with _backoff_lock:
        _backoff.pop(job, None)


def _client(settings: Settings, endpoint: str) -> PoliteClient:
    delay = check_delay(endpoint, settings.harvest_delay)
    # offline (no route, no DNS) the run fails at once with one line; the job's backoff retries later
    return PoliteClient(delay=delay, contact=settings.contact_email, timeout=60.0, tries=3, backoff=RETRY_BACKOFF,
                        max_backoff=60.0, connect_tries=1)


def _embed_soon(ctx: JobContext, added: int) -> None:
    if added:
        from papersift.store import jobs as jobs_sql

        jobs_sql.request_run(ctx.engine.db, "embed")


def run_harvest_arxiv(ctx: JobContext) -> Result:
    from papersift.harvest import harvest_arxiv
    from papersift.store import harvest as sql

    s = ctx.settings
    period = arxiv_next(s)
    endpoint = s.arxiv_oai_endpoint
    parts: list[str] = []
    added = 0
    try:
        with _client(s, endpoint) as client:
            sets: list[str | None] = list(s.arxiv_sets) or [None]
            for set_spec in sets:
                if ctx.should_stop():
                    break
                state = sql.get_state(ctx.engine.db, "arxiv", set_spec or "")
                start = None
                if state.high_water is None and not state.token:  # never harvested: the last days only
                    start = (datetime.now(UTC) - timedelta(days=s.arxiv_start_days)).date()
                rep = harvest_arxiv(ctx.engine, client, endpoint=endpoint, prefix=s.arxiv_oai_format,
                                    set_spec=set_spec, from_=start, should_stop=ctx.should_stop)
                added += rep.new + rep.updated
                parts.append(f"{set_spec or 'all'}: {rep.line()} (high water {rep.high_water or '-'}"
                             f"{'' if rep.complete else ', list not finished'})")
    except (SourceError, ValueError) as e:
        _embed_soon(ctx, added)
        return _failed("harvest-arxiv", period, str(e))
    _succeeded("harvest-arxiv")
    _embed_soon(ctx, added)
    return Result("arxiv " + "; ".join(parts), worked=bool(added), next_in=period)


def run_harvest_hf(ctx: JobContext) -> Result:
    from papersift.harvest import harvest_hf, hf_days
    from papersift.store import harvest as sql

    s = ctx.settings
    endpoint = s.hf_endpoint
    today = datetime.now(UTC).date()
    last = sql.get_state(ctx.engine.db, "hf").high_water
    back = today - timedelta(days=max(int(s.hf_days) - 1, 0))
    first = min(max(datetime.fromisoformat(last).date(), back), today) if last else back
    try:
        with _client(s, endpoint) as client:
            rep = harvest_hf(ctx.engine, client, hf_days(first, today), endpoint=endpoint,
                             should_stop=ctx.should_stop)
    except (SourceError, ValueError) as e:
        return _failed("harvest-hf", s.hf_every, str(e))
    _succeeded("harvest-hf")
    _embed_soon(ctx, rep.new + rep.updated)
    return Result(f"hf {first}..{today}: {rep.line()}", worked=bool(rep.new or rep.updated), next_in=s.hf_every)


def _enabled(settings: Settings) -> bool:
    return settings.harvest_enabled


register(Job("harvest-arxiv", DAY, run_harvest_arxiv, enabled=_enabled,
             description="arXiv OAI-PMH: what changed since the last harvest (daily, PAPERSIFT_HARVEST_ARXIV_AT "
                         "UTC, default 03:30, after arXiv's announcement)"))
register(Job("harvest-hf", 3600.0, run_harvest_hf, enabled=_enabled,
             description="Hugging Face daily papers: today's list and the days before (upvotes change); hourly "
                         "(PAPERSIFT_HARVEST_HF_EVERY)"))
