"""Author filters (and so author pages) match initials and "Last, First" forms without merging
different people who share a surname."""

import pytest

from papersift.index.authors import name_keys, query_keys, split_name
from papersift.index.lexical import Filters
from papersift.search.service import search
from tests.conftest import make_paper

pytestmark = pytest.mark.backends  # SQLite and PostgreSQL (tests/conftest.py)

NAMES = {1: "Dan Alistarh", 2: "D. Alistarh", 3: "Alistarh, Dan", 4: "Wei Chen", 5: "Xi Chen", 6: "Yu Chen",
         7: "Dmitri Alistarh"}


def _found(engine, author: str) -> set[str]:
    res = search(engine, "", limit=50, filters=Filters(author=author), mode="lexical")
    return {h.paper.authors[0] for h in res.hits if h.paper}


def test_author_forms_match_one_person_and_keep_namesakes_apart(engine):
    engine.store.upsert_many([make_paper(n, title=f"Paper number {n} on a topic of its own {name}",
                                         authors=[name]) for n, name in NAMES.items()])
    engine.catch_up()
    dan = {"Dan Alistarh", "D. Alistarh", "Alistarh, Dan"}
    for form in ("Dan Alistarh", "Alistarh, Dan", "dan alistarh"):
        assert _found(engine, form) == dan, form
    # an initial alone may be Dan or Dmitri: both, and nobody else
    assert _found(engine, "D. Alistarh") == dan | {"Dmitri Alistarh"}
    assert _found(engine, "Wei Chen") == {"Wei Chen"}
    assert _found(engine, "Xi Chen") == {"Xi Chen"}
    assert _found(engine, "Chen, Yu") == {"Yu Chen"}
    assert _found(engine, "Chen") == {"Wei Chen", "Xi Chen", "Yu Chen"}  # a surname alone: all of them


def test_name_keys() -> None:
    assert split_name("Alistarh, Dan") == ("alistarh", "dan", False)
    assert split_name("D. Alistarh") == ("alistarh", "d", True)
    assert split_name("Plato") is None
    assert set(name_keys("José García")) == {"i:garcia j", "f:garcia jose"}
    assert query_keys("Jose Garcia") == ["f:garcia jose", "a:garcia j"]
