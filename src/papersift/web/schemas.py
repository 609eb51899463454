"""Response models of the JSON APIs (OpenAPI at /openapi.json): papersift's /api/v1 and the
Hugging Face–compatible /api/papers, /api/daily_papers. Every error body is ``{"error": message}``
(web/app.py turns every HTTPException and validation error of an /api/ path into it)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

#: the Bearer scheme of API tokens (`papersift token create`), shown by /docs; deps.require_api_user checks it
bearer = HTTPBearer(auto_error=False, scheme_name="APIToken",
                    description="An API token: `Authorization: Bearer ps_…` (create one on /settings or "
                                "with `papersift token create`).")
#: an endpoint's parameter that documents the Bearer scheme in OpenAPI; the check itself is
#: deps.require_api_user (a token, or a session cookie plus X-CSRF-Token)
BearerToken = Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]


class Sort(StrEnum):
    relevance = "relevance"
    date = "date"


class Mode(StrEnum):
    lexical = "lexical"
    semantic = "semantic"
    hybrid = "hybrid"


class DailySort(StrEnum):
    trending = "trending"
    publishedAt = "publishedAt"


class Precision(StrEnum):
    day = "day"
    month = "month"
    year = "year"


class DailyBasis(StrEnum):
    daily = "daily"
    published = "published"
    added = "added"


class ErrorBody(BaseModel):
    error: str = Field(description="What was wrong, for a person to read")


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of an endpoint (each body is an ErrorBody)."""
    what = {400: "Bad parameter (a date, period or sort that cannot be read)",
            401: "No valid API token: send `Authorization: Bearer <token>`",
            403: "Not allowed (the instance is read-only)",
            404: "No such paper or endpoint",
            413: "The request body is too large",
            422: "A parameter failed validation (out of range, not one of the allowed values)",
            503: "The database is busy; retry after the Retry-After header's seconds"}
    return {c: {"model": ErrorBody, "description": what[c]} for c in codes}


# -- /api/v1 ----------------------------------------------------------------------------------
class PaperOut(BaseModel):
    """A paper as papersift stores it. Dates are ISO; ``published`` is null when no date is known
    (``published_precision`` then null too), never the day papersift saw it."""

    id: str
    arxiv_id: str | None
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: str | None = Field(description="Publication date (YYYY-MM-DD), null when unknown")
    published_precision: Precision | None = Field(
        description="How much of `published` is known: a month-only date is stored as its 1st")
    updated: str | None
    version: int | None
    doi: str | None
    links: dict[str, str] = Field(description="abs, pdf, code, project URLs where known")
    sources: list[str]
    first_seen: str | None = Field(description="When papersift first stored the paper")
    upvotes: int = Field(description="Total shown: source_upvotes + local_upvotes")
    source_upvotes: int = Field(description="Upvotes as the source (Hugging Face) reported them")
    local_upvotes: int = Field(description="Upvotes given on this papersift")
    submitted_by: str | None
    submitted_on_daily_at: str | None
    num_comments: int | None
    ai_summary: str | None
    ai_keywords: list[str]
    github_repo: str | None
    github_stars: int | None
    organization: str | None
    thumbnail: str | None
    daily_date: str | None = Field(description="The day the paper is on the daily feed")
    daily_basis: DailyBasis = Field(
        description="What places it there: daily (submitted), published (its date) or added (no date "
                    "known: the day papersift first saw it)")


class SearchHit(BaseModel):
    rank: int
    score: float
    paper: PaperOut


class SearchOut(BaseModel):
    query: str
    mode: Mode
    sort: Sort
    total: int = Field(description="How many papers match (lexical matches and semantic neighbours above "
                                   "the similarity floor); 0 for a query nothing matches")
    total_exact: bool = Field(description="False when `total` is a lower bound")
    limit: int
    offset: int
    message: str | None
    results: list[SearchHit]


class PeriodOut(BaseModel):
    kind: str
    key: str
    start: str
    end: str


class DailyOut(BaseModel):
    period: PeriodOut | None
    sort: DailySort
    total: int
    limit: int
    offset: int
    papers: list[PaperOut]


class SimilarPaper(PaperOut):
    score: float


class SimilarOut(BaseModel):
    id: str
    similar: list[SimilarPaper]


class VoteOut(BaseModel):
    id: str
    upvotes: int = Field(description="The paper's total upvotes now (source + local)")
    upvoted: bool


