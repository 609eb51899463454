"""The arXiv export API (Atom): papers by id, or by a search query, with paging.

``https://export.arxiv.org/api/query?id_list=...`` / ``?search_query=...&start=&max_results=``
(https://info.arxiv.org/help/api/user-manual.html). arXiv asks for 3 s between calls, which the
polite client keeps. Entries are read with the Atom importer (ingest/arxiv_atom.py); an API error
entry comes back as a ParseError.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from lxml import etree

from papersift.ingest import arxiv_atom
from papersift.ingest.base import Record
from papersift.ingest.common import safe_parser
from papersift.models import Paper, split_arxiv_id
from papersift.sources.http import BadBody, PoliteClient

DEFAULT_ENDPOINT = "https://export.arxiv.org/api/query"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
ID_CHUNK = 50  # ids per request
PAGE = 100  # entries per search request (arXiv allows up to 2,000; smaller pages are kinder)


@dataclass
class ApiPage:
    records: list[Record]
    total: int | None  # opensearch:totalResults
    start: int


def _check(body: bytes) -> None:
    try:
        root = etree.fromstring(body, safe_parser())
    except etree.XMLSyntaxError as e:
        raise BadBody(f"malformed or truncated Atom: {e}") from None
    if root is None or root.tag != f"{arxiv_atom.ATOM}feed":
        raise BadBody("not an Atom feed")


def parse(body: bytes, source: str, start: int = 0) -> ApiPage:
    root = etree.fromstring(body, safe_parser())
    total_el = root.find(f"{OPENSEARCH}totalResults")
    total = int(total_el.text) if total_el is not None and (total_el.text or "").strip().isdigit() else None
    records = list(arxiv_atom.parse_stream(io.BytesIO(body), body[:4096], source))
    return ApiPage(records, total, start)


def normalize_ids(ids: list[str]) -> tuple[list[str], list[str]]:
    """(arXiv ids found, inputs that hold none)."""
    good: list[str] = []
    bad: list[str] = []
    for raw in ids:
        aid, _ = split_arxiv_id(raw)
        if aid:
            if aid not in good:
                good.append(aid)
        else:
            bad.append(raw)
    return good, bad


def fetch_ids(client: PoliteClient, ids: list[str], endpoint: str = DEFAULT_ENDPOINT) -> Iterator[ApiPage]:
    """The papers with these arXiv ids (latest versions), ID_CHUNK ids per request."""
    for i in range(0, len(ids), ID_CHUNK):
        chunk = ids[i:i + ID_CHUNK]
        params = {"id_list": ",".join(chunk), "start": "0", "max_results": str(len(chunk))}
        got = client.get(endpoint, params=params, check=_check)
        yield parse(got.content, f"{endpoint}?id_list={','.join(chunk)}")


def search(client: PoliteClient, query: str, max_results: int = 100, endpoint: str = DEFAULT_ENDPOINT,
           page_size: int = PAGE) -> Iterator[ApiPage]:
    """Up to ``max_results`` papers matching an arXiv API ``search_query`` (``all:llm``,
    ``au:hinton AND cat:cs.LG`` ...), newest submissions first, one request per page."""
    start = 0
    while start < max_results:
        n = min(page_size, max_results - start)
        params = {"search_query": query, "start": str(start), "max_results": str(n),
                  "sortBy": "submittedDate", "sortOrder": "descending"}
        got = client.get(endpoint, params=params, check=_check)
        page = parse(got.content, f"{endpoint}?search_query={query}&start={start}", start)
        yield page
        entries = len(page.records)
        start += n
        if entries < n or (page.total is not None and start >= page.total):
            return


class SharedFetcher:
    """One polite client per process for fetches on demand (the web's submit form): requests from
    every thread go through it one at a time, so the delay between them holds process-wide."""

    _all: ClassVar[dict[tuple[str, float, str | None], SharedFetcher]] = {}
    _all_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, endpoint: str, delay: float, contact: str | None) -> None:
        self.endpoint = endpoint
        self._lock = threading.Lock()
        self._client = PoliteClient(delay=delay, contact=contact, timeout=20.0, tries=2, backoff=1.0)

    @classmethod
    def get(cls, endpoint: str, delay: float, contact: str | None) -> SharedFetcher:
        key = (endpoint, delay, contact)
        with cls._all_lock:
            if key not in cls._all:
                cls._all[key] = SharedFetcher(endpoint, delay, contact)
            return cls._all[key]

    def one(self, arxiv_id: str) -> Record | None:
        """The paper with this arXiv id (a Paper), a ParseError for an API error entry, None when arXiv
        has none. Raises SourceError when arXiv cannot be reached."""
        with self._lock:
            page = next(fetch_ids(self._client, [arxiv_id], self.endpoint))
        for rec in page.records:
            if not isinstance(rec, Paper) or rec.arxiv_id == arxiv_id:
                return rec
        return None
