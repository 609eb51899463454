"""A job lease held for the duration of one run, renewed by a heartbeat thread.

``with JobLease(db, "embed", owner, ttl) as lease:`` claims the lease (``lease.acquired``), renews
it every ttl/3 seconds while the body runs, and sets ``lease.lost`` if another process took it
over (this process stalled past the ttl); the body should check ``lease.lost`` between units of
work and stop. On exit the outcome is recorded and the lease freed.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import timedelta
from types import TracebackType

from papersift.store import jobs as sql
from papersift.store.db import Database

log = logging.getLogger(__name__)


def worker_id(kind: str = "worker") -> str:
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class JobLease:
    def __init__(self, db: Database, job: str, owner: str, ttl: float, due_only: bool = False,
                 every: float | None = None) -> None:
        self.db, self.job, self.owner, self.ttl = db, job, owner, ttl
        self.due_only = due_only
        self.every = every
        self.acquired = False
        self.lost = False
        self.outcome = "ok"
        self.detail = ""
        self.started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> JobLease:
        sql.ensure(self.db, [self.job])
        self.acquired = sql.claim(self.db, self.job, self.owner, self.ttl, due_only=self.due_only)
        if self.acquired:
            self.started = time.monotonic()
            self._thread = threading.Thread(target=self._heartbeat, name=f"lease-{self.job}", daemon=True)
            self._thread.start()
        return self

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not sql.renew(self.db, self.job, self.owner, self.ttl):
                    log.error("job %s: lease lost (another worker took it over); stopping", self.job)
                    self.lost = True
                    return
            except Exception:
                log.exception("job %s: could not renew the lease", self.job)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.acquired:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if exc is not None:
            self.outcome = "interrupted" if isinstance(exc, KeyboardInterrupt | SystemExit) else "failed"
            self.detail = self.detail or f"{type(exc).__name__}: {exc}"
        if self.lost and self.outcome == "ok":
            self.outcome = "interrupted"
        duration = time.monotonic() - self.started
        next_run = sql.now() + timedelta(seconds=self.every) if self.every is not None else None
        try:
            sql.finish(self.db, self.job, self.owner, self.outcome, duration, self.detail, next_run)
        except Exception:
            log.exception("job %s: could not record its outcome", self.job)

    @property
    def duration(self) -> float:
        return time.monotonic() - self.started if self.started else 0.0

