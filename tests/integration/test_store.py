from datetime import date

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import inspect

from papersift.models import Paper
from papersift.store import Database, SchemaOutOfDate, SQLStore, open_store
from tests.conftest import make_paper

pytestmark = pytest.mark.backends


def test_schema_is_created_by_alembic_migrations(empty_db_url):
    store = open_store(empty_db_url, upgrade=True)
    names = set(inspect(store.engine).get_table_names())
    assert {"papers", "paper_aliases", "meta", "ingest_files", "ingest_errors", "alembic_version", "counters",
            "embeddings", "jobs", "job_runs"} <= names
    with store.db.read() as conn:
        assert conn.exec_driver_sql("select value from counters where name = 'change'").scalar() == 0
    store.close()
    # migrating again runs nothing, and the store opens without an upgrade
    db = Database(empty_db_url)
    assert db.upgrade() is False
    db.close()
    open_store(empty_db_url).close()


def test_a_fresh_database_is_not_migrated_on_open(empty_db_url):
    with pytest.raises(SchemaOutOfDate, match="db upgrade"):
        SQLStore(empty_db_url)
    db = Database(empty_db_url)
    try:
        assert db.revision() is None  # opening did not create the schema
        assert db.upgrade() is True
        assert db.revision() is not None
    finally:
        db.close()


def test_every_write_takes_the_next_change_number(engine):
    first = engine.store.upsert_many([make_paper(1)])
    second = engine.store.upsert_many([make_paper(2), make_paper(3)])
    assert second.seq == first.seq + 1
    with engine.db.read() as conn:
        assert conn.exec_driver_sql("select value from counters where name = 'change'").scalar() == second.seq
    assert engine.store.max_seq() == second.seq


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'wal.db'}", upgrade=True)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_upsert_is_idempotent(engine):
    papers = [make_paper(i) for i in range(10)]
    first = engine.store.upsert_many(papers)
    again = engine.store.upsert_many(papers)
    assert (first.new, first.duplicate) == (10, 0)
    assert (again.new, again.updated, again.duplicate) == (0, 0, 10)
    assert engine.store.count() == 10


def test_newer_version_updates_and_older_never_overwrites(engine):
    engine.store.upsert_many([make_paper(1, arxiv_id="2301.00001v2", abstract="version two")])
    older = engine.store.upsert_many([make_paper(1, arxiv_id="2301.00001v1", abstract="version one")])
    assert older.updated == 0
    assert engine.store.get("2301.00001").abstract == "version two"
    newer = engine.store.upsert_many([make_paper(1, arxiv_id="2301.00001v3", abstract="version three")])
    assert newer.updated == 1
    p = engine.store.get("2301.00001v1")
    assert (p.abstract, p.version) == ("version three", 3)


def test_dedup_across_sources_by_doi_then_title(engine):
    a = Paper(title="Deep residual learning for image recognition", doi="10.1109/CVPR.2016.90",
              sources=["bibtex"])
    b = Paper(title="Deep Residual Learning for Image Recognition (CVPR version)",
              doi="https://doi.org/10.1109/cvpr.2016.90", abstract="We present residual nets.", sources=["jsonl"])
    c = Paper(title="Deep Residual Learning for Image Recognition", arxiv_id="1512.03385v1",
              published=date(2015, 12, 10), sources=["arxiv-atom"])
    stats = engine.store.upsert_many([a])
    stats.add(engine.store.upsert_many([b]))
    stats.add(engine.store.upsert_many([c]))
    assert engine.store.count() == 1
    p = engine.store.get("1512.03385")
    assert p.abstract == "We present residual nets." and p.published == date(2015, 12, 10)
    assert set(p.sources) == {"bibtex", "jsonl", "arxiv-atom"}
    assert engine.store.get(a.id).id == "1512.03385"  # the old id still resolves (alias)


def test_distinct_arxiv_papers_with_the_same_title_stay_apart(engine):
    engine.store.upsert_many([Paper(title="A note on attention mechanisms", arxiv_id="2001.00001"),
                              Paper(title="A note on attention mechanisms", arxiv_id="2002.00002")])
    assert engine.store.count() == 2


def test_duplicates_inside_one_batch_collapse(engine):
    stats = engine.store.upsert_many([make_paper(7), make_paper(7), make_paper(7, arxiv_id="2301.00007v2")])
    assert engine.store.count() == 1
    assert stats.new == 1 and stats.new + stats.updated + stats.duplicate == 3


