"""The importer registry: FORMATS, detect_format, read, iter_paths, gzip."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from papersift.ingest import FORMATS, detect_format, iter_paths, read
from papersift.models import Paper, ParseError

FIX = Path(__file__).parent.parent / "fixtures"

EXPECTED = {
    "seeds/000_e8ce74ec272bb1fb.txt": "hf-text",
    "seeds/004_fac5df4beb240e5a.txt": "hf-text",
    "hf/daily_papers.json": "hf-json",
    "arxiv/search_query=au_del_maestro.xml": "arxiv-atom",
    "arxiv/q_testing_s0_m10_bc5a6c384fe9.json": "arxiv-atom",
    "arxiv/ListRecordsResponse.xml": "arxiv-oai",
    "arxiv/arxiv-metadata-oai-snapshot.json": "arxiv-snapshot",
    "bibtex/library.bib": "bibtex",
    "tabular/papers.jsonl": "jsonl",
    "tabular/papers.csv": "csv",
}


def test_formats_registered() -> None:
    assert set(FORMATS) == {"hf-text", "hf-json", "arxiv-atom", "arxiv-oai", "arxiv-snapshot", "bibtex",
                            "jsonl", "csv"}
    for name, imp in FORMATS.items():
        assert name == imp.FORMAT and callable(imp.sniff) and callable(imp.read)


@pytest.mark.parametrize(("rel", "fmt"), EXPECTED.items())
def test_detect_by_content_and_extension(rel: str, fmt: str) -> None:
    assert detect_format(FIX / rel) == fmt


@pytest.mark.parametrize(("rel", "fmt"), EXPECTED.items())
def test_detect_without_helpful_extension(tmp_path: Path, rel: str, fmt: str) -> None:
    dst = tmp_path / "download.dat"
    shutil.copy(FIX / rel, dst)
    assert detect_format(dst) == fmt


@pytest.mark.parametrize(("rel", "fmt"), EXPECTED.items())
def test_gzip_is_transparent(tmp_path: Path, rel: str, fmt: str) -> None:
    src = FIX / rel
    dst = tmp_path / (src.name + ".gz")
    dst.write_bytes(gzip.compress(src.read_bytes()))
    assert detect_format(dst) == fmt
    plain = [r.id for r in read(src) if isinstance(r, Paper)]
    zipped = [r.id for r in read(dst) if isinstance(r, Paper)]
    assert plain and plain == zipped


def test_unknown_and_missing(tmp_path: Path) -> None:
    f = tmp_path / "notes.md"
    f.write_text("# just notes\nnothing to import\n")
    with pytest.raises(ParseError, match="unknown format"):
        detect_format(f)
    (e,) = list(read(f))
    assert isinstance(e, ParseError) and "unknown format" in e.reason
    (e,) = list(read(tmp_path / "missing.json"))
    assert isinstance(e, ParseError) and "no such file" in e.reason
    (e,) = list(read(tmp_path))
    assert isinstance(e, ParseError)
    with pytest.raises(ValueError, match="unknown format"):
        list(read(f, "nope"))


def test_explicit_format_overrides_detection(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text('{"title": "A"}\n')
    assert [r.title for r in read(f, "jsonl")] == ["A"]


def test_importer_bug_is_contained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(path: Path):  # type: ignore[no-untyped-def]
        yield Paper(title="first")
        raise RuntimeError("bug")

    monkeypatch.setattr(FORMATS["jsonl"], "read", boom)
    f = tmp_path / "x.jsonl"
    f.write_text('{"title": "A"}\n')
    a, e = list(read(f, "jsonl"))
    assert a.title == "first" and isinstance(e, ParseError) and "RuntimeError" in e.reason


def test_iter_paths(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.bib").write_text("")
    (tmp_path / "a" / ".hidden.bib").write_text("")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("")
    (tmp_path / "b.jsonl").write_text("")
    (tmp_path / "a" / "loop").symlink_to(tmp_path, target_is_directory=True)
    single = tmp_path / "single.csv"
    single.write_text("")
    got = list(iter_paths([tmp_path, str(single), tmp_path / "nope.json"]))
    # a directory's own files first (sorted), then its subdirectories (sorted); links not followed
    assert got == [tmp_path / "b.jsonl", single, tmp_path / "a" / "x.bib", single, tmp_path / "nope.json"]
