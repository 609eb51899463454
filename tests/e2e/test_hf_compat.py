"""The real huggingface_hub client against a live papersift (HfApi(endpoint=...))."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import HOSTILE_ID

hf = pytest.importorskip("huggingface_hub")
pytestmark = pytest.mark.backends


@pytest.fixture
def api(live, monkeypatch: pytest.MonkeyPatch):
    # huggingface_hub reads HF_HUB_OFFLINE once, at import; the torch embedder sets it (models load
    # offline), so in a process that loaded a model first the client would refuse every request.
    # A client of papersift is not a model download: it must work whatever ran before it.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return hf.HfApi(endpoint=live.url, token=False)


def test_list_papers_search(api) -> None:
    got = list(api.list_papers(query="surface codes"))
    assert got and got[0].id == "2401.00002"
    p = got[0]
    assert p.title == "Quantum Error Correction With Surface Codes"
    assert p.summary.startswith("Surface codes")
    assert [a.name for a in p.authors] == ["Grace Hopper"]
    assert p.published_at is not None and p.published_at.date().isoformat() == "2024-01-02"
    limited = list(api.list_papers(query="attention", limit=2))
    assert len(limited) == 2


def test_paper_info(api) -> None:
    p = api.paper_info("2401.00001")
    assert p.id == "2401.00001"
    assert p.title.startswith("Attention Is All You Need")
    assert [a.name for a in p.authors] == ["Ada Lovelace", "Alan Turing"]
    assert p.published_at.year == 2024
    assert p.github_repo == "https://github.com/x/y"
    with pytest.raises(hf.errors.HfHubHTTPError) as exc:
        api.paper_info("9999.99999")
    assert exc.value.response.status_code == 404


def test_list_daily_papers_by_date(api) -> None:
    day2 = {p.id for p in api.list_daily_papers(date="2024-01-02")}
    assert day2 == {"2401.00001", "2401.00002"}
    month = {p.id for p in api.list_daily_papers(month="2023-12")}
    assert len(month) == 7
    week = {p.id for p in api.list_daily_papers(week="2024-W01")}
    assert {"2401.00001", "2401.00002"} <= week


def test_submitted_paper_has_daily_fields(api) -> None:
    subs = list(api.list_daily_papers(submitter="curator"))
    assert [p.id for p in subs] == ["2401.00003"]
    assert subs[0].submitted_by.username == "curator"
    assert subs[0].submitted_at is not None


def test_list_daily_papers_trending_and_paging(api) -> None:
    trending = list(api.list_daily_papers(sort="trending", month="2023-12", limit=3))
    assert len(trending) == 3
    page2 = list(api.list_daily_papers(sort="trending", month="2023-12", limit=3, p=1))
    assert not {p.id for p in trending} & {p.id for p in page2}
    latest = list(api.list_daily_papers(sort="trending"))  # no date: the latest daily day
    assert [p.id for p in latest] == ["2401.00003"]  # submitted to the daily feed today


def test_read_paper_markdown(api) -> None:
    md = api.read_paper("2401.00002")
    assert md.startswith("# Quantum Error Correction With Surface Codes")
    assert "Grace Hopper" in md
    hostile = api.read_paper(HOSTILE_ID)
    assert "<script>" not in hostile and "<img" not in hostile
    assert "&lt;script>alert(1)&lt;/script>" in hostile  # raw HTML neutralised, the text otherwise faithful
