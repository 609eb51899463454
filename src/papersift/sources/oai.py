"""arXiv OAI-PMH: ``ListRecords`` pages, following resumption tokens.

arXiv's OAI-PMH base URL moved in 2025 from ``http://export.arxiv.org/oai2`` to
``https://oaipmh.arxiv.org/oai`` (https://info.arxiv.org/help/oa/index.html); it serves the
``arXivRaw`` (all versions, their dates) and ``arXiv`` metadata formats, sets such as ``cs``,
``math``, ``physics:hep-th``, day granularity, and asks harvesters to wait between requests.

``list_records`` yields one parsed ``OaiPage`` per response; the caller commits each page (and the
token to go on with) before asking for the next, so a kill resumes from the last committed page.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date

from papersift.ingest.arxiv_oai import OaiPage, parse_page
from papersift.models import ParseError
from papersift.sources.http import BadBody, PoliteClient, SourceError

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://oaipmh.arxiv.org/oai"
FORMATS = ("arXivRaw", "arXiv")


class OaiError(SourceError):
    """An OAI-PMH error answer other than noRecordsMatch (badArgument, cannotDisseminateFormat, ...)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"OAI-PMH error {code}: {message}")


class BadResumptionToken(OaiError):
    """The resumption token expired or is unknown: the list must be started again."""


def _check(body: bytes) -> None:
    try:
        parse_page(body, "OAI-PMH response")
    except ParseError as e:
        raise BadBody(e.reason) from None


def fetch_page(client: PoliteClient, endpoint: str, params: dict[str, str]) -> OaiPage:
    """One ListRecords request; a truncated or malformed body is fetched again (client retries)."""
    got = client.get(endpoint, params=params, check=_check)
    return parse_page(got.content, f"{endpoint}?{'&'.join(f'{k}={v}' for k, v in params.items())}")


def list_records(client: PoliteClient, endpoint: str = DEFAULT_ENDPOINT, *, prefix: str = "arXivRaw",
                 from_: date | str | None = None, until: date | str | None = None, set_spec: str | None = None,
                 token: str | None = None) -> Iterator[OaiPage]:
    """Yield the pages of one ListRecords list, from its start or from ``token``.

    noRecordsMatch yields one empty page (nothing to do). badResumptionToken raises
    BadResumptionToken; any other OAI-PMH error raises OaiError."""
    if prefix not in FORMATS:
        raise ValueError(f"metadata format must be one of {', '.join(FORMATS)}, not {prefix!r}")
    while True:
        if token:
            params = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": prefix}
            if from_:
                params["from"] = str(from_)
            if until:
                params["until"] = str(until)
            if set_spec:
                params["set"] = set_spec
        page = fetch_page(client, endpoint, params)
        if page.error is not None:
            code, message = page.error
            if code == "noRecordsMatch":
                yield page
                return
            if code == "badResumptionToken":
                raise BadResumptionToken(code, message)
            raise OaiError(code, message)
        yield page
        if not page.token:
            return
        token = page.token
