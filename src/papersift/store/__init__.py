"""The store: the only package that speaks SQL. SQLite by default, PostgreSQL by URL.

``db.py`` (engine, write transactions, change log, migrations), ``dialect.py`` (every SQLite /
PostgreSQL difference), ``schema.py`` (the tables), and one module per concern: ``papers``,
``users`` (accounts, sessions, API tokens), ``community`` (votes, submissions), ``feeds`` (daily-feed
queries), ``embeddings`` (vectors), ``jobs`` (worker leases and runs).
"""

from papersift.store.db import Database, SchemaOutOfDate
from papersift.store.papers import SQLStore


def open_store(url: str, upgrade: bool = False) -> SQLStore:
    """Open the store at a SQLAlchemy URL; with ``upgrade`` migrate it first (under a lock)."""
    db = Database(url)
    if upgrade:
        db.upgrade()
    return SQLStore(db)


__all__ = ["Database", "SQLStore", "SchemaOutOfDate", "open_store"]
