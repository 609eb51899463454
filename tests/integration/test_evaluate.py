"""papersift.evaluate on a tiny BEIR-layout collection written to tmp, with hand-computed scores."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from papersift.evaluate import evaluate, load_collection, score_run

pytestmark = pytest.mark.backends  # SQLite and PostgreSQL (tests/conftest.py)

CORPUS = [
    {"_id": "d1", "title": "Surface codes for quantum error correction", "text": "Qubits protected by codes."},
    {"_id": "d2", "title": "Graph neural networks", "text": "Message passing on molecules."},
    {"_id": "d3", "title": "Protein folding with transformers", "text": "Structure prediction from sequences."},
    {"_id": "d4", "title": "Graph attention networks", "text": "Attention over graph neighbourhoods."},
    {"_id": "d5", "title": "Graph attention networks", "text": "A second document with the same title."},
]
QUERIES = [
    {"_id": "q1", "text": "surface codes"},  # d1 ranks first
    {"_id": "q2", "text": "graph attention"},  # d4 and d5 (two attention hits) rank above d2
    {"_id": "q3", "text": "protein folding"},  # not judged in the test split: never run
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n"

# q1: relevant at rank 1. q2: the one relevant document, d2, at rank 3 (d4, d5 match both words).
NDCG_Q2 = 1 / math.log2(3 + 1)
EXPECTED = {"nDCG@10": round((1 + NDCG_Q2) / 2, 4), "recall@100": 1.0, "MRR@10": round((1 + 1 / 3) / 2, 4),
            "MAP@100": round((1 + 1 / 3) / 2, 4)}


def write_collection(root: Path, corpus=CORPUS, queries=QUERIES, qrels=QRELS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "qrels").mkdir(exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return root


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_collection(tmp_path / "tiny")


@pytest.fixture
def eval_db(backend: str, request: pytest.FixtureRequest) -> str | None:
    """eval's store: None (a SQLite file in its private data dir) or an empty PostgreSQL database."""
    return str(request.getfixturevalue("pg_empty_url")) if backend == "postgres" else None


def test_load_collection_keeps_judged_queries_only(tiny: Path) -> None:
    coll = load_collection(tiny)
    assert coll.name == "tiny"
    assert coll.queries == {"q1": "surface codes", "q2": "graph attention"}
    assert coll.qrels == {"q1": {"d1": 1}, "q2": {"d2": 1}}  # the header line is skipped


def test_lexical_mode_gives_the_known_scores(tiny: Path, tmp_path: Path, eval_db: str | None) -> None:
    run_file = tmp_path / "run.trec"
    report = evaluate(tiny, ["lexical"], run_file=run_file, database_url=eval_db)
    assert (report["collection"], report["split"], report["queries"], report["docs"]) == ("tiny", "test", 2, 5)
    assert report["embedder"] is None  # lexical only: no model was needed
    metrics = dict(report["modes"]["lexical"])
    assert metrics.pop("query_ms") >= 0
    assert metrics == EXPECTED
    lines = [ln.split() for ln in run_file.read_text().splitlines()]
    q2 = [ln for ln in lines if ln[0] == "q2"]
    assert [ln[2] for ln in q2][2] == "d2" and [ln[3] for ln in q2] == ["1", "2", "3"]
    assert {ln[1] for ln in lines} == {"Q0"} and {ln[5] for ln in lines} == {"papersift-lexical"}
    assert next(ln[2] for ln in lines if ln[0] == "q1") == "d1"


def test_documents_with_the_same_title_stay_apart(tiny: Path, tmp_path: Path, eval_db: str | None) -> None:
    keep = tmp_path / "kept"
    report = evaluate(tiny, ["lexical"], keep=keep, database_url=eval_db)
    assert report["docs"] == len(CORPUS)  # d4 and d5 share a title but are two documents
    # the store is the SQLite file in the kept dir, or (PostgreSQL) the given database: no file
    assert (keep / "papersift.db").exists() == (eval_db is None) and (keep / "lexical").is_dir()


def test_dense_modes_use_the_configured_embedder(tiny: Path, monkeypatch: pytest.MonkeyPatch,
                                                  eval_db: str | None) -> None:
    monkeypatch.setenv("PAPERSIFT_EMBEDDER", "hashing-384")
    seen: list[tuple[str, int, int]] = []
    report = evaluate(tiny, ["semantic", "hybrid"], floor=False, progress=lambda stage, done, total: seen.append(
        (stage, done, total)), database_url=eval_db)
    assert report["embedder"] == "hashing-384"
    assert set(report["modes"]) == {"semantic", "hybrid"}
    assert seen and seen[-1] == ("embed", 5, 5)
    for mode in ("semantic", "hybrid"):
        m = report["modes"][mode]
        assert m["recall@100"] == 1.0  # every document is a neighbour in a 5-document corpus
        assert 0 < m["nDCG@10"] <= 1


