"""The JSON API's OpenAPI contract (issue 8): a response model on every JSON endpoint, documented
error bodies that are what the server returns, a Bearer scheme for tokens, enums for sort and
mode, strict paths."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.backends
JSON_PREFIXES = ("/api/v1/", "/api/papers", "/api/daily_papers")


@pytest.fixture(scope="module")
def spec(live) -> dict[str, Any]:
    with httpx.Client(base_url=live.url, trust_env=False) as c:
        return c.get("/openapi.json").json()


def _ops(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        if path.startswith(JSON_PREFIXES):
            for method, op in item.items():
                yield path, method, op


def _param(op: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in op["parameters"] if p["name"] == name)


def _enum(spec: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    for s in [schema, *schema.get("anyOf", [])]:
        if "$ref" in s:
            s = spec["components"]["schemas"][s["$ref"].rsplit("/", 1)[1]]
        if "enum" in s:
            return s["enum"]
    raise AssertionError(f"no enum in {schema}")


def test_every_json_endpoint_has_a_response_model_and_error_bodies(spec) -> None:
    ops = list(_ops(spec))
    assert len(ops) >= 11
    for path, method, op in ops:
        success = {code: resp for code, resp in op["responses"].items() if code.startswith("2")}
        if set(success) == {"204"}:  # a DELETE that answers 204 No Content: no JSON body to describe
            assert "content" not in success["204"], (path, method)
        else:
            assert "200" in success, (path, method)
        for code, resp in success.items():  # 200, and 201 where a POST creates something
            if code != "204":
                schema = resp["content"]["application/json"]["schema"]
                assert "$ref" in schema or (schema.get("type") == "array" and "$ref" in schema["items"]), \
                    (path, method, code)
        for code, resp in op["responses"].items():
            if code.startswith(("4", "5")):
                assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert spec["components"]["schemas"]["ErrorBody"]["required"] == ["error"]


def test_bearer_scheme_and_enums(spec) -> None:
    scheme = spec["components"]["securitySchemes"]["APIToken"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer") and "Bearer" in scheme["description"]
    for path, method in (("/api/v1/me", "get"), ("/api/v1/submit", "post"),
                         ("/api/v1/papers/{paper_id}/upvote", "post"), ("/api/v1/papers/{paper_id}/upvote", "delete")):
        op = spec["paths"][path][method]
        assert op["security"] == [{"APIToken": []}] and "401" in op["responses"], (path, method)
    search = spec["paths"]["/api/v1/search"]["get"]
    assert _enum(spec, _param(search, "sort")["schema"]) == ["relevance", "date"]
    assert _enum(spec, _param(search, "mode")["schema"]) == ["lexical", "semantic", "hybrid"]
    assert _enum(spec, _param(spec["paths"]["/api/daily_papers"]["get"], "sort")["schema"]) == \
        ["trending", "publishedAt"]
    assert _enum(spec, _param(spec["paths"]["/api/papers/search"]["get"], "sort")["schema"]) == ["relevance", "date"]


@pytest.mark.parametrize("method, path, params, code", [
    ("GET", "/api/v1/search", {"q": "x", "since": "yesterday"}, 400),
    ("GET", "/api/daily_papers", {"week": "2024-W99"}, 400),
    ("GET", "/api/v1/me", {}, 401),
    ("POST", "/api/v1/papers/2401.00001/upvote", {}, 401),
    ("GET", "/api/v1/papers/9999.99999", {}, 404),
    ("GET", "/api/papers/0704.0001/repos", {}, 404),
    ("GET", "/api/papers/2401.00001/repos", {}, 404),
    ("GET", "/api/v1/papers/2401.00001/anything", {}, 404),
    ("GET", "/api/v1/nowhere", {}, 404),
    ("GET", "/api/v1/search", {"q": "x", "limit": 0}, 422),
    ("GET", "/api/v1/search", {"q": "x", "sort": "bogus"}, 422),
    ("GET", "/api/v1/search", {"q": "x", "mode": "bogus"}, 422),
    ("GET", "/api/daily_papers", {"sort": "bogus"}, 422),
])
def test_error_bodies_are_the_documented_shape(client: httpx.Client, spec, method: str, path: str,
                                               params: dict[str, Any], code: int) -> None:
    r = client.request(method, path, params=params)
    assert r.status_code == code, r.text
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    if code == 401:
        assert r.headers["www-authenticate"] == "Bearer"


def test_strict_paths_still_accept_every_form_of_a_real_id(client: httpx.Client) -> None:
    for pid in ("2401.00001", "2401.00001v1", "arXiv:2401.00001"):
        assert client.get(f"/api/papers/{pid}").json()["id"] == "2401.00001", pid
        assert client.get(f"/api/v1/papers/{pid}").json()["id"] == "2401.00001", pid
    assert client.get("/api/v1/papers/2401.00001/similar").status_code == 200
