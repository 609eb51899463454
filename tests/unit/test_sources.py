"""The polite client's rules and the OAI-PMH page parser."""

from __future__ import annotations

import email.utils
import time

import pytest

from papersift.ingest.arxiv_oai import parse_page
from papersift.models import Paper, ParseError
from papersift.sources.http import PoliteClient, SourceError, check_delay, is_loopback, retry_after, user_agent
from tests.fakes.servers import FIXTURES, FakeHf, FakeRecord, oai_envelope, oai_error


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after("120") == 120.0
    now = time.time()
    assert retry_after(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0  # in the past: at once
    assert retry_after("soon") is None and retry_after(None) is None and retry_after("") is None


def test_delay_zero_only_for_loopback() -> None:
    assert all(is_loopback(u) for u in ("http://127.0.0.1:8/oai", "http://localhost/x", "http://[::1]:80/"))
    assert not is_loopback("https://oaipmh.arxiv.org/oai") and not is_loopback("http://10.0.0.1/")
    assert check_delay("http://127.0.0.1:9/oai", 0) == 0
    assert check_delay("https://oaipmh.arxiv.org/oai", 3) == 3
    with pytest.raises(ValueError, match="loopback"):
        check_delay("https://oaipmh.arxiv.org/oai", 0)
    with pytest.raises(ValueError, match=">= 0"):
        check_delay("http://127.0.0.1/", -1)


def test_user_agent_names_papersift_and_the_contact() -> None:
    ua = user_agent("ops@example.org")
    assert ua.startswith("papersift/") and ua.endswith("(+contact: ops@example.org)")
    assert "PAPERSIFT_HARVEST_CONTACT" in user_agent(None)


def test_other_4xx_fails_at_once_without_retries() -> None:
    with FakeHf() as srv, PoliteClient(delay=0, backoff=0.01) as c:
        with pytest.raises(SourceError, match="HTTP 404"):
            c.get(f"{srv.base}/nope")
        assert len(srv.requests) == 1


def test_parse_page_records_deleted_token_and_errors() -> None:
    recs = [FakeRecord("2401.00001", "2024-01-09"), FakeRecord("2401.00002", "2024-01-11", deleted=True),
            FakeRecord("2401.00003", "2024-01-10", malformed=True)]
    body = oai_envelope("<ListRecords>" + "".join(r.xml() for r in recs)
                        + '<resumptionToken cursor="0" completeListSize="9">abc</resumptionToken></ListRecords>')
    page = parse_page(body, "test")
    assert [type(r) for r in page.records] == [Paper, ParseError]
    assert page.deleted == ["2401.00002"] and page.datestamp == "2024-01-11"
    assert (page.token, page.complete_size, page.cursor, page.error) == ("abc", 9, 0, None)
    assert "no title" in page.records[1].reason and page.records[1].location.startswith("record 3")  # type: ignore[union-attr]
    assert parse_page(oai_error("noRecordsMatch", "none"), "t").error == ("noRecordsMatch", "none")
    with pytest.raises(ParseError, match="truncated"):
        parse_page(body[:300], "test")


def test_parse_page_recorded_response() -> None:
    page = parse_page((FIXTURES / "arxiv" / "ListRecordsResponse.xml").read_bytes(), "fixture")
    assert len(page.records) == 6 and all(isinstance(r, Paper) for r in page.records)
    assert (page.token, page.complete_size, page.datestamp) == ("726959|1001", 58011, "2014-12-22")
    arxiv_format = parse_page((FIXTURES / "arxiv" / "ListRecordsArXivFormat.xml").read_bytes(), "fixture")
    assert arxiv_format.records and all(isinstance(r, Paper) for r in arxiv_format.records)


def test_parse_page_recorded_get_record() -> None:
    page = parse_page((FIXTURES / "arxiv" / "GetRecordResponse.xml").read_bytes(), "fixture")
    (paper,) = page.records
    assert isinstance(paper, Paper) and paper.arxiv_id == "1302.2146" and paper.version == 2
    assert paper.published is not None and paper.updated is not None and paper.published < paper.updated
    assert page.token is None and page.deleted == [] and page.error is None
