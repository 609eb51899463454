"""The snapshot fast path gives exactly the Paper of the general path, record by record."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import orjson
import pytest

from papersift.ingest import arxiv_snapshot, snapshot_fast
from papersift.models import Paper, ParseError
from tests.conftest import FIXTURES

SNAPSHOT = FIXTURES / "arxiv" / "arxiv-metadata-oai-snapshot.json"
BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _gen():  # benchmarks/gen_snapshot.py, loaded as the benchmark runs it
    spec = importlib.util.spec_from_file_location("gen_snapshot", BENCH / "gen_snapshot.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def slow(obj: object) -> Paper | ParseError | None:
    return arxiv_snapshot.to_paper(obj, "f", "line 1")


def fields(p: Paper) -> dict[str, object]:
    return {k: v for k, v in p.__dict__.items() if not k.startswith("_") and k != "origin"}


def assert_same(obj: object) -> None:
    want = slow(obj)
    got = snapshot_fast.fast_paper(obj, "line 1")
    if got is None:  # the fast path declined: the general one decides
        return
    assert isinstance(want, Paper), f"fast path accepted what the general one rejects: {obj!r}"
    assert got == want and fields(got) == fields(want)
    assert got.norm_title == want.norm_title


def test_every_real_record_is_the_same_paper_and_takes_the_fast_path():
    recs = [json.loads(line) for line in SNAPSHOT.read_text(encoding="utf-8").splitlines() if line.strip()]
    fast = 0
    for obj in recs:
        assert_same(obj)
        fast += snapshot_fast.fast_paper(obj, "x") is not None
    assert fast == len(recs)  # nearly all real records are of the usual shape


def test_generated_records_are_the_same_paper(tmp_path):
    out = tmp_path / "g.jsonl"
    _gen().generate(out, 3000, seed=7, vocab_size=20_000, dup_rate=0.05, progress=False)
    for line in out.read_bytes().splitlines():
        assert_same(orjson.loads(line))


HOSTILE = [
    {"id": "2101.00001", "title": "Tab\tand\x0bvertical \x01control\x7f chars", "abstract": "a\x00b  \n c",
     "authors_parsed": [["Doe", "J.", ""]], "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 1:0:0 GMT"}]},
    {"id": "2101.00002", "title": "Zero\u200bwidth and \ud800 surrogate \ufffe", "abstract": "caf\u00e9 \u2028 x",
     "authors_parsed": [["M\\\"uller", "Jos\\'e", "Jr"]], "versions": []},
    {"id": "2101.00003", "title": "x" * 3000, "abstract": "y " * 30_000, "authors_parsed": [["A" * 400, "B", ""]]},
    {"id": "not-an-id", "title": "Something", "authors_parsed": [["A", "B", ""]]},
    {"id": "2101.00004v7", "title": "Version in the id", "authors_parsed": [["A", "B", ""]], "versions": None,
     "update_date": "2020-02-03", "doi": "HTTPS://DOI.ORG/10.1/X y", "categories": "cs.LG cs.LG \x01 math.OC"},
    {"id": "2101.00005", "title": "  ", "authors_parsed": [["A", "B", ""]]},
    {"id": "2101.00006", "title": "Bad versions", "authors_parsed": [["A", "B", ""]],
     "versions": [{"version": "v0", "created": "x"}, {"version": "v99999999999", "created": "Mon, 2 Apr 2007"}]},
    {"id": "2101.00007", "title": "Authors as strings", "authors_parsed": ["A B"], "authors": "A B and C D"},
    {"id": "2101.00008", "title": "Empty authors", "authors_parsed": [["", "", ""]], "authors": "C. D, E. F"},
    {"id": 21010009, "title": "Numeric id", "authors_parsed": [["A", "B", ""]]},
    {"id": "2101.00010", "title": "doi too long", "doi": "10.1/" + "z" * 400, "authors_parsed": [["A", "B", ""]]},
    {"id": "2101.00011", "title": "Odd types", "abstract": 5, "categories": ["cs.LG"], "authors_parsed": [["A"]]},
    ["not", "an", "object"],
]


@pytest.mark.parametrize("obj", HOSTILE)
def test_hostile_records_are_the_same_paper_or_take_the_general_path(obj):
    assert_same(obj)
    got = snapshot_fast.record(orjson.dumps(obj) if not isinstance(obj, dict) or "\ud800" not in obj["title"]
                               else json.dumps(obj).encode(), "f", "line 1")
    want = slow(obj)
    if isinstance(want, Paper):
        assert isinstance(got, Paper) and got == want
    else:
        assert isinstance(got, ParseError) and isinstance(want, ParseError) and got.reason == want.reason


def test_bad_lines_are_located_errors(tmp_path):
    src = tmp_path / "s.jsonl"
    good = SNAPSHOT.read_text(encoding="utf-8").splitlines()[0]
    src.write_bytes(good.encode() + b"\n{broken\n\n\xff\xfe not utf-8\n" + good.encode() + b"\n")
    out = list(snapshot_fast.read_batches(src, 100))
    papers, errors, offset, line = out[0]
    assert len(papers) == 2 and [e.location for e in errors] == ["line 2", "line 4"]
    assert offset == src.stat().st_size and line == 5
    # resuming from a checkpoint reads only what follows it
    first_end = len(good) + 1
    again = list(snapshot_fast.read_batches(src, 100, offset=first_end, line=1))
    assert len(again[0][0]) == 1 and [e.location for e in again[0][1]] == ["line 2", "line 4"]


@pytest.mark.parametrize("encode", ["gzip", "utf-16"])
def test_a_checkpoint_resumes_compressed_and_transcoded_files(tmp_path, encode):
    import gzip

    text = SNAPSHOT.read_text(encoding="utf-8")
    src = tmp_path / "s.jsonl"
    src.write_bytes(gzip.compress(text.encode()) if encode == "gzip" else text.encode("utf-16"))
    whole = list(snapshot_fast.read_batches(src, 60))
    assert sum(len(b[0]) for b in whole) == 200 and not any(b[1] for b in whole)
    _, _, offset, line = whole[0]
    rest = list(snapshot_fast.read_batches(src, 60, offset=offset, line=line))
    assert [p.id for b in rest for p in b[0]] == [p.id for b in whole[1:] for p in b[0]]
    assert rest[0][0][0].origin == f"line {line + 1}"
