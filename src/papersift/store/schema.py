"""The one schema (SQLAlchemy Core) shared by SQLite and PostgreSQL. Migrations live in migrations/.

Portable types (migration 0005): ``Json`` is JSONB on PostgreSQL (JSON text on SQLite); ids and
aliases are ``String(MAX_ID)``, DOIs ``String(MAX_DOI)`` (models.py cleans values to those widths, so
PostgreSQL, which enforces them, never refuses a cleaned record); change numbers and byte sizes are
BIGINT. SQLite ignores declared widths, so 0005 rewrites no SQLite table.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB

from papersift.models import MAX_DOI, MAX_ID

metadata = MetaData()
Json = JSON().with_variant(JSONB(), "postgresql")

papers = Table(
    "papers",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(MAX_ID), nullable=False, unique=True),
    Column("arxiv_id", String(64), unique=True),
    Column("doi", String(MAX_DOI), index=True),
    Column("norm_title", Text, nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", Json, nullable=False),
    Column("categories", Json, nullable=False),
    Column("published", Date, index=True),
    Column("updated", Date),
    Column("version", Integer),
    Column("links", Json, nullable=False),
    Column("sources", Json, nullable=False),
    Column("first_seen", DateTime, nullable=False, index=True),
    Column("seq", BigInteger, nullable=False, index=True),  # store change counter, for index catch-up
    Column("upvotes", Integer, nullable=False, default=0),
    Column("submitted_by", String(100)),
    Column("submitted_on_daily_at", DateTime, index=True),
    # -- faithful source fields (migration 0006)
    Column("published_precision", String(8)),  # day | month | year; NULL: no date (or a day, written before 0006)
    Column("source_upvotes", Integer, nullable=False, default=0),  # as the source reports them (HF)
    Column("num_comments", Integer),
    Column("ai_summary", Text),
    Column("ai_keywords", Json),
    Column("github_repo", Text),
    Column("github_stars", Integer),
    Column("organization", String(200)),
    Column("thumbnail", Text),
    # harvest (migration 0007): arXiv reported the paper deleted; hidden everywhere
    Column("deleted", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_papers_submitted_by", "submitted_by"),
    # plus ix_papers_daily_moment (migration 0004): an expression index whose text differs by dialect
    # (store/feeds.py moment_sql), so it lives in the migration only
)

paper_aliases = Table(
    "paper_aliases",
    metadata,
    Column("alias", String(MAX_ID), primary_key=True),
    Column("pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

ingest_files = Table(
    "ingest_files",
    metadata,
    Column("path", Text, primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("format", String(40), nullable=False),
    Column("records", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("complete", Boolean, nullable=False, default=False),
    Column("finished_at", DateTime),
)

ingest_errors = Table(
    "ingest_errors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("location", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", DateTime, nullable=False),
)


# -- accounts and community signals (migration 0002) -------------------------------------------
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(40), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", DateTime, nullable=False),
    Column("email", String(254)),  # migration 0009; unique when set (ux_users_email)
    Index("ux_users_email", "email", unique=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the cookie value
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False, index=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_used_at", DateTime),
)

votes = Table(
    "votes",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True, index=True),
    Column("created_at", DateTime, nullable=False),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(40), nullable=False),
    Column("ip", String(64), nullable=False),
    Column("at", DateTime, nullable=False, index=True),
)


# -- change log, embeddings, jobs (migration 0003) -----------------------------------------------
counters = Table(
    "counters",
    metadata,
    Column("name", String(40), primary_key=True),  # "change": the change log (store/db.py);
    # "logins": locked by each login reservation (store/users.py), its value counts attempts
    Column("value", BigInteger, nullable=False),
)

embeddings = Table(
    "embeddings",
    metadata,
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("paper_seq", BigInteger, nullable=False),  # papers.seq of the text that was embedded
    Column("text_hash", String(40), nullable=False),  # sha1 of that text: unchanged text is not re-embedded
    Column("seq", BigInteger, nullable=False),  # change number of this write (vector index catch-up)
    Column("vector", LargeBinary, nullable=False),  # float32 little-endian, L2-normalised
    Index("ix_embeddings_model_seq", "model", "seq"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("lease_owner", String(200)),  # host:pid:nonce of the process running it, NULL when free
    Column("lease_expires_at", DateTime),
    Column("next_run_at", DateTime),
    Column("last_started_at", DateTime),
    Column("last_finished_at", DateTime),
    Column("last_outcome", String(20)),  # ok | failed | interrupted
    Column("last_duration_s", Float),
    Column("last_detail", Text),
    Column("runs", Integer, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job", String(60), nullable=False, index=True),
    Column("worker", String(200), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("outcome", String(20)),
    Column("duration_s", Float),
    Column("detail", Text),
)


# -- interests: follows, library, feedback (migration 0008; rank/foryou.py reads them) -----------
follows = Table(
    "follows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),  # author | category | query
    Column("value", String(300), nullable=False),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("user_id", "kind", "value", name="uq_follows_user_kind_value"),
)

library = Table(
    "library",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("tags", Json, nullable=False),  # sorted list of tag strings
    Column("saved_at", DateTime, nullable=False),
    Index("ix_library_paper_pk", "paper_pk"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("value", SmallInteger, nullable=False),  # +1 thumbs up, -1 thumbs down
    Column("at", DateTime, nullable=False),
    CheckConstraint("value IN (-1, 1)", name="ck_feedback_value"),
    Index("ix_feedback_paper_pk", "paper_pk"),
)


# -- digest e-mail and private feeds (migration 0009) ---------------------------------------------
digest_settings = Table(
    "digest_settings",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("enabled", Boolean, nullable=False, default=False),
    Column("frequency", String(10), nullable=False, default="daily"),  # daily | weekly (Mondays)
    Column("hour", Integer, nullable=False, default=7),  # local hour (0-23) from which the period is due
    Column("timezone", String(64), nullable=False, default="UTC"),  # IANA name (zoneinfo)
    Column("max_papers", Integer, nullable=False, default=10),
    Column("include_trending", Boolean, nullable=False, default=True),
    Column("unsubscribed_at", DateTime),  # set by the one-click unsubscribe link
    Column("feed_token_hash", String(64), unique=True),  # sha256 of the private feed's secret; NULL: none
    Column("feed_token_created_at", DateTime),
    Column("updated_at", DateTime, nullable=False),
)

digest_sends = Table(
    "digest_sends",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("period", String(16), nullable=False),  # "2026-12-05" (daily) or "2026-W49" (weekly)
    Column("status", String(10), nullable=False),  # claimed | sent | failed | empty
    Column("claimed_by", String(200)),  # the sender holding the claim (host:pid:nonce)
    Column("claimed_at", DateTime),  # a claim older than the lease is stale: another sender retakes it
    Column("attempts", Integer, nullable=False, default=0),  # SMTP attempts so far
    Column("next_attempt_at", DateTime),  # a failed send is retried from then on (bounded)
    Column("message_id", String(300)),
    Column("papers", Json),  # ids of the papers the e-mail carried
    Column("error", Text),
    Column("sent_at", DateTime),
    UniqueConstraint("user_id", "period", name="uq_digest_sends_user_period"),
    Index("ix_digest_sends_user_sent", "user_id", "sent_at"),
)
# -- harvesters (migration 0007) -------------------------------------------------------------------
harvest_state = Table(
    "harvest_state",
    metadata,
    Column("source", String(20), primary_key=True),  # "arxiv" | "hf"
    Column("set_spec", String(100), primary_key=True),  # OAI set ("" = all of arXiv)
    Column("high_water", String(40)),  # where a plain re-run starts (last datestamp / daily date)
    Column("endpoint", Text),
    Column("metadata_prefix", String(20)),
    Column("token", Text),  # resumption token of the list in progress (None: no list in progress)
    Column("run_from", String(40)),  # bounds of the list in progress
    Column("run_until", String(40)),
    Column("run_max", String(40)),  # highest datestamp committed in the list in progress
    Column("pages", Integer, nullable=False, default=0, server_default="0"),
    Column("cursor", Integer),
    Column("complete_size", Integer),
    Column("updated_at", DateTime, nullable=False),
)
