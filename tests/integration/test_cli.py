"""Every `papersift` command through Typer's CliRunner, asserting what it prints and what it did.

The embedder is the hashing one (PAPERSIFT_EMBEDDER=hashing-384), so no model is loaded."""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from papersift.cli import app
from papersift.config import Settings
from papersift.engine import open_engine
from papersift.store import Database
from papersift.store import jobs as jobs_sql
from papersift.store.db import head_revision
from tests.conftest import backend_database_url
from tests.integration.test_evaluate import EXPECTED, write_collection

pytestmark = pytest.mark.backends  # SQLite and PostgreSQL (tests/conftest.py)

ENV = {"PAPERSIFT_EMBEDDER": "hashing-384", "COLUMNS": "200", "PAPERSIFT_LOG_LEVEL": "WARNING"}
runner = CliRunner(env=ENV)

PAPERS = [
    {"arxiv_id": "2401.00001", "title": "Surface codes for quantum error correction",
     "abstract": "Surface codes protect qubits against noise.", "authors": ["Grace Hopper"],
     "categories": ["quant-ph"], "published": "2024-01-02", "doi": "10.1000/surface"},
    {"arxiv_id": "2401.00002", "title": "Graph neural networks for molecules",
     "abstract": "Message passing on molecular graphs.", "authors": ["Ada Lovelace", "Alan Turing"],
     "categories": ["cs.LG"], "published": "2024-01-03"},
    {"arxiv_id": "2401.00003", "title": "Graph attention networks revisited",
     "abstract": "Attention over graph neighbourhoods and message passing.", "authors": ["Alan Turing"],
     "categories": ["cs.LG", "stat.ML"], "published": "2024-01-04"},
    {"arxiv_id": "2401.00004", "title": "Protein folding with attention",
     "abstract": "Structure prediction from sequences.", "authors": ["Barbara Liskov"],
     "categories": ["q-bio.BM"], "published": "2024-01-05"},
    {"arxiv_id": "2401.00005", "title": "Sparse attention kernels for long sequences",
     "abstract": "Sparse attention makes long documents cheap.", "authors": ["Edsger Dijkstra"],
     "categories": ["cs.LG"], "published": "2024-01-06"},
    {"arxiv_id": "2401.00006", "title": "Quantum annealing for combinatorial optimisation",
     "abstract": "Annealing on superconducting qubits.", "authors": ["Grace Hopper"],
     "categories": ["quant-ph"], "published": "2024-01-07"},
]


def cli(data: Path, *args: str, **kw):
    return runner.invoke(app, ["--data-dir", str(data), *args], **kw)


def flat(text: str) -> str:
    """Output with whitespace runs (and any line wrapping) collapsed to one space."""
    return " ".join(text.split())


def ok(res) -> str:
    assert res.exit_code == 0, (res.exit_code, res.output, res.exception)
    return flat(res.stdout)


def write_papers(path: Path, papers: list[dict] = PAPERS) -> Path:
    path.write_text("".join(json.dumps(p) + "\n" for p in papers), encoding="utf-8")
    return path


def ingested(tmp: Path) -> Path:
    data = tmp / "data"
    ok(cli(data, "ingest", str(write_papers(tmp / "papers.jsonl"))))
    return data


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> Iterator[str | None]:
    """The test's backend for every command (PAPERSIFT_DATABASE_URL on PostgreSQL); afterwards, on
    PostgreSQL, proof that no command fell back to a SQLite file."""
    url = backend_database_url(backend, request, monkeypatch)
    yield url
    if url:
        assert not list(tmp_path.rglob("papersift.db"))


@pytest.fixture
def library(tmp_path: Path, store: str | None) -> Path:
    """A data dir the read-only commands read (they never write it)."""
    return ingested(tmp_path)


@pytest.fixture
def eval_url(backend: str, request: pytest.FixtureRequest) -> Callable[[], list[str]]:
    """``--database-url`` and a fresh empty PostgreSQL database for each `papersift eval` (which
    never uses PAPERSIFT_DATABASE_URL); nothing on SQLite (a file in eval's own temp dir)."""
    def fresh() -> list[str]:
        if backend != "postgres":
            return []
        cluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database(migrated=False)
        request.addfinalizer(lambda: cluster.drop_database(url))
        return ["--database-url", url]
    return fresh


