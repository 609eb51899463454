"""Hostile files through the real `papersift ingest` (a subprocess, so that a hang fails the test
instead of freezing it): every bad record or file is rejected where it is, with why; every good
record lands, in the store and in the index; a re-run adds nothing; memory stays bounded."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from papersift.config import Settings
from papersift.engine import open_engine
from tests.conftest import backend_database_url

pytestmark = pytest.mark.backends

DEEP = 10_000  # far deeper than the JSON decoder's recursion limit
CAP = 64 * 1024  # PAPERSIFT_MAX_RECORD_BYTES for the corpus run


@dataclass(frozen=True)
class Rejection:
    file: str  # the rejected file's name (its last path part)
    location: str
    reason: str  # a part of the reason


def good(name: str) -> str:
    return f"Good paper {name} about robust ingestion"


def jl(**rec: object) -> bytes:
    return (json.dumps(rec) + "\n").encode()


def snapshot_line(aid: str, title: str) -> bytes:
    return jl(id=aid, title=title, abstract="An abstract.", authors="A B", categories="cs.LG",
              versions=[{"version": "v1", "created": "Mon, 4 Jan 2021 10:00:00 GMT"}], update_date="2021-01-04",
              authors_parsed=[["B", "A", ""]])


def build_corpus(root: Path) -> tuple[list[str], list[Rejection]]:
    """Write the corpus under ``root``; return (titles that must land, rejections expected)."""
    root.mkdir()
    titles: list[str] = []
    rejected: list[Rejection] = []

    def ok(name: str) -> bytes:
        titles.append(good(name))
        return jl(title=good(name))

    # lone surrogates, written as JSON escapes: cleaned away; a title made only of one is rejected
    (root / "surrogates.jsonl").write_bytes(
        ok("s1") + b'{"title": "\\ud800"}\n'
        + b'{"id": "sur\\ud800-1", "title": "Lone \\udfff surrogates \\ud800 in a title", '
          b'"authors": ["\\ud800", "Ada \\udc00Lovelace"], "abstract": "x\\ufffe\\ud83d"}\n' + ok("s2"))
    titles.append("Lone surrogates in a title")
    rejected.append(Rejection("surrogates.jsonl", "line 2", "no title left"))
    # the arXiv snapshot: the same poison record that used to roll back its whole 5,000-record batch
    (root / "snapshot.json").write_bytes(
        snapshot_line("2101.00001", good("a1")) + snapshot_line("2101.00002", "\ud800 Poisoned title")
        + snapshot_line("2101.00003", good("a3")))
    titles += [good("a1"), "Poisoned title", good("a3")]
    # nesting deeper than the decoder takes: the line is rejected with its number, the file goes on
    (root / "deep.jsonl").write_bytes(
        ok("d1") + b"[" * DEEP + b"]" * DEEP + b"\n" + b'{"title": "deep", "authors": ' + b"[" * DEEP
        + b"]" * DEEP + b"}\n" + ok("d2"))
    rejected += [Rejection("deep.jsonl", "line 2", "nested too deeply"),
                 Rejection("deep.jsonl", "line 3", "nested too deeply")]
    # Latin-1 bytes in line formats: rejected with their line, never turned into U+FFFD
    (root / "latin1.jsonl").write_bytes(ok("l1") + '{"title": "Café crème paper"}\n'.encode("latin-1") + ok("l2"))
    rejected.append(Rejection("latin1.jsonl", "line 2", "not valid UTF-8 (byte 0xe9"))
    titles.append(good("c1"))
    titles.append(good("c2"))
    (root / "latin1.csv").write_bytes(f"title,abstract\n{good('c1')},x\n".encode()
                                      + "Café crème,x\n".encode("latin-1") + f"{good('c2')},x\n".encode())
    rejected.append(Rejection("latin1.csv", "record 2 (line 3)", "not valid UTF-8 (byte 0xe9 in column 'title'"))
    # UTF-16 with a byte-order mark: decoded
    (root / "utf16.jsonl").write_bytes((json.dumps({"title": good("u1") + " – ünïcode"}) + "\n").encode("utf-16"))
    titles.append(good("u1") + " – ünïcode")
    (root / "utf16.csv").write_bytes(f"title,authors\n{good('u2')},Zoë Ångström\n".encode("utf-16"))
    titles.append(good("u2"))
    # a line over the size cap inside a gzip: skipped in bounded chunks, the lines around it kept
    with gzip.open(root / "bomb.jsonl.gz", "wb") as g:
        g.write(ok("b1") + b'{"title": "' + b"a" * (16 * CAP) + b'"}\n' + ok("b2"))
    rejected.append(Rejection("bomb.jsonl.gz", "line 2", f"longer than the limit of {CAP:,}"))
    # an unterminated quote: that record is rejected, the rows it swallowed are read again
    titles += [good("q1"), good("q3"), good("q4")]
    (root / "quote.csv").write_text(f'id,title,abstract\n1,{good("q1")},x\n2,"Never closed,x\n3,{good("q3")},x\n'
                                    f'4,"{good("q4")}","with a ""quoted"" word"\n', encoding="utf-8")
    rejected.append(Rejection("quote.csv", "line 3", "quote opened on line 3 is never closed"))
    # whole files that are not text or not files at all
    (root / "blob.bin").write_bytes(bytes(range(256)) * 64)
    rejected.append(Rejection("blob.bin", "file", "binary"))
    os.mkfifo(root / "pipe.jsonl")
    rejected.append(Rejection("pipe.jsonl", "file", "a FIFO, not a regular file"))
    (root / "loop.jsonl").symlink_to("loop.jsonl")
    rejected.append(Rejection("loop.jsonl", "file", "symbolic links"))
    (root / "sub").mkdir()
    (root / "sub" / "back").symlink_to("..", target_is_directory=True)  # a directory loop: not followed
    (root / "sub" / "inner.jsonl").write_bytes(ok("i1"))
    # a file name that is not UTF-8
    with open(os.fsencode(root) + b"/caf\xe9.jsonl", "wb") as fh:
        fh.write(ok("n1"))
    return titles, rejected


def ingest(data: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    cmd = [sys.executable, "-m", "papersift", "--data-dir", str(data), "ingest", *args, "--json"]
    res = subprocess.run(cmd, capture_output=True, timeout=180, env={**os.environ, **(env or {})})
    assert res.returncode in (0, 1), res.stderr.decode(errors="replace")[-3000:]
    return json.loads(res.stdout)


def test_hostile_corpus(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    url = backend_database_url(backend, request, monkeypatch)
    titles, expected = build_corpus(tmp_path / "in")
    data = tmp_path / "d"
    env = {"PAPERSIFT_MAX_RECORD_BYTES": str(CAP)}
    extra = ["/dev/zero"] if Path("/dev/zero").exists() else []
    s = ingest(data, str(tmp_path / "in"), *extra, env=env)
    got = [Rejection(Path(e["source"]).name, e["location"], e["reason"]) for e in s["errors"]]
    if extra:
        expected = [*expected, Rejection("zero", "file", "a character device, not a regular file")]
    for want in expected:
        assert [g for g in got if (g.file, g.location) == (want.file, want.location) and want.reason in g.reason], \
            (want, got)
    assert len(got) == len(expected), got
    assert s["new"] == len(titles) and s["updated"] == 0 and s["rejected"] == len(expected), s
    eng = open_engine(Settings(data_dir=data, database_url=url))  # a reader: what the ingest committed
    try:
        with eng.store.engine.connect() as conn:
            stored = [r[0] for r in conn.exec_driver_sql("select title from papers")]
            logged = conn.exec_driver_sql("select count(*) from ingest_errors").scalar()
        assert sorted(stored) == sorted(titles)  # records lost: 0
        assert logged == len(expected)  # every rejection is in the ingest log
        assert len(eng.lexical) == len(titles)  # and every good record is searchable
        assert eng.store.get("sur-1") is not None  # the id, cleaned
    finally:
        eng.close()
    again = ingest(data, str(tmp_path / "in"), env=env)
    assert (again["new"], again["updated"]) == (0, 0), again
    forced = ingest(data, str(tmp_path / "in"), "--force", env=env)
    assert (forced["new"], forced["updated"], forced["duplicate"]) == (0, 0, len(titles)), forced


WRAPPER = """
import json, resource, subprocess, sys
res = subprocess.run(sys.argv[1:], capture_output=True)
print(json.dumps({"rc": res.returncode, "out": res.stdout.decode(), "err": res.stderr.decode()[-3000:],
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


@pytest.mark.slow
def test_one_gigabyte_line_in_a_one_megabyte_gzip_keeps_memory_bounded(tmp_path: Path) -> None:
    src = tmp_path / "bomb.jsonl.gz"
    with gzip.open(src, "wb") as g:  # streamed: 1 GiB of 'a' in one JSON line, ~1 MB on disk
        g.write(jl(title=good("before")) + b'{"title": "')
        chunk = b"a" * (1 << 20)
        for _ in range(1024):
            g.write(chunk)
        g.write(b'"}\n' + jl(title=good("after")))
    assert src.stat().st_size < 2 << 20
    data = tmp_path / "d"
    cmd = [sys.executable, "-m", "papersift", "--data-dir", str(data), "ingest", str(src), "--json"]
    # measured in a wrapper whose only child is the ingest: RUSAGE_CHILDREN is that child's peak
    res = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, timeout=300, check=True)
    run = json.loads(res.stdout)
    assert run["rc"] == 0, run["err"]
    s = json.loads(run["out"])
    assert run["maxrss_kb"] * 1024 < 1 << 30, f"peak RSS {run['maxrss_kb'] / 1024:.0f} MiB"
    assert (s["new"], s["rejected"]) == (2, 1), s
    assert s["errors"][0]["location"] == "line 2" and "1,073,741,8" in s["errors"][0]["reason"]
