"""The bundled demo corpus dates no paper today (issue 8: the HF text pages have no dates)."""

from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest

from papersift import pipeline
from papersift.rank import daily as feeds

pytestmark = pytest.mark.backends  # SQLite and PostgreSQL (tests/conftest.py)


def test_demo_corpus_dates_no_paper_today(engine) -> None:
    root = Path(str(files("papersift") / "data" / "demo"))
    stats = pipeline.ingest_paths(engine, [root])
    assert stats.new > 700
    today = date.today()
    undated = 0
    for batch in engine.store.iter_changed(0):
        for p in batch:
            assert p.published != today, p.id
            if p.published is None:
                undated += 1
                assert p.published_precision is None and p.daily_basis == "added"
            else:
                assert p.published_precision in ("day", "month", "year")
    assert undated > 500  # the saved Hugging Face pages: no date in the source, none invented
    # the daily feed lists them on the day they were added, and says so
    latest = feeds.latest_day(engine.db)
    page = feeds.daily(engine.store, feeds.period_of("day", latest), "publishedAt", limit=100)
    assert page.total == undated and {p.daily_basis for p in page.papers} == {"added"}
