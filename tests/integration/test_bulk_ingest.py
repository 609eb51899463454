"""The snapshot bulk path (pipeline_bulk.py): same store as the general path, duplicates merged,
resumable after SIGKILL from its per-batch checkpoint."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from papersift import pipeline, pipeline_bulk
from papersift.config import Settings
from papersift.engine import open_engine
from papersift.index.lexical import Filters
from tests.integration.test_pipeline import _alive, _children, _count, cli

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def generate(out: Path, n: int, dup_rate: float = 0.0, seed: int = 3) -> None:
    spec = importlib.util.spec_from_file_location("gen_snapshot", BENCH / "gen_snapshot.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.generate(out, n, seed=seed, vocab_size=20_000, dup_rate=dup_rate, progress=False)


JSON_COLUMNS = (6, 7, 11, 12)  # authors, categories, links, sources below: compared as values, not text


def rows(data: Path) -> list[tuple[object, ...]]:
    """The stored rows, JSON columns decoded (the bulk path writes them compactly, in UTF-8)."""
    eng = open_engine(Settings(data_dir=data))
    try:
        with eng.store.engine.connect() as conn:
            return [tuple(json.loads(v) if i in JSON_COLUMNS else v for i, v in enumerate(r))
                    for r in conn.exec_driver_sql(
                "SELECT id, arxiv_id, doi, norm_title, title, abstract, authors, categories, published, updated, "
                "version, links, sources, upvotes FROM papers ORDER BY id")]
    finally:
        eng.close()


def indexes(data: Path) -> set[str]:
    import sqlite3

    con = sqlite3.connect(data / "papersift.db")
    try:
        return {r[0] for r in con.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    finally:
        con.close()


def deferred(data: Path) -> bool:
    import sqlite3

    con = sqlite3.connect(data / "papersift.db")
    try:
        return con.execute("SELECT count(*) FROM meta WHERE key = 'bulk_deferred_indexes'").fetchone()[0] > 0
    finally:
        con.close()


def test_bulk_path_stores_what_the_general_path_stores_and_merges_duplicates(tmp_path, monkeypatch):
    src = tmp_path / "s.jsonl"
    generate(src, 6000, dup_rate=0.05)
    monkeypatch.setattr(pipeline_bulk, "PARALLEL_BYTES", 0)  # through the parser process
    fast = json.loads(cli(tmp_path / "fast", "ingest", str(src), "--json").stdout)
    monkeypatch.setenv("PAPERSIFT_BULK_INGEST", "0")
    slow = json.loads(cli(tmp_path / "slow", "ingest", str(src), "--json").stdout)
    assert {k: fast[k] for k in ("read", "new", "updated", "duplicate", "rejected")} == \
        {k: slow[k] for k in ("read", "new", "updated", "duplicate", "rejected")}
    assert fast["updated"] > 200 and fast["new"] + fast["updated"] + fast["duplicate"] == 6000
    assert rows(tmp_path / "fast") == rows(tmp_path / "slow")
    # the first load built its secondary indexes after the data: the same set as the general path's
    assert indexes(tmp_path / "fast") == indexes(tmp_path / "slow") and not deferred(tmp_path / "fast")
    assert any("ix_papers_daily_moment" in sql for sql in indexes(tmp_path / "fast"))
    eng = open_engine(Settings(data_dir=tmp_path / "fast"))
    try:
        assert len(eng.lexical) == fast["new"]  # one document per paper, merged ones replaced
        hits, total = eng.lexical.search(rows(tmp_path / "fast")[0][4])
        assert hits and total > 0
    finally:
        eng.close()
    # author keys came from the parser process: an author filter finds what the general path's does
    names = [a for r in rows(tmp_path / "fast")[:40] for a in r[6]][:60]
    found = {}
    for which in ("fast", "slow"):
        eng = open_engine(Settings(data_dir=tmp_path / which))
        try:
            hits = [eng.lexical.search("", limit=100, filters=Filters(author=a))[0] for a in names]
            found[which] = [sorted(p.id for p in eng.store.get_many(pk for pk, _ in h).values()) for h in hits]
        finally:
            eng.close()
    assert found["fast"] == found["slow"] and all(found["fast"])
    before = indexes(tmp_path / "fast")
    again = json.loads(cli(tmp_path / "fast", "ingest", str(src), "--json", "--force").stdout)
    assert again["new"] == 0 and again["read"] == 6000  # a re-read adds nothing
    assert indexes(tmp_path / "fast") == before and not deferred(tmp_path / "fast")


def test_a_dead_parser_process_hands_over_to_this_one(tmp_path, monkeypatch):
    from papersift.ingest import snapshot_fast

    real = snapshot_fast.read_batches

    def dying(path, batch, offset=0, line=0):
        for i, item in enumerate(real(path, batch, offset, line)):
            if i == 1 and os.getpid() != parent:
                os._exit(3)
            yield item

    parent = os.getpid()
    monkeypatch.setattr(pipeline_bulk, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(snapshot_fast, "read_batches", dying)
    src = tmp_path / "s.jsonl"
    generate(src, 3000)
    eng = open_engine(Settings(data_dir=tmp_path / "d"), "owner", upgrade=True)
    try:
        stats = pipeline.ingest_paths(eng, [src])
        assert (stats.new, stats.duplicate, stats.rejected) == (3000, 0, 0)
        assert len(eng.lexical) == 3000
    finally:
        eng.close()


@pytest.mark.parametrize("parallel", [True, False])
def test_killed_bulk_ingest_resumes_from_its_checkpoint(tmp_path, parallel):
    n = 40_000
    src = tmp_path / "big.jsonl"
    generate(src, n)
    data = tmp_path / "d"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not parallel:
        env["PAPERSIFT_BULK_PARALLEL_BYTES"] = str(1 << 40)
    cmd = [sys.executable, "-m", "papersift", "--data-dir", str(data), "ingest", str(src)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if (data / "papersift.db").exists() and _count(data) >= 5000:
            break
    assert proc.poll() is None, "ingest finished before it could be killed; raise n"
    children = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    landed = _count(data)
    assert 0 < landed < n
    assert deferred(data)  # killed during a first load: its feed indexes are not built yet
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(c) for c in children):
        time.sleep(0.2)
    assert not any(_alive(c) for c in children), "a parser process outlived the killed ingest"
    res = cli(data, "ingest", str(src), "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert not deferred(data) and any("ix_papers_daily_moment" in sql for sql in indexes(data))
    assert summary["read"] <= n - landed + 5000  # resumed at the last checkpoint, not from line 1
    assert summary["new"] == n - landed
    eng = open_engine(Settings(data_dir=data))
    try:
        assert eng.store.count() == n
        assert len(eng.lexical) == n
        with eng.store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM meta WHERE key LIKE 'ingest_checkpoint:%'").scalar() == 0
    finally:
        eng.close()
