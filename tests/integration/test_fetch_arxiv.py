"""`papersift fetch arxiv` and the submit form's fetch of an unknown arXiv id, against a fake arXiv API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from papersift import accounts
from papersift.accounts.community import arxiv_fetcher
from papersift.config import Settings
from papersift.engine import Engine
from tests.conftest import backend_database_url
from tests.fakes.servers import FakeArxivApi

PAPERSIFT = str(Path(sys.executable).with_name("papersift"))
pytestmark = pytest.mark.backends



def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERSIFT_HARVEST_DELAY": "0", "PAPERSIFT_DATA": str(tmp_path / "d"), "COLUMNS": "200"}
    return subprocess.run([PAPERSIFT, *args], env=env, capture_output=True, text=True, timeout=120)


def test_fetch_by_ids_and_query(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    backend_database_url(backend, request, monkeypatch)
    with FakeArxivApi({"2410.17243": "Breaking the memory barrier", "2410.16251": "Another fetched paper"}) as api:
        r = cli(tmp_path, "fetch", "arxiv", "2410.17243", "https://arxiv.org/abs/2410.16251v2", "--endpoint",
                f"{api.base}/api/query", "--json")
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        assert (got["new"], got["rejected"]) == (2, 0)
        assert api.requests[0].query["id_list"] == "2410.17243,2410.16251"
        assert api.requests[0].user_agent.startswith("papersift/")
        missing = cli(tmp_path, "fetch", "arxiv", "2410.99999", "--endpoint", f"{api.base}/api/query")
        assert missing.returncode == 1 and "arXiv has no paper with this id" in " ".join(missing.stderr.split())
        q = cli(tmp_path, "fetch", "arxiv", "--query", "au:del_maestro", "--max-results", "10", "--endpoint",
                f"{api.base}/api/query", "--json")
        assert q.returncode == 0, q.stderr
        assert json.loads(q.stdout)["new"] == 10
        sq = [r.query for r in api.requests if "search_query" in r.query]
        assert sq[0]["search_query"] == "au:del_maestro" and sq[0]["max_results"] == "10"
        bad = cli(tmp_path, "fetch", "arxiv", "not-an-id")
        assert bad.returncode == 2 and "not an arXiv id" in " ".join(bad.stderr.split())
    shown = cli(tmp_path, "show", "2410.17243", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["title"] == "Breaking the memory barrier"
    assert (tmp_path / "d" / "papersift.db").exists() == (backend == "sqlite")  # the CLI used this backend


def test_submitting_an_unknown_arxiv_id_fetches_it(engine: Engine, settings: Settings) -> None:
    user = accounts.create_user(engine.db, "submitter", "a long enough password")
    with FakeArxivApi({"2410.17243": "Breaking the memory barrier"}) as api:
        settings.fetch_on_submit = True
        settings.arxiv_api_endpoint = f"{api.base}/api/query"
        settings.harvest_delay = 0.0
        fetch = arxiv_fetcher(engine.store, settings)
        assert fetch is not None
        p, new = accounts.submit_paper(engine.store, user, "https://arxiv.org/abs/2410.17243", fetch=fetch)
        assert new and p.arxiv_id == "2410.17243" and p.submitted_by == "submitter"
        assert p.title == "Breaking the memory barrier"
        with pytest.raises(accounts.AccountError, match="arXiv has no paper with this id"):
            accounts.submit_paper(engine.store, user, "2410.99999", fetch=fetch)
        assert len(api.requests) == 2
        again, new2 = accounts.submit_paper(engine.store, user, "2410.17243", fetch=fetch)
        assert not new2 and again.pk == p.pk and len(api.requests) == 2  # held now: no request
    settings.fetch_on_submit = False
    assert arxiv_fetcher(engine.store, settings) is None
    with pytest.raises(accounts.AccountError, match="ingest it first"):
        accounts.submit_paper(engine.store, user, "2410.55555", fetch=None)
