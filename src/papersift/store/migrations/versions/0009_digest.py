"""e-mail addresses, digest preferences, digest sends (one row per user and period), private feed tokens

Revision ID: 0009
Revises: 0008

``users.email`` is unique when set (NULLs never collide on SQLite or PostgreSQL).
``digest_sends`` has one row per (user, period): a sender claims it before it sends (insert, or a
conditional update of a stale claim / retryable failure) and records the outcome on it.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(254), nullable=True))
    op.create_index("ux_users_email", "users", ["email"], unique=True)
    op.create_table(
        "digest_settings",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("frequency", sa.String(10), nullable=False, server_default="daily"),
        sa.Column("hour", sa.Integer, nullable=False, server_default="7"),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("max_papers", sa.Integer, nullable=False, server_default="10"),
        sa.Column("include_trending", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("unsubscribed_at", sa.DateTime),
        sa.Column("feed_token_hash", sa.String(64), unique=True),
        sa.Column("feed_token_created_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "digest_sends",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("claimed_at", sa.DateTime),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime),
        sa.Column("message_id", sa.String(300)),
        sa.Column("papers", sa.JSON().with_variant(JSONB(), "postgresql")),
        sa.Column("error", sa.Text),
        sa.Column("sent_at", sa.DateTime),
        sa.UniqueConstraint("user_id", "period", name="uq_digest_sends_user_period"),
    )
    op.create_index("ix_digest_sends_user_sent", "digest_sends", ["user_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_digest_sends_user_sent", "digest_sends")
    op.drop_table("digest_sends")
    op.drop_table("digest_settings")
    op.drop_index("ux_users_email", "users")
    # a plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy would drop and recreate
    # users, and dropping it would cascade to sessions, tokens and votes
    op.drop_column("users", "email")
