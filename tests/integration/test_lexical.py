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


def test_an_index_in_the_old_layout_is_rebuilt_by_the_owner_and_reopened_by_readers(tmp_path):
    import json

    import tantivy

    from papersift.config import Settings
    from papersift.engine import open_engine

    settings = Settings(data_dir=tmp_path / "d")
    owner = open_engine(settings, "owner", upgrade=True)
    owner.store.upsert_many([make_paper(1, title="Surface codes for qubits")])
    owner.catch_up()
    owner.close()
    # replace the index with one in layout 1 (separate title / abstract fields), as papersift wrote it
    lex = settings.data_dir / "lexical"
    for f in lex.iterdir():
        f.unlink()
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("pk", stored=True, indexed=True, fast=True)
    sb.add_text_field("title", stored=False, tokenizer_name="en_stem")
    sb.add_text_field("abstract", stored=False, tokenizer_name="en_stem")
    sb.add_text_field("authors", stored=False, tokenizer_name="default")
    sb.add_text_field("category", stored=False, tokenizer_name="raw")
    sb.add_integer_field("day", stored=False, indexed=True, fast=True)
    old = tantivy.Index(sb.build(), path=str(lex))
    w = old.writer(heap_size=15_000_000, num_threads=1)
    w.add_document(tantivy.Document(pk=1, title="Surface codes for qubits", abstract="old", day=20230102))
    w.commit()
    w.wait_merging_threads()
    (lex / "state.json").write_text(json.dumps({"schema": 1, "seq": 10**6}))
    reader = open_engine(settings, "reader")
    try:
        # a reader keeps searching the old layout (its fields) until the owner has rebuilt it
        assert [h.pk for h in search(reader, "surface", mode="lexical").hits] == [1]
        assert search(reader, "old", mode="lexical").total == 1
        owner = open_engine(settings, "owner")  # sees layout 1: wipes and rebuilds from the store
        owner.catch_up()
        owner.close()
        reader.lexical.refresh()
        res = search(reader, "surface", mode="lexical")
        assert [h.paper.title for h in res.hits] == ["Surface codes for qubits"] and res.total == 1
        assert search(reader, "old", mode="lexical").total == 0  # the new index has the store's text
    finally:
        reader.close()
