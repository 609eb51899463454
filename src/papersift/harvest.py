"""Harvesters: remote sources -> store (-> indexes when this process owns them).

* ``harvest_arxiv``: arXiv OAI-PMH ``ListRecords`` (sources/oai.py). Each page is committed with
  the state to go on from in one transaction (store/harvest.py): a killed harvest resumes with the
  last committed resumption token; a finished list moves the high-water mark (the highest
  datestamp seen) so that a plain re-run asks only for what is new (``from`` = that day).
* ``harvest_hf``: Hugging Face's daily list for a day or a range of days (sources/hf.py), keeping
  HF's signals (upvotes, submitter, daily date, comments, thumbnail, AI summary) beside
  papersift's own votes.
* ``fetch_arxiv``: papers by arXiv id or search query through the export API (sources/arxiv_api.py).

Like ``pipeline.py`` this is the one place that joins sources, store and indexes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from papersift.engine import Engine
from papersift.ingest import hf_json
from papersift.ingest.base import Record
from papersift.models import IngestStats, Paper, ParseError
from papersift.sources import arxiv_api, hf, oai
from papersift.sources.http import PoliteClient
from papersift.store import harvest as sql

log = logging.getLogger(__name__)
COMMIT_PAGES = 10  # an owning harvest commits the lexical index every this many pages (and at the end)


@dataclass
class HarvestReport:
    source: str
    set_spec: str = ""
    pages: int = 0
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    deleted_unknown: int = 0
    restored: int = 0
    rejected: int = 0
    requests: int = 0
    resumed: bool = False
    complete: bool = False
    from_: str | None = None
    until: str | None = None
    high_water: str | None = None
    list_size: int | None = None
    errors: list[ParseError] = field(default_factory=list)

    def add_page(self, res: sql.PageResult) -> None:
        s = res.stats
        self.pages += 1
        self.read += s.read + res.deleted + res.deleted_unknown
        self.new += s.new
        self.updated += s.updated
        self.unchanged += s.duplicate
        self.rejected += s.rejected
        self.errors.extend(s.errors)
        self.deleted += res.deleted
        self.deleted_unknown += res.deleted_unknown
        self.restored += res.restored

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "set": self.set_spec, "pages": self.pages, "read": self.read,
                "new": self.new, "updated": self.updated, "unchanged": self.unchanged, "deleted": self.deleted,
                "deleted_not_held": self.deleted_unknown, "restored": self.restored, "rejected": self.rejected,
                "requests": self.requests, "resumed": self.resumed, "complete": self.complete, "from": self.from_,
                "until": self.until, "high_water": self.high_water, "list_size": self.list_size,
                "errors": [{"source": e.source, "location": e.location, "reason": e.reason}
                           for e in self.errors[:1000]]}

    def line(self) -> str:
        return (f"pages {self.pages}  new {self.new}  updated {self.updated}  unchanged {self.unchanged}  "
                f"deleted {self.deleted}  rejected {self.rejected}")


PageCallback = Callable[[HarvestReport, Any], None]


class _Indexer:
    """An owning harvest indexes as it goes; a reader leaves it to the owner (a worker)."""

    def __init__(self, eng: Engine) -> None:
        self.eng = eng
        self.pages = 0

    def step(self) -> None:
        if not self.eng.is_owner:
            return
        self.pages += 1
        self.eng.catch_up(commit=self.pages % COMMIT_PAGES == 0)

    def finish(self) -> None:
        if self.eng.is_owner:
            self.eng.catch_up()


def _split(records: list[Record]) -> tuple[list[Paper], list[ParseError]]:
    papers = [r for r in records if isinstance(r, Paper)]
    return papers, [r for r in records if isinstance(r, ParseError)]


def _day(value: str | None) -> str | None:
    return value[:10] if value else None


def harvest_arxiv(eng: Engine, client: PoliteClient, *, endpoint: str = oai.DEFAULT_ENDPOINT,
                  prefix: str = "arXivRaw", set_spec: str | None = None, from_: date | None = None,
                  until: date | None = None, on_page: PageCallback | None = None,
                  should_stop: Callable[[], bool] | None = None) -> HarvestReport:
    """Harvest one OAI-PMH list into the store (see the module doc).

    Without ``from_``/``until`` it goes on with a list a killed run left (same endpoint and format),
    else starts a new one from the high-water mark (nothing harvested yet: from the beginning).
    Raises SourceError / OaiError when the endpoint cannot be read; what was committed stays."""
    db = eng.db
    key = set_spec or ""
    state = sql.get_state(db, "arxiv", key)
    rep = HarvestReport("arxiv", key)
    explicit = from_ is not None or until is not None
    token: str | None = None
    if (state.token and state.endpoint == endpoint and state.metadata_prefix == prefix
            and (not explicit or (state.run_from == (str(from_) if from_ else None)
                                  and state.run_until == (str(until) if until else None)))):
        token, rep.resumed = state.token, True
        log.info("arxiv%s: resuming the list from %s (page %d, cursor %s)", f" set {key}" if key else "",
                 state.run_from or "the beginning", state.pages + 1, state.cursor)
    else:
        state.run_from = str(from_) if from_ else _day(state.high_water)
        state.run_until = str(until) if until else None
        state.token = state.run_max = None
        state.pages = 0
        state.cursor = state.complete_size = None
    state.endpoint, state.metadata_prefix = endpoint, prefix
    rep.from_, rep.until, rep.high_water = state.run_from, state.run_until, state.high_water
    indexer = _Indexer(eng)
    requests0 = client.requests
    try:
        while True:
            try:
                for page in oai.list_records(client, endpoint, prefix=prefix, from_=state.run_from,
                                             until=state.run_until, set_spec=set_spec, token=token):
                    papers, errors = _split(page.records)
                    state.token = page.token
                    if page.datestamp and (state.run_max is None or page.datestamp > state.run_max):
                        state.run_max = page.datestamp
                    state.pages += 1
                    state.cursor, state.complete_size = page.cursor, page.complete_size or state.complete_size
                    if not page.token:  # the list is complete: move the high-water mark, forget the run
                        if state.run_max and (state.high_water is None or state.run_max > state.high_water):
                            state.high_water = state.run_max
                        state.run_from = state.run_until = state.run_max = None
                        state.pages, state.cursor = 0, None
                        rep.complete = True
                    res = sql.commit_page(eng.store, state, papers, errors, page.deleted,
                                          source=f"{endpoint} (OAI-PMH {prefix})")
                    rep.add_page(res)
                    rep.list_size = state.complete_size
                    rep.high_water = state.high_water
                    indexer.step()
                    if on_page is not None:
                        on_page(rep, page)
                    if should_stop is not None and should_stop() and page.token:
                        log.info("arxiv: stopping after page %d; a re-run goes on from there", rep.pages)
                        return rep
                return rep
            except oai.BadResumptionToken as e:
                if not token or not rep.resumed or rep.pages:
                    raise
                log.warning("arxiv: %s; starting the list again from %s", e, state.run_from or "the beginning")
                token, rep.resumed = None, False
                state.token = None
    finally:
        rep.requests = client.requests - requests0
        indexer.finish()


def _hf_papers(items: list[dict[str, Any]], source: str) -> tuple[list[Paper], list[ParseError]]:
    papers: list[Paper] = []
    errors: list[ParseError] = []
    for i, item in enumerate(items, start=1):
        loc = f"item {i}"
        try:
            rec = hf_json.to_paper(item, source, loc)
        except Exception as e:  # one odd item must not stop the list
            rec = ParseError(source, loc, f"cannot read item: {type(e).__name__}: {e}")
        if isinstance(rec, Paper):
            rec.origin = loc
            papers.append(rec)
        else:
            errors.append(rec)
    return papers, errors


def hf_days(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"--until {end} is before --from {start}")
    if (end - start).days > 3660:
        raise ValueError("a range of more than ten years of daily lists; give a shorter one")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def harvest_hf(eng: Engine, client: PoliteClient, days: list[date], *, endpoint: str = hf.DEFAULT_ENDPOINT,
               on_page: PageCallback | None = None, should_stop: Callable[[], bool] | None = None,
               ) -> HarvestReport:
    """Mirror Hugging Face's daily lists of ``days`` (one page per day, committed with the state)."""
    rep = HarvestReport("hf")
    state = sql.get_state(eng.db, "hf", "")
    state.endpoint = endpoint
    rep.from_ = days[0].isoformat() if days else None
    rep.until = days[-1].isoformat() if days else None
    indexer = _Indexer(eng)
    requests0 = client.requests
    try:
        for day in days:
            items = hf.daily_papers(client, day, endpoint)
            papers, errors = _hf_papers(items, f"{endpoint}?date={day.isoformat()}")
            if state.high_water is None or day.isoformat() > state.high_water:
                state.high_water = day.isoformat()
            res = sql.commit_page(eng.store, state, papers, errors, [], source=f"{endpoint}?date={day}",
                                  restore=False)
            rep.add_page(res)
            rep.high_water = state.high_water
            indexer.step()
            if on_page is not None:
                on_page(rep, day)
            if should_stop is not None and should_stop():
                break
        rep.complete = True
        return rep
    finally:
        rep.requests = client.requests - requests0
        indexer.finish()


