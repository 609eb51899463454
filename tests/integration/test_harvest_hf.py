"""The Hugging Face daily-list mirror against a fake endpoint serving the recorded 2024-10-25 list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from papersift.accounts import users as accounts_users
from papersift.accounts.community import set_vote
from papersift.engine import Engine
from papersift.harvest import harvest_hf
from papersift.sources.http import PoliteClient
from papersift.store import harvest as harvest_sql
from papersift.store.db import current_change
from tests.conftest import backend_database_url
from tests.fakes.servers import FIXTURES, FakeHf

PAPERSIFT = str(Path(sys.executable).with_name("papersift"))
RECORDED = json.loads((FIXTURES / "hf" / "daily_papers_2024-10-25.json").read_bytes())
DAY = date(2024, 10, 25)
pytestmark = pytest.mark.backends



def run(engine: Engine, srv: FakeHf, days: list[date]):
    with PoliteClient(delay=0, contact="t@example.org") as c:
        return harvest_hf(engine, c, days, endpoint=f"{srv.base}/api/daily_papers")


def test_daily_list_lands_with_hf_signals_and_rerun_changes_nothing(engine: Engine) -> None:
    with FakeHf() as srv:
        rep = run(engine, srv, [DAY])
        assert srv.requests[0].query == {"date": "2024-10-25", "limit": "100"}
        assert (rep.pages, rep.new, rep.rejected) == (1, 29, 0)
        first = RECORDED[0]
        p = engine.store.get(first["paper"]["id"])
        assert p is not None
        assert p.source_upvotes == first["paper"]["upvotes"] == 64
        assert p.upvotes == 0  # papersift's own votes stay apart
        assert p.submitted_by == first["submittedBy"]["name"] == "ClownRat"
        assert p.submitted_on_daily_at is not None and p.submitted_on_daily_at.date() == DAY
        assert p.num_comments == first["numComments"] == 3
        assert p.thumbnail == first["thumbnail"]
        assert p.published == date(2024, 10, 22)
        assert engine.store.count() == 29
        with engine.db.read() as conn:
            change = current_change(conn)
        again = run(engine, srv, [DAY])
        assert (again.new, again.updated, again.unchanged) == (0, 0, 29)
        with engine.db.read() as conn:
            assert current_change(conn) == change  # a re-run changes nothing, not even a change number
    assert harvest_sql.get_state(engine.db, "hf").high_water == "2024-10-25"


def test_local_votes_and_hf_upvotes_are_never_double_counted(engine: Engine) -> None:
    user = accounts_users.create_user(engine.db, "voter", "a long enough password")
    with FakeHf() as srv:
        run(engine, srv, [DAY])
        p = engine.store.get("2410.17243")
        assert p is not None
        set_vote(engine.db, user, p, up=True)
        # HF's count grows: the mirror takes HF's new count, papersift's vote stays its own
        srv.edit = lambda items: [{**it, "paper": {**it["paper"], "upvotes": it["paper"]["upvotes"] + 10}}
                                  for it in items]
        rep = run(engine, srv, [DAY])
        assert rep.updated == 29
        run(engine, srv, [DAY])  # and once more: still no double counting
    p = engine.store.get("2410.17243")
    assert p is not None and (p.source_upvotes, p.upvotes) == (74, 1)


def test_days_without_a_list_and_paging(engine: Engine) -> None:
    many = [{**RECORDED[i % 29], "paper": {**RECORDED[i % 29]["paper"], "id": f"2410.{90000 + i}"},
             "title": f"A generated daily paper number {i} for paging"} for i in range(130)]
    with FakeHf(lists={"2024-10-24": many, "2024-10-25": RECORDED}) as srv:
        rep = run(engine, srv, [date(2024, 10, 23), date(2024, 10, 24), DAY])
        assert [r.query.get("p") for r in srv.requests] == [None, None, "1", None]
    assert (rep.pages, rep.new) == (3, 159)


def test_harvest_hf_command(tmp_path: Path, backend: str, request: pytest.FixtureRequest,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    backend_database_url(backend, request, monkeypatch)
    env = {**os.environ, "PAPERSIFT_HARVEST_DELAY": "0", "PAPERSIFT_DATA": str(tmp_path / "d"), "COLUMNS": "200"}
    with FakeHf() as srv:
        cmd = [PAPERSIFT, "harvest", "hf", "--date", "2024-10-25", "--endpoint", f"{srv.base}/api/daily_papers",
               "--json"]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        assert (got["new"], got["pages"], got["rejected"]) == (29, 1, 0)
        r2 = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert json.loads(r2.stdout)["new"] == 0 and json.loads(r2.stdout)["updated"] == 0
        bad = subprocess.run([*cmd[:3], "--date", "2024-10-25", "--from", "2024-10-01"], env=env,
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and "either --date or --from" in " ".join(bad.stderr.split())
    shown = subprocess.run([PAPERSIFT, "show", "2410.17243", "--json"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert shown.returncode == 0 and "Breaking the Memory Barrier" in shown.stdout
    assert datetime.fromisoformat(json.loads(shown.stdout)["first_seen"])
    assert (tmp_path / "d" / "papersift.db").exists() == (backend == "sqlite")  # the CLI used this backend
