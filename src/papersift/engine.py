"""Opens the store and the indexes of one data dir, in a role: index owner or reader.

* **owner** (the worker, or ``ingest`` / ``embed`` / ``reindex`` when no worker runs): holds the
  index lock (index/owner.py), writes the lexical and vector indexes, follows the store's change
  log into them (``catch_up``).
* **reader** (web workers, CLI reads, an ``ingest`` beside a running worker): opens the indexes
  read-only and sees the owner's commits through ``refresh`` — never a restart.

Search, ranking and web import this module, never the ingest pipeline.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine.url import make_url

from papersift.config import Settings
from papersift.index import catchup
from papersift.index.lexical import LexicalIndex
from papersift.index.owner import IndexLock, describe
from papersift.index.semantic import QueryEncoder, Semantic, VectorSide
from papersift.store import Database, SQLStore
from papersift.store.db import ReadOnlyStore

log = logging.getLogger(__name__)
Progress = Callable[[int], None]
REFRESH_EVERY = 1.0  # seconds between a reader's checks for the owner's new commits


class IndexBusy(RuntimeError):
    """Another process owns the indexes of this data dir."""

    def __init__(self, owner: dict[str, Any] | None) -> None:
        self.owner = owner
        super().__init__(f"the indexes are owned by {describe(owner)}")


@dataclass
class Engine:
    """The store and the indexes of one data dir, opened together in one role."""

    settings: Settings
    store: SQLStore
    lexical: LexicalIndex
    lock: IndexLock
    _semantic: Semantic | None = field(default=None, repr=False)
    _encoder: QueryEncoder | None = field(default=None, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _refreshed: float = field(default=0.0, repr=False)
    _closed: bool = field(default=False, repr=False)
    _scratch: Path | None = field(default=None, repr=False)  # read-only data dir: see _shadow_dir

    @property
    def is_owner(self) -> bool:
        return self.lock.held

    @property
    def role(self) -> str:
        return "owner" if self.is_owner else "reader"

    @property
    def db(self) -> Database:
        return self.store.db

    # -- dense side --------------------------------------------------------------------------------
    @property
    def semantic(self) -> Semantic:
        """The vector index of the configured model (loaded once, thread-safe); loading it never
        loads the model, which waits for the first query that needs it."""
        if self._semantic is None:
            with self._guard:
                if self._semantic is None:
                    from papersift.index.embedders import model_name

                    if self._encoder is None:
                        self._encoder = QueryEncoder(self.settings.embedder)
                    vectors = VectorSide(self.settings.vectors_dir, model_name(self.settings.embedder),
                                         writable=self.is_owner)
                    self._semantic = Semantic(vectors, self._encoder)
        return self._semantic

    def semantic_ready(self) -> bool:
        return self.semantic.ready()

    # -- reader ------------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> Engine:
        """See what the index owner has committed (at most every REFRESH_EVERY seconds)."""
        if self.is_owner:
            return self
        t = time.monotonic()
        if not force and t - self._refreshed < REFRESH_EVERY:
            return self
        self._refreshed = t
        self.lexical.refresh()
        if self._semantic is not None:
            self._semantic.vectors.refresh()
        return self

    # -- owner -------------------------------------------------------------------------------------
    def become_owner(self, role: str, wait: float = 0.0) -> bool:
        """Take the index lock (waiting up to ``wait`` s) and reopen the indexes for writing."""
        if self.is_owner:
            return True
        if not self.lock.acquire(role, wait=wait):
            return False
        with self._guard:
            self.lexical = LexicalIndex(self.settings.lexical_dir, writable=True)
            self._semantic = None  # reopened writable on next use
        return True

    def _flush(self) -> None:
        """Owner: commit what was added to the lexical index and publish unsaved vectors."""
        if not self.is_owner:
            return
        if self.lexical.applied_seq > self.lexical.seq:
            self.lexical.commit(seq=self.lexical.applied_seq)
        if self._semantic is not None and self._semantic.vectors._unsaved:
            self._semantic.vectors.save()

    def release_ownership(self) -> None:
        if not self.is_owner:
            return
        self._flush()
        with self._guard:
            self.lock.release()
            self.lexical = LexicalIndex(self.settings.lexical_dir, writable=False)
            self._semantic = None

    def _require_owner(self) -> None:
        if not self.is_owner:
            raise IndexBusy(self.lock.owner())

    def catch_up(self, progress: Progress | None = None, commit: bool = True) -> int:
        """Owner: apply every store change the lexical index has not seen. Returns papers indexed."""
        self._require_owner()
        return catchup.catch_up(self.store, self.lexical, progress, commit=commit)

    def catch_up_vectors(self, force_save: bool = False) -> int:
        """Owner: add every new stored vector of the configured model to its vector index."""
        self._require_owner()
        imported = self.semantic.vectors.import_legacy(self.db)
        return self.semantic.vectors.catch_up(self.db, force_save=force_save or bool(imported))

    def reindex(self, progress: Progress | None = None) -> int:
        """Owner: rebuild the lexical and vector indexes from the store."""
        self._require_owner()
        n = catchup.reindex(self.store, self.lexical, progress)
        self.semantic.vectors.clear()
        self.catch_up_vectors(force_save=True)
        return n

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._flush()
        finally:
            self.lock.release()
            self.store.close()
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)


def read_only_reason(settings: Settings) -> str | None:
    """Why this data dir opens read-only (None when it need not): read-only mode was asked for
    (``--read-only``, ``PAPERSIFT_READ_ONLY=1``), or its directory or SQLite file is not writable."""
    if settings.read_only:
        return "read-only mode"
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        return None
    d = settings.data_dir
    if d.is_dir() and not os.access(d, os.W_OK):
        return f"the data dir {d} is not writable (read-only mode)"
    path = make_url(settings.db_url).database
    if path and os.path.exists(path) and not os.access(path, os.W_OK):
        return f"the database {path} is not writable (read-only mode)"
    return None


class _ReadOnlyIndexLock(IndexLock):
    """The index lock of a data dir this process may not write: never taken (``owner()`` probes it
    through a read-only descriptor)."""

    def acquire(self, role: str, wait: float = 0.0) -> bool:
        return False


def _shadow_dir(index_dir: Path) -> Path:
    """tantivy opens even a reader with a lock file beside the index, which an unwritable directory
    refuses: read such an index through a temp dir of symlinks to its files (the locks live there)."""
    shadow = Path(tempfile.mkdtemp(prefix="papersift-read-only-index-"))
    for f in index_dir.iterdir():
        if not f.name.startswith(".tantivy-") and not f.name.endswith(".lock"):
            (shadow / f.name).symlink_to(f)
    log.info("lexical index %s is read-only: reading it through %s", index_dir, shadow)
    return shadow


def open_engine(settings: Settings, role: str = "reader", *, owner: str = "cli", wait: float = 0.0,
                upgrade: bool = False, catch_up: bool = True) -> Engine:
    """Open the data dir as ``role``: "reader", "owner" (IndexBusy if another process owns the
    indexes after ``wait`` seconds), or "auto" (owner if nobody else is, else reader).

    ``owner`` names this process in the lock file ("worker", "ingest", ...). An owner catches the
    indexes up on open unless ``catch_up=False``. ``upgrade`` migrates the database first.
    """
    if role not in ("reader", "owner", "auto"):
        raise ValueError(f"role must be reader, owner or auto, not {role!r}")
    from papersift.index.embedders import model_name

    model_name(settings.embedder)  # an unknown embedder name fails here, with the known names
    reason = read_only_reason(settings)
    if reason:  # serve and search, write nothing: no index lock, no migration, a read-only database
        settings.read_only = True
        if role == "owner":
            raise ReadOnlyStore(f"{reason}: the indexes cannot be written")
        role, upgrade = "reader", False
    else:
        settings.ensure()
    db = Database(settings.db_url, read_only=settings.read_only)
    if upgrade:
        db.upgrade()
    store = SQLStore(db)
    lock = _ReadOnlyIndexLock(settings.data_dir) if reason else IndexLock(settings.data_dir)
    got = role != "reader" and lock.acquire(owner, wait=wait if role == "owner" else 0.0)
    if role == "owner" and not got:
        who = lock.owner()
        store.close()
        raise IndexBusy(who)
    lexical_dir = settings.lexical_dir
    if settings.read_only and lexical_dir.is_dir() and not os.access(lexical_dir, os.W_OK):
        lexical_dir = _shadow_dir(lexical_dir)
    eng = Engine(settings, store, LexicalIndex(lexical_dir, writable=lock.held), lock)
    if lexical_dir != settings.lexical_dir:
        eng._scratch = lexical_dir  # removed by close(), or when the engine goes without one
        weakref.finalize(eng, shutil.rmtree, lexical_dir, True)
    if eng.is_owner and catch_up:
        try:
            eng.catch_up()
            eng.catch_up_vectors()
        except BaseException:
            eng.close()
            raise
    return eng
