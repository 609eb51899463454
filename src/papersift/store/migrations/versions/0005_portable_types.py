"""portable types: JSONB, ids and aliases of MAX_ID characters, BIGINT sizes and change numbers

Revision ID: 0005
Revises: 0004

PostgreSQL enforces declared types, SQLite does not:

* ``papers.id`` and ``paper_aliases.alias`` widen from 200 to 512 characters (``models.MAX_ID``: the
  importers accept ids that long; a longer one rolled back a whole batch on PostgreSQL);
* ``ingest_files.size`` becomes BIGINT (the 4.5 GB arXiv snapshot overflowed a 32-bit INTEGER);
* ``papers.seq`` becomes BIGINT like every other change number (``counters.value``,
  ``embeddings.seq``);
* the JSON columns of ``papers`` become JSONB (binary, indexable, compared by value).

On SQLite every one of these is a no-op: it stores any length in a VARCHAR, 64-bit integers in any
INTEGER, and JSON as text either way; rewriting the papers table for a declared width would cost
minutes on a large data dir and change nothing. The schema test compares declared types on
PostgreSQL and storage classes on SQLite (tests/integration/test_schema.py).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON_COLUMNS = ("authors", "categories", "links", "sources")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("papers", "id", type_=sa.String(512), existing_nullable=False)
    op.alter_column("paper_aliases", "alias", type_=sa.String(512), existing_nullable=False)
    op.alter_column("ingest_files", "size", type_=sa.BigInteger, existing_nullable=False)
    op.alter_column("papers", "seq", type_=sa.BigInteger, existing_nullable=False)
    for col in JSON_COLUMNS:
        op.alter_column("papers", col, type_=JSONB, existing_nullable=False, postgresql_using=f"{col}::jsonb")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for col in JSON_COLUMNS:
        op.alter_column("papers", col, type_=sa.JSON, existing_nullable=False, postgresql_using=f"{col}::json")
    op.alter_column("papers", "seq", type_=sa.Integer, existing_nullable=False)
    op.alter_column("ingest_files", "size", type_=sa.Integer, existing_nullable=False)
    op.alter_column("paper_aliases", "alias", type_=sa.String(200), existing_nullable=False)
    op.alter_column("papers", "id", type_=sa.String(200), existing_nullable=False)
