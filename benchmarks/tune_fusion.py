"""Tune hybrid fusion on ONE BEIR collection's TRAIN queries, report on TEST (superseded by
tune_search.py, which tunes on the dev splits of several collections at once; kept to reproduce
the earlier SciFact-only numbers).

    python benchmarks/tune_fusion.py ../shared/eval/scifact [--keep DIR] [--embedder minilm]

Builds (or reuses with --keep) an indexed + embedded data dir, collects the top-100 lexical and
semantic candidates for every query once, then grid-searches reciprocal rank fusion (k, weight of
the semantic run) and a convex combination of min-max-normalised scores (alpha). Prints nDCG@10
on train for each setting and the best of each family on test, via the same metrics as
`papersift eval`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from papersift.evaluate import build_engine, load_collection, score_run
from papersift.search.fusion import convex, rrf
from papersift.search.service import ranked


def runs_for(eng, coll, depth=300):
    ids: dict[int, str] = {}
    lex, sem = {}, {}
    for qid, text in coll.queries.items():
        lex[qid], _, _ = ranked(eng, text, "lexical", depth)
        sem[qid], _, _ = ranked(eng, text, "semantic", depth, floor=None)  # the whole pool
        missing = {pk for pk, _ in lex[qid] + sem[qid]} - set(ids)
        ids.update({pk: p.id for pk, p in eng.store.get_many(missing).items()})
    return lex, sem, ids


def fused_run(lex, sem, ids, fn):
    return {q: [(ids[pk], s) for pk, s in fn(lex[q], sem[q])[:100]] for q in lex}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("collection", type=Path)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    train = load_collection(args.collection, "train")
    test = load_collection(args.collection, "test")
    data = args.keep or Path(tempfile.mkdtemp()) / "data"
    eng = build_engine(train, data, embed=True)
    results = {}
    for name, coll in (("train", train), ("test", test)):
        lex, sem, ids = runs_for(eng, coll)
        results[name] = (coll, lex, sem, ids)
    grid = {}
    for k in (10, 20, 40, 60, 100):
        for w in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
            grid[f"rrf k={k} w_sem={w}"] = lambda a, b, k=k, w=w: rrf([a, b], k=k, weights=[1.0, w])
    for ln, sn in (("minmax", "minmax"), ("z", "z"), ("max", "raw"), ("max", "minmax")):
        for depth in (100, 300):
            for alpha in (0.3, 0.4, 0.5, 0.6, 0.7):
                grid[f"convex {ln}/{sn} d={depth} a={alpha}"] = (
                    lambda a, b, al=alpha, ln=ln, sn=sn, d=depth: convex(a[:d], b[:d], al, ln, sn))
    coll, lex, sem, ids = results["train"]
    base = {"lexical": lambda a, b: list(a), "semantic": lambda a, b: list(b)}
    scores = {}
    for name, fn in {**base, **grid}.items():
        scores[name] = score_run(coll, fused_run(lex, sem, ids, fn))["nDCG@10"]
        print(f"train {name:<34} nDCG@10 {scores[name]:.4f}")
    best_rrf = max((n for n in grid if n.startswith("rrf")), key=scores.get)
    best_cvx = max((n for n in grid if n.startswith("convex")), key=scores.get)
    coll, lex, sem, ids = results["test"]
    print("\nTEST (settings chosen on train):")
    for name in ("lexical", "semantic", "rrf k=60 w_sem=1.0", best_rrf, best_cvx,
                 "convex max/raw d=300 a=0.6"):
        fn = {**base, **grid}[name]
        m = score_run(coll, fused_run(lex, sem, ids, fn))
        print(f"test  {name:<34} " + "  ".join(f"{k} {v:.4f}" for k, v in m.items()))
    eng.close()


if __name__ == "__main__":
    main()
