"""Shared fixtures: every test builds its own temp data dir."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from papersift.config import Settings
from papersift.engine import Engine, open_engine
from papersift.models import Paper

FIXTURES = Path(__file__).parent / "fixtures"

# Tests never reach the internet: the worker's harvest jobs and the submit form's arXiv fetch are off
# unless a test turns them on against a fake endpoint on 127.0.0.1 (tests/fakes).
os.environ.setdefault("PAPERSIFT_HARVEST", "0")
os.environ.setdefault("PAPERSIFT_FETCH_ON_SUBMIT", "0")


@contextmanager
def restored_root_logger() -> Iterator[None]:
    """Commands run in-process (CliRunner) call papersift.log.setup, which sets the root level and
    adds a handler on that invocation's stderr: undo both so nothing leaks into the next test."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        root.setLevel(level)
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    with restored_root_logger():
        yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """An index-owner engine over a freshly migrated temp data dir."""
    eng = open_engine(settings, "owner", upgrade=True)
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