def test_get_many_and_missing(engine):
    engine.store.upsert_many([make_paper(i) for i in range(3)])
    got = engine.store.get_many([1, 2, 99])
    assert set(got) == {1, 2}
    assert engine.store.get("nope") is None


def test_stats_counts_papers(engine):
    engine.store.upsert_many([make_paper(i) for i in range(4)])
    s = engine.store.stats()
    assert s["papers"] == 4 and s["sources"] == {"test": 4}


# --------------------------------------------------------------------------- one bad record (issue 12)

def _poisoned(n: int, origin: str, **raw: object) -> Paper:
    """A paper carrying a value the store cannot take, set after the cleaning (as a bug or a new
    importer could): the store must reject it alone."""
    p = make_paper(n, origin=origin)
    p.__dict__.update(raw)
    return p


def test_a_record_the_store_refuses_is_rejected_alone(engine):
    good = [make_paper(i) for i in range(1, 41)]
    bad = [_poisoned(100, "line 7", title="\ud800 poisoned"), _poisoned(101, "line 23", version=2**70),
           _poisoned(102, "line 31", abstract="\udcff")]
    batch = [*good[:6], bad[0], *good[6:21], bad[1], *good[21:28], bad[2], *good[28:]]
    stats = engine.store.upsert_many(batch, source="in/papers.jsonl")
    assert (stats.read, stats.new, stats.rejected) == (43, 40, 3)
    assert [(e.source, e.location) for e in stats.errors] == [("in/papers.jsonl", "line 7"),
                                                              ("in/papers.jsonl", "line 23"),
                                                              ("in/papers.jsonl", "line 31")]
    assert "UnicodeEncodeError" in stats.errors[0].reason and "2301.00100" in stats.errors[0].reason
    # SQLite's driver refuses the value, PostgreSQL the column
    assert "OverflowError" in stats.errors[1].reason or "out of range" in stats.errors[1].reason
    assert engine.store.count() == 40 and len(stats.inserted) == 40
    assert {p.arxiv_id for p in stats.inserted} == {p.arxiv_id for p in good}
    # the change log still covers every row: a catch-up indexes exactly the good ones
    engine.catch_up()
    assert len(engine.lexical) == 40
    again = engine.store.upsert_many(batch, source="in/papers.jsonl")
    assert (again.new, again.updated, again.duplicate, again.rejected) == (0, 0, 40, 3)
    assert engine.store.count() == 40


def test_a_broken_database_still_raises(engine, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def full(*_a, **_k):
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(type(engine.store), "_upsert_batch", full)
    with pytest.raises(OperationalError):  # not 5,000 "rejected" records, marked done and lost
        engine.store.upsert_many([make_paper(1), make_paper(2)])


ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
TEXT = st.lists(ANY_TEXT | st.sampled_from(["\ud800", "\x00", "\ufffe", "\U0010ffff", "é"]), max_size=5).map("".join)


def test_any_text_through_paper_then_upsert_never_raises(engine):
    seen: set[int] = set()

    @hyp_settings(max_examples=150, deadline=None)
    @given(st.lists(st.fixed_dictionaries({
        "title": TEXT, "abstract": TEXT, "authors": st.lists(TEXT, max_size=3),
        "categories": st.lists(TEXT, max_size=2),
        "doi": st.none() | TEXT, "arxiv_id": st.none() | TEXT, "id": TEXT, "submitted_by": st.none() | TEXT,
        "links": st.dictionaries(TEXT, TEXT, max_size=2), "sources": st.lists(TEXT, max_size=2),
        "version": st.none() | st.integers(-(2**70), 2**70), "upvotes": st.integers(-(2**70), 2**70),
    }), min_size=1, max_size=6))
    def check(records):
        papers = [Paper(**{**r, "title": r["title"] or "untitled"}) for r in records]
        stats = engine.store.upsert_many(papers, source="hypothesis")
        assert stats.rejected == 0, stats.errors  # clean text never needs the store's fallback
        assert stats.new + stats.updated + stats.duplicate == len(papers)
        engine.lexical.add(stats.inserted, replace=False)  # and the index takes it too
        engine.lexical.add(stats.changed)
        seen.update(p.pk for p in stats.inserted)

    check()
    engine.lexical.commit()
    assert engine.store.count() == len(seen)