def fetch_arxiv(eng: Engine, client: PoliteClient, ids: list[str] | None = None, query: str | None = None,
                max_results: int = 100, endpoint: str = arxiv_api.DEFAULT_ENDPOINT,
                on_page: PageCallback | None = None) -> tuple[HarvestReport, list[Paper]]:
    """Fetch papers by arXiv id or API search query into the store. Returns the report and the papers
    as stored (ids not found on arXiv are reported as rejected)."""
    rep = HarvestReport("arxiv-api")
    got: list[Paper] = []
    pages = arxiv_api.fetch_ids(client, ids, endpoint) if ids else arxiv_api.search(
        client, query or "", max_results, endpoint)
    indexer = _Indexer(eng)
    requests0 = client.requests
    try:
        for page in pages:
            papers, errors = _split(page.records)
            rep.list_size = page.total
            res = sql.commit_page(eng.store, None, papers, errors, [], source=endpoint, restore=False)
            rep.add_page(res)
            got.extend(papers)
            indexer.step()
            if on_page is not None:
                on_page(rep, page)
        if ids:
            found = {p.arxiv_id for p in got}
            for aid in ids:
                if aid not in found:
                    err = ParseError(endpoint, f"id {aid}", "arXiv has no paper with this id")
                    rep.errors.append(err)
                    rep.rejected += 1
        rep.complete = True
    finally:
        rep.requests = client.requests - requests0
        indexer.finish()
    stored = [eng.store.get(p.arxiv_id or p.id) for p in got]
    return rep, [p for p in stored if p is not None]


def stats_of(rep: HarvestReport) -> IngestStats:
    return IngestStats(read=rep.read, new=rep.new, updated=rep.updated, duplicate=rep.unchanged,
                       rejected=rep.rejected, errors=list(rep.errors))
