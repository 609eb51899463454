"""indexes so that no feed request scans the papers table

Revision ID: 0004
Revises: 0003

``ix_papers_daily_moment`` indexes the daily-feed moment expression of store/feeds.py (plus
``upvotes``, so trending finds a period's voted papers from the index alone); every feed page,
count and neighbouring-day lookup is a range scan on it. ``ix_papers_submitted_by`` serves the
per-submitter lists.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SQLITE_MOMENT = "coalesce(submitted_on_daily_at, published || ' 00:00:00.000000', first_seen)"
PG_MOMENT = "coalesce(submitted_on_daily_at, CAST(published AS TIMESTAMP), first_seen)"


def upgrade() -> None:
    moment = SQLITE_MOMENT if op.get_bind().dialect.name == "sqlite" else PG_MOMENT
    op.execute(f"CREATE INDEX ix_papers_daily_moment ON papers ({moment}, upvotes)")
    op.create_index("ix_papers_submitted_by", "papers", ["submitted_by"])


def downgrade() -> None:
    op.drop_index("ix_papers_submitted_by", "papers")
    op.execute("DROP INDEX ix_papers_daily_moment")
