"""jsonl / csv: the documented generic schema, and BEIR corpus lines."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from papersift.ingest import detect_format, tabular
from papersift.models import Paper, ParseError

TAB = Path(__file__).parent.parent / "fixtures" / "tabular"


def test_jsonl_schema() -> None:
    rs = list(tabular.JSONL.read(TAB / "papers.jsonl"))
    kinds = [type(r).__name__ for r in rs]
    assert kinds == ["Paper", "Paper", "Paper", "ParseError", "Paper", "ParseError", "ParseError", "Paper"]
    a, local, url, e1, _, e2, e3, num = rs
    assert a.id == "2101.00001" and a.arxiv_id == "2101.00001" and a.version == 2
    assert a.authors == ["Ada Lovelace", "Alan Turing"] and a.categories == ["cs.LG", "stat.ML"]
    assert a.published == date(2021, 1, 1)
    assert local.id == "local-42" and local.arxiv_id is None  # explicit non-arXiv id kept exactly
    assert local.authors == ["Ada Lovelace", "Alan Turing"] and local.categories == ["cs.AI", "cs.CL"]
    assert local.published == date(2020, 5, 1) and local.doi == "10.1000/local.42"
    assert local.links == {"abs": "https://example.org/p/42"}
    assert url.arxiv_id == "1706.03762" and url.version == 5 and url.published == date(2017, 1, 1)
    assert url.authors == ["A. Vaswani", "N. Shazeer", "N. Parmar"]
    assert e1.location == "line 5" and "title" in e1.reason
    assert e2.location == "line 7" and "JSON" in e2.reason
    assert e3.location == "line 8"
    assert num.id == "12345"
    assert all(r.sources == ["jsonl"] for r in rs if isinstance(r, Paper))


def test_beir_ids_are_exact() -> None:
    rs = list(tabular.JSONL.read(TAB / "beir_corpus.jsonl"))
    assert all(isinstance(r, Paper) for r in rs)
    assert [r.id for r in rs] == ["4983", "MED-10", "632589828c8b9fca2c3a59e97451fde8fa7d188d", "1706.03762"]
    assert rs[0].abstract.startswith("Alterations of the architecture")
    assert rs[2].title.startswith("A document whose title is empty")  # empty BEIR title: text start
    assert rs[3].arxiv_id == "1706.03762"


def test_beir_versioned_arxiv_like_id_kept_verbatim(tmp_path: Path) -> None:
    f = tmp_path / "corpus.jsonl"
    f.write_text(json.dumps({"_id": "2101.00001v2", "title": "T", "text": "x"}) + "\n")
    (p,) = list(tabular.JSONL.read(f))
    assert p.id == "2101.00001v2" and p.arxiv_id == "2101.00001"


def test_json_array_in_jsonl_file(tmp_path: Path) -> None:
    f = tmp_path / "arr.jsonl"
    f.write_text(json.dumps([{"title": "One"}, {"title": "Two"}]))
    assert [r.title for r in tabular.JSONL.read(f)] == ["One", "Two"]


def test_csv() -> None:
    rs = list(tabular.CSV.read(TAB / "papers.csv"))
    a, b, e = rs
    assert a.id == "2101.00001" and a.title == "An arXiv Paper, in CSV"
    assert a.abstract == 'Abstract with "quotes", commas and a newline.'
    assert a.authors == ["Ada Lovelace", "Alan Turing"] and a.categories == ["cs.LG", "stat.ML"]
    assert b.id == "local-7" and b.authors == ["Alan Turing"] and b.doi == "10.1000/abc"
    assert b.sources == ["csv"] and b.published == date(2019, 1, 1)
    assert isinstance(e, ParseError) and e.location.startswith("record 3")


def test_tsv_and_header_without_title(tmp_path: Path) -> None:
    (p,) = list(tabular.CSV.read(TAB / "papers.tsv"))
    assert p.title == "A TSV Paper" and p.authors == ["Grace Hopper"] and p.id.startswith("csv-")
    f = tmp_path / "x.csv"
    f.write_text("name,year\nfoo,2020\n")
    (e,) = list(tabular.CSV.read(f))
    assert isinstance(e, ParseError) and "title" in e.reason


def test_detect() -> None:
    assert detect_format(TAB / "papers.jsonl") == "jsonl"
    assert detect_format(TAB / "beir_corpus.jsonl") == "jsonl"
    assert detect_format(TAB / "papers.csv") == "csv"
    assert detect_format(TAB / "papers.tsv") == "csv"
