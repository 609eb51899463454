"""Trending score for the daily feed.

Hacker-News-style gravity::

    score = upvotes / (age_hours + 2) ** GRAVITY        with GRAVITY = 1.8

``age_hours`` is the time from the paper's *daily date* (when it was submitted to the daily feed,
else its publication date, else when papersift first saw it; a bare date counts as midnight UTC)
to ``now``, never negative. A paper with no votes scores 0.

Ties (and all the zero scores) are broken deterministically: score descending, then daily date
descending (newer first), then paper id ascending.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import TypeVar

GRAVITY = 1.8
OFFSET_HOURS = 2.0

T = TypeVar("T")
EPOCH = datetime(1970, 1, 1)


def as_datetime(value: date | datetime | None) -> datetime | None:
    """A naive-UTC datetime for a date (midnight) or datetime (tz dropped after conversion)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            from datetime import UTC

            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    return datetime.combine(value, time())


def score(upvotes: int, daily_at: date | datetime | None, now: datetime) -> float:
    """The trending score of a paper with ``upvotes`` votes whose daily date is ``daily_at``."""
    if upvotes <= 0:
        return 0.0
    when = as_datetime(daily_at) or now
    age_hours = max((as_datetime(now) - when).total_seconds() / 3600.0, 0.0)  # type: ignore[operator]
    return upvotes / (age_hours + OFFSET_HOURS) ** GRAVITY


def sort_key(upvotes: int, daily_at: date | datetime | None, paper_id: str, now: datetime) -> tuple:
    """Key for ``sorted``: score desc, daily date desc, id asc."""
    when = as_datetime(daily_at) or datetime.min  # unknown dates sort last
    return (-score(upvotes, daily_at, now), -(when - EPOCH).total_seconds(), paper_id)


def rank(items: Iterable[T], upvotes, daily_at, paper_id, now: datetime) -> list[T]:
    """Sort ``items`` by trending; the three callables read each item's fields."""
    return sorted(items, key=lambda it: sort_key(upvotes(it), daily_at(it), paper_id(it), now))
