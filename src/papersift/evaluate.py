"""`papersift eval`: score the search modes on a BEIR-layout collection.

DIR holds ``corpus.jsonl`` ({"_id", "title", "text"}), ``queries.jsonl`` ({"_id", "text"}) and
``qrels/<split>.tsv`` (query-id, corpus-id, score; header line). The corpus is indexed into a
throwaway data dir, every judged query is run in each mode, and ir-measures (trec_eval's
implementation) computes nDCG@10, R@100, RR@10 (MRR@10) and AP@100 (MAP).
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ir_measures
from ir_measures import AP, RR, R, nDCG

from papersift.config import Settings
from papersift.engine import Engine, open_engine
from papersift.models import Paper
from papersift.search.service import MODES, ranked

MEASURES = {"nDCG@10": nDCG @ 10, "recall@100": R @ 100, "MRR@10": RR @ 10, "MAP@100": AP @ 100}
Progress = Callable[[str, int, int], None]


@dataclass
class Collection:
    path: Path
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @property
    def name(self) -> str:
        return self.path.name


def read_corpus(path: Path) -> Iterator[Paper]:
    with open(path / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                yield Paper(id=str(d["_id"]), title=d.get("title") or "", abstract=d.get("text") or "",
                            sources=["beir"])


def default_split(path: Path) -> str:
    """The split to tune on: ``dev`` where the collection has one, else ``train``, else ``test``."""
    for split in ("dev", "train"):
        if (path / "qrels" / f"{split}.tsv").is_file():
            return split
    return "test"


def load_collection(path: Path, split: str = "test") -> Collection:
    for need in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (path / need).exists():
            raise FileNotFoundError(f"{path} is not a BEIR collection: {need} is missing")
    qrels: dict[str, dict[str, int]] = {}
    with open(path / "qrels" / f"{split}.tsv", encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # header or blank
            qrels.setdefault(row[0].strip(), {})[row[1].strip()] = int(row[2])
    queries: dict[str, str] = {}
    with open(path / "queries.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                if str(d["_id"]) in qrels:
                    queries[str(d["_id"])] = d["text"]
    return Collection(path, queries, qrels)


@dataclass
class ModeResult:
    mode: str
    metrics: dict[str, float]
    seconds: float
    run: dict[str, list[tuple[str, float]]] = field(default_factory=dict, repr=False)


def build_engine(coll: Collection, data_dir: Path, embed: bool,
                 progress: Progress | None = None, embedder: str | None = None,
                 cache_dir: Path | None = None, database_url: str | None = None) -> Engine:
    """Index the collection in ``data_dir`` (a private data dir: this process owns its indexes),
    with its store in a SQLite file there, or in ``database_url`` (an empty throwaway database:
    never the deployment's, whatever PAPERSIFT_DATABASE_URL says).

    Document vectors come from the vector cache in ``cache_dir`` (index/vector_cache.py) when it
    has them for this model and exact text; the rest are embedded and added to it."""
    url = database_url or f"sqlite:///{data_dir / 'papersift.db'}"
    eng = open_engine(Settings(data_dir=data_dir, embedder=embedder, database_url=url), "owner", owner="eval",
                      upgrade=True)
    if database_url and eng.store.count():
        eng.close()
        raise ValueError(f"{eng.db.safe_url} already holds papers: eval needs an empty, throwaway database")
    batch: list[Paper] = []
    for p in read_corpus(coll.path):
        batch.append(p)
        if len(batch) == 5000:
            eng.store.upsert_many(batch, dedup_titles=False)
            batch = []
    if batch:
        eng.store.upsert_many(batch, dedup_titles=False)
    eng.catch_up()
    if embed:
        from papersift.index.embed_stage import embed_pending, pending
        from papersift.index.vector_cache import CachedEmbedder, VectorCache

        model = eng.semantic.encoder.embedder()
        cache = None
        if cache_dir is not None:
            cache = VectorCache.for_collection(cache_dir, coll.name, model.name, model.dim)
            model = CachedEmbedder(model, cache)
        total = pending(eng.db, model.name)
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("embed", done, total)

        try:
            embed_pending(eng.db, model, tick)
        finally:
            if cache is not None:
                cache.save()
        eng.catch_up_vectors(force_save=True)
    return eng


def run_mode(eng: Engine, coll: Collection, mode: str, depth: int = 100, floor: bool = True) -> ModeResult:
    """Run every judged query in ``mode``; ``floor=False`` ranks the whole candidate pool instead
    of the matches (lexical matches + neighbours above the similarity floor) that users see."""
    ids = {}
    t0 = time.perf_counter()
    run: dict[str, list[tuple[str, float]]] = {}
    for qid, text in coll.queries.items():
        pairs, _total, _note = ranked(eng, text, mode, depth, floor=-1.0 if floor else None)
        missing = [pk for pk, _ in pairs if pk not in ids]
        if missing:
            ids.update({pk: p.id for pk, p in eng.store.get_many(missing).items()})
        run[qid] = [(ids[pk], score) for pk, score in pairs if pk in ids]
    seconds = time.perf_counter() - t0
    return ModeResult(mode, score_run(coll, run), seconds, run)


def score_run(coll: Collection, run: dict[str, list[tuple[str, float]]]) -> dict[str, float]:
    qrels = [ir_measures.Qrel(q, d, r) for q, docs in coll.qrels.items() for d, r in docs.items()]
    scored = [ir_measures.ScoredDoc(q, d, float(len(docs) - i))  # rank-based score: ties impossible
              for q, docs in run.items() for i, (d, _s) in enumerate(docs)]
    agg = ir_measures.calc_aggregate(list(MEASURES.values()), qrels, scored)
    return {name: round(float(agg.get(m, 0.0)), 4) for name, m in MEASURES.items()}


def write_trec_run(path: Path, results: list[ModeResult]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for res in results:
            for qid, docs in res.run.items():
                for rank, (doc, score) in enumerate(docs, start=1):
                    fh.write(f"{qid} Q0 {doc} {rank} {score:.6f} papersift-{res.mode}\n")


def evaluate(path: Path, modes: list[str], split: str = "test", run_file: Path | None = None,
             keep: Path | None = None, progress: Progress | None = None, floor: bool = True,
             cache_dir: Path | None = None, database_url: str | None = None) -> dict[str, object]:
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ValueError(f"unknown mode(s) {bad}; choose from {', '.join(MODES)} or all")
    coll = load_collection(path, split)
    with tempfile.TemporaryDirectory(prefix="papersift-eval-") as tmp:
        t0 = time.perf_counter()
        eng = build_engine(coll, keep or Path(tmp) / "data", embed=any(m != "lexical" for m in modes),
                           progress=progress, cache_dir=cache_dir, database_url=database_url)
        index_s = time.perf_counter() - t0
        results = [run_mode(eng, coll, m, floor=floor) for m in modes]
        model = None
        if any(m != "lexical" for m in modes):
            model = eng.semantic.model
        docs = eng.store.count()
        eng.close()
    if run_file:
        write_trec_run(run_file, results)
    return {"collection": coll.name, "split": split, "queries": len(coll.queries), "docs": docs,
            "index_seconds": round(index_s, 2), "embedder": model,
            "modes": {r.mode: {**r.metrics, "query_ms": round(1000 * r.seconds / max(len(coll.queries), 1), 2)}
                      for r in results}}


SUMMARY = ("nDCG@10", "recall@100", "MRR@10", "MAP@100")


def parse_splits(specs: list[str] | None, paths: list[Path]) -> dict[str, str]:
    """Split per collection name from ``--split`` values: ``test`` (every collection) and/or
    ``NAME=SPLIT`` (one collection); the rest get ``default_split`` (dev, else train, else test)."""
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise ValueError(f"two collections share a folder name: {', '.join(names)}")
    splits = {p.name: default_split(p) for p in paths}
    for spec in specs or []:
        for part in (s.strip() for s in spec.split(",")):
            if not part:
                continue
            name, sep, split = part.rpartition("=")
            if not split or (sep and not name):
                raise ValueError(f"bad --split {part!r}: use SPLIT or COLLECTION=SPLIT")
            if not sep:
                splits = dict.fromkeys(splits, split)
            elif name not in splits:
                raise ValueError(f"--split {part!r} names no collection given ({', '.join(names)})")
            else:
                splits[name] = split
    return splits


def evaluate_many(paths: list[Path], modes: list[str], splits: dict[str, str] | None = None,
                  run_path: Path | None = None, progress: Progress | None = None, floor: bool = True,
                  cache_dir: Path | None = None, database_url: str | None = None) -> dict[str, object]:
    """``evaluate`` each collection on its split and average each mode's metrics over them.

    ``database_url``: an empty throwaway database for the store (one collection only).

    ``run_path``: with one collection, the TREC run file; with several, a folder that gets one
    ``NAME.SPLIT.trec`` per collection."""
    splits = splits or parse_splits(None, paths)
    if database_url and len(paths) > 1:
        raise ValueError("--database-url takes one collection (each needs an empty database)")
    for p in paths:  # fail before indexing anything when a collection or a split is missing
        load_collection(p, splits[p.name])
    if run_path is not None and len(paths) > 1:
        run_path.mkdir(parents=True, exist_ok=True)
    reports = []
    for p in paths:
        run_file = None
        if run_path is not None:
            run_file = run_path if len(paths) == 1 else run_path / f"{p.name}.{splits[p.name]}.trec"
        reports.append(evaluate(p, modes, split=splits[p.name], run_file=run_file, progress=progress,
                                floor=floor, cache_dir=cache_dir, database_url=database_url))
    mean: dict[str, dict[str, float]] = {}
    for m in modes:
        per = [r["modes"][m] for r in reports]  # type: ignore[index]
        mean[m] = {k: round(sum(x[k] for x in per) / len(per), 4) for k in SUMMARY}
    return {"collections": reports, "mean": mean, "floor": floor}
