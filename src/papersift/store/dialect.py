"""Every SQL difference between SQLite and PostgreSQL, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Table, cast, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.elements import ColumnElement


def insert_ignore(dialect: str, table: Table, index_elements: list[str]) -> Any:
    """``INSERT ... ON CONFLICT (index_elements) DO NOTHING`` (both backends have it)."""
    mod = sqlite if dialect == "sqlite" else postgresql
    return mod.insert(table).on_conflict_do_nothing(index_elements=index_elements)


def upsert(dialect: str, table: Table, index_elements: list[str], update_columns: list[str]) -> Any:
    """``INSERT ... ON CONFLICT (index_elements) DO UPDATE SET col = excluded.col``."""
    mod = sqlite if dialect == "sqlite" else postgresql
    stmt = mod.insert(table)
    return stmt.on_conflict_do_update(index_elements=index_elements,
                                      set_={c: stmt.excluded[c] for c in update_columns})


def greatest(dialect: str, a: Any, b: Any) -> ColumnElement[Any]:
    """The larger of two values (SQLite's two-argument ``max``, PostgreSQL's ``greatest``)."""
    return func.max(a, b) if dialect == "sqlite" else func.greatest(a, b)


def as_day(dialect: str, column: Any) -> ColumnElement[Any]:
    """The calendar day of a DateTime column (an ISO string on SQLite, a DATE elsewhere)."""
    return func.date(column) if dialect == "sqlite" else cast(column, Date)


def day_param(dialect: str, value: Any) -> Any:
    """A date bound to compare with ``as_day`` / Date columns."""
    return value.isoformat() if dialect == "sqlite" else value


def json_array_items(dialect: str, column: Any) -> FromClause:
    """A table of the text items of a JSON array column, one row per item (column ``value``), to
    join against its table (SQLite ``json_each``, PostgreSQL ``jsonb_array_elements_text``)."""
    fn = func.json_each(column) if dialect == "sqlite" else func.jsonb_array_elements_text(column)
    return fn.table_valued("value").alias("item")


def json_first(dialect: str, column: Any) -> ColumnElement[Any]:
    """The first item of a JSON array column, as text."""
    return func.json_extract(column, "$[0]") if dialect == "sqlite" else column.op("->>")(0)
