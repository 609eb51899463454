"""Library import (BibTeX, Zotero CSV and RDF exports): matching by arXiv id, DOI, then title;
unknown entries stored as papers (and indexed); bad entries reported one by one; re-import is
idempotent; export round-trips. Plus the interest commands of the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from papersift import accounts
from papersift.accounts import interests
from papersift.cli import app
from papersift.config import Settings
from papersift.engine import Engine, open_engine
from papersift.models import Paper
from tests.conftest import FIXTURES, restored_root_logger

pytestmark = pytest.mark.backends  # SQLite and PostgreSQL (tests/conftest.py)

KNOWN = [
    # matched by arXiv id (the BibTeX entry has it in the journal field)
    Paper(title="BERT: Pre-training of Deep Bidirectional Transformers", arxiv_id="1810.04805",
          categories=["cs.CL"], published=date(2018, 10, 11), sources=["test"]),
    # matched by DOI (the entry has no arXiv id)
    Paper(title="Proceedings version of a conference paper", doi="10.1000/xyz.123", sources=["test"]),
    # matched by title (the entry has neither)
    Paper(title="Attention Is All You Need", arxiv_id="1706.03762", categories=["cs.CL"], sources=["test"]),
]


@pytest.fixture
def eng(settings: Settings) -> Engine:
    settings.embedder = "hashing-384"  # the conftest's settings: a backend-marked module runs on both stores
    e = open_engine(settings, "owner", upgrade=True)
    e.store.upsert_many(KNOWN)
    e.catch_up()
    yield e
    e.close()


def test_bibtex_import_matches_adds_and_reports(eng: Engine) -> None:
    u = accounts.create_user(eng.db, "alice", "correct horse battery")
    before = eng.store.count()
    r = interests.import_library(eng.store, u, FIXTURES / "bibtex" / "library.bib", tags="imported")
    assert r.matched == {"arxiv": 1, "doi": 1, "title": 1}
    # Adam, ResNet, the GPU-kernels paper and "Same Key, Different Paper" are new papers
    assert r.added_papers == 4 and eng.store.count() == before + 4
    assert r.entries == 7 and r.saved == 7 and r.already_saved == 0
    assert [(e.location, e.reason) for e in r.errors] == [("entry notitle (line 63)", "entry has no title")]
    lib = interests.library_papers(eng.store, u)
    assert {p.id for p, _row in lib} >= {"1810.04805", "1706.03762", "1412.6980"}
    assert all("imported" in row.tags for _p, row in lib)
    adam = next(row for p, row in lib if p.id == "1412.6980")
    assert "computer science - machine learning" in adam.tags  # BibTeX keywords become tags
    # the new papers went through the store's write path: the owner's catch-up indexes them
    eng.catch_up()
    assert eng.lexical.search("Deep Residual Learning", 5)[1] >= 1
    again = interests.import_library(eng.store, u, FIXTURES / "bibtex" / "library.bib")
    assert again.added_papers == 0 and again.saved == 0 and again.already_saved == 7
    assert eng.store.count() == before + 4


@pytest.mark.parametrize("name", ["library.rdf", "library.csv"])
def test_zotero_exports(eng: Engine, name: str) -> None:
    u = accounts.create_user(eng.db, "bob", "correct horse battery")
    r = interests.import_library(eng.store, u, FIXTURES / "zotero" / name)
    assert r.entries == 2 and len(r.errors) == 1
    lib = {p.title: row.tags for p, row in interests.library_papers(eng.store, u)}
    alphafold = "Highly accurate protein structure prediction with AlphaFold"
    assert alphafold in lib and "proteins" in lib[alphafold]
    if name.endswith(".rdf"):
        assert r.matched["arxiv"] == 1  # Attention, by the arXiv id in the item's URI
        assert lib["Attention Is All You Need"] == ["reading group", "transformers"]  # tag + collection
        assert r.errors[0].reason == "item has no title"
    else:
        assert lib["Adam: A Method for Stochastic Optimization"] == ["deep learning", "optimization"]
        assert r.errors[0].location == "row 4" and "title" in r.errors[0].reason
    p = eng.store.get("10.1038/s41586-021-03819-2") or next(
        p for p, _ in interests.library_papers(eng.store, u) if p.title == alphafold)
    assert p.doi == "10.1038/s41586-021-03819-2" and p.authors == ["John Jumper"]


def test_a_broken_file_loses_nothing(eng: Engine, tmp_path: Path) -> None:
    u = accounts.create_user(eng.db, "carol", "correct horse battery")
    bad = tmp_path / "bad.rdf"
    bad.write_text('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                   'xmlns:z="http://www.zotero.org/namespaces/export#"><bib:Article>')
    r = interests.import_library(eng.store, u, bad)
    assert r.entries == 0 and len(r.errors) == 1 and "XML" in r.errors[0].reason
    assert interests.library_papers(eng.store, u) == []


def test_export_round_trips(eng: Engine, tmp_path: Path) -> None:
    u = accounts.create_user(eng.db, "dan", "correct horse battery")
    interests.import_library(eng.store, u, FIXTURES / "bibtex" / "library.bib", tags=["ml & more"])
    rows = interests.library_papers(eng.store, u)
    text = interests.bibtex([(p, r.tags) for p, r in rows])
    assert text.count("@misc{") == len(rows) == 7
    assert "eprint = {1810.04805}" in text and r"ml \& more" in text
    out = tmp_path / "export.bib"
    out.write_text(text)
    v = accounts.create_user(eng.db, "erin", "correct horse battery")
    back = interests.import_library(eng.store, v, out)
    assert back.errors == [] and back.added_papers == 0 and back.saved == 7
    assert {p.id for p, _ in interests.library_papers(eng.store, v)} == {p.id for p, _ in rows}
    assert all("ml & more" in r.tags for _p, r in interests.library_papers(eng.store, v))


# -- the CLI ----------------------------------------------------------------------------------------
ENV = {"PAPERSIFT_EMBEDDER": "hashing-384", "COLUMNS": "200", "PAPERSIFT_LOG_LEVEL": "WARNING"}
runner = CliRunner(env=ENV)


def cli(data: Path, *args: str, input: str | None = None):
    with restored_root_logger():
        return runner.invoke(app, ["--data-dir", str(data), *args], input=input, catch_exceptions=False)


def test_cli_flow(tmp_path: Path) -> None:
    data = tmp_path / "d"
    eng = open_engine(Settings(data_dir=data, embedder="hashing-384"), "owner", upgrade=True)
    eng.store.upsert_many(KNOWN)
    accounts.create_user(eng.db, "alice", "correct horse battery")
    eng.close()
    r = cli(data, "follow", "alice", "--category", "cs.CL", "--author", "Jacob Devlin", "-q", "transformers")
    assert r.exit_code == 0, r.output
    r = cli(data, "follow", "alice", "--json")
    assert [(f["kind"], f["value"]) for f in json.loads(r.stdout)] == [
        ("author", "Jacob Devlin"), ("category", "cs.CL"), ("query", "transformers")]
    assert cli(data, "follow", "alice", "--query", "transformers", "--remove").exit_code == 0
    assert len(json.loads(cli(data, "follow", "alice", "--json").stdout)) == 2
    r = cli(data, "follow", "alice", "--category", "not a category")
    assert r.exit_code == 1 and "not an arXiv category" in r.output
    r = cli(data, "library", "import", "alice", str(FIXTURES / "bibtex" / "library.bib"), "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["matched"] == {"arxiv": 1, "doi": 1, "title": 1} and rep["added_papers"] == 4
    assert rep["errors"] == [{"location": "entry notitle (line 63)", "reason": "entry has no title"}]
    r = cli(data, "library", "tag", "alice", "1810.04805", "--add", "to read")
    assert r.exit_code == 0 and "to read" in r.stdout
    r = cli(data, "library", "list", "alice", "--tag", "to read", "--json")
    assert [x["paper"]["id"] for x in json.loads(r.stdout)] == ["1810.04805"]
    r = cli(data, "library", "export", "alice", "--tag", "to read")
    assert r.stdout.startswith("@misc{devlin2018bert,") and "keywords = {to read}" in r.stdout
    assert "author = {Jacob Devlin and Ming-Wei Chang" in r.stdout  # the entry filled the stored paper's authors
    r = cli(data, "library", "import", "nobody", str(FIXTURES / "bibtex" / "library.bib"))
    assert r.exit_code == 1 and "no user" in r.output
    # a new paper by the followed author: For-you finds it, with its reason
    eng = open_engine(Settings(data_dir=data, embedder="hashing-384"), "owner")
    eng.store.upsert_many([Paper(title="A new language model", authors=["Devlin, Jacob"], categories=["cs.CL"],
                                 arxiv_id="2501.00001", sources=["test"])])
    eng.close()
    r = cli(data, "foryou", "alice", "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["mode"] == "keywords"
    first = got["picks"][0]
    assert first["paper"]["id"] == "2501.00001"
    assert "by Devlin, Jacob, whom you follow" in first["reasons"]
    assert "in cs.CL, a category you follow" in first["reasons"]
    r = cli(data, "feedback", "alice", "2501.00001", "down")
    assert r.exit_code == 0 and "down 2501.00001" in r.stdout
    r = cli(data, "foryou", "alice")
    assert r.exit_code == 0 and "no vectors yet" in r.output


def test_library_bibtex_is_the_citation_export_with_tags_and_kept_capitals() -> None:
    from datetime import date

    from papersift import cite
    from papersift.models import Paper

    p = Paper(title="Scaling $x_i$ Laws & More", authors=["Dan Alistarh"], id="2401.00001", arxiv_id="2401.00001",
              published=date(2024, 1, 2), categories=["cs.LG"], links={"abs": "https://arxiv.org/abs/2401.00001"})
    text = interests.bibtex([(p, ["to read", "ml"]), (p, [])])
    assert "title = {{Scaling $x_i$ Laws \\& More}}" in text  # LaTeX kept (no \_), & escaped, capitals kept
    assert "keywords = {to read, ml}" in text and text.count("keywords") == 1
    assert "@misc{alistarh2024scaling," in text and "@misc{alistarh2024scalinga," in text  # unique keys
    assert text.split("\n\n")[0] + "\n" == cite.bibtex_entry(p, None, "alistarh2024scaling", ["to read", "ml"],
                                                            keep_case=True)
