"""jsonl / csv: the documented generic schema, and BEIR corpus lines."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from papersift.ingest import detect_format, read, tabular
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


# --------------------------------------------------------------------------- hostile CSV (issue 12)

def _csv(tmp_path: Path, data: bytes | str, name: str = "x.csv") -> list[Paper | ParseError]:
    f = tmp_path / name
    f.write_bytes(data.encode() if isinstance(data, str) else data)
    return list(tabular.CSV.read(f))


def test_csv_unterminated_quote_at_the_end_rejects_that_record_only(tmp_path: Path) -> None:
    rs = _csv(tmp_path, 'id,title\n1,"Unterminated quote paper\n2,Second paper\n3,Third paper\n')
    assert [r.title if isinstance(r, Paper) else r.location for r in rs] == ["line 2", "Second paper", "Third paper"]
    assert "quote opened on line 2 is never closed" in rs[0].reason and "unexpected end of data" in rs[0].reason


def test_csv_unterminated_quote_closed_by_a_later_row_is_not_merged(tmp_path: Path) -> None:
    rs = _csv(tmp_path, 'id,title,abstract\n1,"Never closed,x\n2,Second,x\n3,"Third, quoted","a ""b"" c"\n'
                        '4,Fourth,"multi\nline"\n')
    kinds = [r.title if isinstance(r, Paper) else (r.location, "ERR") for r in rs]
    assert kinds == [("line 2", "ERR"), "Second", "Third, quoted", "Fourth"], rs
    assert rs[2].abstract == 'a "b" c' and rs[3].abstract == "multi line"
    assert rs[3].origin == "record 3 (line 5)"  # where the record starts


def test_csv_invalid_utf8_rejects_the_record_with_its_column(tmp_path: Path) -> None:
    rs = _csv(tmp_path, b"title,authors\nOne paper,Ada\nCaf\xe9 paper,Ada\nThird,Jos\xe9\n\xef\xbb\xbfFine,Bob\n")
    assert isinstance(rs[0], Paper) and rs[0].title == "One paper"
    assert (rs[1].location, rs[2].location) == ("record 2 (line 3)", "record 3 (line 4)")
    assert "byte 0xe9 in column 'title'" in rs[1].reason and "column 'authors'" in rs[2].reason
    assert [r.title for r in rs if isinstance(r, Paper)] == ["One paper", "Fine"]


def test_csv_field_and_line_over_the_cap(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PAPERSIFT_MAX_RECORD_BYTES", "4096")
    rs = _csv(tmp_path, "title,abstract\nBefore,x\nHuge," + "a" * 10_000 + "\nAfter,y\n")
    assert [r.title if isinstance(r, Paper) else r.location for r in rs] == ["Before", "line 3", "After"]
    assert "longer than the limit of 4,096" in rs[1].reason
    # a quoted field that grows past the cap across many lines
    rs = _csv(tmp_path, "title,abstract\nBefore,x\nBig,\"" + "word\n" * 2000 + "\"\nAfter,y\n")
    assert isinstance(rs[0], Paper) and rs[-1].title == "After"
    assert any(isinstance(r, ParseError) and r.location == "line 3" for r in rs)


def test_csv_old_mac_line_ends_and_utf16(tmp_path: Path) -> None:
    rs = _csv(tmp_path, "title,authors\rOne,Ada\rTwo,Bob\r")
    assert [r.title for r in rs] == ["One", "Two"]
    rs = _csv(tmp_path, "title\tauthors\nZoë’s paper\tÅsa\n".encode("utf-16"), "x.tsv")
    assert [(r.title, r.authors) for r in rs] == [("Zoë’s paper", ["Åsa"])]


def test_jsonl_lines_keep_going_after_any_bad_line(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_bytes(b'{"title": "One"}\n' + b"[" * 50_000 + b"\n" + b'{"title": "caf\xe9"}\n'
                  + b'{"title": "x", "authors": ' + b"[" * 900 + b"]" * 900 + b"}\n" + b'{"title": "\\ud800"}\n'
                  + b'{"title": "Two", "id": "\\u0000\\ud800"}\n' + b'{"title": "Three"}\n')
    rs = list(read(f, "jsonl"))
    assert [r.title if isinstance(r, Paper) else r.location for r in rs] == \
        ["One", "line 2", "line 3", "x", "line 5", "line 6", "Three"]
    assert "nested too deeply" in rs[1].reason and "not valid UTF-8" in rs[2].reason
    assert rs[3].authors == [] and rs[3].origin == "line 4"  # 900 levels parse; no names in them
    assert "no title left" in rs[4].reason  # a title that was only a lone surrogate
    assert rs[5].reason == "id holds no printable character"
