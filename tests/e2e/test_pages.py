"""Pages, empty states, 404s, feeds and the /api/v1 endpoints of a live server."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.conftest import csrf_from, signup, unique_name

pytestmark = pytest.mark.backends


def test_daily_page_by_day_week_month(client: httpx.Client) -> None:
    r = client.get("/daily", params={"date": "2024-01-02"})
    assert r.status_code == 200
    assert "Quantum Error Correction" in r.text and "Attention Is All You Need" in r.text
    assert "2 papers" in r.text
    assert 'rel="prev"' in r.text and 'rel="next"' in r.text
    week = client.get("/daily", params={"week": "2024-W01"}).text
    assert "Hostile title" in week and "Quantum Error" in week
    month = client.get("/daily", params={"month": "2023-12", "sort": "publishedAt"}).text
    assert month.index("Filler paper 7") < month.index("Filler paper 1 ")


def test_home_is_latest_day(client: httpx.Client) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "Retrieval Augmented Generation" in r.text  # submitted today


def test_empty_day_links_to_nearest(client: httpx.Client) -> None:
    r = client.get("/daily", params={"date": "2024-01-03"})
    assert r.status_code == 200
    assert "No papers on" in r.text
    assert "/papers/date/2024-01-02" in r.text  # the nearest day with papers, in the HF URL layout


def test_bad_dates_are_400(client: httpx.Client) -> None:
    assert client.get("/daily", params={"date": "2024-13-40"}).status_code == 400
    assert client.get("/api/daily_papers", params={"week": "nope"}).json()["error"].startswith("week")


def test_search_page(client: httpx.Client) -> None:
    r = client.get("/search", params={"q": "attention"})
    assert r.status_code == 200 and "results" in r.text
    assert "<mark>Attention</mark>" in r.text
    r = client.get("/search", params={"q": "attention", "category": "cs.CL"})
    assert "1 result" in r.text and "Retrieval Augmented" in r.text
    r = client.get("/search", params={"author": "Alan Turing"})
    assert "2 results" in r.text
    r = client.get("/search", params={"q": "zzzzqqq"})
    assert "No papers match" in r.text
    r = client.get("/search", params={"q": "attention", "mode": "bogus"})
    assert r.status_code == 200 and "not available" in r.text


def result_ids(html: str) -> list[str]:
    return re.findall(r'<h3 class="title[^"]*"><a href="/papers/([^"]+)">', html)


def test_search_pagination(client: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from papersift.web import pages

    everything = client.get("/search", params={"q": "attention"}).text
    assert "10 results" in everything and 'rel="next"' not in everything  # one page of 25
    assert len(result_ids(everything)) == 10
    monkeypatch.setattr(pages, "PAGE_SIZE", 4)  # the server runs in this process
    seen: list[str] = []
    for page, (prev, nxt, n) in enumerate([(False, True, 4), (True, True, 4), (True, False, 2)],
                                          start=1):
        r = client.get("/search", params={"q": "attention", "page": page})
        assert r.status_code == 200 and "10 results" in r.text and f"Page {page} of 3" in r.text
        assert ('rel="prev"' in r.text, 'rel="next"' in r.text) == (prev, nxt)
        ids = result_ids(r.text)
        assert len(ids) == n
        seen += ids
    assert seen == result_ids(everything)  # the pages cut one ranking into disjoint slices
    beyond = client.get("/search", params={"q": "attention", "page": 4})
    assert beyond.status_code == 200 and result_ids(beyond.text) == []
    assert "Page 4 is past the end; the search has 10 papers" in " ".join(beyond.text.split())


def test_paper_page(client: httpx.Client) -> None:
    r = client.get("/papers/2401.00001")
    assert r.status_code == 200
    for text in ("Attention Is All You Need", 'href="/authors/Ada%20Lovelace"', "https://arxiv.org/pdf/2401.00001",
                 "https://github.com/x/y", "Abstract", "upvote"):
        assert text in r.text or text.lower() in r.text.lower()


def test_author_page(client: httpx.Client) -> None:
    r = client.get("/authors/Alan Turing")
    assert r.status_code == 200 and "2 papers" in r.text
    assert "No papers by this author" in client.get("/authors/Nobody Atall").text


def test_404s(client: httpx.Client) -> None:
    r = client.get("/papers/9999.99999")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    r = client.get("/api/papers/9999.99999")
    assert r.status_code == 404 and r.json() == {"error": "Paper '9999.99999' not found"}
    assert client.get("/api/v1/papers/9999.99999").json()["error"]
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/api/v1/nothing").json()["error"].startswith("no such endpoint")


def test_about_and_docs(client: httpx.Client) -> None:
    assert "Papers" in client.get("/about").text
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/daily_papers" in spec["paths"] and "/api/v1/search" in spec["paths"]


def test_api_v1_search_and_daily(client: httpx.Client) -> None:
    r = client.get("/api/v1/search", params={"q": "attention", "category": "cs.LG", "limit": 3}).json()
    assert r["total"] >= 2 and len(r["results"]) == 3 and r["mode"] == "lexical"
    assert client.get("/api/v1/search", params={"q": "x", "mode": "bogus"}).status_code == 422  # an enum
    assert client.get("/api/v1/search", params={"q": "x", "since": "yesterday"}).status_code == 400
    d = client.get("/api/v1/daily", params={"date": "2024-01-02"}).json()
    assert d["total"] == 2 and d["period"]["kind"] == "day"
    assert client.get("/api/v1/papers/2401.00002").json()["daily_date"] == "2024-01-02"


def test_submit_flow(fresh_client: httpx.Client) -> None:
    client = fresh_client
    before = client.get("/api/v1/daily", params={"month": "2023-12"}).json()["total"]
    name = signup(client)
    token = csrf_from(client.get("/submit").text)
    r = client.post("/submit", data={"paper": "https://arxiv.org/abs/2312.00004", "csrf_token": token})
    assert r.status_code == 200 and "Submitted" in r.text
    p = client.get("/api/v1/papers/2312.00004").json()
    assert p["submitted_by"] == name and p["submitted_on_daily_at"]
    r = client.post("/submit", data={"paper": "2501.99999", "csrf_token": token})
    assert r.status_code == 400 and "ingest it first" in r.text
    assert "2312.00004" in client.get(f"/users/{name}").text
    # its daily date is now today: it left December's feed
    assert client.get("/api/v1/daily", params={"month": "2023-12"}).json()["total"] == before - 1


def test_trending_order_follows_votes(fresh_client: httpx.Client) -> None:
    client = fresh_client
    month = {"month": "2023-12"}
    unvoted = [p["id"] for p in client.get("/api/v1/daily", params=month).json()["papers"]]
    assert unvoted[0] == "2312.00007"  # no votes yet: the newest first
    signup(client)
    token = csrf_from(client.get("/daily?month=2023-12").text)
    r = client.post("/vote", data={"paper_id": "2312.00002", "action": "up", "csrf_token": token})
    assert r.status_code == 303
    ids = [p["id"] for p in client.get("/api/v1/daily", params=month).json()["papers"]]
    assert ids[0] == "2312.00002"
    assert ids[1:] == [i for i in unvoted if i != "2312.00002"]


def test_similar_papers(client: httpx.Client) -> None:
    """No vectors in this data dir: similar papers come from BM25 on the paper's title and abstract."""
    r = client.get("/api/v1/papers/2312.00003/similar", params={"k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "2312.00003"
    # the other sparse-attention-kernel fillers, tied on score, broken by id; never the paper itself
    assert [s["id"] for s in body["similar"]] == ["2312.00001", "2312.00002", "2312.00004"]
    assert all(0 < s["score"] <= 1 for s in body["similar"])
    page = client.get("/papers/2312.00003").text
    assert "Similar papers" in page
    assert all(f'href="/papers/{i}"' in page for i in ("2312.00001", "2312.00002", "2312.00004"))
    assert client.get("/api/v1/papers/9999.99999/similar").status_code == 404


def test_admin_page_is_for_admins_only(client: httpx.Client, live) -> None:
    from papersift import accounts
    from papersift.store import Database

    r = client.get("/admin")
    assert r.status_code == 401 and "Log in to see this page." in r.text
    signup(client)
    r = client.get("/admin")
    assert r.status_code == 403 and "Only administrators can see this page." in r.text
    name = unique_name("admin")
    db = Database(live.settings.db_url)  # as `papersift user create --admin` would
    try:
        accounts.create_user(db, name, "admin-password-1", is_admin=True)
    finally:
        db.close()
    with httpx.Client(base_url=live.url, trust_env=False) as admin:
        token = csrf_from(admin.get("/login").text)
        r = admin.post("/login", data={"username": name, "password": "admin-password-1", "csrf_token": token})
        assert r.status_code == 303
        r = admin.get("/admin")
        assert r.status_code == 200 and 'href="/admin" aria-current="page">Admin</a>' in r.text
        text = " ".join(r.text.split())
        assert "<dt>Index owner</dt><dd>nobody</dd>" in text
        assert "<dt>Lexical index</dt><dd>11 papers (change 1)</dd>" in text
        assert "<dt>Vector index</dt><dd>0 vectors (" in text
        jobs = re.findall(r"<tr> <td>(\w+)</td>", text)
        assert jobs == ["embed", "index"] and text.count("<td>never</td>") == 2
        assert "None yet." in text  # no worker has run a job in this data dir
