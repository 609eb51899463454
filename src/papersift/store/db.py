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
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, select, text, update
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


class ReadOnlyStore(RuntimeError):
    """A write asked of a database opened read-only (read-only mode or a read-only data dir)."""


class WriteBusy(RuntimeError):
    """The write lock could not be had in time (another writer holds it); try again later."""

    retry_after = 5


# Pool: reads never queue behind writers. Writers wait for the lock in Database.write()'s gate,
# without a pooled connection, so at most one connection per process waits on SQLite's lock;
# 10 + 30 connections cover a web worker's 40 threads. A checkout that still waits 10 s fails
# (sqlalchemy.exc.TimeoutError: the web answers 503).
POOL_SIZE, POOL_OVERFLOW, POOL_TIMEOUT = 10, 30, 10.0
READ_BUSY_MS = 30_000  # a reader's busy timeout (WAL readers almost never wait)


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` (libpq style) mean papersift's driver, psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, read_only: bool = False) -> Engine:
    """A SQLAlchemy engine. On SQLite: WAL, foreign keys, a 30 s busy timeout for reads, and
    transactions begun explicitly (``BEGIN`` for reads, ``BEGIN IMMEDIATE`` for ``Database.write()``,
    whose lock wait is the ``_WRITE`` execution option in milliseconds).

    ``read_only``: SQLite opens the file with ``mode=ro`` (``immutable=1`` for a cleanly closed
    copy in a directory it cannot write, see ``_connect_read_only``), never switches it to WAL and
    sets ``query_only``; PostgreSQL sessions get ``default_transaction_read_only``."""
    if not url.startswith("sqlite"):
        args = {"options": "-c default_transaction_read_only=on"} if read_only else {}
        pg = create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                           pool_timeout=POOL_TIMEOUT, connect_args=args)
        event.listen(pg, "before_cursor_execute", _no_nul, retval=True)
        return pg
    path = make_url(url).database
    pool: dict[str, Any] = {}
    if path and path != ":memory:" and not path.startswith("file:"):
        pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, "pool_timeout": POOL_TIMEOUT}
    if read_only and pool:
        engine = create_engine(url, creator=lambda: _connect_read_only(str(path)), **pool)
    else:
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # pysqlite: no implicit BEGIN; we emit our own below
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={READ_BUSY_MS}")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        else:
            _ensure_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        wait_ms = conn.get_execution_options().get(_WRITE)
        if not wait_ms:
            conn.exec_driver_sql("BEGIN")
            return
        conn.exec_driver_sql(f"PRAGMA busy_timeout={max(int(wait_ms), 1)}")
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={READ_BUSY_MS}")

    return engine


def _nul_free(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


def _no_nul(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
            _executemany: bool) -> tuple[str, Any]:
    """PostgreSQL text cannot hold NUL (SQLite's can): a NUL in a bound string (a hostile form
    field or path, say) becomes U+FFFD, so it is looked up or stored like any other odd character
    instead of failing the request."""
    if isinstance(parameters, dict):
        parameters = {k: _nul_free(v) for k, v in parameters.items()}
    elif isinstance(parameters, (list, tuple)):
        parameters = type(parameters)(
            {k: _nul_free(v) for k, v in p.items()} if isinstance(p, dict)
            else type(p)(_nul_free(v) for v in p) if isinstance(p, (list, tuple)) else _nul_free(p)
            for p in parameters)
    return statement, parameters


def _connect_read_only(path: str) -> sqlite3.Connection:
    """Open a SQLite file read-only. ``mode=ro`` works while the directory is writable or the WAL
    files exist (a live database: its writers' commits stay visible). A cleanly closed WAL database
    in a directory nobody may write (no -wal, and no -shm can be made) opens as ``immutable=1``:
    nothing can change it there. A -wal left without its -shm (a crash) cannot be read that way."""
    uri = "file:" + quote(os.path.abspath(path))
    if not os.path.exists(path):
        raise ReadOnlyStore(f"no database at {path} (read-only mode never creates one)")
    con = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=30, check_same_thread=False)
    try:
        con.execute("PRAGMA schema_version").fetchone()
        return con
    except sqlite3.OperationalError as e:
        con.close()
        if "unable to open" not in str(e):
            raise
        wal = Path(path + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise ReadOnlyStore(f"cannot open {path} read-only: its -wal file holds commits but there is no "
                                "-shm file and the directory is not writable (was it copied while in use?). "
                                "Open it once writable, or copy it with `sqlite3 SRC \".backup DST\"`") from None
    con = sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, timeout=30, check_same_thread=False)
    con.execute("PRAGMA schema_version").fetchone()
    return con


