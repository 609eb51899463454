"""Escaping, CSRF, sessions, API auth, vote idempotence and login rate limiting on a live server."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx
import pytest

from tests.e2e.conftest import HOSTILE, HOSTILE_ID, csrf_from, signup, unique_name

pytestmark = pytest.mark.backends

RAW = ("<script>alert(1)</script>", "<img src=x", '"onerror=alert(1)')


def assert_escaped(text: str) -> None:
    for raw in RAW:
        assert raw not in text, f"unescaped {raw!r}"


def test_hostile_paper_escaped_in_pages(client: httpx.Client) -> None:
    for url in (f"/papers/{HOSTILE_ID}", "/daily?date=2024-01-05", "/search?q=hostile",
                "/search?q=alert", "/authors/Mallory", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert_escaped(r.text)
    page = client.get(f"/papers/{HOSTILE_ID}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;onerror=alert(1)" in page or "&quot;onerror=alert(1)" in page


def test_highlight_is_safe(client: httpx.Client) -> None:
    r = client.get("/search", params={"q": "hostile script"})
    assert "<mark>Hostile</mark>" in r.text
    assert "&lt;<mark>script</mark>&gt;" in r.text
    assert_escaped(r.text)


def test_hostile_paper_escaped_in_feeds_and_markdown(client: httpx.Client) -> None:
    for url in ("/daily.atom?date=2024-01-05", "/feeds/daily.xml?date=2024-01-05", "/search.atom?q=hostile"):
        r = client.get(url)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/atom+xml")
        # in XML text a bare quote is harmless; markup characters must be escaped
        assert "<script>" not in r.text and "<img" not in r.text
        root = ET.fromstring(r.content)  # well-formed XML
        assert not [e for e in root.iter() if e.tag.split("}")[-1] in ("script", "img")]
        titles = [e.text for e in root.iter("{http://www.w3.org/2005/Atom}title")]
        assert any(t and HOSTILE in t for t in titles)  # the text survives, as text
    md = client.get(f"/papers/{HOSTILE_ID}.md").text  # faithful text: only raw HTML is neutralised
    assert "<script" not in md and "<img" not in md
    assert "&lt;script>alert(1)&lt;/script>" in md and "&lt;img src=x onerror=alert(1)>" in md


def test_json_carries_raw_text(client: httpx.Client) -> None:
    assert HOSTILE in client.get(f"/api/papers/{HOSTILE_ID}").json()["title"]
    assert client.get(f"/api/papers/{HOSTILE_ID}").headers["content-type"].startswith("application/json")


def test_security_headers(client: httpx.Client) -> None:
    r = client.get("/daily")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_post_without_csrf_is_refused(fresh_client: httpx.Client) -> None:
    client = fresh_client
    signup(client)
    r = client.post("/vote", data={"paper_id": "2401.00001", "action": "up"})
    assert r.status_code == 403
    r = client.post("/vote", data={"paper_id": "2401.00001", "action": "up", "csrf_token": "forged"})
    assert r.status_code == 403
    r = client.post("/logout", data={})
    assert r.status_code == 403
    assert client.get("/account").status_code == 200  # still logged in
    assert client.get("/api/papers/2401.00001").json()["upvotes"] == 0


def test_login_form_needs_csrf(live) -> None:
    with httpx.Client(base_url=live.url, trust_env=False) as c:
        r = c.post("/login", data={"username": "curator", "password": "curator-password"})
        assert r.status_code == 403


def test_post_without_session_is_refused(fresh_client: httpx.Client) -> None:
    client = fresh_client
    token = csrf_from(client.get("/daily?date=2024-01-02").text)  # anonymous CSRF token
    r = client.post("/vote", data={"paper_id": "2401.00002", "action": "up", "csrf_token": token})
    assert r.status_code == 401
    r = client.post("/submit", data={"paper": "2401.00002", "csrf_token": token})
    assert r.status_code == 401
    assert client.get("/api/papers/2401.00002").json()["upvotes"] == 0


def test_upvote_twice_counts_once(fresh_client: httpx.Client) -> None:
    client = fresh_client
    signup(client)
    token = csrf_from(client.get("/papers/2401.00001").text)
    before = client.get("/api/papers/2401.00001").json()["upvotes"]
    assert before == 0
    for _ in range(2):
        r = client.post("/vote", data={"paper_id": "2401.00001", "action": "up", "csrf_token": token},
                        headers={"Accept": "application/json"})
        assert r.status_code == 200
        assert r.json() == {"id": "2401.00001", "upvotes": before + 1, "total": before + 1, "upvoted": True}
    r = client.post("/vote", data={"paper_id": "2401.00001", "action": "down", "csrf_token": token},
                    headers={"Accept": "application/json"})
    assert r.json()["upvotes"] == before and r.json()["upvoted"] is False


def test_api_writes_need_auth(fresh_client: httpx.Client) -> None:
    client = fresh_client
    assert client.post("/api/v1/papers/2401.00001/upvote").status_code == 401
    assert client.delete("/api/v1/papers/2401.00001/upvote").status_code == 401
    r = client.post("/api/v1/submit", json={"paper": "2401.00001"})
    assert r.status_code == 401 and "error" in r.json()
    r = client.post("/api/v1/papers/2401.00001/upvote", headers={"Authorization": "Bearer ps_nope"})
    assert r.status_code == 401
    signup(client)  # a session cookie alone (no X-CSRF-Token) is not enough for the API
    assert client.post("/api/v1/papers/2401.00001/upvote").status_code == 401
    assert client.get("/api/papers/2401.00001").json()["upvotes"] == 0
    assert client.get("/api/v1/papers/2401.00001").json()["submitted_by"] is None


def test_api_token_flow(fresh_client: httpx.Client) -> None:
    client = fresh_client
    signup(client)
    token = csrf_from(client.get("/account").text)
    r = client.post("/account/tokens", data={"name": "ci", "csrf_token": token})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    api_token = r.text.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert api_token.startswith("ps_")
    assert api_token not in client.get("/account").text  # shown once
    h = {"Authorization": f"Bearer {api_token}"}
    with httpx.Client(base_url=str(client.base_url), trust_env=False) as bare:
        assert bare.get("/api/v1/me", headers=h).status_code == 200
        r1 = bare.post("/api/v1/papers/2401.00002/upvote", headers=h).json()
        r2 = bare.post("/api/v1/papers/2401.00002/upvote", headers=h).json()
        assert r1 == r2 and r1["upvoted"] is True
        assert bare.delete("/api/v1/papers/2401.00002/upvote", headers=h).json()["upvoted"] is False
        r = bare.post("/api/v1/submit", headers=h, json={"paper": "https://arxiv.org/abs/9912.99999"})
        assert r.status_code == 404 and "ingest it first" in r.json()["error"]


def test_login_rate_limit(live) -> None:
    name = unique_name("victim")
    with httpx.Client(base_url=live.url, trust_env=False) as c:
        signup(c, name, "the-right-password")
    with httpx.Client(base_url=live.url, trust_env=False) as c:
        token = csrf_from(c.get("/login").text)
        codes = [c.post("/login", data={"username": name, "password": f"wrong{i}", "csrf_token": token}
                        ).status_code for i in range(6)]
        assert codes[:5] == [401] * 5 and codes[5] == 429
        r = c.post("/login", data={"username": name, "password": "the-right-password", "csrf_token": token})
        assert r.status_code == 429  # even the right password waits
        assert "papersift_session" not in r.cookies


def test_session_cookie_flags(live) -> None:
    with httpx.Client(base_url=live.url, trust_env=False) as c:
        token = csrf_from(c.get("/signup").text)
        name = unique_name()
        r = c.post("/signup", data={"username": name, "password": "pw-123456", "password2": "pw-123456",
                                    "csrf_token": token})
        cookie = r.headers["set-cookie"]
        assert "papersift_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace(
            "Lax", "lax")


def test_open_redirect_blocked(live) -> None:
    with httpx.Client(base_url=live.url, trust_env=False) as c:
        token = csrf_from(c.get("/signup").text)
        r = c.post("/signup", data={"username": unique_name(), "password": "pw-123456", "password2": "pw-123456",
                                    "csrf_token": token, "next": "//evil.example/"})
        assert r.headers["location"] == "/"
