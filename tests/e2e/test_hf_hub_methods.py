"""Every papers method and parameter of the installed huggingface_hub, and its `hf papers` CLI,
against a live papersift holding Hugging Face daily data (issue 8). Checks every PaperInfo field
papersift knows."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.e2e.test_roundtrip import served

hf = pytest.importorskip("huggingface_hub")
RT = FIXTURES / "roundtrip"
FULL = "2502.11111"  # the fixture item with every field


pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def url(e2e_backend: str, tmp_path_factory: pytest.TempPathFactory,
        request: pytest.FixtureRequest) -> Iterator[str]:
    where = tmp_path_factory.mktemp(f"hfhub-{e2e_backend}")
    with served(where, RT / "hf_daily.json", FIXTURES / "hf" / "daily_papers_2024-10-25.json",
                RT / "hf_page.txt", backend=e2e_backend, request=request) as c:
        yield str(c.base_url).rstrip("/")


@pytest.fixture
def api(url: str, monkeypatch: pytest.MonkeyPatch):
    # see tests/e2e/test_hf_compat.py: HF_HUB_OFFLINE is read once at import and may have been set
    # by an embedder loaded earlier in this process; a papersift client is no model download
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return hf.HfApi(endpoint=url, token=False)


def test_the_installed_client_has_the_methods_and_parameters_driven_here() -> None:
    """If a new huggingface_hub adds a papers method or parameter, this says so (and the test
    below must drive it)."""
    methods = {n for n in dir(hf.HfApi) if "paper" in n and not n.startswith("_")}
    assert methods == {"list_papers", "paper_info", "read_paper", "list_daily_papers"}, methods
    params = {n: set(inspect.signature(getattr(hf.HfApi, n)).parameters) - {"self"} for n in methods}
    assert params["list_papers"] <= {"query", "limit", "token"}
    assert params["paper_info"] == {"id"} and params["read_paper"] == {"id"}
    assert params["list_daily_papers"] <= {"date", "week", "month", "submitter", "sort", "p", "limit", "token"}


def test_paper_info_fills_every_field_papersift_knows(api) -> None:
    p = api.paper_info(FULL)
    assert p.id == FULL and p.title == "Sparse Low-Rank Adapters for Every Layer"
    assert [a.name for a in p.authors] == ["Dan Alistarh", "Wei Chen"]
    assert p.published_at == datetime(2025, 2, 14, tzinfo=UTC)
    assert p.summary.startswith("We adapt every layer")
    assert p.upvotes == 42
    assert p.submitted_at == datetime(2025, 2, 17, 3, 12, 45, 123000, tzinfo=UTC)
    assert p.submitted_by.username == "akhaliq"
    assert p.comments == 7
    assert p.ai_summary == "Sparse low-rank adapters match full fine-tuning at a tenth of the memory."
    assert p.ai_keywords == ["low-rank adaptation", "sparsity", "fine-tuning"]
    assert p.organization.fullname == "Example Lab"
    assert p.project_page == "https://example.org/slora"
    assert p.github_repo == "https://github.com/example/slora" and p.github_stars == 321
    with pytest.raises(hf.errors.HfHubHTTPError) as exc:
        api.paper_info("9999.99999")
    assert exc.value.response.status_code == 404


def test_paper_info_of_an_undated_paper_has_no_date(api) -> None:
    [hit] = [p for p in api.list_papers(query="saved hugging face page") if "Saved" in p.title]
    assert hit.published_at is None and hit.submitted_at is None
    assert api.paper_info(hit.id).published_at is None


def test_list_papers_query_and_limit(api) -> None:
    got = list(api.list_papers(query="sparse low-rank adapters"))
    assert got[0].id == FULL and got[0].upvotes == 42 and got[0].comments == 7
    assert got[0].ai_keywords == ["low-rank adaptation", "sparsity", "fine-tuning"]
    assert got[0].github_stars == 321 and got[0].submitted_by.username == "akhaliq"
    assert len(list(api.list_papers(query="model", limit=3))) == 3
    assert list(api.list_papers(query="zzqxv blorptastic")) == []
    assert len(list(api.list_papers(limit=2))) == 2  # no query: the latest papers
    assert list(api.list_papers(query="contrastive loss", token=False))


def test_list_daily_papers_every_parameter(api) -> None:
    day = list(api.list_daily_papers(date="2024-10-25", limit=100))
    assert len(day) == 29 and all(p.submitted_at.date().isoformat() == "2024-10-25" for p in day)
    entry = next(p for p in day if p.id == "2410.17243")
    assert entry.upvotes == 64 and entry.comments == 3 and entry.submitted_by.username == "ClownRat"
    assert entry.published_at == datetime(2024, 10, 22, tzinfo=UTC)
    week = {p.id for p in api.list_daily_papers(week="2025-W08")}
    assert week == {FULL}
    month = {p.id for p in api.list_daily_papers(month="2024-10", limit=100)}
    assert len(month) == 29
    mine = list(api.list_daily_papers(submitter="akhaliq"))
    assert [p.id for p in mine] == [FULL]
    trending = list(api.list_daily_papers(date="2024-10-25", sort="trending", limit=5))
    assert [p.upvotes for p in trending] == sorted((p.upvotes for p in day), reverse=True)[:5]
    newest = list(api.list_daily_papers(date="2024-10-25", sort="publishedAt", limit=5))
    assert [p.submitted_at for p in newest] == sorted((p.submitted_at for p in day), reverse=True)[:5]
    page2 = list(api.list_daily_papers(date="2024-10-25", sort="trending", limit=5, p=1))
    assert len(page2) == 5 and not {p.id for p in page2} & {p.id for p in trending}
    assert list(api.list_daily_papers(date="2024-10-25", limit=1, token=False))


def test_read_paper(api) -> None:
    md = api.read_paper(FULL)
    assert md.startswith("# Sparse Low-Rank Adapters for Every Layer") and "Dan Alistarh" in md


def _hf_cli(url: str, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    hf_bin = Path(sys.executable).with_name("hf")
    env = {**os.environ, "HF_ENDPOINT": url, "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_HUB_DISABLE_UPDATE_CHECK": "1", "HOME": str(home), "HF_HOME": str(home / "hf"), "NO_COLOR": "1",
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    env.pop("HF_TOKEN", None)
    return subprocess.run([str(hf_bin), "papers", *args], capture_output=True, text=True, env=env, timeout=60,
                          check=False)


def test_hf_papers_cli(url: str, tmp_path: Path) -> None:
    if not Path(sys.executable).with_name("hf").exists():
        pytest.skip("this huggingface_hub has no `hf` CLI")
    ls = _hf_cli(url, tmp_path, "ls", "--date", "2025-02-17", "--json")
    assert ls.returncode == 0, ls.stderr
    rows = json.loads(ls.stdout)
    assert [r["id"] for r in rows] == [FULL] and rows[0]["upvotes"] == 42 and rows[0]["comments"] == 7
    ls = _hf_cli(url, tmp_path, "ls", "--month", "2024-10", "--sort", "trending", "--limit", "3", "--json")
    assert ls.returncode == 0, ls.stderr
    assert [r["upvotes"] for r in json.loads(ls.stdout)] == sorted((r["upvotes"] for r in json.loads(ls.stdout)),
                                                                  reverse=True)
    ls = _hf_cli(url, tmp_path, "ls", "--week", "2025-W08", "--submitter", "akhaliq", "--json")
    assert ls.returncode == 0 and [r["id"] for r in json.loads(ls.stdout)] == [FULL]
    found = _hf_cli(url, tmp_path, "search", "sparse low-rank adapters", "--limit", "2", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["id"] == FULL
    nothing = _hf_cli(url, tmp_path, "search", "zzqxv blorptastic", "--json")
    assert nothing.returncode == 0 and json.loads(nothing.stdout) == []
    info = _hf_cli(url, tmp_path, "info", FULL, "--json")
    assert info.returncode == 0, info.stderr
    got = json.loads(info.stdout)
    assert got["github_stars"] == 321 and got["ai_keywords"] == ["low-rank adaptation", "sparsity", "fine-tuning"]
    assert _hf_cli(url, tmp_path, "info", "9999.99999").returncode != 0
    read = _hf_cli(url, tmp_path, "read", FULL)
    assert read.returncode == 0 and "Sparse Low-Rank Adapters for Every Layer" in read.stdout
