"""arxiv-snapshot: the Kaggle metadata snapshot (JSON lines), streamed."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

from papersift.ingest import arxiv_snapshot, detect_format, read
from papersift.models import Paper, ParseError

SNAP = Path(__file__).parent.parent / "fixtures" / "arxiv" / "arxiv-metadata-oai-snapshot.json"


def test_all_200_records() -> None:
    recs = list(arxiv_snapshot.read(SNAP))
    assert len(recs) == 200 and all(isinstance(r, Paper) for r in recs)
    assert [r.arxiv_id for r in recs[:2]] == ["0704.0001", "0704.0002"]
    assert recs[-1].arxiv_id == "0704.0200"
    p = recs[0]
    assert p.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]  # from authors_parsed
    assert p.version == 2 and p.published == date(2007, 4, 2) and p.updated == date(2007, 7, 24)
    assert p.categories == ["hep-ph"]
    assert p.doi == "10.1103/physrevd.76.013009"
    assert p.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert recs[1].categories == ["math.CO", "cs.CG"]
    assert all(r.sources == ["arxiv-snapshot"] for r in recs)
    multi = [r for r in recs if r.doi and " " in r.doi]
    assert not multi  # "doi1 doi2" fields keep the first DOI


def test_bad_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    lines = SNAP.read_text(encoding="utf-8").splitlines()[:3]
    f = tmp_path / "snap.json"
    bad = ["{not json", "[1, 2]", json.dumps({"id": "x"})]
    f.write_text("\n".join([lines[0], bad[0], lines[1], bad[1], bad[2], "", lines[2]]))
    recs = list(arxiv_snapshot.read(f))
    kinds = [type(r).__name__ for r in recs]
    assert kinds == ["Paper", "ParseError", "Paper", "ParseError", "ParseError", "Paper"]
    assert [r.location for r in recs if isinstance(r, ParseError)] == ["line 2", "line 4", "line 5"]


def test_fallback_to_authors_string_and_gzip(tmp_path: Path) -> None:
    obj = {"id": "2101.00001", "title": "T", "authors": "A. One, B. Two and C. Three", "categories": "cs.LG",
           "versions": [], "update_date": "2021-02-03", "authors_parsed": []}
    f = tmp_path / "snap.json.gz"
    with gzip.open(f, "wt", encoding="utf-8") as g:
        g.write(json.dumps(obj) + "\n")
    (p,) = list(read(f))
    assert isinstance(p, Paper)
    assert p.authors == ["A. One", "B. Two", "C. Three"] and p.updated == date(2021, 2, 3)


def test_detect() -> None:
    assert detect_format(SNAP) == "arxiv-snapshot"