def test_score_run_counts_a_missing_query_as_zero(tiny: Path) -> None:
    coll = load_collection(tiny)
    perfect = score_run(coll, {"q1": [("d1", 1.0)], "q2": [("d2", 1.0)]})
    assert perfect == {"nDCG@10": 1.0, "recall@100": 1.0, "MRR@10": 1.0, "MAP@100": 1.0}
    half = score_run(coll, {"q1": [("d1", 1.0)]})
    assert half["nDCG@10"] == 0.5 and half["recall@100"] == 0.5


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_missing_files_are_named(tiny: Path, missing: str) -> None:
    (tiny / missing).unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(f"not a BEIR collection: {missing} is missing")):
        evaluate(tiny, ["lexical"])


def test_missing_split_is_named(tiny: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape("qrels/dev.tsv is missing")):
        evaluate(tiny, ["lexical"], split="dev")


def test_unknown_mode_is_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown mode\(s\) \['bm42'\]"):
        evaluate(tmp_path / "does-not-exist", ["lexical", "bm42"])


BEIR = Path(__file__).parent.parent / "fixtures" / "beir"


def test_parse_splits_defaults_to_the_tuning_split() -> None:
    from papersift.evaluate import parse_splits

    paths = [BEIR / "alpha", BEIR / "beta"]
    assert parse_splits(None, paths) == {"alpha": "dev", "beta": "train"}  # beta has no dev: train
    assert parse_splits(["test"], paths) == {"alpha": "test", "beta": "test"}
    assert parse_splits(["test", "beta=train"], paths) == {"alpha": "test", "beta": "train"}
    assert parse_splits(["alpha=test,beta=test"], paths) == {"alpha": "test", "beta": "test"}
    for bad in ("=test", "alpha=", "gamma=dev"):
        with pytest.raises(ValueError):
            parse_splits([bad], paths)
    with pytest.raises(ValueError, match="share a folder name"):
        parse_splits(None, [BEIR / "alpha", BEIR / "alpha"])


def test_a_database_url_takes_one_empty_database(tiny: Path, pg_empty_url: str) -> None:
    from papersift.evaluate import evaluate_many

    evaluate(tiny, ["lexical"], database_url=pg_empty_url)
    with pytest.raises(ValueError, match="already holds papers"):  # never an index over someone's store
        evaluate(tiny, ["lexical"], database_url=pg_empty_url)
    with pytest.raises(ValueError, match="takes one collection"):
        evaluate_many([BEIR / "alpha", BEIR / "beta"], ["lexical"], database_url=pg_empty_url)


# SQLite only: several collections, each in its own SQLite file (--database-url takes one collection)
def test_several_collections_in_every_mode_with_the_mean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from papersift.evaluate import evaluate_many, parse_splits

    monkeypatch.setenv("PAPERSIFT_EMBEDDER", "hashing-384")
    paths = [BEIR / "alpha", BEIR / "beta"]
    cache = tmp_path / "cache"
    report = evaluate_many(paths, ["lexical", "semantic", "hybrid"], parse_splits(["test"], paths),
                           run_path=tmp_path / "runs", cache_dir=cache)
    reps = report["collections"]
    assert [(r["collection"], r["split"], r["queries"]) for r in reps] == [("alpha", "test", 2), ("beta", "test", 2)]
    for mode in ("lexical", "semantic", "hybrid"):
        for key in ("nDCG@10", "MAP@100", "recall@100"):
            assert report["mean"][mode][key] == pytest.approx((reps[0]["modes"][mode][key]
                                                               + reps[1]["modes"][mode][key]) / 2, abs=1e-4)
    # every query's relevant document shares words with it: lexical finds each one first
    assert reps[0]["modes"]["lexical"]["nDCG@10"] == reps[1]["modes"]["lexical"]["nDCG@10"] == 1.0
    runs = sorted((tmp_path / "runs").iterdir())
    assert [f.name for f in runs] == ["alpha.test.trec", "beta.test.trec"]
    assert {ln.split()[5] for ln in runs[1].read_text().splitlines()} == {
        "papersift-lexical", "papersift-semantic", "papersift-hybrid"}
    assert sorted(p.name for p in (cache / "hashing-384").iterdir()) == ["alpha.npz", "beta.npz"]
    # a second run reads every vector from the cache: same scores
    again = evaluate_many(paths, ["hybrid"], parse_splits(["test"], paths), cache_dir=cache)
    assert again["mean"]["hybrid"] == report["mean"]["hybrid"]
