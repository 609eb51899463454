"""Hostile input, for every format: importers are total (Papers and ParseErrors, never an exception)."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from papersift.ingest import FORMATS, read
from papersift.models import MAX_ABSTRACT, MAX_TITLE, Paper, ParseError

ABSTRACT = ("We study a hostile problem in depth. We show that the importer survives it and keeps going. "
            "Experiments confirm this on many inputs, large and small, with and without errors. ") * 2
SCRIPT = '<script>alert("x")</script> & <b>bold</b> Title'
XML_FORMATS = ("arxiv-atom", "arxiv-oai")
JSON_FORMATS = ("hf-json", "arxiv-snapshot", "jsonl")
LINE_FORMATS = ("arxiv-snapshot", "jsonl", "csv")  # streamed: invalid UTF-8 rejects the line / record
ALL = tuple(FORMATS)


def _hf_text(titles: list[str]) -> str:
    body = "".join(f"{t}\n{ABSTRACT}\n" for t in titles)
    header = "Get trending papers in your email inbox once a day!\nGet trending papers in your email inbox!\n"
    return f"{header}Subscribe{body}"


def _hf_json(titles: list[str]) -> str:
    return json.dumps([{"paper": {"id": f"2101.{i:05d}", "title": t, "summary": ABSTRACT,
                                  "authors": [{"name": "A B"}], "publishedAt": "2021-01-01T00:00:00.000Z",
                                  "upvotes": i}, "title": t, "numComments": 0, "submittedBy": {"user": "u"}}
                       for i, t in enumerate(titles, start=1)], indent=1)


def _atom(titles: list[str]) -> str:
    entries = "".join(
        f"<entry><id>http://arxiv.org/abs/2101.{i:05d}v1</id><title>{escape(t)}</title>"
        f"<summary>{ABSTRACT}</summary><author><name>A B</name></author>"
        f"<published>2021-01-01T00:00:00Z</published><arxiv:primary_category term='cs.LG'/></entry>\n"
        for i, t in enumerate(titles, start=1))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
            f'xmlns:arxiv="http://arxiv.org/schemas/atom"><title>arXiv Query</title>\n{entries}</feed>\n')


def _oai(titles: list[str]) -> str:
    recs = "".join(
        f"<record><header><identifier>oai:arXiv.org:2101.{i:05d}</identifier></header><metadata>"
        f'<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>2101.{i:05d}</id><version version="v1">'
        f"<date>Mon, 4 Jan 2021 10:00:00 GMT</date></version><title>{escape(t)}</title>"
        f"<authors>A B and C D</authors><categories>cs.LG</categories><abstract>{ABSTRACT}</abstract>"
        f"</arXivRaw></metadata></record>\n" for i, t in enumerate(titles, start=1))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
            f"<ListRecords>\n{recs}<resumptionToken completeListSize=\"9\">x|1</resumptionToken>"
            "</ListRecords></OAI-PMH>\n")


def _snapshot(titles: list[str]) -> str:
    versions = [{"version": "v1", "created": "Mon, 4 Jan 2021 10:00:00 GMT"}]
    return "".join(json.dumps({"id": f"2101.{i:05d}", "title": t, "abstract": ABSTRACT, "authors": "A B",
                               "categories": "cs.LG", "versions": versions, "update_date": "2021-01-04",
                               "authors_parsed": [["B", "A", ""]]}, ensure_ascii=False) + "\n"
                   for i, t in enumerate(titles, start=1))


def _bibtex(titles: list[str]) -> str:
    def esc(t: str) -> str:
        return t.replace("&", "\\&")

    return "".join(f"@article{{key{i},\n  title = {{{esc(t)}}},\n  author = {{B, A}},\n"
                   f"  year = {{2021}},\n  abstract = {{{ABSTRACT}}}\n}}\n\n"
                   for i, t in enumerate(titles, start=1))


def _jsonl(titles: list[str]) -> str:
    return "".join(json.dumps({"id": f"x{i}", "title": t, "abstract": ABSTRACT, "authors": ["A B"]},
                              ensure_ascii=False) + "\n" for i, t in enumerate(titles, start=1))


def _csv(titles: list[str]) -> str:
    def quote(t: str) -> str:
        return '"' + t.replace('"', '""') + '"'

    rows = "".join(f"x{i},{quote(t)},{quote(ABSTRACT)},A B\n" for i, t in enumerate(titles, 1))
    return "id,title,abstract,authors\n" + rows


BUILD: dict[str, Callable[[list[str]], str]] = {
    "hf-text": _hf_text, "hf-json": _hf_json, "arxiv-atom": _atom, "arxiv-oai": _oai,
    "arxiv-snapshot": _snapshot, "bibtex": _bibtex, "jsonl": _jsonl, "csv": _csv,
}
EXT = {"hf-text": ".txt", "hf-json": ".json", "arxiv-atom": ".xml", "arxiv-oai": ".xml",
       "arxiv-snapshot": ".json", "bibtex": ".bib", "jsonl": ".jsonl", "csv": ".csv"}
TITLES = [f"Paper Number {i} About Café Ünicode Things" for i in range(1, 9)]


def run(path: Path, fmt: str, auto: bool = True) -> list[Paper | ParseError]:
    """Read with the explicit format and with detection; both must be total and well-typed."""
    recs = list(read(path, fmt))
    assert all(isinstance(r, Paper | ParseError) for r in recs)
    if auto:
        assert all(isinstance(r, Paper | ParseError) for r in read(path))
    return recs


def write(tmp_path: Path, fmt: str, data: bytes | str) -> Path:
    p = tmp_path / f"input{EXT[fmt]}"
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


def test_builders_are_valid(tmp_path: Path) -> None:
    for fmt in ALL:
        recs = run(write(tmp_path, fmt, BUILD[fmt](TITLES)), fmt)
        assert [r.title for r in recs if isinstance(r, Paper)] == TITLES, fmt
        assert not [r for r in recs if isinstance(r, ParseError)], fmt


@pytest.mark.parametrize("fmt", ALL)
def test_truncated_file(tmp_path: Path, fmt: str) -> None:
    data = BUILD[fmt](TITLES).encode()
    recs = run(write(tmp_path, fmt, data[: len(data) // 2 + 7]), fmt)  # mid-record
    papers = [r for r in recs if isinstance(r, Paper)]
    errors = [r for r in recs if isinstance(r, ParseError)]
    assert len(papers) >= 3, recs  # the records before the cut survive
    assert [p.title for p in papers[:3]] == TITLES[:3]
    if fmt in (*XML_FORMATS, *JSON_FORMATS, "bibtex"):
        assert len(errors) == 1 and recs[-1] is errors[0], recs  # then exactly one error
        assert errors[0].source.endswith(EXT[fmt])


@pytest.mark.parametrize("fmt", ALL)
def test_invalid_utf8_in_the_middle(tmp_path: Path, fmt: str) -> None:
    data = BUILD[fmt](TITLES).encode()
    pos = data.index(b"Paper Number 4") + len(b"Paper Number 4")
    recs = run(write(tmp_path, fmt, data[:pos] + b" \xff\xfe\xc3 " + data[pos:]), fmt)
    papers = [r for r in recs if isinstance(r, Paper)]
    titles = [p.title for p in papers]
    for i, t in enumerate(TITLES):
        if i != 3:
            assert t in titles, (fmt, titles)  # the other records are intact, accents included
    if fmt in LINE_FORMATS:  # streamed line formats: the damaged record is rejected, never "repaired"
        assert len(papers) == len(TITLES) - 1 and len(recs) == len(TITLES), recs
        [err] = [r for r in recs if isinstance(r, ParseError)]
        assert "not valid UTF-8 (byte 0xff" in err.reason and err.location.startswith(("line", "record 4")), err
        assert recs.index(err) == 3
        return
    assert len(papers) == len(TITLES) and len(recs) == len(TITLES), recs  # nothing rejected
    [damaged] = [t for t in titles if t.startswith("Paper Number 4")]
    if fmt == "hf-json":  # the bytes hit paper.title; the outer title wins and is intact
        assert damaged == TITLES[3]
    else:  # kept, the bad bytes shown as replacement characters
        assert damaged.startswith("Paper Number 4 \ufffd"), damaged
        assert damaged.endswith(TITLES[3][len("Paper Number 4"):]), damaged


@pytest.mark.parametrize("fmt", [f for f in ALL if f not in XML_FORMATS])
def test_ten_megabyte_title(tmp_path: Path, fmt: str) -> None:
    huge = "word " * (2 * 1024 * 1024)  # 10 MiB
    if fmt == "hf-text":  # titles and abstracts are told apart by length: a 10 MB line is an abstract
        text = _hf_text(TITLES[:2]).replace(ABSTRACT, huge, 1)
        recs = run(write(tmp_path, fmt, text), fmt, auto=False)
        assert [r.title for r in recs] == TITLES[:2]
        assert len(recs[0].abstract) == MAX_ABSTRACT and recs[0].abstract.endswith("…")
        return
    recs = run(write(tmp_path, fmt, BUILD[fmt]([TITLES[0], huge, TITLES[2]])), fmt, auto=False)
    assert [type(r) for r in recs] == [Paper, Paper, Paper], recs
    assert len(recs[1].title) == MAX_TITLE and recs[1].title.endswith("…")
    assert recs[2].title == TITLES[2]


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_big_xml_title(tmp_path: Path, fmt: str) -> None:
    # lxml without huge_tree (on purpose: no unbounded memory) caps one text node at 10,000,000 bytes:
    # 9.5 MB is kept and truncated; above the cap the file stops with one ParseError, records before kept.
    big = "word " * 1_900_000
    recs = run(write(tmp_path, fmt, BUILD[fmt]([TITLES[0], big, TITLES[2]])), fmt, auto=False)
    assert [type(r) for r in recs] == [Paper, Paper, Paper]
    assert len(recs[1].title) == MAX_TITLE
    recs = run(write(tmp_path, fmt, BUILD[fmt]([TITLES[0], "word " * (2 * 1024 * 1024), TITLES[2]])), fmt,
               auto=False)
    assert isinstance(recs[0], Paper) and recs[0].title == TITLES[0]
    assert isinstance(recs[-1], ParseError) and "10 MB" in recs[-1].reason


@pytest.mark.parametrize("fmt", ALL)
def test_html_in_title_is_kept_verbatim(tmp_path: Path, fmt: str) -> None:
    recs = run(write(tmp_path, fmt, BUILD[fmt]([TITLES[0], SCRIPT, TITLES[2]])), fmt)
    assert [r.title for r in recs] == [TITLES[0], SCRIPT, TITLES[2]]


@pytest.mark.parametrize("fmt", ALL)
@pytest.mark.parametrize("content", [b"", b"   \n\n\t \n"], ids=["empty", "blank"])
def test_empty_file(tmp_path: Path, fmt: str, content: bytes) -> None:
    recs = run(write(tmp_path, fmt, content), fmt)
    assert len(recs) == 1 and isinstance(recs[0], ParseError) and "empty" in recs[0].reason


@pytest.mark.parametrize("fmt", ALL)
@pytest.mark.parametrize("content", [
    random.Random(0).randbytes(5000),
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
    b"\x7fELF\x02\x01\x01" + b"\x01\x02\x03\x04" * 300,
], ids=["random", "png", "elf"])
def test_binary_file(tmp_path: Path, fmt: str, content: bytes) -> None:
    recs = run(write(tmp_path, fmt, content), fmt)
    assert len(recs) == 1 and isinstance(recs[0], ParseError) and "binary" in recs[0].reason


@pytest.mark.parametrize("fmt", ALL)
def test_corrupt_gzip(tmp_path: Path, fmt: str) -> None:
    good = gzip.compress(BUILD[fmt](TITLES).encode())
    recs = run(write(tmp_path, fmt, good[:10] + b"\x00garbage" * 20), fmt)
    assert recs and isinstance(recs[-1], ParseError)
    recs = run(write(tmp_path, fmt, good[: len(good) // 2]), fmt)  # truncated gzip stream
    assert recs and isinstance(recs[-1], ParseError)


@pytest.mark.parametrize("fmt", ALL)
def test_invalid_json(tmp_path: Path, fmt: str) -> None:
    recs = run(write(tmp_path, fmt, '{"title": "x",, "abstract": [1, 2\n{"id": }\n'), fmt)
    if fmt in (*JSON_FORMATS, "arxiv-atom"):  # arxiv-atom: a JSON-wrapped recording that is broken
        assert not [r for r in recs if isinstance(r, Paper)]
        assert recs and all("JSON" in r.reason for r in recs), recs


@pytest.mark.parametrize("fmt", ALL)
def test_bibtex_with_unclosed_brace(tmp_path: Path, fmt: str) -> None:
    text = "@article{a, title={Fine}, year=2020}\n@article{b, title={Never closed, year=2021\n" \
           "@article{c, title={Also fine}}\n"
    recs = run(write(tmp_path, fmt, text), fmt)
    if fmt == "bibtex":
        assert [r.title if isinstance(r, Paper) else "ERR" for r in recs] == ["Fine", "ERR", "Also fine"]
        assert recs[1].location == "line 2"


@pytest.mark.parametrize("fmt", XML_FORMATS)
def test_no_xxe_no_entity_expansion(tmp_path: Path, fmt: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doc = BUILD[fmt](["&xxe; &lol3;"]).replace('<?xml version="1.0" encoding="UTF-8"?>\n', "")
    dtd = (f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}"><!ENTITY lol "lol">'
           '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
           '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n')
    doc = doc.replace("&amp;xxe; &amp;lol3;", "&xxe; &lol3;")
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + dtd + doc
    recs = run(write(tmp_path, fmt, text), fmt)
    for r in recs:
        if isinstance(r, Paper):
            assert "TOP-SECRET" not in r.title and "lollol" not in r.title
        else:
            assert isinstance(r, ParseError)
