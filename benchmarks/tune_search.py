"""Tune every ranking default on the DEV splits of several collections at once; report on TEST.

    python benchmarks/tune_search.py ../shared/eval/{scifact,cranfield,med,npl} [--test] [--json OUT]

For each collection it builds a throwaway data dir (document vectors come from the eval vector
cache, index/vector_cache.py, so only the first run embeds), collects for every judged query the
top-DEPTH lexical candidates for each title boost and the top-DEPTH semantic candidates (raw
cosine), then scores offline, with the same metrics as `papersift eval`:

* lexical field weights (title boost on top of the stemmed title+abstract field),
* fusion: convex combinations over several score normalisations (max, min-max, z-score, raw
  cosine), reciprocal rank fusion, and a query-adaptive convex weight; candidate depth,
* the similarity floor (matches = lexical matches + neighbours with cosine >= floor), and the
  cosine of nonsense queries' nearest neighbour (what the floor must reject).

Selection rule (issue 13): the best mean nDCG@10 over the dev splits among the settings where no
collection loses more than 0.01 nDCG@10 against the better of lexical-alone and dense-alone.
The run is deterministic: same data, same numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from papersift.evaluate import Collection, build_engine, default_split, load_collection, score_run
from papersift.index.vector_cache import default_eval_cache
from papersift.search.fusion import adaptive_convex, convex, rrf

Run = dict[str, list[tuple[int, float]]]
Fuse = Callable[[list[tuple[int, float]], list[tuple[int, float]]], list[tuple[int, float]]]
DEPTH = 300
TITLE_BOOSTS = (0.0, 0.2, 0.5, 1.0)
FLOORS = (None, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
NONSENSE = ["zzqxv blorptastic", "qwertyuiop asdfgh", "blarg fnord wibble", "xkcd zorblax 42",
            "lorem ipsum dolor sit amet", "asdf jkl semicolon", "foo bar baz qux", "glorp snarf"]


class Data:
    """One collection's candidate runs on one split (pk-keyed) and the pk -> doc id map."""

    def __init__(self, coll: Collection, lex: dict[float, Run], sem: Run, ids: dict[int, str],
                 nonsense_top: list[float]) -> None:
        self.coll, self.lex, self.sem, self.ids, self.nonsense_top = coll, lex, sem, ids, nonsense_top

    def score(self, run: Run, k: int = 100) -> dict[str, float]:
        return score_run(self.coll, {q: [(self.ids[pk], s) for pk, s in docs[:k]] for q, docs in run.items()})


