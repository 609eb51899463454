"""hf-json: Hugging Face Papers API JSON (daily_papers lists, paper objects, JSON lines)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from papersift.ingest import detect_format, hf_json
from papersift.models import Paper, ParseError

HF = Path(__file__).parent.parent / "fixtures" / "hf"


def test_daily_papers_list() -> None:
    recs = list(hf_json.read(HF / "daily_papers.json"))
    p, q, err = recs
    assert isinstance(p, Paper) and isinstance(q, Paper)
    assert p.arxiv_id == "2509.04664" and p.id == "2509.04664"
    assert p.title == "Why Language Models Hallucinate"
    assert p.authors == ["Adam Tauman Kalai", "Ofir Nachum", "Santosh S. Vempala", "Edwin Zhang"]
    assert p.abstract.startswith("Like students facing hard exam questions, large language models sometimes")
    assert p.published == date(2025, 9, 4)  # paper.publishedAt (arXiv), not the daily date
    assert p.submitted_on_daily_at == datetime(2025, 9, 7, 22, 44, 20, 973000, tzinfo=UTC)
    assert p.submitted_by == "taesiri"
    assert p.source_upvotes == 42 and p.upvotes == 0
    assert p.sources == ["hf-json"]
    assert p.links["abs"] == "https://arxiv.org/abs/2509.04664"
    assert q.links["code"] == "https://github.com/example/synthetic"
    assert q.links["project"] == "https://example.org/synthetic"
    assert "<script>alert(1)</script>" in q.title
    assert q.submitted_by == "cycurator" and q.source_upvotes == 7
    assert isinstance(err, ParseError) and err.location == "record 3" and "title" in err.reason


def test_paper_info_object() -> None:
    (p,) = list(hf_json.read(HF / "paper_info.json"))
    assert isinstance(p, Paper)
    assert p.arxiv_id == "2509.04664"
    assert p.published == date(2025, 9, 4)
    assert p.submitted_on_daily_at == datetime(2025, 9, 8, 2, 44, 20, 973000, tzinfo=UTC)
    assert p.submitted_by == "taesiri"
    assert p.links["code"] == "https://github.com/example/hallucinate"
    assert p.links["project"] == "https://example.org/hallucinate"
    assert p.source_upvotes == 42 and p.upvotes == 0


def test_json_lines_and_wrapper(tmp_path: Path) -> None:
    items = json.loads((HF / "daily_papers.json").read_text())
    f = tmp_path / "daily.jsonl"
    f.write_text("\n".join(json.dumps(i) for i in items[:2]) + "\n{broken\n" + json.dumps(items[0]) + "\n")
    recs = list(hf_json.read(f))
    assert [type(r).__name__ for r in recs] == ["Paper", "Paper", "ParseError", "Paper"]
    assert recs[2].location == "line 3"
    w = tmp_path / "page.json"
    w.write_text(json.dumps({"dailyPapers": items[:2]}))
    assert next(r.title for r in hf_json.read(w)) == "Why Language Models Hallucinate"


def test_truncated_list_keeps_earlier_records(tmp_path: Path) -> None:
    text = (HF / "daily_papers.json").read_text()
    f = tmp_path / "cut.json"
    f.write_text(text[: text.index('"2401.99998"') + 40])
    recs = list(hf_json.read(f))
    assert isinstance(recs[0], Paper) and recs[0].arxiv_id == "2509.04664"
    assert isinstance(recs[-1], ParseError) and "JSON" in recs[-1].reason
    assert len(recs) == 2


def test_odd_values_do_not_crash(tmp_path: Path) -> None:
    f = tmp_path / "odd.json"
    f.write_text(json.dumps([
        {"paper": {"id": "not-arxiv", "authors": "A. One, B. Two", "upvotes": "many"},
         "title": "Odd", "publishedAt": "yesterday", "submittedBy": "someone", "numComments": 0},
        {"id": 5, "title": 7, "summary": None},
        "a string", 12, None,
    ]))
    recs = list(hf_json.read(f))
    assert isinstance(recs[0], Paper)
    assert recs[0].arxiv_id is None and recs[0].id.startswith("hf-json-")
    assert recs[0].source_upvotes == 0 and recs[0].published is None and recs[0].submitted_by == "someone"
    assert recs[0].authors == ["A. One", "B. Two"]
    assert isinstance(recs[1], Paper) and recs[1].title == "7"
    assert all(isinstance(r, ParseError) for r in recs[2:])


def test_detect() -> None:
    assert detect_format(HF / "daily_papers.json") == "hf-json"
    assert detect_format(HF / "paper_info.json") == "hf-json"
