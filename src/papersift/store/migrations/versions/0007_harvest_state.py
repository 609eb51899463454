"""harvest state and deleted papers

Revision ID: 0007
Revises: 0006

``harvest_state``: one row per (source, set): the high-water mark a plain re-run starts from
(arXiv: the last OAI datestamp of a complete list; Hugging Face: the last daily date), and the
list in progress (its resumption token, bounds and highest datestamp so far). It is written in
the same transaction as each page's papers (store/harvest.py).

``papers.deleted``: a paper arXiv's OAI-PMH reports deleted; hidden from every read, feed,
index, embedding and statistic. The daily-moment index gains the column, so feed counts and pages
that skip deleted papers stay index-only range scans.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SQLITE_MOMENT = "coalesce(submitted_on_daily_at, published || ' 00:00:00.000000', first_seen)"
PG_MOMENT = "coalesce(submitted_on_daily_at, CAST(published AS TIMESTAMP), first_seen)"


def upgrade() -> None:
    op.create_table(
        "harvest_state",
        sa.Column("source", sa.String(20), primary_key=True),
        sa.Column("set_spec", sa.String(100), primary_key=True),
        sa.Column("high_water", sa.String(40)),
        sa.Column("endpoint", sa.Text),
        sa.Column("metadata_prefix", sa.String(20)),
        sa.Column("token", sa.Text),
        sa.Column("run_from", sa.String(40)),
        sa.Column("run_until", sa.String(40)),
        sa.Column("run_max", sa.String(40)),
        sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cursor", sa.Integer),
        sa.Column("complete_size", sa.Integer),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.add_column("papers", sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()))
    moment = SQLITE_MOMENT if op.get_bind().dialect.name == "sqlite" else PG_MOMENT
    op.execute("DROP INDEX ix_papers_daily_moment")
    op.execute(f"CREATE INDEX ix_papers_daily_moment ON papers ({moment}, upvotes, deleted)")


def downgrade() -> None:
    moment = SQLITE_MOMENT if op.get_bind().dialect.name == "sqlite" else PG_MOMENT
    op.execute("DROP INDEX ix_papers_daily_moment")
    op.execute(f"CREATE INDEX ix_papers_daily_moment ON papers ({moment}, upvotes)")
    with op.batch_alter_table("papers") as batch:
        batch.drop_column("deleted")
    op.drop_table("harvest_state")