def collect(paths: list[Path], splits: dict[str, str], work: Path, cache: Path) -> dict[str, dict[str, Data]]:
    """{collection: {split: Data}} with every candidate run computed once."""
    out: dict[str, dict[str, Data]] = {}
    for path in paths:
        colls = {s: load_collection(path, s) for s in dict.fromkeys(splits.values())
                 if (path / "qrels" / f"{s}.tsv").exists()}
        first = next(iter(colls.values()))
        t0 = time.perf_counter()
        eng = build_engine(first, work / path.name, embed=True, cache_dir=cache)
        print(f"# {path.name}: indexed + vectors in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        out[path.name] = {}
        for split, coll in colls.items():
            lex: dict[float, Run] = {b: {} for b in TITLE_BOOSTS}
            sem: Run = {}
            for qid, text in coll.queries.items():
                for b in TITLE_BOOSTS:
                    lex[b][qid] = eng.lexical.search(text, limit=DEPTH, boosts={"body": 1.0, "title": b})[0]
                sem[qid] = eng.semantic.search(text, DEPTH)
            pks = {pk for run in [*lex.values(), sem] for docs in run.values() for pk, _ in docs}
            ids = {pk: p.id for pk, p in eng.store.get_many(pks).items()}
            top = [s for q in NONSENSE for _pk, s in eng.semantic.search(q, 1)]
            out[path.name][split] = Data(coll, lex, sem, ids, top)
        eng.close()
    return out


def fusions() -> dict[str, tuple[float, int, Fuse]]:
    """name -> (title boost, depth, fuse function)."""
    grid: dict[str, tuple[float, int, Fuse]] = {}
    for tb in TITLE_BOOSTS:
        for depth in (100, 300):
            for k in (20, 60):
                for w in (1.0, 1.5):
                    grid[f"rrf k={k} w_sem={w} d={depth} tb={tb}"] = (
                        tb, depth, lambda a, b, k=k, w=w: rrf([a, b], k=k, weights=[1.0, w]))
            for ln, sn in (("max", "raw"), ("minmax", "minmax"), ("z", "z"), ("max", "minmax"), ("minmax", "raw")):
                for alpha in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
                    grid[f"convex {ln}/{sn} a={alpha} d={depth} tb={tb}"] = (
                        tb, depth, lambda a, b, al=alpha, ln=ln, sn=sn: convex(a, b, al, ln, sn))
            for ln, sn in (("minmax", "minmax"), ("z", "z")):
                grid[f"adaptive {ln}/{sn} d={depth} tb={tb}"] = (
                    tb, depth, lambda a, b, ln=ln, sn=sn: adaptive_convex(a, b, ln, sn))
    return grid


def apply_floor(fused: list[tuple[int, float]], lex: list[tuple[int, float]], sem: list[tuple[int, float]],
                floor: float | None) -> list[tuple[int, float]]:
    if floor is None:
        return fused
    keep = {pk for pk, _ in lex} | {pk for pk, s in sem if s >= floor}
    return [(pk, s) for pk, s in fused if pk in keep]


def evaluate_setting(d: Data, tb: float, depth: int, fn: Fuse, floor: float | None = None) -> dict[str, float]:
    run = {}
    for q in d.sem:
        lex, sem = d.lex[tb][q][:depth], d.sem[q][:depth]
        run[q] = apply_floor(fn(lex, sem), lex, sem, floor)
    return d.score(run)


def singles(d: Data, tb: float, floor: float | None = None) -> dict[str, dict[str, float]]:
    sem = {q: [(pk, s) for pk, s in docs if floor is None or s >= floor] for q, docs in d.sem.items()}
    return {"lexical": d.score(d.lex[tb]), "semantic": d.score(sem)}


def table(rows: dict[str, dict[str, dict[str, float]]], names: list[str]) -> str:
    lines = ["| collection | mode | nDCG@10 | recall@100 | MAP |", "|---|---|---|---|---|"]
    for mode, per in rows.items():
        for n in names:
            m = per[n]
            lines.append(f"| {n} | {mode} | {m['nDCG@10']:.4f} | {m['recall@100']:.4f} | {m['MAP@100']:.4f} |")
    for mode, per in rows.items():
        mean = {k: statistics.fmean(per[n][k] for n in names) for k in ("nDCG@10", "recall@100", "MAP@100")}
        lines.append(f"| **mean** | {mode} | {mean['nDCG@10']:.4f} | {mean['recall@100']:.4f} | "
                     f"{mean['MAP@100']:.4f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("collections", type=Path, nargs="+")
    ap.add_argument("--test", action="store_true", help="also report the chosen setting on the test splits")
    ap.add_argument("--work", type=Path, help="where the throwaway data dirs go (default: a temp dir)")
    ap.add_argument("--cache-dir", type=Path, default=default_eval_cache())
    ap.add_argument("--top", type=int, default=15, help="settings to print")
    ap.add_argument("--json", type=Path, help="write every setting's dev scores here")
    args = ap.parse_args()
    names = [p.name for p in args.collections]
    dev = {p.name: default_split(p) for p in args.collections}
    splits = {**{f"dev:{n}": s for n, s in dev.items()}, **({"test": "test"} if args.test else {})}
    with tempfile.TemporaryDirectory(prefix="papersift-tune-") as tmp:
        data = collect(args.collections, splits, args.work or Path(tmp), args.cache_dir)
    devd = {n: data[n][dev[n]] for n in names}

    # single modes per title boost: the reference each collection must not lose against
    best_single: dict[str, float] = {}
    print("## single modes (dev)")
    for tb in TITLE_BOOSTS:
        s = {n: singles(devd[n], tb) for n in names}
        print(f"title boost {tb}: " + "  ".join(f"{n} lex {s[n]['lexical']['nDCG@10']:.4f} sem "
                                              f"{s[n]['semantic']['nDCG@10']:.4f}" for n in names)
              + f"  mean lex {statistics.fmean(s[n]['lexical']['nDCG@10'] for n in names):.4f}")
        for n in names:
            best_single[n] = max(best_single.get(n, 0.0), s[n]["lexical"]["nDCG@10"], s[n]["semantic"]["nDCG@10"])

    results = []
    for name, (tb, depth, fn) in fusions().items():
        per = {n: evaluate_setting(devd[n], tb, depth, fn) for n in names}
        mean = statistics.fmean(per[n]["nDCG@10"] for n in names)
        worst = min(per[n]["nDCG@10"] - best_single[n] for n in names)
        results.append({"setting": name, "mean": round(mean, 4), "worst_vs_best_single": round(worst, 4),
                        "ok": worst >= -0.01, **{n: per[n]["nDCG@10"] for n in names}})
    results.sort(key=lambda r: (not r["ok"], -r["mean"]))
    print(f"\n## fusion settings on dev (nDCG@10; rule: no collection below its best single mode - 0.01); "
          f"{len(results)} settings")
    print("| setting | mean | worst vs best single | " + " | ".join(names) + " |")
    for r in results[:args.top]:
        print(f"| {r['setting']} | {r['mean']:.4f} | {r['worst_vs_best_single']:+.4f} | "
              + " | ".join(f"{r[n]:.4f}" for n in names) + " |")
    for fam in ("rrf", "convex max/raw", "convex minmax/minmax", "convex z/z", "adaptive"):
        best = next((r for r in results if r["setting"].startswith(fam)), None)
        if best:
            print(f"best {fam}: {best['setting']}  mean {best['mean']:.4f}  ok={best['ok']}")
    chosen = results[0]
    tb, depth, fn = fusions()[chosen["setting"]]
    print(f"\nchosen: {chosen['setting']}")

    print("\n## similarity floor (dev, chosen fusion): nDCG@10 per collection; nonsense top cosine")
    for floor in FLOORS:
        per = {n: evaluate_setting(devd[n], tb, depth, fn, floor)["nDCG@10"] for n in names}
        sem = {n: singles(devd[n], tb, floor)["semantic"]["nDCG@10"] for n in names}
        print(f"floor {floor}: hybrid " + "  ".join(f"{n} {per[n]:.4f}" for n in names)
              + f"  mean {statistics.fmean(per.values()):.4f} | semantic "
              + "  ".join(f"{n} {sem[n]:.4f}" for n in names) + f"  mean {statistics.fmean(sem.values()):.4f}")
    for n in names:
        print(f"{n}: nonsense queries' nearest cosine max {max(devd[n].nonsense_top):.3f} "
              f"mean {statistics.fmean(devd[n].nonsense_top):.3f}")

    if args.test:
        testd = {n: data[n]["test"] for n in names if "test" in data[n]}
        rows: dict[str, dict[str, dict[str, float]]] = {"lexical": {}, "semantic": {}, "hybrid": {}}
        for n, d in testd.items():
            s = singles(d, tb)
            rows["lexical"][n], rows["semantic"][n] = s["lexical"], s["semantic"]
            rows["hybrid"][n] = evaluate_setting(d, tb, depth, fn)
        print("\n## test splits, chosen setting (no floor)")
        print(table(rows, list(testd)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
