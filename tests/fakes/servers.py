"""Fake arXiv OAI-PMH, arXiv API and Hugging Face endpoints over real HTTP on 127.0.0.1.

Each server runs in a daemon thread (``with FakeOai(...) as srv: srv.url``), records every request
(arrival time on the monotonic clock, path, query, User-Agent) and can be told to misbehave on
chosen requests: 503 with Retry-After, a slow body, a truncated body, a malformed page.

* ``StaticOai``: serves a recorded ListRecords response (tests/fixtures/arxiv/ListRecordsResponse.xml)
  for a fresh list, and an empty last page for its resumption token.
* ``FakeOai``: generated arXivRaw records (some deleted, some malformed) served in pages with
  resumption tokens, honouring ``from`` / ``until``.
* ``FakeArxivApi``: the export API's Atom for ``id_list`` and ``search_query``.
* ``FakeHf``: /api/daily_papers?date=... from tests/fixtures/hf/daily_papers_2024-10-25.json.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
OAI_NS = "http://www.openarchives.org/OAI/2.0/"


@dataclass
class Seen:
    at: float  # time.monotonic() when the request arrived
    path: str
    query: dict[str, str]
    user_agent: str


@dataclass
class Fault:
    """Misbehaviour for one request: ``status`` (with ``retry_after``), ``slow`` seconds before the
    body, ``truncate`` (send only this many bytes of a longer announced body), ``body`` (send these
    bytes instead)."""

    status: int = 200
    retry_after: str | None = None
    slow: float = 0.0
    truncate: int | None = None
    body: bytes | None = None


Reply = tuple[int, str, bytes]


class FakeServer:
    """Base: a ThreadingHTTPServer on 127.0.0.1:0 whose GETs go to ``respond(path, query)``."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.faults: dict[int, Fault] = {}  # request number (1-based) -> fault
        self.delay_each = 0.0  # seconds every response waits (to catch a harvest mid-way)
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def start(self) -> FakeServer:
        return self.__enter__()

    def stop(self) -> None:
        self.__exit__()

    def respond(self, path: str, query: dict[str, str]) -> Reply:
        raise NotImplementedError

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            self.requests.append(Seen(time.monotonic(), parts.path, query, h.headers.get("User-Agent", "")))
            n = len(self.requests)
            fault = self.faults.get(n)
        if self.delay_each:
            time.sleep(self.delay_each)
        if fault is not None and fault.status != 200:
            body = b"<html><body>busy, come back later</body></html>"
            h.send_response(fault.status)
            if fault.retry_after is not None:
                h.send_header("Retry-After", fault.retry_after)
            h.send_header("Content-Type", "text/html")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        status, ctype, body = self.respond(parts.path, query)
        if fault is not None and fault.body is not None:
            body = fault.body
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        if fault is not None and fault.truncate is not None:
            h.send_header("Connection", "close")
        h.end_headers()
        if fault is not None and fault.slow:
            h.wfile.write(body[:10])
            h.wfile.flush()
            time.sleep(fault.slow)
            body = body[10:]
        if fault is not None and fault.truncate is not None:
            h.wfile.write(body[:fault.truncate])
            h.wfile.flush()
            h.close_connection = True
            return
        h.wfile.write(body)

    def gaps(self) -> list[float]:
        """Seconds between consecutive request arrivals."""
        t = [r.at for r in self.requests]
        return [b - a for a, b in itertools.pairwise(t)]


# -- OAI-PMH -------------------------------------------------------------------------------------------
def oai_envelope(inner: str, request: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="{OAI_NS}">\n'
            f"<responseDate>2026-01-01T00:00:00Z</responseDate>\n<request>{escape(request)}</request>\n"
            f"{inner}\n</OAI-PMH>\n").encode()


def oai_error(code: str, message: str) -> bytes:
    return oai_envelope(f'<error code="{code}">{escape(message)}</error>')


