"""The whole ingest path through the CLI: real files in, store + index out, safe to interrupt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from papersift.cli import app
from papersift.config import Settings
from papersift.engine import open_engine
from tests.conftest import FIXTURES

runner = CliRunner()


def cli(data: Path, *args: str, url: str | None = None):
    """``url``: the store's database (PostgreSQL), else the data dir's SQLite file."""
    return runner.invoke(app, ["--data-dir", str(data), *args], env={"PAPERSIFT_DATABASE_URL": url})


def write_jsonl(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"2101.{i:05d}", "title": f"Synthetic study number {i} of sparse attention",
                                 "abstract": f"We measure thing {i} on benchmark {i % 97}.",
                                 "authors": [f"Author {i % 13}", "Grace Hopper"], "categories": "cs.LG",
                                 "published": "2021-01-15"}) + "\n")


@pytest.mark.backends
def test_ingest_seed_pages_and_snapshot(settings):
    data, url = settings.data_dir, settings.database_url
    res = cli(data, "ingest", str(FIXTURES / "seeds"), "--json", url=url)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["new"] == 566 and summary["rejected"] == 0
    assert summary["duplicate"] == summary["read"] - 566
    snap = cli(data, "ingest", str(FIXTURES / "arxiv" / "arxiv-metadata-oai-snapshot.json"), "--json", url=url)
    assert json.loads(snap.stdout)["new"] == 200
    stats = json.loads(cli(data, "stats", "--json", url=url).stdout)
    assert stats["papers"] == 766 and stats["lexical_docs"] == 766
    again = json.loads(cli(data, "ingest", str(FIXTURES / "seeds"), "--json", url=url).stdout)
    assert again["skipped_files"] == 5 and again["new"] == 0


@pytest.mark.backends
def test_search_show_and_json_output(settings):
    data, url = settings.data_dir, settings.database_url
    cli(data, "ingest", str(FIXTURES / "arxiv" / "arxiv-metadata-oai-snapshot.json"), url=url)
    out = json.loads(cli(data, "search", "neutrino", "--json", "--limit", "3", url=url).stdout)
    assert set(out) >= {"query", "mode", "total", "results"} and out["total"] > 0
    first = out["results"][0]["paper"]
    shown = json.loads(cli(data, "show", first["id"], "--json", url=url).stdout)
    assert shown["title"] == first["title"]
    assert cli(data, "show", "0000.00000", url=url).exit_code == 1
    filtered = json.loads(cli(data, "search", "", "--category", "hep-ph", "--json", "--limit", "500", url=url).stdout)
    assert filtered["total"] > 0
    assert all(any(c.startswith("hep-ph") for c in r["paper"]["categories"]) for r in filtered["results"])


def test_bad_files_are_reported_and_the_rest_lands(tmp_path):
    data = tmp_path / "d"
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.jsonl").write_text("")
    (tmp_path / "in" / "blob.bin").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "in" / "mixed.jsonl").write_text(
        '{"title": "A good paper about retrieval"}\n{not json\n{"abstract": "no title"}\n'
        '{"title": "<script>alert(1)</script> Another good one"}\n', encoding="utf-8")
    res = cli(data, "ingest", str(tmp_path / "in"), "--json")
    assert res.exit_code == 0
    s = json.loads(res.stdout)
    assert s["new"] == 2 and s["rejected"] >= 3
    assert any("mixed.jsonl" in e["source"] and "line 2" in e["location"] for e in s["errors"])
    nothing = cli(data, "ingest", str(tmp_path / "in" / "blob.bin"), "--force")
    assert nothing.exit_code == 1


def test_killed_ingest_resumes_without_duplicates(tmp_path):
    n = 60_000
    src = tmp_path / "big.jsonl"
    write_jsonl(src, n)
    data = tmp_path / "d"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "papersift", "--data-dir", str(data), "ingest", str(src)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = data / "papersift.db"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists() and _count(data) >= 5000:
            break
    assert proc.poll() is None, "ingest finished before it could be killed; raise n"
    children = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < _count(data) < n  # killed part-way
    deadline = time.time() + 15  # the parser child notices its parent is gone and exits
    while time.time() < deadline and any(_alive(c) for c in children):
        time.sleep(0.2)
    assert not any(_alive(c) for c in children), "a parser process outlived the killed ingest"
    res = cli(data, "ingest", str(src), "--json")
    assert res.exit_code == 0, res.output
    eng = open_engine(Settings(data_dir=data))  # a reader: sees what the ingest committed
    try:
        assert eng.store.count() == n
        assert len(eng.lexical) == n  # index caught up, no duplicate documents
        with eng.store.engine.connect() as conn:
            dupes = conn.exec_driver_sql("select count(*) from (select arxiv_id from papers group by arxiv_id "
                                         "having count(*) > 1)").scalar()
        assert dupes == 0
    finally:
        eng.close()


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _count(data: Path) -> int:
    import sqlite3

    try:
        con = sqlite3.connect(f"file:{data / 'papersift.db'}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("select count(*) from papers").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_big_files_parse_in_a_child_process_with_the_same_result(tmp_path, monkeypatch):
    from papersift import pipeline

    monkeypatch.setattr(pipeline, "PARALLEL_PARSE_BYTES", 0)
    src = tmp_path / "mixed.jsonl"
    write_jsonl(src, 12_000)
    with open(src, "a", encoding="utf-8") as fh:
        fh.write("{broken\n")
    eng = open_engine(Settings(data_dir=tmp_path / "d"), "owner", upgrade=True)
    try:
        stats = pipeline.ingest_paths(eng, [src])
        assert (stats.new, stats.rejected) == (12_000, 1)
        assert stats.errors[0].location == "line 12001"
        assert len(eng.lexical) == 12_000
    finally:
        eng.close()


def test_a_dead_parser_process_falls_back_to_parsing_in_process(tmp_path, monkeypatch):
    from papersift import pipeline

    def dying_worker(path, fmt, batch_size, queue):
        for i, item in enumerate(pipeline._batched(pipeline.ingest.read(path, fmt), batch_size)):
            if i == 1:
                os._exit(3)  # killed after delivering one batch
            queue.put(item)

    monkeypatch.setattr(pipeline, "PARALLEL_PARSE_BYTES", 0)
    monkeypatch.setattr(pipeline, "_parse_worker", dying_worker)
    src = tmp_path / "p.jsonl"
    write_jsonl(src, 12_000)
    eng = open_engine(Settings(data_dir=tmp_path / "d"), "owner", upgrade=True)
    try:
        stats = pipeline.ingest_paths(eng, [src])
        assert (stats.new, stats.duplicate, stats.rejected) == (12_000, 0, 0)
    finally:
        eng.close()


def test_a_record_the_store_refuses_blocks_neither_its_file_nor_the_next(tmp_path, monkeypatch):
    from papersift import pipeline

    real_read = pipeline.ingest.read

    def poisoning_read(path, fmt="auto"):  # as if an importer let a lone surrogate through
        for rec in real_read(path, fmt):
            if getattr(rec, "title", "").startswith("Poison"):
                rec.__dict__["title"] = "\ud800" + rec.title
            yield rec

    monkeypatch.setattr(pipeline.ingest, "read", poisoning_read)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_jsonl(a, 7_000)  # more than one batch: the poison sits in the first one
    lines = a.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = json.dumps({"title": "Poison record of the first batch"}) + "\n"
    a.write_text("".join(lines), encoding="utf-8")
    b.write_text(json.dumps({"title": "A later file that is read all the same"}) + "\n", encoding="utf-8")
    eng = open_engine(Settings(data_dir=tmp_path / "d"), "owner", upgrade=True)
    try:
        stats = pipeline.ingest_paths(eng, [a, b])
        assert (stats.read, stats.new, stats.rejected) == (7_001, 7_000, 1)
        [err] = stats.errors
        assert (err.source, err.location) == (str(a), "line 3") and "UnicodeEncodeError" in err.reason
        assert eng.store.count() == 7_000 and len(eng.lexical) == 7_000
        with eng.store.engine.connect() as conn:
            assert conn.exec_driver_sql("select location from ingest_errors").scalars().all() == ["line 3"]
        again = pipeline.ingest_paths(eng, [a, b])  # unchanged files: skipped
        assert (again.read, again.new) == (0, 0)
        forced = pipeline.ingest_paths(eng, [a, b], force=True)
        assert (forced.new, forced.updated, forced.duplicate, forced.rejected) == (0, 0, 7_000, 1)
    finally:
        eng.close()


def test_the_index_is_committed_by_papers_and_time_not_per_file(tmp_path, monkeypatch):
    from papersift import pipeline
    from papersift.index.lexical import LexicalIndex

    commits = []
    real_commit = LexicalIndex.commit

    def counting_commit(self, seq=None):
        commits.append(seq)
        return real_commit(self, seq)

    monkeypatch.setattr(LexicalIndex, "commit", counting_commit)
    monkeypatch.setattr(pipeline, "COMMIT_SECONDS", 3600.0)
    src = tmp_path / "many"
    src.mkdir()
    for i in range(120):
        (src / f"{i:04d}.jsonl").write_text(json.dumps({"title": f"One record file number {i}"}) + "\n")
    eng = open_engine(Settings(data_dir=tmp_path / "d"), "owner", upgrade=True)
    try:
        commits.clear()
        assert pipeline.ingest_paths(eng, [src]).new == 120
        assert len(commits) == 1  # once, at the end (was: once per file)
        assert len(eng.lexical) == 120
        monkeypatch.setattr(pipeline, "COMMIT_EVERY", 50)
        for i in range(120, 240):
            (src / f"{i:04d}.jsonl").write_text(json.dumps({"title": f"One record file number {i}"}) + "\n")
        commits.clear()
        assert pipeline.ingest_paths(eng, [src]).new == 120
        assert len(commits) == 3  # after 50 and 100 papers, across files, and at the end
        monkeypatch.setattr(pipeline, "COMMIT_SECONDS", 0.0)  # every batch is due: readers see papers soon
        (src / "last.jsonl").write_text(json.dumps({"title": "The very last file"}) + "\n")
        commits.clear()
        assert pipeline.ingest_paths(eng, [src]).new == 1 and len(commits) == 1
    finally:
        eng.close()
    reader = open_engine(Settings(data_dir=tmp_path / "d"))
    try:
        assert len(reader.lexical) == 241  # every commit reached the disk
    finally:
        reader.close()
