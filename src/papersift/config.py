"""One Settings object, built by the faces (CLI, web) and passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {raw!r}") from None


def default_data_dir() -> Path:
    env = os.environ.get("PAPERSIFT_DATA")
    return Path(env) if env else Path(user_data_dir("papersift", appauthor=False))


@dataclass
class Settings:
    """Where papersift keeps its data and how it serves it.

    Layout of ``data_dir``::

        papersift.db        SQLite database (WAL mode): papers, users, votes, ingest log
        lexical/            tantivy BM25 index (+ state.json: last store change applied)
        vectors/            dense vector index per embedding model (semantic search)
    """

    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None  # default: sqlite file in data_dir; PAPERSIFT_DATABASE_URL=postgresql+psycopg://
    secret_key: str | None = None
    embedder: str | None = None  # embedding model name; None = default (PAPERSIFT_EMBEDDER)
    # worker (papersift worker): seconds between runs of each job, lease length, loop tick
    index_every: float = field(default_factory=lambda: _env_float("PAPERSIFT_INDEX_EVERY", 5.0))
    embed_every: float = field(default_factory=lambda: _env_float("PAPERSIFT_EMBED_EVERY", 60.0))
    lease_seconds: float = field(default_factory=lambda: _env_float("PAPERSIFT_LEASE_SECONDS", 60.0))
    worker_tick: float = field(default_factory=lambda: _env_float("PAPERSIFT_WORKER_TICK", 1.0))
    job_modules: list[str] = field(default_factory=lambda: [
        m.strip() for m in os.environ.get("PAPERSIFT_JOB_MODULES", "").split(",") if m.strip()])
    # reverse proxies (IPs / CIDRs) whose X-Forwarded-For is believed; none by default (web/deps.py)
    trusted_proxies: list[str] = field(default_factory=lambda: [
        p.strip() for p in os.environ.get("PAPERSIFT_TRUSTED_PROXIES", "").split(",") if p.strip()])
    # read-only mode (--read-only): serve and search, never write (also on for an unwritable data dir)
    read_only: bool = field(default_factory=lambda: os.environ.get("PAPERSIFT_READ_ONLY", "").strip().lower()
                            in ("1", "true", "yes", "on"))
    # web: request body limit (bytes), seconds a web write waits for the database lock (CLI: 30), the
    # public URL absolute links (Atom, Markdown) start with (unset: the request's URL, i.e. its Host)
    max_body_bytes: int = field(default_factory=lambda: int(os.environ.get("PAPERSIFT_MAX_BODY_BYTES") or 1 << 20))
    write_wait: float = field(default_factory=lambda: _env_float("PAPERSIFT_WRITE_WAIT", 5.0))
    base_url: str | None = field(default_factory=lambda: os.environ.get("PAPERSIFT_BASE_URL", "").strip() or None)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser()
        self.database_url = self.database_url or os.environ.get("PAPERSIFT_DATABASE_URL")
        self.embedder = self.embedder or os.environ.get("PAPERSIFT_EMBEDDER") or None
        # several app hosts on one database (PostgreSQL) must sign with one key: set it on each host
        self.secret_key = self.secret_key or os.environ.get("PAPERSIFT_SECRET_KEY") or None
        if self.lease_seconds < 1:
            raise ValueError("lease_seconds must be at least 1")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'papersift.db'}"

    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"

    @property
    def vectors_dir(self) -> Path:
        return self.data_dir / "vectors"

    def ensure(self) -> Settings:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self