class StaticOai(FakeServer):
    """Serves a recorded ListRecords response, then an empty last page for its token."""

    def __init__(self, fixture: Path = FIXTURES / "arxiv" / "ListRecordsResponse.xml") -> None:
        super().__init__()
        self.body = fixture.read_bytes()

    def respond(self, path: str, query: dict[str, str]) -> Reply:
        if query.get("verb") != "ListRecords":
            return 200, "text/xml", oai_error("badVerb", "only ListRecords here")
        if "resumptionToken" in query:
            if query["resumptionToken"] != "726959|1001":
                return 200, "text/xml", oai_error("badResumptionToken", "unknown token")
            return 200, "text/xml", oai_envelope(
                '<ListRecords><resumptionToken cursor="1001" completeListSize="1007"/></ListRecords>')
        return 200, "text/xml", self.body


@dataclass
class FakeRecord:
    arxiv_id: str
    datestamp: str  # YYYY-MM-DD
    title: str = ""
    versions: int = 1
    deleted: bool = False
    malformed: bool = False  # metadata without a title
    sets: list[str] = field(default_factory=lambda: ["cs"])

    def xml(self) -> str:
        sets = "".join(f"<setSpec>{s}</setSpec>" for s in self.sets)
        status = ' status="deleted"' if self.deleted else ""
        header = (f"<header{status}><identifier>oai:arXiv.org:{self.arxiv_id}</identifier>"
                  f"<datestamp>{self.datestamp}</datestamp>{sets}</header>")
        if self.deleted:
            return f"<record>{header}</record>"
        versions = "".join(
            f'<version version="v{v}"><date>Mon, {v} Jan 2024 10:00:00 GMT</date><size>10kb</size></version>'
            for v in range(1, self.versions + 1))
        title = "" if self.malformed else f"<title>{escape(self.title or 'Paper ' + self.arxiv_id)}</title>"
        return (f"<record>{header}<metadata>"
                f'<arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>{self.arxiv_id}</id>'
                f"<submitter>Ada Lovelace</submitter>{versions}{title}"
                f"<authors>Ada Lovelace, Alan Turing</authors><categories>cs.LG stat.ML</categories>"
                f"<abstract>We study harvesting of paper {self.arxiv_id} with resumption tokens.</abstract>"
                f"</arXivRaw></metadata></record>")


def make_records(n: int, day: str = "2024-01-10", start: int = 1, **kw: Any) -> list[FakeRecord]:
    return [FakeRecord(f"2401.{i:05d}", day, title=f"Harvested paper number {i} on resumption tokens", **kw)
            for i in range(start, start + n)]


class FakeOai(FakeServer):
    """Generated records in pages of ``page_size`` with resumption tokens ("o<offset>|<from>|<until>"
    — opaque to the client). ``records`` may be changed between harvests (new days arrive)."""

    def __init__(self, records: list[FakeRecord], page_size: int = 5, prefix: str = "arXivRaw") -> None:
        super().__init__()
        self.records = records
        self.page_size = page_size
        self.prefix = prefix
        self.expired_tokens: set[str] = set()

    def _select(self, frm: str, until: str, set_spec: str) -> list[FakeRecord]:
        return [r for r in self.records if (not frm or r.datestamp >= frm) and (not until or r.datestamp <= until)
                and (not set_spec or any(s == set_spec or s.startswith(set_spec + ":") for s in r.sets))]

    def respond(self, path: str, query: dict[str, str]) -> Reply:
        if query.get("verb") != "ListRecords":
            return 200, "text/xml", oai_error("badVerb", "only ListRecords here")
        if "resumptionToken" in query:
            token = query["resumptionToken"]
            if token in self.expired_tokens:  # refused once (a new list hands out the same text again)
                self.expired_tokens.discard(token)
                return 200, "text/xml", oai_error("badResumptionToken", f"token {token} has expired")
            try:
                off_s, frm, until, set_spec = token.split("|")
                offset = int(off_s.lstrip("o"))
            except ValueError:
                return 200, "text/xml", oai_error("badResumptionToken", f"bad token {token}")
        else:
            if query.get("metadataPrefix") != self.prefix:
                return 200, "text/xml", oai_error("cannotDisseminateFormat", f"{query.get('metadataPrefix')}?")
            offset, frm, until, set_spec = 0, query.get("from", ""), query.get("until", ""), query.get("set", "")
        chosen = self._select(frm, until, set_spec)
        if not chosen:
            return 200, "text/xml", oai_error("noRecordsMatch", "no records match")
        page = chosen[offset:offset + self.page_size]
        nxt = offset + self.page_size
        if nxt < len(chosen):
            tok = (f'<resumptionToken cursor="{offset}" completeListSize="{len(chosen)}">'
                   f"o{nxt}|{frm}|{until}|{set_spec}</resumptionToken>")
        else:
            tok = f'<resumptionToken cursor="{offset}" completeListSize="{len(chosen)}"/>'
        body = "<ListRecords>" + "".join(r.xml() for r in page) + tok + "</ListRecords>"
        return 200, "text/xml", oai_envelope(body)

    def list_requests(self) -> list[Seen]:
        return [r for r in self.requests if r.query.get("verb") == "ListRecords"]


