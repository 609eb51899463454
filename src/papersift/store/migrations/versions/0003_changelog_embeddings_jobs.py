"""change-log counter, embeddings, jobs and job runs

Revision ID: 0003
Revises: 0002

The change counter moves from a text row in ``meta`` (read-then-write, racy) to ``counters``,
updated with ``UPDATE ... RETURNING`` inside each write transaction (store/db.py). It starts at the
highest number already handed out, so the indexes' recorded positions stay valid.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    counters = op.create_table(
        "counters",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    conn = op.get_bind()
    old = conn.execute(sa.text("SELECT value FROM meta WHERE key = 'seq'")).scalar()
    top = conn.execute(sa.text("SELECT max(seq) FROM papers")).scalar()
    op.bulk_insert(counters, [{"name": "change", "value": max(int(old or 0), int(top or 0))}])
    conn.execute(sa.text("DELETE FROM meta WHERE key = 'seq'"))
    op.create_table(
        "embeddings",
        sa.Column("paper_pk", sa.Integer, sa.ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("paper_seq", sa.BigInteger, nullable=False),
        sa.Column("text_hash", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_embeddings_model_seq", "embeddings", ["model", "seq"])
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(60), primary_key=True),
        sa.Column("lease_owner", sa.String(200)),
        sa.Column("lease_expires_at", sa.DateTime),
        sa.Column("next_run_at", sa.DateTime),
        sa.Column("last_started_at", sa.DateTime),
        sa.Column("last_finished_at", sa.DateTime),
        sa.Column("last_outcome", sa.String(20)),
        sa.Column("last_duration_s", sa.Float),
        sa.Column("last_detail", sa.Text),
        sa.Column("runs", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(60), nullable=False, index=True),
        sa.Column("worker", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("outcome", sa.String(20)),
        sa.Column("duration_s", sa.Float),
        sa.Column("detail", sa.Text),
    )


def downgrade() -> None:
    conn = op.get_bind()
    value = conn.execute(sa.text("SELECT value FROM counters WHERE name = 'change'")).scalar()
    if value is not None:
        conn.execute(sa.text("INSERT INTO meta (key, value) VALUES ('seq', :v)"), {"v": str(value)})
    for name in ("job_runs", "jobs", "embeddings", "counters"):
        op.drop_table(name)
