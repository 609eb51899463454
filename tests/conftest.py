"""Shared fixtures: every test builds its own temp data dir."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from papersift.config import Settings
from papersift.models import Paper
from papersift.pipeline import Engine, open_engine

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = open_engine(settings)
    yield eng
    eng.close()


def make_paper(n: int, **kw: object) -> Paper:
    base: dict[str, object] = {
        "title": f"Paper number {n} about graph neural networks",
        "abstract": f"Abstract {n}: we study message passing on graphs.",
        "authors": ["Ada Lovelace", f"Author {n}"],
        "categories": ["cs.LG"],
        "published": date(2023, 1, 1 + n % 28),
        "arxiv_id": f"2301.{n:05d}",
        "sources": ["test"],
    }
    base.update(kw)
    return Paper(**base)  # type: ignore[arg-type]