# -- arXiv export API ---------------------------------------------------------------------------------
ATOM_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
             'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">'
             "<title>arXiv Query</title><id>https://arxiv.org/api/x</id>")


def atom_entry(arxiv_id: str, title: str, version: int = 1) -> str:
    return (f"<entry><id>http://arxiv.org/abs/{arxiv_id}v{version}</id><updated>2024-10-23T10:00:00Z</updated>"
            f"<published>2024-10-22T17:59:30Z</published><title>{escape(title)}</title>"
            f"<summary>An abstract of {arxiv_id} fetched through the API.</summary>"
            "<author><name>Grace Hopper</name></author><author><name>Edsger Dijkstra</name></author>"
            '<arxiv:primary_category term="cs.CL"/><category term="cs.CL"/><category term="cs.AI"/>'
            f'<link href="http://arxiv.org/abs/{arxiv_id}v{version}" rel="alternate" type="text/html"/>'
            f'<link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v{version}" rel="related"/></entry>')


class FakeArxivApi(FakeServer):
    """``/api/query``: ``id_list`` answers from ``papers`` (id -> title), ``search_query`` serves the
    recorded Atom feed tests/fixtures/arxiv/search_query=au_del_maestro.xml (its first page)."""

    def __init__(self, papers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.papers = papers or {}
        self.search_body = (FIXTURES / "arxiv" / "search_query=au_del_maestro.xml").read_bytes()

    def respond(self, path: str, query: dict[str, str]) -> Reply:
        if "id_list" in query:
            ids = [i for i in query["id_list"].split(",") if i]
            entries = "".join(atom_entry(i, self.papers[i]) for i in ids if i in self.papers)
            n = sum(i in self.papers for i in ids)
            body = f"{ATOM_HEAD}<opensearch:totalResults>{n}</opensearch:totalResults>{entries}</feed>"
            return 200, "application/atom+xml", body.encode()
        if "search_query" in query:
            if int(query.get("start", "0")) > 0:
                return 200, "application/atom+xml", (
                    f"{ATOM_HEAD}<opensearch:totalResults>10</opensearch:totalResults></feed>").encode()
            return 200, "application/atom+xml", self.search_body
        return 400, "text/plain", b"need id_list or search_query"


# -- Hugging Face --------------------------------------------------------------------------------------
class FakeHf(FakeServer):
    """``/api/daily_papers?date=D``: the recorded 2024-10-25 list (or ``lists[D]``), [] for other days;
    ``limit`` and ``p`` page it as the real API does."""

    def __init__(self, lists: dict[str, list[Any]] | None = None,
                 edit: Callable[[list[Any]], list[Any]] | None = None) -> None:
        super().__init__()
        recorded = json.loads((FIXTURES / "hf" / "daily_papers_2024-10-25.json").read_bytes())
        self.lists = lists if lists is not None else {"2024-10-25": recorded}
        self.edit = edit

    def respond(self, path: str, query: dict[str, str]) -> Reply:
        if path != "/api/daily_papers":
            return 404, "application/json", b'{"error": "not found"}'
        items = list(self.lists.get(query.get("date", ""), []))
        if self.edit is not None:
            items = self.edit(items)
        limit = int(query.get("limit", "50"))
        p = int(query.get("p", "0"))
        return 200, "application/json", json.dumps(items[p * limit:(p + 1) * limit]).encode()
