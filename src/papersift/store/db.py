"""One database handle: engine, write transactions, the change log, and schema migrations.

Contract for every backend (docs/architecture.md, "Change log"):

* A write goes through ``Database.write()``: one transaction that holds the database's write lock
  from its first statement. On SQLite that is ``BEGIN IMMEDIATE`` (one writer at a time, as
  datasette does); on PostgreSQL the first ``next_change`` takes a row lock on the counter.
* ``next_change(conn)`` returns the next change number *inside* that transaction:
  ``UPDATE counters SET value = value + 1 WHERE name = 'change' RETURNING value``. The row (SQLite:
  database) stays locked until commit, so numbers are unique and increase in commit order: when a
  reader sees change N committed, every change below N is committed too. A rolled-back
  transaction gives its number back. This is why the indexes may follow the log by "> last seen".
* Migrations never run on open: ``upgrade()`` runs them once, under a lock (a file lock beside the
  SQLite file, ``pg_advisory_lock`` on PostgreSQL), from ``papersift db upgrade``, ``serve`` and
  ``worker``. Opening a database whose schema is behind raises ``SchemaOutOfDate``.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url

from papersift.store.schema import counters

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "papersift_write"
_MIGRATE_LOCK = threading.Lock()
PG_MIGRATE_LOCK_KEY = 0x7061707273696674  # "papersift": pg_advisory_lock key for migrations


class SchemaOutOfDate(RuntimeError):
    """The database schema is older (or newer) than this papersift; the message says what to run."""


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine. On SQLite: WAL, foreign keys, a 30 s busy timeout, and transactions
    begun explicitly (``BEGIN`` for reads, ``BEGIN IMMEDIATE`` for ``Database.write()``)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite: no implicit BEGIN; we emit our own below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")
        _ensure_wal(cur)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def _ensure_wal(cur: Any, timeout: float = 30.0) -> None:
    """Switch a SQLite file to WAL (persistent, so only its first opener really does). The switch
    needs an exclusive lock and SQLite answers "locked" at once, without its busy handler, while
    another connection holds one: retry for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() in ("wal", "memory"):
                return
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


class Database:
    """The engine of one database plus its write path. Thread-safe; one per process is enough."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._write_engine = self.engine.execution_options(**{_WRITE: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction holding the write lock from its start (commits on success)."""
        with self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    # -- schema -----------------------------------------------------------------------------------
    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def check_schema(self) -> None:
        """Raise SchemaOutOfDate unless the schema is at this papersift's newest revision."""
        have, want = self.revision(), head_revision()
        if have == want:
            return
        if have is None:
            raise SchemaOutOfDate(f"the database {self.safe_url} has no papersift schema yet: "
                                  "run `papersift db upgrade`")
        raise SchemaOutOfDate(f"the database {self.safe_url} is at schema revision {have}, this papersift needs "
                              f"{want}: run `papersift db upgrade`")

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def upgrade(self) -> bool:
        """Migrate to the newest revision, once, under a lock. Returns True if anything ran."""
        want = head_revision()
        if self.revision() == want:
            return False
        with _MIGRATE_LOCK, self._migration_lock():
            have = self.revision()
            if have == want:  # another process migrated while we waited
                return False
            log.info("migrating %s from schema %s to %s", self.safe_url, have or "(empty)", want)
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            return True

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.is_sqlite:
            db_path = make_url(self.url).database
            if not db_path or db_path == ":memory:":
                yield
                return
            lock_path = Path(db_path).with_name(Path(db_path).name + ".migrate.lock")
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            with open(lock_path, "a+") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            return
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PG_MIGRATE_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_MIGRATE_LOCK_KEY})
                conn.commit()


@lru_cache(maxsize=1)
def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def next_change(conn: Connection) -> int:
    """The next change number, taken inside the caller's write transaction (see module doc)."""
    value = conn.execute(update(counters).where(counters.c.name == "change")
                         .values(value=counters.c.value + 1).returning(counters.c.value)).scalar_one()
    return int(value)


def current_change(conn: Connection) -> int:
    """The last change number handed out (committed or in flight in another transaction)."""
    from sqlalchemy import select

    return int(conn.execute(select(counters.c.value).where(counters.c.name == "change")).scalar() or 0)
