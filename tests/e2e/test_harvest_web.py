"""The web side of the harvesters over real HTTP: the submit form fetches an arXiv id papersift does
not hold from a fake arXiv API; /admin shows the harvests' state."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from papersift import accounts
from papersift.store import Database
from papersift.store import harvest as harvest_sql
from tests.e2e.conftest import csrf_from, http, serve, signup, unique_name
from tests.fakes.servers import FakeArxivApi

pytestmark = pytest.mark.backends


def test_submit_form_fetches_an_unknown_arxiv_id(seeded_template: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeArxivApi({"2410.17243": "Breaking the memory barrier"}) as api:
        monkeypatch.setenv("PAPERSIFT_FETCH_ON_SUBMIT", "1")
        monkeypatch.setenv("PAPERSIFT_HARVEST_ARXIV_API", f"{api.base}/api/query")
        monkeypatch.setenv("PAPERSIFT_HARVEST_DELAY", "0")
        with serve(seeded_template, tmp_path) as live, http(live.url) as client:
            who = signup(client)
            token = csrf_from(client.get("/submit").text)
            r = client.post("/submit", data={"paper": "https://arxiv.org/abs/2410.17243v1", "csrf_token": token})
            assert r.status_code == 200, r.text
            assert "Breaking the memory barrier" in r.text
            assert api.requests[0].query["id_list"] == "2410.17243"
            assert client.get("/papers/2410.17243").status_code == 200
            got = client.get("/api/v1/papers/2410.17243").json()
            assert got["submitted_by"] == who and got["title"] == "Breaking the memory barrier"
            r = client.post("/submit", data={"paper": "2410.99999", "csrf_token": token})
            assert r.status_code == 400 and "arXiv has no paper with this id" in r.text
            # the JSON API does the same (Bearer token)
            db = Database(live.settings.db_url)
            try:
                user = accounts.get_user(db, who)
                assert user is not None
                bearer = {"Authorization": f"Bearer {accounts.create_api_token(db, user)}"}
            finally:
                db.close()
            r = client.post("/api/v1/submit", headers=bearer, json={"paper": "2410.16251"})
            assert r.status_code == 404 and "arXiv has no paper with this id" in r.json()["error"]
            api.papers["2410.16251"] = "A paper fetched through the JSON API"
            r = client.post("/api/v1/submit", headers=bearer, json={"paper": "2410.16251"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["submitted"] is True and body["paper"]["title"] == "A paper fetched through the JSON API"


def test_admin_page_shows_the_harvests(live, client: httpx.Client) -> None:
    name = unique_name("admin")
    db = Database(live.settings.db_url)
    try:
        accounts.create_user(db, name, "admin-password-1", is_admin=True)
        state = harvest_sql.HarvestState("arxiv", "cs", high_water="2024-01-10", token="tok|1",
                                         endpoint="https://oaipmh.arxiv.org/oai", run_from="2024-01-10", pages=3,
                                         complete_size=5000)
        harvest_sql.write_state(db, state)
    finally:
        db.close()
    token = csrf_from(client.get("/login").text)
    assert client.post("/login", data={"username": name, "password": "admin-password-1",
                                       "csrf_token": token}).status_code == 303
    text = " ".join(client.get("/admin").text.split())
    row = re.search(r"<h2>Harvests</h2>.*?</table>", text)
    assert row, text
    assert "<td>arxiv</td><td>cs</td><td>2024-01-10</td>" in row.group(0)
    assert "page 3 of a list of 5000 records (from 2024-01-10)" in row.group(0)
