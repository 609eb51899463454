"""Write N realistic arXiv metadata snapshot records (JSON lines, the Kaggle
``arxiv-metadata-oai-snapshot.json`` shape) to a file, streaming, deterministic for a seed.

    python benchmarks/gen_snapshot.py --n 1000000 --out /tmp/bulk/snapshot-1m.jsonl [--seed 0]

What is resampled from the real records (the 200-line real snapshot bundled as
``papersift/data/demo/arxiv-metadata-oai-snapshot.jsonl``, the same file as the shared fixture) and
the seed pages (``papersift/data/demo/*.txt``, Hugging Face daily pages):

* title and abstract **lengths** (words): drawn from the real records' lengths, with +/-20 % jitter;
* **vocabulary**: the real tokens (whitespace-split, case, punctuation and LaTeX kept: ``$\\ell$``,
  ``(LHC)``) of real titles/abstracts and seed pages, ranked by frequency and drawn Zipf-like
  (exponent 1.0), extended with generated words to ``--vocab`` terms so the index sees a long tail
  as arXiv does (the real corpus has millions of distinct terms);
* **formatting**: titles wrapped with ``"\\n  "`` after ~70 characters, abstracts with a leading
  ``"  "``, ``"\\n"`` every ~80 characters and a trailing newline, as in the real snapshot;
* **authors**: count from the real distribution (1-15, long tail); names combine real first names
  and last names (``authors_parsed`` [last, first, suffix], with an affiliation as a 4th element
  as often as in the real records, and the ``authors`` string "A, B and C");
  about 1 in 40 carries a LaTeX accent (``Bal\\'azs``), as real ones do;
* **categories**: half from the real records' category sets, half from a table of today's arXiv
  shares (cs ~40 %, math, cond-mat, astro-ph, hep, physics, quant-ph, stat, eess, q-bio);
* **dates and ids**: v1 dates spread 2007-04 .. 2025-12 with arXiv's growth (monthly volume
  growing ~8 %/year compounded ... modelled as a linear ramp of monthly counts), ids ``YYMM.NNNNN``
  of the v1 month, unique; 1-5 versions from the real distribution, each a few weeks apart, in
  RFC 2822 (``"Mon, 2 Apr 2007 19:18:42 GMT"``); ``update_date`` after the last version;
* doi (58 %: unique synthetic DOIs), journal-ref, comments, report-no, license, submitter: the real
  fractions and values.

Every id and every normalised title is unique (a set of 8-byte title digests: ~70 bytes a paper);
``--dup-rate`` adds re-submissions of earlier records (same id, one more version, a new abstract)
so an ingest must merge them. Memory stays bounded (records are written as they are made, in
chunks of 10,000).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)
except ImportError:  # pragma: no cover - orjson is a base dependency
    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

from papersift.models import normalize_title

DEMO = Path(str(files("papersift") / "data" / "demo"))
SNAPSHOT = DEMO / "arxiv-metadata-oai-snapshot.jsonl"
# today's arXiv submission shares by primary archive (approximate, arXiv's own statistics pages)
MODERN = [("cs.LG", 9), ("cs.CV", 7), ("cs.CL", 5), ("cs.AI", 4), ("cs.RO", 2), ("cs.CR", 1.5), ("cs.IR", 1),
          ("cs.DS", 1), ("cs.SE", 1), ("cs.HC", 1), ("math.AP", 2), ("math.PR", 2), ("math.CO", 2),
          ("math.OC", 2), ("math.NT", 1.5), ("math.AG", 1.5), ("math.DG", 1), ("cond-mat.mes-hall", 2),
          ("cond-mat.str-el", 2), ("cond-mat.mtrl-sci", 2.5), ("cond-mat.stat-mech", 1.5), ("astro-ph.GA", 2),
          ("astro-ph.CO", 2), ("astro-ph.SR", 1.5), ("astro-ph.HE", 1.5), ("hep-ph", 3), ("hep-th", 2.5),
          ("hep-ex", 1), ("gr-qc", 2), ("quant-ph", 5), ("physics.optics", 1.5), ("physics.flu-dyn", 1),
          ("physics.comp-ph", 0.7), ("stat.ML", 2), ("stat.ME", 1.5), ("eess.SP", 1.5), ("eess.IV", 1),
          ("eess.SY", 1.5), ("q-bio.NC", 0.7), ("econ.EM", 0.5), ("nucl-th", 1)]
SECONDARY = ["cs.LG", "cs.AI", "stat.ML", "math.OC", "cs.CV", "cs.CL", "math.MP", "math-ph", "hep-ph",
             "cond-mat.stat-mech", "physics.data-an", "eess.SY", "cs.SY", "quant-ph", "astro-ph.IM"]
LICENSES = [None, "http://arxiv.org/licenses/nonexclusive-distrib/1.0/", "http://creativecommons.org/licenses/by/4.0/",
            "http://creativecommons.org/licenses/by-nc-sa/4.0/", "http://creativecommons.org/licenses/by-sa/4.0/"]
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
ACCENTED = ["Bal\\'azs", "M\\\"uller", "Gr\\\"obner", "Jos\\'e", "Fran\\c{c}ois", "Ca\\~nete", "Erd\\H{o}s",
            "S\\o{}rensen", "Ko\\v{c}i", "Garc\\'ia"]
FIRST_EXTRA = ["Wei", "Li", "Yann", "Priya", "Kenji", "Amara", "Lars", "Chen", "Maria", "Ivan", "Fatima", "Olu",
               "Sofia", "Hiroshi", "Aditya", "Elena", "Tomasz", "Mei", "Jun", "Ahmed", "Sara", "Diego", "Hana"]


class Model:
    """Distributions learnt from the real records and seed pages."""

    def __init__(self, vocab_size: int, seed: int) -> None:
        recs = [json.loads(line) for line in SNAPSHOT.read_text(encoding="utf-8").splitlines() if line.strip()]
        self.records = recs
        self.title_len = np.array([len(r["title"].split()) for r in recs])
        self.abs_len = np.array([len(r["abstract"].split()) for r in recs])
        self.n_authors = np.array([len(r.get("authors_parsed") or [[""]]) for r in recs])
        self.n_versions = np.array([len(r.get("versions") or [1]) for r in recs])
        self.cat_sets = [r["categories"] for r in recs]
        self.doi_rate = sum(bool(r.get("doi")) for r in recs) / len(recs)
        self.jref = [r["journal-ref"] for r in recs if r.get("journal-ref")]
        self.jref_rate = len(self.jref) / len(recs)
        self.comments = [r["comments"] for r in recs if r.get("comments")]
        self.report = [r["report-no"] for r in recs if r.get("report-no")]
        lasts: Counter[str] = Counter()
        firsts: Counter[str] = Counter()
        for r in recs:
            for a in r.get("authors_parsed") or []:
                if len(a) >= 2 and a[0] and a[1] and "\\" not in a[0] + a[1]:
                    lasts[a[0]] += 1
                    firsts[a[1]] += 1
        self.affiliations = sorted({a[3] for r in recs for a in r.get("authors_parsed") or [] if len(a) > 3})
        self.affil_rate = sum(any(len(a) > 3 for a in r.get("authors_parsed") or []) for r in recs) / len(recs)
        self.lasts = sorted(lasts)
        self.firsts = sorted(firsts) + FIRST_EXTRA
        words: Counter[str] = Counter()
        for r in recs:
            words.update(r["title"].split())
            words.update(r["abstract"].split())
        for f in sorted(DEMO.glob("*.txt")):
            words.update(w for w in f.read_text(encoding="utf-8").split() if len(w) < 30)
        vocab = [w for w, _ in words.most_common()]
        rng = random.Random(seed)
        letters = "abcdefghijklmnopqrstuvwxyz"
        seen = set(vocab)
        while len(vocab) < vocab_size:  # the long tail: made-up terms, lower-case, 4-12 letters
            w = "".join(rng.choice(letters) for _ in range(rng.randint(4, 12)))
            if w not in seen:
                seen.add(w)
                vocab.append(w)
        self.vocab = np.array(vocab[:vocab_size], dtype=object)
        p = 1.0 / np.arange(1, len(self.vocab) + 1) ** 1.0
        self.p = p / p.sum()
        # more surnames: recombine real ones with the vocabulary's capitalised words
        self.lasts += [w.capitalize() for w in vocab[2000:6000] if w.isalpha()]
        mw = np.array([w for _, w in MODERN], dtype=float)
        self.modern = [c for c, _ in MODERN]
        self.modern_p = mw / mw.sum()


def _wrap(words: list[str], width: int, sep: str) -> str:
    out: list[str] = []
    line = 0
    for w in words:
        if line and line + 1 + len(w) > width:
            out.append(sep)
            line = 0
        elif line:
            out.append(" ")
            line += 1
        out.append(w)
        line += len(w)
    return "".join(out)


def _rfc2822(dt: datetime) -> str:
    return f"{DAYS[dt.weekday()]}, {dt.day} {MONTHS[dt.month - 1]} {dt.year} {dt:%H:%M:%S} GMT"


def month_weights(start: datetime, end: datetime) -> tuple[list[tuple[int, int]], np.ndarray]:
    months = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        months.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    w = np.linspace(1.0, 3.5, len(months))  # ~4,000 a month in 2007 -> ~24,000 in 2025: a ramp
    return months, w / w.sum()


def generate(out: Path, n: int, seed: int = 0, vocab_size: int = 200_000, dup_rate: float = 0.0,
             progress: bool = True) -> dict[str, Any]:
    model = Model(vocab_size, seed)
    rng = np.random.default_rng(seed)
    months, mp = month_weights(datetime(2007, 4, 1), datetime(2025, 12, 1))
    per_month: Counter[tuple[int, int]] = Counter()
    titles: set[int] = set()
    written = dups = 0
    recent: list[dict[str, Any]] = []  # a small ring of earlier records to re-submit
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    chunk = 10_000
    with open(out, "wb") as fh:
        while written < n:
            m = min(chunk, n - written)
            tl = np.maximum(2, (model.title_len[rng.integers(0, len(model.title_len), m)]
                                * rng.uniform(0.8, 1.2, m)).round().astype(int))
            al = np.maximum(8, (model.abs_len[rng.integers(0, len(model.abs_len), m)]
                                * rng.uniform(0.8, 1.2, m)).round().astype(int))
            words = model.vocab[rng.choice(len(model.vocab), size=int(tl.sum() + al.sum()), p=model.p)]
            month_idx = rng.choice(len(months), size=m, p=mp)
            na = model.n_authors[rng.integers(0, len(model.n_authors), m)]
            nv = model.n_versions[rng.integers(0, len(model.n_versions), m)]
            pos = 0
            lines: list[bytes] = []
            for i in range(m):
                if dup_rate and recent and rng.random() < dup_rate:
                    rec = dict(recent[int(rng.integers(len(recent)))])
                    vers = list(rec["versions"])
                    last = datetime.strptime(vers[-1]["created"][5:], "%d %b %Y %H:%M:%S GMT")
                    nxt = last + timedelta(days=int(rng.integers(5, 200)))
                    vers.append({"version": f"v{len(vers) + 1}", "created": _rfc2822(nxt)})
                    rec["versions"] = vers
                    rec["update_date"] = (nxt + timedelta(days=2)).date().isoformat()
                    rec["abstract"] = rec["abstract"].rstrip("\n") + " We correct an error in the proof.\n"
                    lines.append(_dumps(rec))
                    dups += 1
                    written += 1
                    pos += int(tl[i] + al[i])
                    continue
                tw = list(words[pos:pos + tl[i]])
                pos += int(tl[i])
                aw = list(words[pos:pos + al[i]])
                pos += int(al[i])
                tw[0] = tw[0][:1].upper() + tw[0][1:]
                key = int.from_bytes(hashlib.blake2b(normalize_title(" ".join(tw)).encode(), digest_size=8).digest())
                while key in titles:  # unique titles: add a word until the normalised title is new
                    tw.append(str(model.vocab[int(rng.integers(len(model.vocab)))]))
                    key = int.from_bytes(hashlib.blake2b(normalize_title(" ".join(tw)).encode(),
                                                         digest_size=8).digest())
                titles.add(key)
                y, mo = months[int(month_idx[i])]
                per_month[(y, mo)] += 1
                num = per_month[(y, mo)]
                aid = f"{y % 100:02d}{mo:02d}.{num:05d}" if y >= 2015 else f"{y % 100:02d}{mo:02d}.{num:04d}"
                if num > (99999 if y >= 2015 else 9999):  # the month is full: spill into a new-style id
                    aid = f"{y % 100:02d}{mo:02d}.{num:05d}"
                created = datetime(y, mo, int(rng.integers(1, 29)), int(rng.integers(0, 24)),
                                   int(rng.integers(0, 60)), int(rng.integers(0, 60)), tzinfo=UTC)
                versions = []
                for v in range(int(nv[i])):
                    versions.append({"version": f"v{v + 1}", "created": _rfc2822(created)})
                    created += timedelta(days=int(rng.integers(3, 120)), seconds=int(rng.integers(0, 86400)))
                update = (created + timedelta(days=int(rng.integers(0, 2000)))).date()
                if update > datetime(2025, 12, 31).date():
                    update = created.date()
                k = int(na[i])
                parsed = []
                for _ in range(k):
                    last = model.lasts[int(rng.integers(len(model.lasts)))]
                    if rng.random() < 0.025:
                        last = ACCENTED[int(rng.integers(len(ACCENTED)))]
                    first = model.firsts[int(rng.integers(len(model.firsts)))]
                    parsed.append([last, first, ""])
                names = [f"{a[1]} {a[0]}" for a in parsed]
                if rng.random() < model.affil_rate:  # arXiv keeps an affiliation as a 4th element
                    for a in parsed:
                        a.append(model.affiliations[int(rng.integers(len(model.affiliations)))])
                authors = names[0] if k == 1 else ", ".join(names[:-1]) + " and " + names[-1]
                if rng.random() < 0.5:
                    cats = model.cat_sets[int(rng.integers(len(model.cat_sets)))]
                else:
                    primary = model.modern[int(rng.choice(len(model.modern), p=model.modern_p))]
                    extra = [SECONDARY[int(j)] for j in rng.integers(0, len(SECONDARY), int(rng.integers(0, 3)))]
                    cats = " ".join(dict.fromkeys([primary, *extra]))
                r = rng.random(4)
                rec = {
                    "id": aid,
                    "submitter": f"{parsed[0][1]} {parsed[0][0]}",
                    "authors": authors,
                    "title": _wrap(tw, 70, "\n  "),
                    "comments": model.comments[int(rng.integers(len(model.comments)))] if r[0] < 0.8 else None,
                    "journal-ref": model.jref[int(rng.integers(len(model.jref)))] if r[1] < model.jref_rate else None,
                    "doi": f"10.{1000 + int(rng.integers(9000))}/ps.{aid}" if r[2] < model.doi_rate else None,
                    "report-no": model.report[int(rng.integers(len(model.report)))] if r[3] < 0.1 else None,
                    "categories": cats,
                    "license": LICENSES[int(rng.integers(len(LICENSES)))],
                    "abstract": "  " + _wrap(aw, 80, "\n") + "\n",
                    "versions": versions,
                    "update_date": update.isoformat(),
                    "authors_parsed": parsed,
                }
                lines.append(_dumps(rec))
                if len(recent) < 1000:
                    recent.append(rec)
                elif rng.random() < 0.01:
                    recent[int(rng.integers(len(recent)))] = rec
                written += 1
            fh.write(b"\n".join(lines) + b"\n")
            if progress:
                rate = written / max(time.perf_counter() - t0, 1e-9)
                print(f"\r{written:,}/{n:,} records, {rate:,.0f}/s", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return {"path": str(out), "records": written, "resubmissions": dups, "bytes": out.stat().st_size,
            "seconds": round(time.perf_counter() - t0, 2), "seed": seed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, required=True, help="records to write")
    ap.add_argument("--out", type=Path, required=True, help="output file (keep it outside the repository)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab", type=int, default=200_000, help="vocabulary size (real terms + generated tail)")
    ap.add_argument("--dup-rate", type=float, default=0.0,
                    help="fraction of lines that re-submit an earlier paper with one more version")
    a = ap.parse_args()
    if a.n < 1:
        ap.error("--n must be at least 1")
    print(json.dumps(generate(a.out, a.n, a.seed, a.vocab, a.dup_rate)))


if __name__ == "__main__":
    main()
