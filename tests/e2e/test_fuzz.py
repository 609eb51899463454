"""HTTP fuzz over every route of a live server: no input gives a 5xx.

* Every operation in ``/openapi.json`` (the Hugging Face–compatible API and /api/v1) through
  schemathesis: schema-valid and schema-invalid values, derandomized (a fixed sequence of examples
  per operation), a bounded number each.
* The HTML pages, feeds and forms it cannot see (``include_in_schema=False``), and every path
  parameter, with a hand list of hostile values: huge, negative, out-of-range dates, weeks and
  months, unicode, percent-encoded surrogates and invalid UTF-8, path traversal, SQL- and
  query-syntax-ish strings. Forms are posted with a valid CSRF token so the values reach the code
  behind the check.

Both stay well under a minute; the counts they print go to docs/reliability.md ("Hostile requests").
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.e2e.conftest import Live, csrf_from, http, serve

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

pytestmark = pytest.mark.backends

EXAMPLES_PER_OPERATION = 60

HOSTILE = [
    "9" * 8000, "a" * 4000, "-1", "-99999999999999999999", "99999999999999999999999", "0", "1e309", "NaN", "inf",
    "9999-12-31", "0001-01-01", "0000-00-00", "10000-01-01", "2024-02-30", "-2024-01-01", "9999-W53",
    "9999-W52", "0001-W01", "2024-W00", "2024-W99", "9999-12", "0001-01", "0000-01", "2024-13",
    "é", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u202e\u200b", "\ufeff", "😀" * 50, "%00", "%ED%A0%80", "%ED%BF%BF", "%C0%AE", "%FF%FE", "%80",
    "../../etc/passwd", "..%2F..%2Fsecret.key", "%2e%2e/%2e%2e/papersift.db", "/static/../../secret.key",
    "' OR 1=1 --", "\"; DROP TABLE papers; --", "%25", "%", "_", "*", "\\", "title:(", "AND OR NOT",
    '"unbalanced', "a~10000", "*:*", "authors:[a TO", "(((((((((((((((((((((", "^1e309", "{0}{1}", "%s%s%n",
    " ", "\t\n", "", "2401.00001", "hostile", "day", "week", "month", "trending", "publishedAt", "hybrid",
    "semantic", "lexical",
]
PAGES = {  # GET routes the schema does not show, with their query parameters
    "/": ["date", "week", "month", "sort", "page", "view"],
    "/daily": ["date", "week", "month", "sort", "page", "view"],
    "/search": ["q", "category", "author", "since", "until", "mode", "page"],
    "/daily.atom": ["date", "week", "month", "sort"],
    "/feeds/daily.xml": ["date", "week", "month", "sort"],
    "/search.atom": ["q", "category", "author", "since", "until", "mode", "limit"],
    "/login": ["next"], "/signup": ["next"], "/submit": ["paper"],
    "/about": [], "/account": [], "/admin": [], "/docs": [], "/redoc": [], "/openapi.json": [],
}
PATH_ROUTES = ["/papers/{}", "/papers/{}.md", "/authors/{}", "/users/{}", "/static/{}", "/api/papers/{}",
               "/api/v1/papers/{}", "/api/v1/papers/{}/similar", "/api/v1/{}", "/{}"]
FORMS = {  # POST routes the schema does not show, with their fields
    "/vote": ["paper_id", "action", "next"], "/submit": ["paper"], "/login": ["username", "password", "next"],
    "/signup": ["username", "password", "password2", "next"], "/logout": [], "/account/tokens": ["name"],
    "/account/tokens/revoke": ["token_id"],
}
RAW_ESCAPE = re.compile(r"(%[0-9A-Fa-f]{2}|[A-Za-z0-9._~/-])*%(%[0-9A-Fa-f]{2}|[A-Za-z0-9._~/-])*")


def url_value(v: str) -> str:
    """Deliberate percent-escapes (surrogates, invalid UTF-8, traversal) go out raw; the rest encoded."""
    return v if RAW_ESCAPE.fullmatch(v) else quote(v, safe="")


@pytest.fixture(scope="module")
def fuzz_live(seeded_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with serve(seeded_template, tmp_path_factory.mktemp("fuzz")) as lv:
        yield lv


def test_api_operations_never_answer_5xx(fuzz_live: Live) -> None:
    """Each operation of /openapi.json, with schema-valid (positive) and schema-invalid (negative)
    cases: EXAMPLES_PER_OPERATION of each, derandomized."""
    from schemathesis.generation.modes import GenerationMode

    api = schemathesis.openapi.from_url(fuzz_live.url + "/openapi.json")
    failures: list[str] = []
    calls = 0
    operations = [result.ok() for result in api.get_all_operations()]
    t0 = time.perf_counter()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None,
                                 database=None, suppress_health_check=list(hypothesis.HealthCheck),
                                 phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                nonlocal calls
                calls += 1
                response = case.call(timeout=20)
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} {case.query!r:.120}: "
                                    f"{response.status_code} {response.text[:200]}")

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # nothing in it can be made invalid
    print(f"\nschemathesis: {calls} requests over {len(operations)} operations "
          f"in {time.perf_counter() - t0:.1f} s, {len(failures)} 5xx")
    assert len(operations) >= 12
    assert not failures, "\n".join(failures[:20])


def check(c: httpx.Client, method: str, url: str, failures: list[str], **kw) -> None:
    try:
        r = c.request(method, url, **kw)
    except httpx.HTTPError as e:  # a dropped connection is as bad as a 500
        failures.append(f"{method} {url[:120]}: {e!r}")
        return
    if r.status_code >= 500:
        failures.append(f"{method} {url[:120]} {kw.get('data', '')!s:.80}: {r.status_code} {r.text[:200]}")


def test_pages_feeds_and_forms_never_answer_5xx(fuzz_live: Live) -> None:
    failures: list[str] = []
    tried = 0
    t0 = time.perf_counter()
    with http(fuzz_live.url) as c:
        for path, params in PAGES.items():
            check(c, "GET", path, failures)
            tried += 1
            for p in params:
                for v in HOSTILE:
                    check(c, "GET", f"{path}?{p}={url_value(v)}", failures)
                    tried += 1
        for template in PATH_ROUTES:
            for v in HOSTILE:
                if v:
                    check(c, "GET", template.format(url_value(v)), failures)
                    tried += 1
        for logged_in in (False, True):
            if logged_in:
                token = csrf_from(c.get("/signup").text)
                c.post("/signup", data={"username": "fuzzer", "password": "fuzz-password-1",
                                        "password2": "fuzz-password-1", "csrf_token": token})
            token = csrf_from(c.get("/submit" if logged_in else "/signup").text)
            for path, fields in FORMS.items():
                if path == "/logout":
                    continue  # would end the session the next forms need; posted last
                for field in fields:
                    for v in HOSTILE:
                        value = v.replace("%00", "\x00")
                        check(c, "POST", path, failures, data={"csrf_token": token, field: value})
                        tried += 1
            for v in ("", "forged", "\x00", "é" * 100):
                check(c, "POST", "/logout", failures, data={"csrf_token": v})
                tried += 1
        # hostile cookies, credentials and Host headers on a page, a form and an API write
        for v in HOSTILE:
            ascii_v = quote(v, safe="")[:4000] or "x"
            for name, value in (("papersift_session", ascii_v), ("papersift_csrf", ascii_v)):
                with http(fuzz_live.url) as fresh:
                    fresh.cookies.set(name, value)
                    check(fresh, "GET", "/daily", failures)
                    check(fresh, "POST", "/vote", failures, data={"paper_id": "2401.00001", "csrf_token": v[:100]})
                    tried += 2
            for header, value in (("Authorization", "Bearer " + ascii_v), ("Authorization", ascii_v),
                                  ("X-CSRF-Token", ascii_v), ("Host", ascii_v[:200])):
                check(c, "POST", "/api/v1/papers/2401.00001/upvote", failures, headers={header: value})
                check(c, "GET", "/papers/2401.00001.md", failures, headers={header: value})
                tried += 2
    took = time.perf_counter() - t0
    print(f"\nHTML/feeds/forms fuzz: {tried} requests over {len(PAGES) + len(PATH_ROUTES) + len(FORMS)} routes "
          f"in {took:.1f} s, {len(failures)} 5xx")
    assert not failures, "\n".join(failures[:20])