def _create_private(path: str) -> None:
    """Create the SQLite file mode 0600 (it holds password hashes; SQLite gives its -wal and -shm
    the database file's mode), and take group/other permissions away from an existing one."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        return
    except FileExistsError:
        pass
    except OSError as e:  # a missing or read-only directory: the first connection says so
        log.debug("could not create %s: %s", p, e)
        return
    for f in (p, p.with_name(p.name + "-wal"), p.with_name(p.name + "-shm")):
        try:
            st = f.stat()
            if st.st_mode & 0o077 and st.st_uid == os.geteuid():
                os.chmod(f, stat.S_IMODE(st.st_mode) & 0o700)
                log.info("%s was readable by other users: now mode %o", f, stat.S_IMODE(st.st_mode) & 0o700)
        except OSError:
            continue


def unavailable(exc: BaseException) -> tuple[str, int] | None:
    """When ``exc`` says the database cannot take a request now (busy, disk full, unwritable,
    out of connections): a message for people and a Retry-After in seconds; else None."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, WriteBusy):
        return str(exc), exc.retry_after
    if isinstance(exc, sa_exc.TimeoutError):
        return "The server is busy (every database connection is in use); try again in a few seconds.", 5
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    if getattr(orig, "sqlstate", None) == "25006":  # PostgreSQL read_only_sql_transaction (a standby, say)
        return "The database cannot be written right now (it is read-only).", 120
    if not isinstance(exc, sa_exc.OperationalError) and not isinstance(orig, sqlite3.OperationalError):
        return None
    msg = str(orig).lower()
    if "locked" in msg or "busy" in msg:
        return "The database is busy with another write; try again in a few seconds.", 5
    if "full" in msg:
        return "The server's disk is full, so nothing can be saved right now; try again later.", 120
    if "readonly" in msg or "read-only" in msg:
        return "The database cannot be written right now (its file or file system is read-only).", 120
    return "The database is unavailable right now; try again later.", 30


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

    def __init__(self, url: str, read_only: bool = False) -> None:
        url = self.url = normalize_url(url)
        self.read_only = read_only
        # a write waits up to write_wait s for the write lock (in this process, then SQLite's); with
        # write_stall set (web workers), a writer that finds the lock held longer than that by this
        # process's current writer fails at once (WriteBusy) instead of queueing
        self.write_wait = 30.0
        self.write_stall: float | None = None
        self._gate = threading.Lock()
        self._gate_since: float | None = None
        self._gate_depth = threading.local()
        path = make_url(url).database if url.startswith("sqlite") else None
        if path and path != ":memory:" and not path.startswith("file:") and not read_only:
            _create_private(path)
        self.engine = make_engine(url, read_only=read_only)
        self._write_engine = self.engine.execution_options(**{_WRITE: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self, wait: float | None = None) -> Iterator[Connection]:
        """A write transaction holding the write lock from its start (commits on success).

        Raises ReadOnlyStore on a read-only database; on SQLite, WriteBusy or "database is locked"
        (sqlalchemy OperationalError) when the lock is not had within ``wait`` (default
        ``write_wait``) seconds."""
        if self.read_only:
            raise ReadOnlyStore("this papersift is read-only: nothing can be saved")
        if not self.is_sqlite:
            with self._write_engine.begin() as conn:
                yield conn
            return
        with self._write_slot(wait) as left, \
                self.engine.execution_options(**{_WRITE: max(int(left * 1000), 1)}).begin() as conn:
            yield conn

    @contextmanager
    def _write_slot(self, wait: float | None = None) -> Iterator[float]:
        """One writer per process waits for SQLite's lock (it takes one writer at a time anyway); the
        others wait here, holding no pooled connection. Yields the seconds left of ``write_wait``."""
        budget = self.write_wait if wait is None else wait
        if getattr(self._gate_depth, "n", 0):  # a write inside this thread's own write
            yield budget
            return
        deadline = time.monotonic() + budget
        while not self._gate.acquire(timeout=0.05):
            now = time.monotonic()
            since = self._gate_since
            if self.write_stall is not None and since is not None and now - since > self.write_stall:
                raise WriteBusy("The database is busy with another write; try again in a few seconds.")
            if now >= deadline:
                raise WriteBusy("The database is busy with other writes; try again in a few seconds.")
        self._gate_since = time.monotonic()
        self._gate_depth.n = 1
        try:
            yield max(deadline - time.monotonic(), 0.001)
        finally:
            self._gate_depth.n = 0
            self._gate_since = None
            self._gate.release()

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
        if self.read_only:  # never migrate a read-only database: say what it lacks instead
            self.check_schema()
            return False
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
    return int(conn.execute(select(counters.c.value).where(counters.c.name == "change")).scalar() or 0)
