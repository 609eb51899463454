"""The Store: papers and everything papersift keeps. SQLite by default, PostgreSQL by URL."""

from papersift.store.base import Store
from papersift.store.sql import SQLStore


def open_store(url: str) -> SQLStore:
    """Open (and migrate) the store at a SQLAlchemy URL."""
    return SQLStore(url)


__all__ = ["SQLStore", "Store", "open_store"]
