from __future__ import annotations

from datetime import date, datetime, timedelta

from papersift.rank import trending

NOW = datetime(2024, 6, 1, 12, 0)


def test_formula() -> None:
    assert trending.score(0, NOW, NOW) == 0.0
    assert trending.score(10, NOW, NOW) == 10 / 2 ** 1.8
    assert abs(trending.score(5, NOW - timedelta(hours=10), NOW) - 5 / 12 ** 1.8) < 1e-12


def test_older_papers_decay_and_votes_help() -> None:
    assert trending.score(10, NOW - timedelta(hours=1), NOW) > trending.score(10, NOW - timedelta(days=2), NOW)
    assert trending.score(20, NOW - timedelta(hours=5), NOW) > trending.score(10, NOW - timedelta(hours=5), NOW)


def test_future_dates_do_not_explode() -> None:
    assert trending.score(3, NOW + timedelta(days=3), NOW) == 3 / 2 ** 1.8


def test_dates_count_as_midnight() -> None:
    assert trending.score(4, date(2024, 6, 1), NOW) == trending.score(4, datetime(2024, 6, 1), NOW)


def test_deterministic_tie_break() -> None:
    items = [("b", 0, date(2024, 5, 1)), ("a", 0, date(2024, 5, 1)), ("c", 0, date(2024, 5, 30)),
             ("d", 3, date(2024, 5, 2)), ("e", 0, None)]
    ranked = trending.rank(items, lambda x: x[1], lambda x: x[2], lambda x: x[0], NOW)
    assert [x[0] for x in ranked] == ["d", "c", "a", "b", "e"]
    assert ranked == trending.rank(list(reversed(items)), lambda x: x[1], lambda x: x[2], lambda x: x[0], NOW)
