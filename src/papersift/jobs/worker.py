"""The worker loop: claim due jobs under leases, run them, record one line per run.

One process, one thread running jobs one at a time (a job's lease heartbeat runs beside it). The
worker also tries to become the index owner on every tick; until it is (another worker, or an
``ingest`` run as owner, holds the lock) it skips the jobs that need the indexes. SIGTERM / SIGINT
stop it after the job in progress reaches a safe point (embed stops between chunks).
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import threading
import time
from types import FrameType

from papersift.config import Settings
from papersift.engine import Engine, open_engine
from papersift.jobs.lease import JobLease, worker_id
from papersift.jobs.registry import Job, JobContext, Result, jobs_for
from papersift.store import jobs as sql

log = logging.getLogger(__name__)


def host_key(settings: Settings) -> str:
    """This data dir on this host, as a short stable name: ``hostname:hash of the data dir path``."""
    path = str(settings.data_dir.expanduser().resolve())
    return f"{socket.gethostname()[:40]}:{hashlib.sha1(path.encode()).hexdigest()[:8]}"


def lease_name(settings: Settings, job: Job) -> str:
    """The jobs-table row of ``job`` for this worker. A job that needs the index owner works on this
    data dir's index files, so on a shared database (PostgreSQL: several hosts, each with its own
    data dir and indexes) every data dir runs it under its own lease, ``index@host:dirhash``: each
    host's worker follows the change log into its own indexes. On SQLite the database belongs to one
    data dir and the name stays ``index``. Store-wide jobs (embed, harvest, digest) have one lease
    per database, so they run once whatever the number of workers."""
    if not job.needs_owner or settings.db_url.startswith("sqlite"):
        return job.name
    return f"{job.name}@{host_key(settings)}"


class Worker:
    def __init__(self, settings: Settings, jobs: list[Job] | None = None) -> None:
        self.settings = settings
        self.jobs = jobs if jobs is not None else jobs_for(settings)
        self.id = worker_id()
        self.stop_event = threading.Event()
        self.engine: Engine | None = None

    def stop(self, *_args: object) -> None:
        if not self.stop_event.is_set():
            log.info("worker %s: stopping after the current job", self.id)
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self, once: bool = False) -> None:
        """Run until stopped (``once``: a single pass over the due jobs, for tests and cron)."""
        eng = self.engine = open_engine(self.settings, "reader", upgrade=True)
        sql.ensure(eng.db, [lease_name(self.settings, j) for j in self.jobs])
        log.info("worker %s started: jobs %s", self.id, ", ".join(f"{j.name} every {j.every:g}s" for j in self.jobs))
        parent = int(os.environ.get("PAPERSIFT_PARENT_PID", "0") or 0)  # set by `serve --worker`
        try:
            while not self.stop_event.is_set():
                if parent and os.getppid() != parent:
                    log.warning("worker %s: the server that started it is gone; stopping", self.id)
                    break
                self._take_ownership(eng)
                for job in self.jobs:
                    if self.stop_event.is_set():
                        break
                    if job.needs_owner and not eng.is_owner:
                        continue
                    self.run_job(job)
                if once:
                    break
                self.stop_event.wait(self.settings.worker_tick)
        finally:
            eng.close()
            log.info("worker %s stopped", self.id)

    def _take_ownership(self, eng: Engine) -> None:
        if eng.is_owner:
            return
        if eng.become_owner("worker"):
            log.info("worker %s owns the indexes of %s", self.id, self.settings.data_dir)
            try:
                eng.catch_up()
            except Exception:
                log.exception("worker %s: index catch-up failed", self.id)

    def run_job(self, job: Job) -> Result | None:
        """Run ``job`` if it is due and its lease is free. Returns its result, None if not run."""
        assert self.engine is not None
        ttl = self.settings.lease_seconds
        name = lease_name(self.settings, job)
        with JobLease(self.engine.db, name, self.id, ttl, due_only=True, every=job.every) as lease:
            if not lease.acquired:
                return None
            ctx = JobContext(self.engine, self.settings, self.id,
                             should_stop=lambda: self.stop_event.is_set() or lease.lost)
            t0 = time.monotonic()
            try:
                result = job.run(ctx)
            except Exception as e:
                lease.outcome, lease.detail = "failed", f"{type(e).__name__}: {e}"
                log.exception("job %s failed after %.2fs", job.name, time.monotonic() - t0)
                return None
            lease.detail = result.detail
            if result.next_in is not None:
                lease.every = result.next_in
            if result.failed:
                lease.outcome = "failed"
            if self.stop_event.is_set() or lease.lost:
                lease.outcome = "interrupted"
            level = logging.INFO if result.worked or lease.outcome != "ok" else logging.DEBUG
            log.log(level, "job %s %s in %.2fs: %s", job.name, lease.outcome, time.monotonic() - t0, result.detail)
            return result
