"""hf-text: Hugging Face Papers pages saved as text (tests/fixtures/seeds)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from papersift.ingest import detect_format, hf_text
from papersift.models import Paper, ParseError

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
PER_FILE = {"000": 119, "001": 179, "002": 250, "003": 65, "004": 57}


def papers(path: Path) -> list[Paper]:
    recs = list(hf_text.read(path))
    assert not [r for r in recs if isinstance(r, ParseError)], recs
    return recs  # type: ignore[return-value]


def test_five_seed_files_present() -> None:
    assert [p.name[:3] for p in SEED_FILES] == list(PER_FILE)


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_seed_file_parses_completely(path: Path) -> None:
    ps = papers(path)
    assert len(ps) == PER_FILE[path.name[:3]]
    for p in ps:
        assert p.sources == ["hf-text"]
        assert p.id.startswith("hf-text-")
        assert 10 <= len(p.title) <= 300, p.title
        assert len(p.abstract) > 300, p.title  # every seed paper has its abstract
        assert not p.title.startswith("Subscribe")
        assert p.published is None  # "Aug 4" has no year
    assert detect_format(path) == "hf-text"


def test_first_title_unglued_from_subscribe_compact_layout() -> None:
    ps = papers(SEEDS / "000_e8ce74ec272bb1fb.txt")
    assert ps[0].title == "Near-Minimax-Optimal Risk-Sensitive Reinforcement Learning with CVaR"
    assert ps[0].abstract.startswith("In this paper, we study risk-sensitive Reinforcement Learning")
    assert ps[1].title == "Nonparametric Density Estimation under Distribution Drift"


def test_spaced_layout_header_and_date_skipped() -> None:
    ps = papers(SEEDS / "004_fac5df4beb240e5a.txt")
    assert ps[0].title == "Beyond First-Order Tweedie: Solving Inverse Problems using Latent Diffusion"
    ps3 = papers(SEEDS / "003_8917680a39a6614d.txt")
    assert ps3[0].title == "Pre-Training and Fine-Tuning Generative Flow Networks"


def test_distinct_papers_across_seeds_and_duplicates() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    titles: dict[str, str] = {}
    for path in SEED_FILES:
        for p in papers(path):
            where[p.norm_title].append(path.name[:3])
            titles.setdefault(p.norm_title, p.title)
    total = sum(len(v) for v in where.values())
    dups = {k: v for k, v in where.items() if len(v) > 1}
    print(f"\n{total} papers read, {len(where)} distinct, {len(dups)} titles seen more than once "
          f"({total - len(where)} duplicate occurrences):")
    for k, v in sorted(dups.items(), key=lambda kv: (kv[1], kv[0])):
        print(f"  {'+'.join(v):12} {titles[k]}")
    assert total == 670
    assert len(where) == 566
    assert len(dups) == 93
    assert all(len(set(v)) == len(v) for v in where.values())  # no duplicate within one file
    # the id is derived from the normalized title, so duplicates share an id (the store merges them)
    ids = {p.id for path in SEED_FILES for p in papers(path)}
    assert len(ids) == 566


def test_sniff() -> None:
    assert hf_text.sniff(SEED_FILES[0].read_bytes()[:65536], SEED_FILES[0])
    assert hf_text.sniff(SEED_FILES[3].read_bytes()[:65536], SEED_FILES[3])
    assert not hf_text.sniff(b"just some text\nanother line\n", Path("x.txt"))


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "page.txt"
    p.write_text(text, encoding="utf-8")
    return p


ABS = ("We study a problem that matters. We prove a theorem about it and run experiments on it. "
       "The results are good and the method is simple, which we think is rather nice overall. ") * 2


def test_title_without_abstract_stray_lines_and_truncated_tail(tmp_path: Path) -> None:
    text = (f"Get trending papers in your email inbox!\nSubscribeFirst Paper\n{ABS}\n"
            f"Lonely Title Without Abstract\n---\nThird Paper\n{ABS}\nFourth Paper\nWe study the trunc")
    recs = list(hf_text.read(write(tmp_path, text)))
    assert [r.title for r in recs] == ["First Paper", "Lonely Title Without Abstract", "Third Paper",
                                       "Fourth Paper"]
    assert recs[1].abstract == ""
    assert recs[3].abstract == "We study the trunc"  # last line, no newline: truncated abstract


def test_continuation_paragraph_and_abstract_without_title(tmp_path: Path) -> None:
    text = f"Get trending papers in your email inbox!\n{ABS}\nA Paper\n{ABS}\n{ABS}\n"
    recs = list(hf_text.read(write(tmp_path, text)))
    assert isinstance(recs[0], ParseError) and recs[0].location == "line 2"
    assert isinstance(recs[1], Paper) and recs[1].title == "A Paper"
    assert len(recs[1].abstract) > 2 * len(ABS.strip())


def test_date_with_year_sets_published(tmp_path: Path) -> None:
    text = (f"Daily Papers\nby AK and the research community\nAug 4, 2025\nDated Paper\n{ABS}\n"
            f"Aug 5\nUndated\n{ABS}\n")
    recs = list(hf_text.read(write(tmp_path, text)))
    assert str(recs[0].published) == "2025-08-04"
    assert recs[1].published is None


def test_no_papers_is_reported(tmp_path: Path) -> None:
    recs = list(hf_text.read(write(tmp_path, "Get trending papers in your email inbox!\nSubscribe\n")))
    assert len(recs) == 1 and isinstance(recs[0], ParseError)