class SubmitIn(BaseModel):
    paper: str = Field(description="arXiv id or URL of a stored paper", examples=["2401.01234"])


class SubmitOut(BaseModel):
    submitted: bool = Field(description="False when the paper was on the daily feed already")
    paper: PaperOut


class MeOut(BaseModel):
    username: str
    is_admin: bool


class StatsOut(BaseModel):
    """Corpus statistics (a snapshot the index owner refreshes) plus the papers this worker's
    lexical index holds."""

    model_config = ConfigDict(extra="allow")
    indexed: int


# -- /api/v1 interests: For you, follows, library, feedback (web/foryou.py, web/library.py) -----
class ForYouPick(BaseModel):
    rank: int
    score: float
    reasons: list[str] = Field(description="Why it is picked, for a person to read")
    paper: PaperOut


class ForYouOut(BaseModel):
    user: str
    mode: Literal["vectors", "keywords"] = Field(
        description="vectors: similarity by embeddings; keywords: no vectors yet, by a BM25 profile")
    message: str | None
    picks: list[ForYouPick]


class FollowOut(BaseModel):
    id: int
    kind: Literal["author", "category", "query"]
    value: str
    created_at: str


class FollowsOut(BaseModel):
    follows: list[FollowOut]


class FollowCreated(FollowOut):
    new: bool = Field(description="False when it was followed already (status 200, not 201)")


class SavedOut(BaseModel):
    paper: PaperOut
    tags: list[str]
    saved_at: str


class SavedCreated(SavedOut):
    new: bool = Field(description="False when it was saved already (status 200, not 201)")


class LibraryOut(BaseModel):
    total: int = Field(description="How many papers the library (or the tag) holds")
    limit: int
    offset: int
    items: list[SavedOut]


class TagsOut(BaseModel):
    paper_id: str = Field(description="The id as sent")
    tags: list[str] = Field(description="The paper's tags now")


class ImportProblem(BaseModel):
    location: str
    reason: str


class ImportOut(BaseModel):
    entries: int = Field(description="Entries read from the file")
    matched: dict[str, int] = Field(description="Entries matched to stored papers: by arxiv, doi, title")
    added_papers: int = Field(description="Entries not in the store, added as papers")
    saved: int = Field(description="Papers newly saved to the library")
    already_saved: int
    errors: list[ImportProblem] = Field(description="Entries that could not be read, and why")


class FeedbackOut(BaseModel):
    paper_id: str
    value: Literal[-1, 0, 1]


# -- Hugging Face–compatible ------------------------------------------------------------------
class HfUser(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id_: str = Field(alias="_id")
    user: str
    name: str
    fullname: str
    avatarUrl: str
    type: str
    isPro: bool


class HfOrganization(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id_: str = Field(alias="_id")
    name: str
    fullname: str
    avatar: str


class HfAuthor(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id_: str = Field(alias="_id")
    name: str
    hidden: bool


class HfPaper(BaseModel):
    """The Hub's paper object (GET /api/papers/{id}); field names as huggingface_hub's PaperInfo
    reads them. ``publishedAt`` is null when the date is unknown; ``upvotes`` is the total."""

    model_config = ConfigDict(populate_by_name=True)
    id: str
    authors: list[HfAuthor]
    publishedAt: str | None
    publishedPrecision: Precision | None = None
    title: str
    summary: str
    upvotes: int
    discussionId: str | None = None
    categories: list[str] = []
    submittedOnDailyAt: str | None = None
    submittedOnDailyBy: HfUser | None = None
    numComments: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    projectPage: str | None = None
    githubRepo: str | None = None
    githubStars: int | None = None
    organization: HfOrganization | None = None
    thumbnail: str | None = None


class HfEntry(BaseModel):
    """A daily-papers / search list entry: the paper under ``paper`` plus the listing's fields (at
    the top level, where huggingface_hub reads them)."""

    paper: HfPaper
    publishedAt: str | None = Field(description="When it was on the daily feed; null when it was never "
                                                "submitted and has no known date")
    title: str
    summary: str
    thumbnail: str | None
    numComments: int
    isAuthorParticipating: bool
    submittedBy: HfUser | None = None
    submittedOnDailyAt: str | None = None
    upvotes: int
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    githubRepo: str | None = None
    githubStars: int | None = None
    projectPage: str | None = None
    organization: HfOrganization | None = None
    dailyBasis: DailyBasis
