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


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None


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
    # web surface (issue 8): the rolling daily feed (/daily.atom, /daily.rss) holds the papers of the
    # last feed_days days, at most feed_max_items of them; thumbnails hosted elsewhere (HF's CDN) are
    # shown only with remote_thumbnails (else no page makes the browser fetch from another host)
    feed_days: int = field(default_factory=lambda: max(1, int(os.environ.get("PAPERSIFT_FEED_DAYS") or 7)))
    feed_max_items: int = field(default_factory=lambda: max(1, int(os.environ.get("PAPERSIFT_FEED_MAX_ITEMS")
                                                                   or 1000)))
    remote_thumbnails: bool = field(default_factory=lambda: os.environ.get(
        "PAPERSIFT_REMOTE_THUMBNAILS", "").strip().lower() in ("1", "true", "yes", "on"))
    # -- digest e-mail (notify/, docs/digest.md): the SMTP server (no host: no digest job), the sender
    # address, how often the worker looks for due digests, how long a claim on (user, period) lasts
    # before another sender may retake it, SMTP attempts per send and the first backoff (doubles)
    smtp_host: str | None = field(default_factory=lambda: os.environ.get("PAPERSIFT_SMTP_HOST", "").strip() or None)
    smtp_port: int | None = field(default_factory=lambda: _env_int("PAPERSIFT_SMTP_PORT"))
    smtp_user: str | None = field(default_factory=lambda: os.environ.get("PAPERSIFT_SMTP_USER") or None)
    smtp_password: str | None = field(default_factory=lambda: os.environ.get("PAPERSIFT_SMTP_PASSWORD") or None)
    smtp_security: str = field(default_factory=lambda: os.environ.get("PAPERSIFT_SMTP_SECURITY", "").strip().lower()
                               or "starttls")  # none | starttls | ssl
    smtp_timeout: float = field(default_factory=lambda: _env_float("PAPERSIFT_SMTP_TIMEOUT", 30.0))
    smtp_attempts: int = field(default_factory=lambda: _env_int("PAPERSIFT_SMTP_ATTEMPTS") or 4)
    smtp_backoff: float = field(default_factory=lambda: _env_float("PAPERSIFT_SMTP_BACKOFF", 2.0))
    mail_from: str | None = field(default_factory=lambda: os.environ.get("PAPERSIFT_MAIL_FROM", "").strip() or None)
    digest_every: float = field(default_factory=lambda: _env_float("PAPERSIFT_DIGEST_EVERY", 300.0))
    digest_lease: float = field(default_factory=lambda: _env_float("PAPERSIFT_DIGEST_LEASE", 900.0))
    # -- harvesters (papersift harvest / fetch, the worker's harvest-arxiv and harvest-hf jobs) --------
    # contact address sent in the User-Agent (arXiv asks harvesters for one)
    contact_email: str | None = field(default_factory=lambda: (os.environ.get("PAPERSIFT_HARVEST_CONTACT")
                                                              or os.environ.get("PAPERSIFT_CONTACT_EMAIL")
                                                              or "").strip() or None)
    harvest_delay: float = field(default_factory=lambda: _env_float("PAPERSIFT_HARVEST_DELAY", 3.0))
    harvest_enabled: bool = field(default_factory=lambda: os.environ.get("PAPERSIFT_HARVEST", "1").strip().lower()
                                  not in ("0", "false", "no", "off"))
    arxiv_oai_endpoint: str = field(default_factory=lambda: os.environ.get(
        "PAPERSIFT_HARVEST_ARXIV_ENDPOINT", "").strip() or "https://oaipmh.arxiv.org/oai")
    arxiv_oai_format: str = field(default_factory=lambda: os.environ.get(
        "PAPERSIFT_HARVEST_ARXIV_FORMAT", "").strip() or "arXivRaw")
    # OAI sets the job harvests ("cs,math,physics:hep-th"); empty: all of arXiv
    arxiv_sets: list[str] = field(default_factory=lambda: [
        s.strip() for s in os.environ.get("PAPERSIFT_HARVEST_ARXIV_SETS", "").split(",") if s.strip()])
    # the job runs daily at this UTC time (after arXiv's announcement, 00:00 UTC); empty: every 24 h
    arxiv_harvest_at: str = field(default_factory=lambda: os.environ.get("PAPERSIFT_HARVEST_ARXIV_AT", "03:30"))
    # a data dir the job has never harvested starts this many days back (a full backfill is
    # `papersift ingest` of the snapshot or `papersift harvest arxiv --from 1990-01-01`)
    arxiv_start_days: float = field(default_factory=lambda: _env_float("PAPERSIFT_HARVEST_ARXIV_START_DAYS", 7.0))
    arxiv_api_endpoint: str = field(default_factory=lambda: os.environ.get(
        "PAPERSIFT_HARVEST_ARXIV_API", "").strip() or "https://export.arxiv.org/api/query")
    hf_endpoint: str = field(default_factory=lambda: os.environ.get(
        "PAPERSIFT_HARVEST_HF_ENDPOINT", "").strip() or "https://huggingface.co/api/daily_papers")
    hf_every: float = field(default_factory=lambda: _env_float("PAPERSIFT_HARVEST_HF_EVERY", 3600.0))
    hf_days: float = field(default_factory=lambda: _env_float("PAPERSIFT_HARVEST_HF_DAYS", 3.0))  # today and before
    # submitting an arXiv id papersift does not hold fetches it from the arXiv API (web submit form)
    fetch_on_submit: bool = field(default_factory=lambda: os.environ.get(
        "PAPERSIFT_FETCH_ON_SUBMIT", "1").strip().lower() not in ("0", "false", "no", "off"))
    # interests (foryou): the body limit of a library import upload (web form and API; bytes)
    max_import_bytes: int = field(default_factory=lambda: int(os.environ.get("PAPERSIFT_MAX_IMPORT_BYTES")
                                                              or 20 << 20))

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
