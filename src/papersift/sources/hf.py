"""Hugging Face's daily papers list: ``GET /api/daily_papers?date=YYYY-MM-DD``.

Each item is ``{"paper": {id, title, summary, authors, publishedAt, upvotes, ...}, "title",
"publishedAt" (when it went on the daily list), "submittedBy", "numComments", "thumbnail", ...}``
(a recorded response: tests/fixtures/hf/daily_papers_2024-10-25.json). Items are read with the
hf-json importer (ingest/hf_json.py), which maps HF's signals onto Paper.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from papersift.sources.http import BadBody, PoliteClient

DEFAULT_ENDPOINT = "https://huggingface.co/api/daily_papers"
PAGE = 100  # items per request (the API's largest page)
MAX_PAGES = 20  # a day never lists more than a few hundred papers


def _check(body: bytes) -> None:
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise BadBody(f"malformed or truncated JSON: {e}") from None
    if not isinstance(doc, list):
        raise BadBody(f"expected a JSON list of daily papers, got {type(doc).__name__}")


def daily_papers(client: PoliteClient, day: date, endpoint: str = DEFAULT_ENDPOINT) -> list[dict[str, Any]]:
    """Every item of the daily list of ``day`` (pages of PAGE items until a short one)."""
    items: list[dict[str, Any]] = []
    for p in range(MAX_PAGES):
        params = {"date": day.isoformat(), "limit": str(PAGE)}
        if p:
            params["p"] = str(p)
        got = client.get(endpoint, params=params, check=_check)
        page = json.loads(got.content)
        items.extend(x for x in page if isinstance(x, dict))
        if len(page) < PAGE:
            break
    return items
