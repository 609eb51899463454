from datetime import date

import pytest

from papersift.index.lexical import Filters, LexicalIndex, clean_query
from papersift.models import Paper
from papersift.search.service import search
from tests.conftest import make_paper

pytestmark = pytest.mark.backends


@pytest.fixture
def filled(engine):
    engine.store.upsert_many([
        make_paper(1, title="Retrieval augmented generation for question answering",
                   abstract="We combine a retriever with a generator.", authors=["Patrick Lewis", "Ethan Perez"],
                   categories=["cs.CL"], published=date(2020, 5, 22)),
        make_paper(2, title="Dense passage retrieval", abstract="Dual encoders for open-domain QA.",
                   authors=["Vladimir Karpukhin"], categories=["cs.CL", "cs.IR"], published=date(2020, 4, 10)),
        make_paper(3, title="Graph attention networks", abstract="Attention over graph neighbourhoods.",
                   authors=["Petar Velickovic"], categories=["stat.ML"], published=date(2017, 10, 30)),
    ])
    engine.catch_up()
    return engine


def ids(res):
    return [h.paper.id for h in res.hits]


def test_bm25_ranks_title_matches_first(filled):
    res = search(filled, "retrieval")
    assert res.total == 2
    assert ids(search(filled, "dense passage encoders"))[0] == "2301.00002"


def test_phrase_query(filled):
    assert ids(search(filled, '"passage retrieval"')) == ["2301.00002"]
    assert search(filled, '"retrieval passage"').total == 0


def test_stemming(filled):
    assert "2301.00001" in ids(search(filled, "generators"))


def test_filters_date_category_author(filled):
    assert ids(search(filled, "retrieval", filters=Filters(since=date(2020, 5, 1)))) == ["2301.00001"]
    assert ids(search(filled, "retrieval", filters=Filters(category="cs.IR"))) == ["2301.00002"]
    assert len(search(filled, "", filters=Filters(category="cs")).hits) == 2  # archive prefix
    assert ids(search(filled, "", filters=Filters(author="Velickovic"))) == ["2301.00003"]
    assert ids(search(filled, "", filters=Filters(author="patrick lewis"))) == ["2301.00001"]
    assert search(filled, "retrieval", filters=Filters(until=date(2019, 1, 1))).total == 0


NO_MATCH, NO_WORDS = "No papers match.", "The query has no words to search for."


@pytest.mark.parametrize(("query", "expect"), [
    ("the of and", NO_MATCH),  # "and" is dropped as an operator; no paper has "the" or "of"
    ("!!! ??? ...", NO_WORDS),
    ("x" * 5000, NO_MATCH),
    ("AND OR NOT", NO_MATCH),  # operators only: nothing left to search for
    ("title:(foo", NO_MATCH),  # field syntax is stripped: searches the words "title" and "foo"
    ("语言模型", NO_MATCH),
    ("a:b:c [1 TO 2] ^3 ~", ["2301.00001"]),  # syntax stripped; the word "a" is in one abstract
    ('"unterminated phrase', NO_MATCH),
    ('retrieval:( "dense', ["2301.00001", "2301.00002"] ),  # broken syntax still finds the words
])
def test_odd_queries_never_crash(filled, query, expect):
    res = search(filled, query)
    if isinstance(expect, list):
        assert sorted(ids(res)) == expect and res.message is None
    else:
        assert res.hits == [] and res.total == 0 and res.message == expect


def test_index_catches_up_after_a_crash_between_store_and_index(filled):
    filled.store.upsert_many([make_paper(9, title="Contrastive language image pretraining")])
    assert search(filled, "contrastive").total == 0  # store committed, index not yet
    reopened = LexicalIndex(filled.settings.lexical_dir)
    filled.lexical = reopened
    filled.catch_up()
    assert ids(search(filled, "contrastive")) == ["2301.00009"]


def test_reindex_rebuilds_from_store(filled):
    assert filled.reindex() == 3
    assert len(filled.lexical) == 3
    assert search(filled, "attention").total == 1


def test_updated_paper_is_replaced_not_duplicated(filled):
    filled.store.upsert_many([make_paper(3, arxiv_id="2301.00003v5", title="Graph attention networks revisited")])
    filled.catch_up()
    assert len(filled.lexical) == 3
    assert search(filled, "revisited").total == 1


def test_clean_query_keeps_phrases_and_words():
    assert clean_query('foo "bar baz" title:(x') == 'foo "bar baz" title x'
    assert clean_query("!!!") == ""


def test_html_in_title_is_indexed_as_text(engine):
    engine.store.upsert_many([Paper(title="<script>alert(1)</script> Robust parsing", arxiv_id="2401.00001")])
    engine.catch_up()
    assert search(engine, "robust parsing").hits[0].paper.title.startswith("<script>")
