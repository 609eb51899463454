"""Pure data types shared by every layer. No I/O here."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

ARXIV_NEW = re.compile(r"(?<![\w.])(\d{4}\.\d{4,5})(?:v(\d+))?(?![\w.])")
ARXIV_OLD = re.compile(r"(?<![\w.])([a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?(?![\w.])")

_NON_WORD = re.compile(r"[^\w]+")
# Code points no store may be handed: lone surrogates (UTF-8 cannot encode them: SQLite and
# PostgreSQL drivers raise) and the BMP's noncharacters (U+FDD0..U+FDEF, U+FFFE, U+FFFF; the last
# two are not XML characters either: an Atom feed holding one would not parse). The astral planes'
# noncharacters are valid UTF-8 and XML and are kept: matching them would make this regex 4x slower.
_INVALID = "\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff{_INVALID}]")
_UNSTORABLE = re.compile(f"[\x00-\x1f\x7f{_INVALID}]")

MAX_TITLE = 2_000
MAX_ABSTRACT = 50_000
MAX_AUTHORS = 2_000
MAX_AUTHOR = 300
# Column widths of the store (store/schema.py); PostgreSQL enforces them.
MAX_ID = 512  # papers.id, paper_aliases.alias
MAX_ARXIV_ID = 64
MAX_DOI = 300
MAX_USER = 100
MAX_INT = 2**31 - 1  # SQL INTEGER on PostgreSQL
MAX_KEYWORDS = 50
MAX_KEYWORD = 100
MAX_SUMMARY = 5_000
MAX_ORG = 200

#: how exactly a publication date is known, coarsest first (a coarser date never replaces a finer one)
PRECISIONS = ("year", "month", "day")


def split_arxiv_id(text: str | None) -> tuple[str | None, int | None]:
    """Find an arXiv id (new or old style) in text; return (id without version, version)."""
    if not text:
        return None, None
    text = text.strip()
    for pat in (ARXIV_NEW, ARXIV_OLD):
        m = pat.search(text)
        if m:
            return m.group(1), int(m.group(2)) if m.group(2) else None
    return None, None


def normalize_title(title: str) -> str:
    """Lower-case, accent-free, punctuation-free, single-spaced title used for dedup."""
    t = title
    if not t.isascii():
        t = unicodedata.normalize("NFKD", t)
        t = "".join(c for c in t if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", t.lower()).split())


def clean_text(text: str | None, limit: int) -> str:
    """Collapse whitespace, drop control characters and cut to `limit` characters."""
    if not text:
        return ""
    text = " ".join(_CONTROL.sub(" ", text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_value(text: str | None, limit: int | None = None) -> str:
    """A short value kept as written (an id, a DOI, a URL, a category) without what no store can
    take: control characters, lone surrogates, noncharacters; surrounding spaces trimmed."""
    if not text:
        return ""
    if not (text.isascii() and text.isprintable()):  # the common case needs no regex
        text = _UNSTORABLE.sub("", text)
    text = text.strip()
    return text[:limit] if limit is not None else text


def clean_id(value: str) -> str:
    """An explicit paper id as given, minus what no store can take; '' if that leaves nothing."""
    return clean_value(value)


def _small_int(value: int | None, low: int) -> int | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if low <= value <= MAX_INT else None


def precision_rank(precision: str | None) -> int:
    """0 (year) .. 2 (day); a stored date without a precision (written before it was kept) is a day."""
    return PRECISIONS.index(precision) if precision in PRECISIONS else len(PRECISIONS) - 1


def _count(value: object) -> int:
    return min(value, MAX_INT) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def make_id(source: str, title: str) -> str:
    """Deterministic id for a paper with no arXiv id: source + normalized title."""
    digest = hashlib.sha1(f"{source}\x00{normalize_title(title)}".encode()).hexdigest()[:16]
    return f"{source}-{digest}"


@dataclass
class Paper:
    """One paper as a source yields it and the store keeps it."""

    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    published: date | None = None
    updated: date | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    version: int | None = None
    links: dict[str, str] = field(default_factory=dict)  # abs, pdf, code, project
    sources: list[str] = field(default_factory=list)
    id: str = ""
    # set by the store
    first_seen: datetime | None = None
    upvotes: int = 0
    submitted_by: str | None = None
    submitted_on_daily_at: datetime | None = None
    pk: int | None = None
    # -- what the source says beyond bibliographic data (migration 0006)
    #: "day" | "month" | "year" for ``published`` (None when there is no date)
    published_precision: str | None = None
    #: upvotes as the source reports them (Hugging Face); ``upvotes`` counts papersift's own votes
    source_upvotes: int = 0
    num_comments: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    github_repo: str | None = None
    github_stars: int | None = None
    organization: str | None = None
    thumbnail: str | None = None
    #: where the record was read ("line 12", "entry key (line 3)"), for a store rejection; not stored
    origin: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        # Everything a store or SQL driver could reject is cleaned here, so that one record can
        # never fail a batch: invalid code points, over-long keys, integers beyond SQL INTEGER.
        self.title = clean_text(self.title, MAX_TITLE)
        self.abstract = clean_text(self.abstract, MAX_ABSTRACT)
        self.authors = [a for a in (clean_text(x, MAX_AUTHOR) for x in self.authors[:MAX_AUTHORS]) if a]
        self.categories = [c for c in (clean_value(x, MAX_AUTHOR) for x in self.categories if x) if c]
        self.sources = [s for s in (clean_value(x, MAX_AUTHOR) for x in self.sources if x) if s]
        self.links = {k: v for k, v in ((clean_value(k, 40), clean_value(v)) for k, v in self.links.items())
                      if k and v}
        self.id = clean_value(self.id)
        self.submitted_by = clean_value(self.submitted_by, MAX_USER) or None
        self.version = _small_int(self.version, 1)
        self.upvotes = _count(self.upvotes)
        self.source_upvotes = _count(self.source_upvotes)
        self.num_comments = _small_int(self.num_comments, 0)
        self.github_stars = _small_int(self.github_stars, 0)
        self.ai_summary = clean_text(self.ai_summary, MAX_SUMMARY) or None
        self.ai_keywords = list(dict.fromkeys(
            k for k in (clean_text(x, MAX_KEYWORD) for x in self.ai_keywords[:MAX_KEYWORDS] if isinstance(x, str))
            if k))
        self.github_repo = clean_value(self.github_repo) or None
        self.organization = clean_text(self.organization, MAX_ORG) or None
        self.thumbnail = clean_value(self.thumbnail) or None
        if self.github_repo and not self.links.get("code"):
            self.links = {**self.links, "code": self.github_repo}
        if self.published is None:
            self.published_precision = None
        elif self.published_precision not in PRECISIONS:
            self.published_precision = "day"
        if self.doi:
            self.doi = clean_value(self.doi).lower().removeprefix("https://doi.org/").removeprefix("doi:") or None
            if self.doi and len(self.doi) > MAX_DOI:
                self.doi = None  # not a DOI; a cut one would match the wrong paper
        if self.arxiv_id:
            aid, ver = split_arxiv_id(clean_value(self.arxiv_id))
            self.arxiv_id = aid if aid and len(aid) <= MAX_ARXIV_ID else None
            if self.version is None and self.arxiv_id:
                self.version = _small_int(ver, 1)
        self.arxiv_id = self.arxiv_id or None  # never '': the column is unique
        self.doi = self.doi or None
        if len(self.id) > MAX_ID:
            self.id = ""
        if not self.id:
            self.id = self.arxiv_id or make_id(self.sources[0] if self.sources else "paper", self.title)
        if self.arxiv_id and not self.links.get("abs"):
            self.links = {**self.links, "abs": f"https://arxiv.org/abs/{self.arxiv_id}",
                          "pdf": self.links.get("pdf") or f"https://arxiv.org/pdf/{self.arxiv_id}"}

    @property
    def norm_title(self) -> str:
        cached = self.__dict__.get("_norm")
        if cached is None or cached[0] != self.title:
            cached = (self.title, normalize_title(self.title))
            self.__dict__["_norm"] = cached
        return cached[1]

    @classmethod
    def trusted(cls, **fields: object) -> Paper:
        """Build a Paper from already-clean stored fields, skipping the cleaning in __post_init__."""
        p = cls.__new__(cls)
        defaults: dict[str, object] = {
            "abstract": "", "authors": [], "categories": [], "published": None, "updated": None,
            "doi": None, "arxiv_id": None, "version": None, "links": {}, "sources": [], "id": "",
            "first_seen": None, "upvotes": 0, "submitted_by": None, "submitted_on_daily_at": None,
            "pk": None, "origin": "", "published_precision": None, "source_upvotes": 0, "num_comments": None,
            "ai_summary": None, "ai_keywords": [], "github_repo": None, "github_stars": None,
            "organization": None, "thumbnail": None}
        p.__dict__.update(defaults)
        p.__dict__.update(fields)
        return p

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None

    @property
    def total_upvotes(self) -> int:
        """The count to show: the source's upvotes plus papersift's own (each vote counted once)."""
        return (self.source_upvotes or 0) + (self.upvotes or 0)

    @property
    def published_label(self) -> str:
        """The publication date as precisely as it is known: "2024-02-21", "February 2024", "2024",
        or "date unknown" (for pages and feeds; never the day papersift saw the paper)."""
        if self.published is None:
            return "date unknown"
        if self.published_precision == "year":
            return f"{self.published.year}"
        if self.published_precision == "month":
            return f"{self.published:%B} {self.published.year}"
        return self.published.isoformat()

    @property
    def daily_basis(self) -> str:
        """What places the paper on the daily feed: "daily" (submitted to it), "published" (its
        publication date) or "added" (no date known: the day papersift first saw it)."""
        if self.submitted_on_daily_at is not None:
            return "daily"
        return "published" if self.published is not None else "added"


class ParseError(Exception):
    """A record or file that could not be read; carries where and why."""

    def __init__(self, source: str, location: str, reason: str) -> None:
        # a file name or message may carry undecodable bytes (lone surrogates): shown escaped, so
        # that the ingest log and the terminal can always take it
        self.source = _printable(source)
        self.location = _printable(location)
        self.reason = _printable(reason)
        super().__init__(f"{self.source}:{self.location}: {self.reason}")

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, str, str]]:  # picklable across processes
        return (ParseError, (self.source, self.location, self.reason))


_UNPRINTABLE = re.compile(f"[\x00{_INVALID}]")


def _printable(text: str) -> str:
    """Text with the code points no store can take (NUL, lone surrogates, noncharacters) escaped."""
    text = str(text)
    if _UNPRINTABLE.search(text) is None:
        return text
    return _UNPRINTABLE.sub(_escape, text)


def _escape(m: re.Match[str]) -> str:
    o = ord(m.group())
    if 0xDC80 <= o <= 0xDCFF:  # an undecodable byte of a file name (surrogateescape): show the byte
        return f"\\x{o - 0xDC00:02x}"
    return f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}"


@dataclass
class Hit:
    """One search result: a store key, a score and (filled later) the paper."""

    pk: int
    score: float
    paper: Paper | None = None
    highlights: dict[str, str] = field(default_factory=dict)


@dataclass
class IngestStats:
    read: int = 0
    new: int = 0
    updated: int = 0
    duplicate: int = 0
    rejected: int = 0
    errors: list[ParseError] = field(default_factory=list)
    seq: int = 0  # the store change number this batch was written under
    inserted: list[Paper] = field(default_factory=list)  # new papers, with pks (one batch only)
    changed: list[Paper] = field(default_factory=list)  # changed papers, with pks (one batch only)

    def add(self, other: IngestStats) -> None:
        self.read += other.read
        self.new += other.new
        self.updated += other.updated
        self.duplicate += other.duplicate
        self.rejected += other.rejected
        self.errors.extend(other.errors)

    def as_dict(self) -> dict[str, int]:
        return {"read": self.read, "new": self.new, "updated": self.updated,
                "duplicate": self.duplicate, "rejected": self.rejected}


def paper_to_dict(p: Paper) -> dict[str, object]:
    """The stable JSON shape of a paper (documented in docs/cli.md)."""
    return {
        "id": p.id,
        "arxiv_id": p.arxiv_id,
        "title": p.title,
        "abstract": p.abstract,
        "authors": list(p.authors),
        "categories": list(p.categories),
        "published": p.published.isoformat() if p.published else None,
        "updated": p.updated.isoformat() if p.updated else None,
        "version": p.version,
        "doi": p.doi,
        "links": dict(p.links),
        "sources": list(p.sources),
        "published_precision": p.published_precision,
        "first_seen": p.first_seen.isoformat() if p.first_seen else None,
        "upvotes": p.total_upvotes,
        "source_upvotes": p.source_upvotes,
        "local_upvotes": p.upvotes,
        "submitted_by": p.submitted_by,
        "submitted_on_daily_at": p.submitted_on_daily_at.isoformat() if p.submitted_on_daily_at else None,
        "num_comments": p.num_comments,
        "ai_summary": p.ai_summary,
        "ai_keywords": list(p.ai_keywords),
        "github_repo": p.github_repo,
        "github_stars": p.github_stars,
        "organization": p.organization,
        "thumbnail": p.thumbnail,
    }


def parse_day(value: str | None, name: str) -> date | None:
    """An ISO date (YYYY-MM-DD) given by a person, None when empty; ValueError with a message that
    names the parameter otherwise (the CLI and the web turn it into their own usage error)."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{name} must be an ISO date like 2024-05-31, not {value!r}") from None
