"""The embedding stage and dense/hybrid search, on the deterministic hashing embedder (fast) and,
where installed, the real packaged MiniLM model."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from papersift.config import Settings
from papersift.engine import Engine, open_engine
from papersift.index.embed_stage import embed_pending, pending
from papersift.index.embedders import HashingEmbedder
from papersift.index.lexical import Filters
from papersift.search.service import search
from papersift.store import embeddings as vectors_sql
from tests.conftest import make_paper

MODEL = "hashing-384"
EMPTY_INDEX = "Semantic index is empty (run `papersift embed`); showing lexical results."


pytestmark = pytest.mark.backends


@pytest.fixture
def hashed(settings):
    settings.embedder = MODEL
    eng = open_engine(settings, "owner", upgrade=True)
    yield eng
    eng.close()


def title(i: int) -> str:
    return f"Study {i} of {'protein folding' if i % 2 else 'graph learning'}"


def fill(eng: Engine, n: int) -> None:
    eng.store.upsert_many([make_paper(i, title=title(i)) for i in range(n)])
    eng.catch_up()


def embed(eng: Engine) -> int:
    """What `papersift embed` does as the index owner: vectors into the store, then the index."""
    report = embed_pending(eng.db, eng.semantic.encoder.embedder())
    eng.catch_up_vectors(force_save=True)
    return report.embedded


def ids(res) -> list[str]:
    return [h.paper.id for h in res.hits]


class Crash(Exception):
    pass


class CrashingEmbedder(HashingEmbedder):
    def __init__(self, after_calls: int) -> None:
        super().__init__(384)
        self.calls = 0
        self.after = after_calls
        self.texts = 0

    def embed(self, texts, batch_size=32):
        self.calls += 1
        if self.calls > self.after:
            raise Crash
        self.texts += len(texts)
        return super().embed(texts, batch_size)


def test_killed_embed_resumes_where_it_stopped(hashed):
    fill(hashed, 55)
    with pytest.raises(Crash):  # three chunks of 10 committed, the fourth dies mid-way
        embed_pending(hashed.db, CrashingEmbedder(after_calls=3), chunk=10)
    # the store says 30 papers are done (a new process sees the same)
    assert vectors_sql.count(hashed.db, MODEL) == 30 and pending(hashed.db, MODEL) == 25
    counter = CrashingEmbedder(after_calls=10**6)
    report = embed_pending(hashed.db, counter, chunk=10)
    assert (report.embedded, report.unchanged, report.stopped) == (25, 0, False) and counter.texts == 25
    assert vectors_sql.count(hashed.db, MODEL) == 55 and pending(hashed.db, MODEL) == 0
    assert embed_pending(hashed.db, counter, chunk=10).embedded == 0 and counter.texts == 25
    assert hashed.catch_up_vectors(force_save=True) == 55 and len(hashed.semantic) == 55
    reader = open_engine(hashed.settings, "reader")  # another process loads the published index
    try:
        assert len(reader.semantic) == 55 and reader.semantic.ready()
    finally:
        reader.close()


def test_changed_papers_are_re_embedded(hashed):
    fill(hashed, 5)
    assert embed(hashed) == 5
    hashed.store.upsert_many([make_paper(2, arxiv_id="2301.00002v9", title="Completely different quasar title")])
    hashed.catch_up()
    assert pending(hashed.db, MODEL) == 1
    assert embed(hashed) == 1 and len(hashed.semantic) == 5
    top = hashed.semantic.search("quasar", 1)
    assert hashed.store.get_many([top[0][0]])[top[0][0]].id == "2301.00002"


def test_a_paper_whose_text_did_not_change_is_not_embedded_again(hashed):
    fill(hashed, 4)
    assert embed(hashed) == 4
    # a newer version that changes only the categories: a store change, the same text
    hashed.store.upsert_many([make_paper(3, arxiv_id="2301.00003v2", title=title(3), categories=["q-bio.BM"])])
    assert pending(hashed.db, MODEL) == 1
    counter = CrashingEmbedder(after_calls=10**6)
    report = embed_pending(hashed.db, counter)
    assert (report.embedded, report.unchanged) == (0, 1) and counter.calls == 0
    assert pending(hashed.db, MODEL) == 0


def test_a_model_change_re_embeds_into_its_own_index(tmp_path):
    data = tmp_path / "d"
    eng = open_engine(Settings(data_dir=data, embedder=MODEL), "owner", upgrade=True)
    fill(eng, 6)
    assert embed(eng) == 6
    eng.close()
    eng2 = open_engine(Settings(data_dir=data, embedder="hashing-128"), "owner")
    try:
        side = eng2.semantic
        assert side.model == "hashing-128" and side.encoder.embedder().name == "hashing-128"
        assert len(side) == 0 and pending(eng2.db, "hashing-128") == 6
        assert embed(eng2) == 6 and len(eng2.semantic) == 6
        assert vectors_sql.count(eng2.db, MODEL) == 6  # the first model's vectors are kept
    finally:
        eng2.close()
    assert sorted(p.name for p in (data / "vectors").iterdir()) == ["hashing-128", "hashing-384"]


def test_empty_corpus_in_every_mode(hashed):
    fill(hashed, 0)
    assert embed(hashed) == 0 and not hashed.semantic.ready()
    lexical = search(hashed, "graph learning", mode="lexical")
    assert lexical.hits == [] and lexical.message == "No papers match."
    for mode in ("semantic", "hybrid"):  # no vectors: the dense modes say so and fall back
        res = search(hashed, "graph learning", mode=mode)
        assert res.hits == [] and res.message == EMPTY_INDEX


def test_one_paper_corpus_in_every_mode(hashed):
    fill(hashed, 1)
    assert embed(hashed) == 1 and hashed.semantic.ready()
    for mode in ("lexical", "semantic", "hybrid"):
        res = search(hashed, "graph learning", mode=mode)
        assert ids(res) == ["2301.00000"] and res.message is None and res.mode == mode


# A dense query gets matches only: lexical matches and neighbours above the similarity floor
# (never the whole candidate pool); one without words, none. ``total`` counts exactly the matches.
@pytest.mark.parametrize(("query", "expect"), [
    ("the of a", {"hybrid": 8}), ("x" * 5000, 0), ("蛋白质折叠", 0), ("графы", 0), ("zzqxv blorptastic", 0),
    ("?!.,;:", "The query has no words to search for."), ("", "Type a few words to search."),
])
@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_odd_queries_in_dense_modes(hashed, query, expect, mode):
    fill(hashed, 8)
    embed(hashed)
    res = search(hashed, query, mode=mode)
    assert res.mode == mode
    if isinstance(expect, dict):
        expect = expect.get(mode)
    if expect is None:  # "the of a" in semantic mode: whatever lies above the floor, counted right
        assert res.total == len(res.hits) <= 8
    elif isinstance(expect, int):
        assert len(res.hits) == expect == res.total
        assert len({h.pk for h in res.hits}) == expect
        assert res.message == (None if expect else "No papers match.")
    else:
        assert res.hits == [] and res.message == expect and res.total == 0


def test_dense_search_ranks_word_overlap_first(hashed):
    fill(hashed, 8)
    embed(hashed)
    for mode in ("semantic", "hybrid"):
        res = search(hashed, "protein folding", mode=mode, limit=4)
        assert all("protein folding" in h.paper.title for h in res.hits), (mode, ids(res))


def test_hybrid_falls_back_to_lexical_before_embedding(hashed):
    fill(hashed, 4)
    res = search(hashed, "protein", mode="hybrid")
    assert sorted(ids(res)) == ["2301.00001", "2301.00003"] and res.message == EMPTY_INDEX


def test_filters_apply_to_semantic_and_hybrid(hashed):
    fill(hashed, 20)
    embed(hashed)
    f = Filters(since=date(2023, 1, 10))
    for mode in ("semantic", "hybrid"):
        res = search(hashed, "protein folding", mode=mode, filters=f, limit=50)
        assert res.hits and all(h.paper.published >= date(2023, 1, 10) for h in res.hits)
        # make_paper(i) is published on Jan 1 + i: i = 9..19; the matches are the odd ones
        # (protein folding): the graph-learning papers lie below the similarity floor
        assert len(res.hits) == res.total == 6
        assert all("protein folding" in h.paper.title for h in res.hits)


def test_similar_excludes_the_paper_and_its_versions(hashed):
    from papersift.rank.similar import similar

    fill(hashed, 10)
    hashed.store.upsert_many([make_paper(100, arxiv_id="2301.00100", title="Study 1 of protein folding",
                                         doi="10.1/x")])
    hashed.catch_up()
    embed(hashed)
    got = similar(hashed, "2301.00001", k=5)
    ids_ = [p.id for p, _ in got]
    assert "2301.00001" not in ids_ and "2301.00100" not in ids_  # itself, and a copy with the same title
    assert len(ids_) == 5 and all(isinstance(s, float) for _, s in got)
    assert all("protein folding" in p.title for p, _ in got[:3])  # the other protein papers first
    recent = similar(hashed, "2301.00001", k=5, recency=1.0)
    dates = [p.published for p, _ in recent]
    assert dates == sorted(dates, reverse=True)


def test_real_minilm_embedder_ranks_paraphrases(tmp_path):
    pytest.importorskip("onnxruntime")
    from papersift.index.embedders import EmbedderUnavailable, load_embedder

    try:
        emb = load_embedder("minilm")
    except EmbedderUnavailable as e:
        pytest.skip(str(e))
    v = emb.embed(["A cat sits on the mat.", "A kitten is resting on a rug.", "Stock markets fell sharply."])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_web_worker_warms_the_query_model_at_start_and_hf_search_is_honest(tmp_path):
    from fastapi.testclient import TestClient

    from papersift.web.app import create_app

    settings = Settings(data_dir=tmp_path / "d", embedder=MODEL)
    owner = open_engine(settings, "owner", upgrade=True)
    fill(owner, 6)
    embed(owner)
    owner.close()
    app = create_app(settings)
    eng = app.state.engine
    assert eng.semantic.encoder._embedder is None  # nothing loaded before the worker starts
    with TestClient(app) as c:
        assert eng.semantic.encoder._embedder is not None  # loaded by the lifespan, before any request
        assert c.get("/api/papers/search", params={"q": "zzqxv blorptastic"}).json() == []
        hits = c.get("/api/papers/search", params={"q": "protein folding"}).json()
        assert len(hits) == 3 and all("protein folding" in h["paper"]["title"] for h in hits)


def test_sort_by_date_orders_the_same_matches_newest_first(hashed):
    fill(hashed, 20)
    embed(hashed)
    for mode in ("lexical", "semantic", "hybrid"):
        rel = search(hashed, "protein folding", mode=mode, limit=50)
        new = search(hashed, "protein folding", mode=mode, limit=50, sort="date")
        assert new.total == rel.total == len(new.hits) == 10, mode
        assert {h.pk for h in new.hits} == {h.pk for h in rel.hits}
        days = [h.paper.published for h in new.hits]
        assert days == sorted(days, reverse=True), mode
        page = search(hashed, "protein folding", mode=mode, limit=3, offset=3, sort="date")
        assert [h.pk for h in page.hits] == [h.pk for h in new.hits[3:6]]
    with pytest.raises(ValueError, match="unknown sort"):
        search(hashed, "protein", sort="newest")


def test_real_minilm_hybrid_search_gives_nonsense_no_results(tmp_path):
    """The calibrated floor with the real model: nonsense finds nothing, a real query finds its paper."""
    pytest.importorskip("onnxruntime")
    from papersift.index.embedders import EmbedderUnavailable, load_embedder

    try:
        load_embedder("minilm")
    except EmbedderUnavailable as e:
        pytest.skip(str(e))
    topics = ["speculative decoding for fast language model inference", "protein structure prediction",
              "graph neural networks for molecules", "surface codes for quantum error correction",
              "diffusion models for image synthesis", "reinforcement learning from human feedback",
              "sparse attention for long documents", "federated learning with differential privacy"]
    eng = open_engine(Settings(data_dir=tmp_path / "d", embedder="minilm"), "owner", upgrade=True)
    try:
        eng.store.upsert_many([make_paper(i, title=t.capitalize(), abstract=f"We study {t}.")
                               for i, t in enumerate(topics)])
        eng.catch_up()
        embed(eng)
        for q in ("zzqxv blorptastic", "qwertyuiop asdfgh"):
            res = search(eng, q)
            assert (res.mode, res.total, res.hits, res.message) == ("hybrid", 0, [], "No papers match."), q
        res = search(eng, "generating pictures with denoising")  # no word in common: a semantic match
        assert res.hits and res.hits[0].paper.title.startswith("Diffusion models")
        assert res.total == len(res.hits) < len(topics)
    finally:
        eng.close()
