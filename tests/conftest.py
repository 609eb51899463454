"""Shared fixtures: every test builds its own temp data dir (and, on PostgreSQL, its own database).

Backends: a test module marked ``pytestmark = pytest.mark.backends`` runs every test that uses
``settings`` / ``engine`` / ``db_url`` / ``backend`` twice, ``[sqlite]`` and ``[postgres]``; the
PostgreSQL run gets a fresh database in a throwaway cluster started once per session (tests/pg.py).
Unmarked tests run on SQLite only. Without PostgreSQL on the machine the ``[postgres]`` tests skip
with one reason; ``PAPERSIFT_REQUIRE_POSTGRES=1`` makes that an error (CI sets it).
"""

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
from tests.pg import PgCluster, PgUnavailable, start_cluster

FIXTURES = Path(__file__).parent / "fixtures"
BACKENDS = ("sqlite", "postgres")
# a deployment's settings in the shell must never reach the tests (they would write to its database)
for _var in ("PAPERSIFT_DATABASE_URL", "PAPERSIFT_SECRET_KEY"):
    os.environ.pop(_var, None)


def require_postgres() -> bool:
    return os.environ.get("PAPERSIFT_REQUIRE_POSTGRES", "").strip().lower() in ("1", "true", "yes", "on")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not metafunc.definition.get_closest_marker("backends"):
        return
    if "e2e_backend" in metafunc.fixturenames:  # live servers: one per module and backend
        metafunc.parametrize("e2e_backend", BACKENDS, indirect=True, scope="module")
    elif "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


NO_PG = "no PostgreSQL here"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Every [postgres] test skipped for want of PostgreSQL reports one location, so the summary
    folds them into ONE line ("SKIPPED [N] tests/conftest.py: no PostgreSQL here ...")."""
    rep: pytest.TestReport = yield
    if rep.skipped and isinstance(rep.longrepr, tuple) and NO_PG in str(rep.longrepr[2]):
        rep.longrepr = (__file__, 0, rep.longrepr[2])
    return rep


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """"sqlite" (the default) or "postgres" (modules marked ``backends`` run both)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One real PostgreSQL for the whole session (started on first use, stopped at the end)."""
    try:
        cluster = start_cluster()
    except PgUnavailable as e:
        if require_postgres():
            pytest.fail(f"PAPERSIFT_REQUIRE_POSTGRES is set but PostgreSQL cannot start: {e}", pytrace=False)
        pytest.skip(f"{NO_PG} ({e}); the [postgres] tests run in CI")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of this test's own."""
    url = pg_cluster.create_database(migrated=True)
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture
def pg_empty_url(pg_cluster: PgCluster) -> Iterator[str]:
    """A fresh PostgreSQL database without any schema."""
    url = pg_cluster.create_database(migrated=False)
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The database URL of this test's backend: a migrated PostgreSQL database, or (SQLite) the
    not-yet-created file in the test's data dir."""
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    (tmp_path / "data").mkdir(exist_ok=True)
    return f"sqlite:///{tmp_path / 'data' / 'papersift.db'}"

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
def empty_db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database of this test's backend that has no schema yet."""
    if backend == "postgres":
        return str(request.getfixturevalue("pg_empty_url"))
    (tmp_path / "empty").mkdir(exist_ok=True)
    return f"sqlite:///{tmp_path / 'empty' / 'papersift.db'}"


def backend_database_url(backend: str, request: pytest.FixtureRequest,
                         monkeypatch: pytest.MonkeyPatch) -> str | None:
    """On PostgreSQL, a fresh database, also named in ``PAPERSIFT_DATABASE_URL`` (for this test
    only) so that the CLI processes and the apps a test starts use the same store; None on SQLite."""
    if backend != "postgres":
        return None
    url = str(request.getfixturevalue("pg_url"))
    monkeypatch.setenv("PAPERSIFT_DATABASE_URL", url)
    return url


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    url = str(request.getfixturevalue("pg_url")) if backend == "postgres" else None
    return Settings(data_dir=tmp_path / "data", database_url=url)


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
