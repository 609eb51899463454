"""The For-you ranker (rank/foryou.py) on a real store and real indexes: feedback moves results,
every reason is true, follows match, thumbs down lowers, ``since`` keeps only new papers, the
model is refitted only when the signals change, and without vectors it works by keywords.

Vectors come from the hashing embedder (deterministic, no model to load): a real Embedder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from papersift import accounts
from papersift.accounts import interests
from papersift.config import Settings
from papersift.engine import Engine, open_engine
from papersift.index.embed_stage import embed_pending
from papersift.index.lexical import Filters
from papersift.models import Paper
from papersift.rank import foryou
from papersift.rank.foryou import recommend
from papersift.store import interests as sql

pytestmark = pytest.mark.backends  # SQLite and PostgreSQL (tests/conftest.py)

TOPICS = {
    "protein": ("q-bio.BM", "Barbara Liskov",
                ["protein folding", "amino acid sequence", "tertiary structure", "molecular dynamics of enzymes",
                 "binding affinity of ligands"]),
    "graph": ("cs.LG", "Alan Turing",
              ["graph neural network", "message passing", "node classification", "graph attention",
               "link prediction on knowledge graphs"]),
    "quantum": ("quant-ph", "Grace Hopper",
                ["quantum error correction", "surface code", "superconducting qubit", "logical qubit fidelity",
                 "stabilizer measurement"]),
}


def corpus() -> list[Paper]:
    out = []
    n = 0
    for topic, (cat, author, phrases) in TOPICS.items():
        for i in range(12):
            n += 1
            a, b = phrases[i % 5], phrases[(i + 2) % 5]
            out.append(Paper(
                title=f"On {a} and {b}, part {i}",
                abstract=f"We study {a}. Our method improves {b} and {phrases[(i + 3) % 5]} on standard {topic} "
                         f"benchmarks.",
                authors=[author if i % 3 == 0 else f"{topic.title()} Researcher {i}", f"Coauthor {n}"],
                categories=[cat], published=date(2024, 3, 1 + i), arxiv_id=f"2403.{n:05d}", sources=["test"]))
    return out


def topic_of(p: Paper) -> str:
    return {"q-bio.BM": "protein", "cs.LG": "graph", "quant-ph": "quantum"}[p.categories[0]]


def _open(settings: Settings, embed: bool) -> Engine:
    # the conftest's settings (a backend-marked module runs on SQLite and PostgreSQL)
    settings.embedder = "hashing-384"
    eng = open_engine(settings, "owner", upgrade=True)
    eng.store.upsert_many(corpus())
    eng.catch_up()
    if embed:
        embed_pending(eng.db, eng.semantic.encoder.embedder())
        eng.catch_up_vectors(force_save=True)
    return eng


@pytest.fixture(params=["vectors", "keywords"])
def eng(request, settings: Settings) -> Iterator[Engine]:
    e = _open(settings, embed=request.param == "vectors")
    assert foryou.mode(e) == request.param
    yield e
    e.close()


@pytest.fixture
def vec_eng(settings: Settings) -> Iterator[Engine]:
    e = _open(settings, embed=True)
    yield e
    e.close()


def user(eng: Engine, name: str = "alice") -> accounts.User:
    return accounts.create_user(eng.db, name, "correct horse battery")


def by_topic(eng: Engine, topic: str) -> list[Paper]:
    ps = eng.store.get_many(range(1, 100)).values()
    return sorted((p for p in ps if topic_of(p) == topic), key=lambda p: p.id)


def test_three_thumbs_up_raise_that_topic(eng: Engine) -> None:
    u = user(eng)
    interests.follow(eng.db, u, "category", "cs")  # follows graphs: they lead at first
    before = recommend(eng, u.id, limit=10)
    assert before and all(topic_of(p.paper) == "graph" for p in before)
    for p in by_topic(eng, "protein")[:3]:
        interests.set_feedback(eng.store, u, p.id, 1)
    after = recommend(eng, u.id, limit=10)
    top5 = [topic_of(p.paper) for p in after[:5]]
    assert top5 == ["protein"] * 5, [(p.paper.title, p.reasons) for p in after]
    liked = {p.id for p in by_topic(eng, "protein")[:3]}
    assert not liked & {p.paper.id for p in after}  # papers given feedback are not recommended again
    assert all(any("which you liked" in r for r in p.reasons) for p in after[:5])


def test_upvotes_count_as_positives_too(vec_eng: Engine) -> None:
    u = user(vec_eng)
    for p in by_topic(vec_eng, "quantum")[:3]:
        accounts.set_vote(vec_eng.db, u, p)
    picks = recommend(vec_eng, u.id, limit=5)
    assert [topic_of(p.paper) for p in picks] == ["quantum"] * 5
    assert all(any("which you upvoted" in r for r in p.reasons) for p in picks)


def test_thumbs_down_lowers_a_topic(vec_eng: Engine) -> None:
    u = user(vec_eng)
    for topic in ("protein", "quantum"):
        for p in by_topic(vec_eng, topic)[:3]:
            interests.set_feedback(vec_eng.store, u, p.id, 1)
    def mean_rank(topic: str) -> float:
        picks = recommend(vec_eng, u.id, limit=50)
        ranks = [i for i, p in enumerate(picks) if topic_of(p.paper) == topic]
        return sum(ranks) / len(ranks)
    before = mean_rank("quantum")
    for p in by_topic(vec_eng, "quantum")[3:8]:
        interests.set_feedback(vec_eng.store, u, p.id, -1)
    assert mean_rank("quantum") > before + 3


def test_every_reason_is_true(eng: Engine) -> None:
    u = user(eng)
    interests.follow(eng.db, u, "author", "Turing, Alan")  # written the other way round
    interests.follow(eng.db, u, "category", "quant-ph")
    interests.follow(eng.db, u, "query", "enzymes")
    lib = by_topic(eng, "protein")[0]
    interests.save(eng.store, u, lib.id, ["reading"])
    voted = by_topic(eng, "graph")[5]
    for _ in range(3):
        v = accounts.create_user(eng.db, f"voter{_}", "correct horse battery")
        accounts.set_vote(eng.db, v, voted)
    picks = recommend(eng, u.id, limit=100)
    assert picks
    enzymes = {pk for pk, _s in eng.lexical.search("enzymes", 1000)[0]}
    seen = {"author": 0, "category": 0, "query": 0, "similar": 0, "trending": 0}
    for pick in picks:
        p = pick.paper
        assert pick.reasons, p.title
        assert p.id != lib.id
        for r in pick.reasons:
            if m := re.fullmatch(r"by (.+), whom you follow", r):
                assert m.group(1) in p.authors and foryou.norm_name(m.group(1)) == "alan turing"
                seen["author"] += 1
            elif m := re.fullmatch(r"in (\S+), a category you follow", r):
                assert m.group(1) in p.categories and m.group(1) == "quant-ph"
                seen["category"] += 1
            elif r == "matches your saved search ‹enzymes›":
                assert p.pk in enzymes
                seen["query"] += 1
            elif m := re.fullmatch(r"similar to ‹(.+)› in your library( \(by keywords: no vectors yet\))?", r):
                assert m.group(1) == lib.title
                assert bool(m.group(2)) == (foryou.mode(eng) == "keywords")
                seen["similar"] += 1
            elif m := re.fullmatch(r"trending in (\S+)", r):
                assert p.primary_category == m.group(1) and p.upvotes > 0
                seen["trending"] += 1
            else:
                raise AssertionError(f"unexpected reason {r!r}")
    assert all(seen.values()), seen
    # a paper by the followed author with nothing else going for it still comes with that reason
    turing = [p for p in picks if "Alan Turing" in p.paper.authors]
    assert turing and all(any(r == "by Alan Turing, whom you follow" for r in p.reasons) for p in turing)


def test_category_prefix_follows_the_whole_archive(vec_eng: Engine) -> None:
    u = user(vec_eng)
    interests.follow(vec_eng.db, u, "category", "q-bio")
    picks = recommend(vec_eng, u.id, limit=100, include_trending=False)
    assert {topic_of(p.paper) for p in picks} == {"protein"} and len(picks) == 12
    assert all(p.reasons == ["in q-bio.BM, under q-bio, which you follow"] for p in picks)


def test_since_keeps_only_new_papers(vec_eng: Engine) -> None:
    u = user(vec_eng)
    interests.follow(vec_eng.db, u, "category", "cs")
    cut = datetime.now() + timedelta(seconds=1)  # every paper so far was first seen before this
    assert recommend(vec_eng, u.id, since=cut) == []
    import time

    time.sleep(1.2)
    new = Paper(title="Message passing on hypergraphs", abstract="Graph neural network on hypergraphs.",
                categories=["cs.LG"], published=date(2020, 1, 1), arxiv_id="2001.99999", sources=["test"])
    vec_eng.store.upsert_many([new])
    vec_eng.catch_up()
    picks = recommend(vec_eng, u.id, since=cut)
    assert [p.paper.id for p in picks] == ["2001.99999"]


def test_no_interests_gives_trending_or_nothing(vec_eng: Engine) -> None:
    u = user(vec_eng)
    assert recommend(vec_eng, u.id) == []
    v = user(vec_eng, "bob")
    hot = by_topic(vec_eng, "quantum")[2]
    accounts.set_vote(vec_eng.db, v, hot)
    picks = recommend(vec_eng, u.id)
    assert [p.paper.id for p in picks] == [hot.id] and picks[0].reasons == ["trending in quant-ph"]
    assert recommend(vec_eng, u.id, include_trending=False) == []


def test_model_is_refitted_only_when_feedback_changes(vec_eng: Engine, monkeypatch) -> None:
    u = user(vec_eng)
    for p in by_topic(vec_eng, "protein")[:3]:
        interests.set_feedback(vec_eng.store, u, p.id, 1)
    fits = []
    real = foryou.fit_logistic
    monkeypatch.setattr(foryou, "fit_logistic", lambda *a, **k: fits.append(1) or real(*a, **k))
    recommend(vec_eng, u.id)
    recommend(vec_eng, u.id)
    assert len(fits) == 1
    interests.set_feedback(vec_eng.store, u, by_topic(vec_eng, "graph")[0].id, -1)
    recommend(vec_eng, u.id)
    assert len(fits) == 2


def test_logistic_regression_separates() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    pos = rng.normal(1.0, 0.3, (5, 8))
    neg = rng.normal(-1.0, 0.3, (50, 8))
    m = foryou.fit_logistic(pos, neg)
    assert (m.predict(pos) > 0.5).all() and (m.predict(neg) < 0.5).all()


def test_interest_rows_go_with_their_user_and_paper(vec_eng: Engine) -> None:
    u = user(vec_eng)
    p = by_topic(vec_eng, "graph")[0]
    interests.follow(vec_eng.db, u, "author", "Alan Turing")
    interests.save(vec_eng.store, u, p.id, ["a", "b"])
    interests.set_feedback(vec_eng.store, u, p.id, 1)
    assert interests.follow(vec_eng.db, u, "author", "Alan Turing")[1] is False  # unique
    assert interests.save(vec_eng.store, u, p.id, ["c"])[1] is False
    assert sql.library_items(vec_eng.db, u.id)[0].tags == ["a", "b", "c"]
    from sqlalchemy import delete, func, select

    from papersift.store.schema import feedback, follows, library, papers, users

    with vec_eng.db.write() as conn:
        conn.execute(delete(papers).where(papers.c.pk == p.pk))
    assert sql.library_items(vec_eng.db, u.id) == [] and sql.feedback_on(vec_eng.db, u.id, [p.pk]) == {}
    with vec_eng.db.write() as conn:
        conn.execute(delete(users).where(users.c.id == u.id))
    with vec_eng.db.read() as conn:
        for t in (follows, library, feedback):
            assert conn.execute(select(func.count()).select_from(t)).scalar() == 0


def test_follow_validation(vec_eng: Engine) -> None:
    u = user(vec_eng)
    with pytest.raises(accounts.AccountError, match="not an arXiv category"):
        interests.follow(vec_eng.db, u, "category", "cs CL; DROP")
    with pytest.raises(accounts.AccountError, match="kind"):
        interests.follow(vec_eng.db, u, "venue", "NeurIPS")
    f, new = interests.follow(vec_eng.db, u, "category", "CS.CL")
    assert (f.kind, f.value, new) == ("category", "cs.CL", True)
    assert vec_eng.lexical.search("", 5, filters=Filters(category="q-bio"))[1] == 12  # what retrieval relies on
