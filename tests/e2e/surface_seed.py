"""A data dir for the web-surface tests (issue 8): papers with every field the cards show, LaTeX
in a title, dates of each precision, a paper with no date at all, empty days and a gap of years
between days, and enough undated papers added today to fill more than one page and one old feed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from papersift.config import Settings
from papersift.engine import open_engine
from papersift.models import Paper

LATEX_ID = "2501.00001"
LATEX_TITLE = r"Sparse $(k,\ell)$-Graphs and the Rigidity of Frameworks"
LATEX_ABSTRACT = (r"We characterise $(k,\ell)$-sparse graphs for $0 \le \ell < 2k$ and give a pebble game that "
                  r"decides sparsity in $O(n^2)$ time. " + "The rigidity matroid of generic frameworks in "
                  "the plane follows as a special case, and we extend the result to body-bar frameworks. " * 3).strip()
UNDATED_TITLE = "Diffusion Models Without a Date From a Hugging Face Page"
ADDED_TODAY = 60  # undated papers the daily feed places on the day they were added (today)
MONTH_ID = "2501.00004"
OLD_ID = "2201.00005"


def surface_papers(now: datetime) -> list[Paper]:
    today = now.date()
    return [
        Paper(title=LATEX_TITLE, arxiv_id=LATEX_ID, abstract=LATEX_ABSTRACT,
              authors=["Dan Alistarh", "Ada Lovelace"], categories=["math.CO", "cs.DM"],
              published=date(2025, 1, 10), published_precision="day", sources=["hf-json"],
              source_upvotes=42, num_comments=7, submitted_by="akhaliq",
              submitted_on_daily_at=datetime(2025, 1, 10, 8, 0), github_repo="https://github.com/x/sparse",
              github_stars=120, organization="IST Austria",
              thumbnail=f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{LATEX_ID}.png",
              ai_summary=r"A pebble game decides $(k,\ell)$-sparsity quickly.", ai_keywords=["rigidity", "matroids"]),
        Paper(title="Pebble Games for Rigidity Percolation", arxiv_id="2501.00002",
              abstract="Pebble games count degrees of freedom in rigidity percolation.", authors=["Grace Hopper"],
              categories=["cond-mat.dis-nn"], published=date(2025, 1, 10), published_precision="day",
              sources=["arxiv"]),
        Paper(title="Rigidity of Random Frameworks", arxiv_id="2501.00003",
              abstract="Random frameworks become rigid above a threshold.", authors=["Alan Turing"],
              categories=["math.CO"], published=date(2025, 1, 13), published_precision="day", sources=["arxiv"]),
        Paper(title="A Survey of Rigidity Matroids", arxiv_id=MONTH_ID,
              abstract="A survey of rigidity matroids, dated by month only.", authors=["Barbara Liskov"],
              categories=["math.CO"], published=date(2025, 1, 1), published_precision="month", sources=["bibtex"]),
        Paper(title="Early Work on Rigidity", arxiv_id=OLD_ID, abstract="Rigidity, three years earlier.",
              authors=["Edsger Dijkstra"], categories=["math.MG"], published=date(2022, 1, 5),
              published_precision="day", sources=["arxiv"]),
        Paper(title="A Paper Submitted Three Days Ago", arxiv_id="2512.00006", abstract="Recent rigidity work.",
              authors=["Ada Lovelace"], categories=["cs.LG"], published=today - timedelta(days=5),
              published_precision="day", submitted_on_daily_at=now - timedelta(days=3), submitted_by="curator",
              source_upvotes=5, sources=["hf-json"]),
        Paper(title="A Paper Submitted Ten Days Ago", arxiv_id="2512.00007", abstract="Older rigidity work.",
              authors=["Alan Turing"], categories=["cs.LG"], published=today - timedelta(days=12),
              published_precision="day", submitted_on_daily_at=now - timedelta(days=10), sources=["hf-json"]),
        Paper(title=UNDATED_TITLE, abstract="A diffusion model paper whose source gave no date.",
              sources=["hf-text"]),
    ] + [Paper(title=f"Undated Hugging Face paper number {i} on diffusion", abstract="No date is known.",
               sources=["hf-text"]) for i in range(1, ADDED_TODAY)]


def build_surface(data: Path, db_url: str | None = None) -> Path:
    eng = open_engine(Settings(data_dir=data, database_url=db_url), "owner", owner="test-seed", upgrade=True)
    try:
        eng.store.upsert_many(surface_papers(datetime.now()))
        eng.catch_up()
    finally:
        eng.close()
    return data
