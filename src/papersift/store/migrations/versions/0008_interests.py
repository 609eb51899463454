"""interests: follows, library (with tags), thumbs up/down feedback

Revision ID: 0008
Revises: 0007

Per-user rows for the For-you ranker (rank/foryou.py). Every row belongs to a user and goes with
it (``ON DELETE CASCADE``); library and feedback rows go with their paper too.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("user_id", "kind", "value", name="uq_follows_user_kind_value"),
    )
    op.create_table(
        "library",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("paper_pk", sa.Integer, sa.ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
        sa.Column("tags", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("saved_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_library_paper_pk", "library", ["paper_pk"])
    op.create_table(
        "feedback",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("paper_pk", sa.Integer, sa.ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
        sa.Column("value", sa.SmallInteger, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.CheckConstraint("value IN (-1, 1)", name="ck_feedback_value"),
    )
    op.create_index("ix_feedback_paper_pk", "feedback", ["paper_pk"])


def downgrade() -> None:
    op.drop_index("ix_feedback_paper_pk", "feedback")
    op.drop_table("feedback")
    op.drop_index("ix_library_paper_pk", "library")
    op.drop_table("library")
    op.drop_table("follows")