@pytest.fixture
def restore_signals() -> Iterator[None]:
    """`papersift worker` installs SIGTERM / SIGINT handlers: give pytest its own back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


# -- ingest / demo ------------------------------------------------------------------------------
def test_ingest_prints_the_summary_and_skips_an_unchanged_file(tmp_path: Path, store: str | None) -> None:
    src = write_papers(tmp_path / "papers.jsonl")
    data = tmp_path / "data"
    out = ok(cli(data, "ingest", str(src)))
    assert "read 6 new 6 updated 0 duplicate 0 rejected 0 (1 files," in out
    again = ok(cli(data, "ingest", str(src)))
    assert f"skipped {src} (already ingested, unchanged; use --force to re-read)" in again
    assert "read 0 new 0" in again
    forced = ok(cli(data, "ingest", str(src), "--force"))
    assert "read 6 new 0 updated 0 duplicate 6 rejected 0" in forced
    stats = json.loads(ok(cli(data, "stats", "--json")))
    assert (stats["papers"], stats["lexical_docs"], stats["files_ingested"]) == (6, 6, 1)


def test_ingest_reports_missing_paths_and_bad_formats(tmp_path: Path, store: str | None) -> None:
    data = tmp_path / "data"
    res = cli(data, "ingest", str(tmp_path / "nope.jsonl"))
    assert res.exit_code == 1 and f"{tmp_path / 'nope.jsonl'}: no such file or directory" in flat(res.stderr)
    src = write_papers(tmp_path / "papers.jsonl")
    res = cli(data, "ingest", str(src), "--format", "docx")
    assert res.exit_code == 2 and "unknown format 'docx'" in flat(res.output)


def test_demo_loads_the_bundled_corpus_once(tmp_path: Path, store: str | None) -> None:
    data = tmp_path / "data"
    res = cli(data, "demo")
    assert res.exit_code == 0, res.output
    assert "loading the demo corpus" in flat(res.stderr) and "'new': 766" in flat(res.stderr)
    stats = json.loads(ok(cli(data, "stats", "--json")))
    assert stats["papers"] == 766 and stats["lexical_docs"] == 766
    again = cli(data, "demo")
    assert again.exit_code == 0 and f"{data} already holds 766 papers; demo corpus not loaded" in flat(again.stderr)


# -- search / show / similar / stats ------------------------------------------------------------
def test_search_prints_ranked_papers(library: Path) -> None:
    out = ok(cli(library, "search", "surface codes"))
    assert out.startswith("1 matches 1. Surface codes for quantum error correction (2401.00001)")
    assert "2024-01-02 Grace Hopper quant-ph" in out
    assert ok(cli(library, "search", "zzzzqqq")) == "No papers match."


def test_search_json_filters_and_paging(library: Path) -> None:
    res = json.loads(ok(cli(library, "search", "graph", "--json")))
    assert (res["mode"], res["total"]) == ("lexical", 2)
    assert [r["paper"]["id"] for r in res["results"]] == ["2401.00002", "2401.00003"]
    assert [r["rank"] for r in res["results"]] == [1, 2]
    page2 = json.loads(ok(cli(library, "search", "graph", "--json", "--limit", "1", "--offset", "1")))
    assert [r["rank"] for r in page2["results"]] == [2] and page2["results"][0]["paper"]["id"] == "2401.00003"
    by_cat = json.loads(ok(cli(library, "search", "", "--category", "quant-ph", "--json")))
    assert sorted(r["paper"]["id"] for r in by_cat["results"]) == ["2401.00001", "2401.00006"]
    by_author = json.loads(ok(cli(library, "search", "", "--author", "Alan Turing", "--since", "2024-01-04",
                                  "--json")))
    assert [r["paper"]["id"] for r in by_author["results"]] == ["2401.00003"]


def test_search_refuses_bad_options(library: Path) -> None:
    res = cli(library, "search", "graph", "--since", "yesterday")
    assert res.exit_code == 2 and "--since must be an ISO date" in flat(res.output)
    res = cli(library, "search", "graph", "--mode", "bm42")
    assert res.exit_code == 2 and "unknown search mode 'bm42'" in flat(res.output)


def test_search_in_semantic_mode_without_vectors_says_so(library: Path) -> None:
    res = json.loads(ok(cli(library, "search", "graph", "--mode", "semantic", "--json")))
    assert res["message"] == "Semantic index is empty (run `papersift embed`); showing lexical results."
    assert res["total"] == 2


def test_show_prints_one_paper(library: Path) -> None:
    out = ok(cli(library, "show", "2401.00002v3"))  # a version suffix finds the paper
    assert out.startswith("Graph neural networks for molecules Ada Lovelace, Alan Turing id 2401.00002")
    assert "published 2024-01-03" in out and "categories cs.LG" in out
    assert out.endswith("Message passing on molecular graphs.")
    shown = json.loads(ok(cli(library, "show", "2401.00001", "--json")))
    assert (shown["title"], shown["doi"], shown["authors"]) == (
        "Surface codes for quantum error correction", "10.1000/surface", ["Grace Hopper"])
    res = cli(library, "show", "9999.99999")
    assert res.exit_code == 1 and "no paper with id '9999.99999'" in flat(res.stderr)


def test_similar_prints_the_nearest_papers(library: Path) -> None:
    out = ok(cli(library, "similar", "2401.00002", "--limit", "2"))
    rows = re.findall(r"(\d+)\. (.+?) \((\S+)\) (\d\.\d{3})", out)
    assert [(r[0], r[2]) for r in rows[:1]] == [("1", "2401.00003")]  # the other graph paper first
    assert rows[0][1] == "Graph attention networks revisited"
    assert len(rows) == 2 and "2401.00002" not in [r[2] for r in rows]  # never the paper itself
    got = json.loads(ok(cli(library, "similar", "2401.00002", "--json")))
    assert got["id"] == "2401.00002" and got["results"][0]["paper"]["id"] == "2401.00003"
    assert "2401.00002" not in [r["paper"]["id"] for r in got["results"]]
    res = cli(library, "similar", "9999.99999")
    assert res.exit_code == 1 and "no paper with id '9999.99999'" in flat(res.stderr)


def test_stats_counts_papers_and_indexes(library: Path) -> None:
    s = json.loads(ok(cli(library, "stats", "--json")))
    assert (s["papers"], s["lexical_docs"], s["vectors"], s["vectors_pending"]) == (6, 6, 0, 6)
    assert (s["published_min"], s["published_max"]) == ("2024-01-02", "2024-01-07")
    assert s["vectors_model"] == "hashing-384" and s["index_owner"] == "nobody"
    assert s["data_dir"] == str(library) and s["sources"] == {"jsonl": 6}
    out = ok(cli(library, "stats"))
    assert "papers: 6" in out and "lexical_docs: 6" in out and "vectors_model: hashing-384" in out


# -- reindex / embed ------------------------------------------------------------------------------
def test_embed_stores_vectors_and_turns_on_hybrid_search(tmp_path: Path, store: str | None) -> None:
    data = ingested(tmp_path)
    out = ok(cli(data, "embed"))
    assert out.startswith("embedded 6 papers with hashing-384 in") and out.endswith("6 vectors in the index")
    assert ok(cli(data, "embed")).startswith("embedded 0 papers with hashing-384")
    res = json.loads(ok(cli(data, "search", "graph", "--json")))
    assert res["mode"] == "hybrid" and res["results"][0]["paper"]["id"] in ("2401.00002", "2401.00003")
    s = json.loads(ok(cli(data, "stats", "--json")))
    assert (s["vectors"], s["vectors_pending"]) == (6, 0)


def test_hybrid_search_is_honest_and_sorts_by_date(tmp_path: Path, store: str | None) -> None:
    data = ingested(tmp_path)
    ok(cli(data, "embed"))
    res = json.loads(ok(cli(data, "search", "zzqxv blorptastic", "--json")))
    assert (res["mode"], res["total"], res["results"]) == ("hybrid", 0, [])
    assert ok(cli(data, "search", "zzqxv blorptastic")) == "No papers match."
    rel = json.loads(ok(cli(data, "search", "attention", "--json")))
    new = json.loads(ok(cli(data, "search", "attention", "--sort", "date", "--json")))
    assert rel["total"] == new["total"] == len(new["results"]) >= 3 and new["sort"] == "date"
    assert {r["paper"]["id"] for r in rel["results"]} == {r["paper"]["id"] for r in new["results"]}
    days = [r["paper"]["published"] for r in new["results"]]
    assert days == sorted(days, reverse=True) and days[0] == "2024-01-06"
    res = cli(data, "search", "attention", "--sort", "oldest")
    assert res.exit_code == 2 and "unknown sort 'oldest'" in flat(res.output)
    other = ok(cli(data, "embed", "--model", "hashing-128"))
    assert other.startswith("embedded 6 papers with hashing-128")


def test_embed_with_an_unknown_model_exits_2_with_one_line(tmp_path: Path, store: str | None) -> None:
    data = ingested(tmp_path)
    res = cli(data, "embed", "--model", "no-such-model")
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 2 and "unknown embedder 'no-such-model'" in flat(res.stderr)
    assert "Traceback" not in res.output


def test_an_unknown_embedder_in_the_environment_is_one_line_for_any_command(tmp_path: Path,
                                                                           store: str | None) -> None:
    data = ingested(tmp_path)
    res = cli(data, "search", "graph", env={**ENV, "PAPERSIFT_EMBEDDER": "bogus"})
    assert res.exit_code == 2 and "unknown embedder 'bogus'" in flat(res.stderr)


def test_reindex_rebuilds_both_indexes(tmp_path: Path, store: str | None) -> None:
    data = ingested(tmp_path)
    assert ok(cli(data, "reindex")).startswith("indexed 6 papers and 0 vectors in")
    ok(cli(data, "embed"))
    assert ok(cli(data, "reindex")).startswith("indexed 6 papers and 6 vectors in")
    s = json.loads(ok(cli(data, "stats", "--json")))
    assert (s["lexical_docs"], s["vectors"]) == (6, 6)


def test_reindex_refuses_while_another_process_owns_the_indexes(tmp_path: Path, store: str | None) -> None:
    data = ingested(tmp_path)
    owner = open_engine(Settings(data_dir=data), "owner", owner="worker")
    try:
        res = cli(data, "reindex")
    finally:
        owner.close()
    assert res.exit_code == 3
    assert "the indexes are owned by worker" in flat(res.stderr) and "try again" in flat(res.stderr)
    assert ok(cli(data, "reindex")).startswith("indexed 6 papers")


# -- eval ---------------------------------------------------------------------------------------
def test_eval_prints_the_scores(tmp_path: Path, eval_url: Callable[[], list[str]]) -> None:
    coll = write_collection(tmp_path / "tiny")
    out = ok(cli(tmp_path / "unused", "eval", str(coll), "--mode", "lexical", *eval_url()))
    assert out.startswith("tiny (test): 2 queries, 5 docs, embedder -")
    assert (f"lexical {EXPECTED['nDCG@10']:.4f} {EXPECTED['recall@100']:.4f} {EXPECTED['MRR@10']:.4f} "
            f"{EXPECTED['MAP@100']:.4f}") in out
    report = json.loads(ok(cli(tmp_path / "unused", "eval", str(coll), "--mode", "lexical,semantic", "--json",
                               "--cache-dir", str(tmp_path / "cache"), *eval_url())))
    (one,) = report["collections"]
    assert one["modes"]["lexical"]["nDCG@10"] == EXPECTED["nDCG@10"] == report["mean"]["lexical"]["nDCG@10"]
    assert one["embedder"] == "hashing-384" and set(one["modes"]) == {"lexical", "semantic"}
    assert (tmp_path / "cache" / "hashing-384" / "tiny.npz").is_file()
    run = tmp_path / "run.trec"
    ok(cli(tmp_path / "unused", "eval", str(coll), "--mode", "lexical", "--run", str(run), *eval_url()))
    assert run.read_text().splitlines()[0].split()[:4] == ["q1", "Q0", "d1", "1"]


# SQLite only: several collections, each in its own SQLite file (--database-url takes one collection)
def test_eval_of_several_collections_prints_one_table_with_the_mean(tmp_path: Path) -> None:
    beir = Path(__file__).parent.parent / "fixtures" / "beir"
    runs = tmp_path / "runs"
    out = ok(cli(tmp_path / "unused", "eval", str(beir / "alpha"), str(beir / "beta"), "--mode", "lexical",
                 "--split", "beta=test", "--run", str(runs)))
    assert "alpha (dev): 2 queries, 5 docs" in out and "beta (test): 2 queries, 4 docs" in out
    assert "alpha dev lexical" in out and "beta test lexical" in out and "mean (2) lexical" in out
    assert sorted(f.name for f in runs.iterdir()) == ["alpha.dev.trec", "beta.test.trec"]
    res = cli(tmp_path / "unused", "eval", str(beir / "alpha"), "--split", "gamma=test")
    assert res.exit_code == 2 and "names no collection given (alpha)" in flat(res.stderr)
    res = cli(tmp_path / "unused", "eval", str(beir / "alpha"), str(beir / "beta"), "--split", "dev")
    assert res.exit_code == 2 and "qrels/dev.tsv is missing" in flat(res.stderr)


def test_eval_errors_exit_2(tmp_path: Path) -> None:
    res = cli(tmp_path / "unused", "eval", str(tmp_path / "missing"), "--mode", "lexical")
    assert res.exit_code == 2 and "is not a BEIR collection: corpus.jsonl is missing" in flat(res.stderr)
    coll = write_collection(tmp_path / "tiny")
    res = cli(tmp_path / "unused", "eval", str(coll), "--mode", "bm42")
    assert res.exit_code == 2 and "unknown mode(s) ['bm42']" in flat(res.stderr)


# -- db -----------------------------------------------------------------------------------------
# SQLite only: the data dir and its database file are not created by `db status`
def test_db_status_and_upgrade(tmp_path: Path) -> None:
    data = tmp_path / "data"
    head = head_revision()
    res = cli(data, "db", "status")  # the data dir does not exist: said, not created
    assert res.exit_code == 1
    assert f"revision (none), needs {head} — run `papersift db upgrade`" in flat(res.stdout)
    assert not data.exists()
    data.mkdir()
    assert cli(data, "db", "status").exit_code == 1
    assert not (data / "papersift.db").exists()
    assert ok(cli(data, "db", "upgrade")).endswith(f"migrated to schema revision {head}")
    assert ok(cli(data, "db", "upgrade")).endswith(f"already at schema revision {head}")
    assert ok(cli(data, "db", "status")).endswith(f"revision {head}, needs {head}")
    status = json.loads(ok(cli(data, "db", "status", "--json")))
    assert status == {"database": f"sqlite:///{data / 'papersift.db'}", "revision": head, "head": head,
                      "current": True}


def test_db_status_and_upgrade_on_postgresql(tmp_path: Path, pg_empty_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    monkeypatch.setenv("PAPERSIFT_DATABASE_URL", pg_empty_url)
    data, head = tmp_path / "data", head_revision()
    res = cli(data, "db", "status")  # a database without the schema: said, not migrated
    assert res.exit_code == 1
    assert f"revision (none), needs {head} — run `papersift db upgrade`" in flat(res.stdout)
    assert ok(cli(data, "db", "upgrade")).endswith(f"migrated to schema revision {head}")
    assert ok(cli(data, "db", "upgrade")).endswith(f"already at schema revision {head}")
    assert ok(cli(data, "db", "status")).endswith(f"revision {head}, needs {head}")
    status = json.loads(ok(cli(data, "db", "status", "--json")))
    safe = make_url(pg_empty_url).render_as_string(hide_password=True)
    assert status == {"database": safe, "revision": head, "head": head, "current": True}
    assert not list(tmp_path.rglob("papersift.db"))


def test_commands_on_an_old_schema_say_to_upgrade(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from alembic import command
    from alembic.config import Config

    from papersift.store.db import MIGRATIONS

    if backend == "postgres":  # a database without the schema, as a SQLite file is before its first upgrade
        monkeypatch.setenv("PAPERSIFT_DATABASE_URL", str(request.getfixturevalue("pg_empty_url")))
    data = tmp_path / "data"
    data.mkdir()
    db = Database(Settings(data_dir=data).db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
    db.close()
    res = cli(data, "stats")
    assert res.exit_code == 2
    assert f"is at schema revision 0002, this papersift needs {head_revision()}: run `papersift db upgrade`" in \
        flat(res.stderr)
    ok(cli(data, "db", "upgrade"))
    assert json.loads(ok(cli(data, "stats", "--json")))["papers"] == 0
    assert (data / "papersift.db").exists() == (backend == "sqlite")  # the CLI used this backend


# -- worker / jobs ------------------------------------------------------------------------------
def test_worker_once_indexes_and_embeds_then_jobs_lists_the_runs(tmp_path: Path, store: str | None,
                                                                  restore_signals) -> None:
    data = ingested(tmp_path)
    listed = ok(cli(data, "jobs"))
    assert "embed every 60s last never never run" in listed and "index every 5s last never never run" in listed
    res = cli(data, "worker", "--once")
    assert res.exit_code == 0, res.output
    s = json.loads(ok(cli(data, "stats", "--json")))
    assert (s["vectors"], s["vectors_pending"], s["index_owner"]) == (6, 0, "nobody")
    jobs = {j["name"]: j for j in json.loads(ok(cli(data, "jobs", "--json")))}
    assert set(jobs) == {"index", "embed"}
    assert jobs["embed"]["last_outcome"] == "ok" and jobs["embed"]["runs"] == 1
    assert jobs["embed"]["last_detail"] == "embedded 6 papers with hashing-384 (0 unchanged; done)"
    assert jobs["index"]["last_outcome"] == "ok" and jobs["index"]["runs"] == 1
    assert jobs["index"]["running_in"] is None and jobs["index"]["failures"] == 0
    text = ok(cli(data, "jobs"))
    assert re.search(r"embed every 60s last \d+s ago ok .* runs 1 \(0 failed\) embedded 6 papers", text), text


def test_jobs_run_makes_a_job_due_now(tmp_path: Path, store: str | None, restore_signals) -> None:
    data = ingested(tmp_path)
    assert ok(cli(data, "jobs", "run", "index")) == "job index is due now"  # before any worker ran
    ok(cli(data, "worker", "--once"))
    db = Database(Settings(data_dir=data).db_url)
    try:
        assert jobs_sql.get(db, "embed").next_run_at > jobs_sql.now() + timedelta(seconds=30)  # every 60 s
        assert ok(cli(data, "jobs", "run", "embed")) == "job embed is due now"
        assert jobs_sql.get(db, "embed").next_run_at <= jobs_sql.now()
    finally:
        db.close()
    res = cli(data, "jobs", "run", "harvest")
    assert res.exit_code == 1 and "no job named 'harvest'; jobs: index, embed" in flat(res.stderr)


# -- user ---------------------------------------------------------------------------------------
def test_user_create_prompts_for_the_password_and_list_shows_it(tmp_path: Path, store: str | None) -> None:
    from papersift import accounts

    data = tmp_path / "data"
    res = cli(data, "user", "create", "Alice", input="alice-password\nalice-password\n")
    assert res.exit_code == 0, res.output
    assert "created user alice" in flat(res.stdout)
    res = cli(data, "user", "create", "has space", env={"PAPERSIFT_PASSWORD": "long-enough-pw"})
    assert res.exit_code == 1 and "Usernames are 2–40 characters" in flat(res.stderr)
    listed = ok(cli(data, "user", "list"))
    assert listed.startswith("alice created ") and "(admin)" not in listed
    db = Database(Settings(data_dir=data).db_url)
    try:
        assert accounts.authenticate(db, "alice", "alice-password").username == "alice"
    finally:
        db.close()
