"""The embedding stage and dense/hybrid search, on the deterministic hashing embedder (fast) and,
where installed, the real packaged MiniLM model."""

from __future__ import annotations

import numpy as np
import pytest

from papersift import semantic
from papersift.config import Settings
from papersift.index.embed import HashingEmbedder
from papersift.pipeline import catch_up, open_engine
from papersift.search.service import search
from tests.conftest import make_paper


@pytest.fixture
def hashed(tmp_path):
    eng = open_engine(Settings(data_dir=tmp_path / "d", embedder="hashing-384"))
    yield eng
    eng.close()


def fill(eng, n: int) -> None:
    eng.store.upsert_many([make_paper(i, title=f"Study {i} of {'protein folding' if i % 2 else 'graph learning'}")
                           for i in range(n)])
    catch_up(eng)


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


def test_killed_embed_resumes_where_it_stopped(hashed, monkeypatch):
    monkeypatch.setattr(semantic, "CHECKPOINT_EVERY", 10)
    fill(hashed, 55)
    side = semantic.SemanticSide(hashed)
    side.embedder = CrashingEmbedder(after_calls=3)
    with pytest.raises(Crash):
        side.embed_pending()
    # a new process: state on disk says 30 papers are done
    fresh = semantic.SemanticSide(hashed)
    assert len(fresh) == 30 and fresh.pending() == 25
    counter = CrashingEmbedder(after_calls=10**6)
    fresh.embedder = counter
    assert fresh.embed_pending() == 25 and counter.texts == 25
    again = semantic.SemanticSide(hashed)
    assert len(again) == 55 and again.pending() == 0
    assert again.embed_pending() == 0


def test_changed_papers_are_re_embedded(hashed):
    fill(hashed, 5)
    side = semantic.SemanticSide(hashed)
    side.embed_pending()
    hashed.store.upsert_many([make_paper(2, arxiv_id="2301.00002v9", title="Completely different quasar title")])
    side = semantic.SemanticSide(hashed)
    assert side.pending() == 1
    assert side.embed_pending() == 1 and len(side) == 5
    top = side.search("quasar", 1)
    assert hashed.store.get_many([top[0][0]])[top[0][0]].id == "2301.00002"


def test_a_model_change_re_embeds_into_its_own_index(tmp_path):
    data = tmp_path / "d"
    eng = open_engine(Settings(data_dir=data, embedder="hashing-384"))
    fill(eng, 6)
    semantic.SemanticSide(eng).embed_pending()
    eng.close()
    eng2 = open_engine(Settings(data_dir=data, embedder="hashing-128"))
    side = semantic.SemanticSide(eng2)
    assert side.embedder.name != "hashing-384" and len(side) == 0 and side.pending() == 6
    assert side.embed_pending() == 6
    assert sorted(p.name for p in (data / "vectors").iterdir()) == ["hashing-128", "hashing-384"]
    eng2.close()


@pytest.mark.parametrize("n", [0, 1])
def test_empty_and_one_paper_corpus(hashed, n):
    fill(hashed, n)
    semantic.semantic_side(hashed).embed_pending()
    for mode in ("lexical", "semantic", "hybrid"):
        res = search(hashed, "graph learning", mode=mode)
        assert len(res.hits) == n or res.message


@pytest.mark.parametrize("query", ["the of a", "?!.,;:", "x" * 5000, "蛋白质折叠", "графы", ""])
@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_odd_queries_in_dense_modes(hashed, query, mode):
    fill(hashed, 8)
    semantic.semantic_side(hashed).embed_pending()
    res = search(hashed, query, mode=mode)
    assert res.hits or res.message


def test_hybrid_falls_back_to_lexical_before_embedding(hashed):
    fill(hashed, 4)
    res = search(hashed, "protein", mode="hybrid")
    assert res.hits and "embed" in (res.message or "")


def test_filters_apply_to_semantic_and_hybrid(hashed):
    from datetime import date

    from papersift.index.lexical import Filters

    fill(hashed, 20)
    semantic.semantic_side(hashed).embed_pending()
    f = Filters(since=date(2023, 1, 10))
    for mode in ("semantic", "hybrid"):
        res = search(hashed, "protein folding", mode=mode, filters=f, limit=50)
        assert res.hits and all(h.paper.published >= date(2023, 1, 10) for h in res.hits)


def test_similar_excludes_the_paper_and_its_versions(hashed):
    from papersift.recommend import similar

    fill(hashed, 10)
    hashed.store.upsert_many([make_paper(100, arxiv_id="2301.00100", title="Study 1 of protein folding",
                                         doi="10.1/x")])
    catch_up(hashed)
    semantic.semantic_side(hashed).embed_pending()
    got = similar(hashed, "2301.00001", k=5)
    ids = [p.id for p, _ in got]
    assert "2301.00001" not in ids and "2301.00100" not in ids  # itself, and a copy with the same title
    assert len(ids) == 5 and all(isinstance(s, float) for _, s in got)
    recent = similar(hashed, "2301.00001", k=5, recency=1.0)
    dates = [p.published for p, _ in recent]
    assert dates == sorted(dates, reverse=True)


def test_real_minilm_embedder_ranks_paraphrases(tmp_path):
    pytest.importorskip("onnxruntime")
    from papersift.index.embed import EmbedderUnavailable, load_embedder

    try:
        emb = load_embedder("minilm")
    except EmbedderUnavailable as e:
        pytest.skip(str(e))
    v = emb.embed(["A cat sits on the mat.", "A kitten is resting on a rug.", "Stock markets fell sharply."])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]
