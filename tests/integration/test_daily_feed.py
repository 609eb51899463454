"""The daily feed read page by page from the index equals the full sort it replaces."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest

from papersift.accounts import create_user, set_vote
from papersift.engine import Engine
from papersift.models import Paper
from papersift.rank import daily, trending
from papersift.store import feeds as feeds_sql

pytestmark = pytest.mark.backends


def test_paged_trending_and_newest_equal_the_full_sort(engine: Engine) -> None:
    rnd = random.Random(3)
    base = date(2024, 3, 1)
    batch = [Paper(title=f"Feed paper {i} on topic {rnd.randint(0, 9)}", arxiv_id=f"2403.{i:05d}",
                   published=base + timedelta(days=rnd.randint(0, 20)) if i % 5 else None, sources=["t"])
             for i in range(120)]
    engine.store.upsert_many(batch)
    users = [create_user(engine.db, f"fan{i}", "fan-password-1") for i in range(6)]
    stored = [engine.store.get(p.arxiv_id or "") for p in batch]
    for p in rnd.sample(stored, 25):
        assert p is not None
        for u in rnd.sample(users, rnd.randint(1, 6)):
            set_vote(engine.db, u, p)
    now = datetime(2024, 3, 25, 12)
    for period in (None, daily.period_of("month", base), daily.period_of("week", base + timedelta(days=7)),
                   daily.period_of("day", base + timedelta(days=3))):
        start, end = (period.start, period.end) if period else (None, None)
        everything = feeds_sql.newest(engine.db, start, end, offset=0, limit=10_000)

        def when(r):
            return trending.as_datetime(r.submitted_on_daily_at or r.published or r.first_seen)

        expect_trending = [r.id for r in trending.rank(everything, lambda r: r.upvotes, when, lambda r: r.id, now)]
        expect_newest = [r.id for r in sorted(everything, key=lambda r: (-(when(r) - trending.EPOCH).total_seconds(),
                                                                         r.id))]
        for sort, expect in (("trending", expect_trending), ("publishedAt", expect_newest)):
            got: list[str] = []
            for offset in range(0, len(expect) + 7, 7):
                page = daily.daily(engine.store, period, sort=sort, limit=7, offset=offset, now=now)
                assert page.total == len(expect)
                got += [p.id for p in page.papers]
            assert got == expect, (period, sort)
