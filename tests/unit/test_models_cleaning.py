"""The shared cleaning in models.py: whatever text an importer hands Paper(...), the result is
something every store and SQL driver takes (no lone surrogates, noncharacters, NULs; keys within
their column widths; integers within SQL INTEGER); the importers' record mapping never raises."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from papersift.ingest import arxiv_snapshot, hf_json, read, tabular
from papersift.models import (
    MAX_ARXIV_ID,
    MAX_DOI,
    MAX_ID,
    MAX_INT,
    MAX_USER,
    Paper,
    ParseError,
    clean_text,
    clean_value,
)

ANY_CHAR = st.characters(exclude_categories=())  # every code point, lone surrogates included
ANY_TEXT = st.text(alphabet=ANY_CHAR, max_size=60)
HOSTILE = st.sampled_from(["\ud800", "\udfff", "\udce9", "\x00", "\ufffe", "\uffff", "\ufdd0", "\U0010ffff",
                           "\u202e", "\x1b[31m", "\r\n", "\t", "é", "😀", "\ufffd"])
TEXT = st.lists(st.one_of(ANY_TEXT, HOSTILE), max_size=6).map("".join)
BIG_INT = st.integers(min_value=-(2**70), max_value=2**70)


def storable(s: str) -> bool:
    try:
        s.encode("utf-8")  # what SQLite's and PostgreSQL's drivers do first
    except UnicodeEncodeError:
        return False
    return "\x00" not in s and not any(0xFDD0 <= ord(c) <= 0xFDEF or ord(c) in (0xFFFE, 0xFFFF) for c in s)


def assert_storable(p: Paper) -> None:
    texts = [p.title, p.abstract, p.id, p.doi or "", p.arxiv_id or "", p.submitted_by or "", *p.authors,
             *p.categories, *p.sources, *p.links, *p.links.values(), p.norm_title]
    assert all(storable(t) for t in texts), p
    assert 0 < len(p.id) <= MAX_ID and len(p.doi or "") <= MAX_DOI and len(p.arxiv_id or "") <= MAX_ARXIV_ID
    assert len(p.submitted_by or "") <= MAX_USER
    assert p.version is None or 1 <= p.version <= MAX_INT
    assert 0 <= p.upvotes <= MAX_INT
    json.dumps([p.authors, p.categories, p.links, p.sources])


def test_clean_text_drops_what_no_store_takes() -> None:
    assert clean_text("\ud800 Lone \udfff surrogate\ufffe \uffff\ufdd0 here\x00", 100) == "Lone surrogate here"
    assert clean_text("keeps é 😀 \U0010ffff and \ufffd", 100) == "keeps é 😀 \U0010ffff and \ufffd"
    assert clean_value(" id\x00\ud800-1\t ") == "id-1"


def test_paper_cleans_every_field() -> None:
    p = Paper(title="T\ud800itle", id="x\ud800" * (MAX_ID + 100), doi="10.1/" + "a" * 400,
              arxiv_id="a" * 100 + "/1234567v3",
              version=2**70, upvotes=2**70, submitted_by="u\ud800" * 200, links={"abs": "http://x\udc80"},
              categories=["cs\ud800.LG", "", "\ud800"], sources=["jsonl\x00"], authors=["\ud800", "Ada"])
    assert_storable(p)
    # a bad code point becomes a space, like a control character
    assert (p.title, p.doi, p.arxiv_id, p.version, p.upvotes) == ("T itle", None, None, None, MAX_INT)
    assert p.categories == ["cs.LG"] and p.authors == ["Ada"] and p.links == {"abs": "http://x"}
    assert p.id.startswith("jsonl-")  # an id over the column width is replaced by the derived one


def test_parse_error_escapes_undecodable_names() -> None:
    e = ParseError("/in/caf\udce9.jsonl", "line 1", "bad \ud800\x00")
    assert (e.source, e.reason) == ("/in/caf\\xe9.jsonl", "bad \\ud800\\u0000")
    assert storable(str(e))


@settings(max_examples=300, deadline=None)
@given(title=TEXT, abstract=TEXT, authors=st.lists(TEXT, max_size=4), cats=st.lists(TEXT, max_size=3),
       doi=st.none() | TEXT, arxiv_id=st.none() | TEXT, pid=TEXT, links=st.dictionaries(TEXT, TEXT, max_size=3),
       version=st.none() | BIG_INT, upvotes=BIG_INT, user=st.none() | TEXT, sources=st.lists(TEXT, max_size=2))
def test_any_text_through_paper_is_storable(title: str, abstract: str, authors: list[str], cats: list[str],
                                            doi: str | None, arxiv_id: str | None, pid: str,
                                            links: dict[str, str], version: int | None, upvotes: int,
                                            user: str | None, sources: list[str]) -> None:
    p = Paper(title=title or "x", abstract=abstract, authors=authors, categories=cats, doi=doi, arxiv_id=arxiv_id,
              id=pid, links=links, version=version, upvotes=upvotes, submitted_by=user, sources=sources,
              published=date(2020, 1, 1))
    assert_storable(p)


JSON = st.recursive(st.none() | st.booleans() | BIG_INT | st.floats() | TEXT,
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(TEXT, kids, max_size=4), max_leaves=12)
KEYS = st.sampled_from(["title", "abstract", "authors", "author", "categories", "published", "date", "year", "doi",
                        "url", "id", "_id", "text", "arxiv_id", "summary", "paper", "upvotes", "publishedAt",
                        "submittedBy", "githubRepo", "versions", "authors_parsed", "update_date"])
RECORD = st.dictionaries(KEYS, JSON, max_size=10)


@settings(max_examples=300, deadline=None)
@given(rec=RECORD | JSON)
def test_importer_record_mapping_never_raises(rec: Any) -> None:
    for out in (tabular.to_paper(rec, "s", "line 1", "jsonl"), arxiv_snapshot.to_paper(rec, "s", "line 1"),
                hf_json.to_paper(rec, "s", "line 1")):
        assert isinstance(out, Paper | ParseError)
        if isinstance(out, Paper):
            assert_storable(out)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recs=st.lists(RECORD, min_size=1, max_size=5))
def test_jsonl_file_of_any_records_reads_totally(tmp_path: Path, recs: list[dict[str, Any]]) -> None:
    f = tmp_path / "any.jsonl"
    # ensure_ascii: lone surrogates travel as \\udXXX escapes, as a hostile file would carry them
    f.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    out = list(read(f, "jsonl"))
    assert len(out) == len(recs)
    for r in out:
        assert isinstance(r, Paper | ParseError)
        if isinstance(r, Paper):
            assert r.title and r.origin.startswith("line ")
            assert_storable(r)


def test_dates_know_their_precision_and_say_so() -> None:
    from datetime import date as _date

    assert Paper(title="t", published=_date(2024, 2, 21)).published_precision == "day"
    p = Paper(title="t", published=_date(2024, 2, 1), published_precision="month")
    assert (p.published_label, p.daily_basis) == ("February 2024", "published")
    assert Paper(title="t", published=_date(1999, 1, 1), published_precision="year").published_label == "1999"
    none = Paper(title="t", published_precision="day")
    assert (none.published_precision, none.published_label, none.daily_basis) == (None, "date unknown", "added")
    assert Paper(title="t", published=_date(2024, 2, 1), published_precision="week").published_precision == "day"
    assert Paper(title="t", source_upvotes=3, upvotes=2).total_upvotes == 5
    assert Paper(title="t", ai_keywords=["a", "a", "", "b"], num_comments=-1).ai_keywords == ["a", "b"]
