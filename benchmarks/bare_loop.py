"""The ingest floor: a bare single-process JSON -> SQLite -> tantivy loop over a snapshot file.

    python benchmarks/bare_loop.py SNAPSHOT.jsonl WORKDIR

No cleaning, no dedup, no change log: ``json.loads`` per line, SQLite ``executemany`` of 5,000-row
transactions into a table with the papers columns (two unique keys), tantivy ``add_document`` with
a 256 MB writer heap and one commit at the end. ``papersift ingest`` does strictly more; the ratio
of the two, run side by side, is the figure to watch (docs/benchmarks.md, "Bulk ingest and scale").
Prints records/s.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import tantivy


def main() -> None:
    src, work = Path(sys.argv[1]), Path(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    db = sqlite3.connect(work / "bare.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE papers (pk INTEGER PRIMARY KEY, id TEXT UNIQUE, arxiv_id TEXT UNIQUE, doi TEXT, "
               "title TEXT, abstract TEXT, authors TEXT, categories TEXT, published TEXT, updated TEXT)")
    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("pk", stored=True, indexed=True, fast=True)
    for f in ("title", "abstract"):
        sb.add_text_field(f, stored=False, tokenizer_name="en_stem")
    sb.add_text_field("authors", stored=False)
    sb.add_text_field("category", stored=False, tokenizer_name="raw")
    schema = sb.build()
    (work / "lexical").mkdir()
    index = tantivy.Index(schema, path=str(work / "lexical"))
    writer = index.writer(heap_size=256_000_000, num_threads=2)
    rows: list[tuple[object, ...]] = []
    n = 0
    with open(src, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            o = json.loads(line)
            n += 1
            versions = o.get("versions") or []
            rows.append((n, o["id"], o["id"], o.get("doi"), o["title"], o.get("abstract") or "", o.get("authors"),
                         o.get("categories"), versions[0]["created"] if versions else None, o.get("update_date")))
            writer.add_document(tantivy.Document(pk=n, title=o["title"], abstract=o.get("abstract") or "",
                                                 authors=o.get("authors") or "", category=o.get("categories") or ""))
            if len(rows) >= 5000:
                with db:
                    db.executemany("INSERT INTO papers VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
                rows = []
    if rows:
        with db:
            db.executemany("INSERT INTO papers VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    writer.commit()
    writer.wait_merging_threads()
    dt = time.perf_counter() - t0
    print(json.dumps({"records": n, "seconds": round(dt, 3), "records_per_s": round(n / dt)}))


if __name__ == "__main__":
    main()
