"""faithful source fields: date precision, source upvotes, HF daily metadata

Revision ID: 0006
Revises: 0005

``published_precision`` says whether ``published`` is known to the day, the month or the year (a
coarser date never replaces a finer one); rows dated before this revision were stored as days.
``source_upvotes`` keeps the source's count apart from papersift's own ``upvotes`` (shown: the sum).
The rest are the Hugging Face fields importers parse: comments, AI summary and keywords, GitHub repo
and stars, organization, thumbnail.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in (
        sa.Column("published_precision", sa.String(8)),
        sa.Column("source_upvotes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("num_comments", sa.Integer),
        sa.Column("ai_summary", sa.Text),
        sa.Column("ai_keywords", sa.JSON().with_variant(JSONB(), "postgresql")),
        sa.Column("github_repo", sa.Text),
        sa.Column("github_stars", sa.Integer),
        sa.Column("organization", sa.String(200)),
        sa.Column("thumbnail", sa.Text),
    ):
        op.add_column("papers", column)
    papers = sa.table("papers", sa.column("published", sa.Date), sa.column("published_precision", sa.String))
    op.execute(papers.update().where(papers.c.published.is_not(None)).values(published_precision="day"))


def downgrade() -> None:
    for col in ("thumbnail", "organization", "github_stars", "github_repo", "ai_keywords", "ai_summary",
                "num_comments", "source_upvotes", "published_precision"):
        op.drop_column("papers", col)
