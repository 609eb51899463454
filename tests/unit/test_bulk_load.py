"""The bulk load's tuning (pipeline_bulk.py, store/bulk.py): the garbage collector comes back on, the
write-ahead log threshold is raised for the load and put back after it, JSON columns are encoded
the way SQLite's JSON reads them, and author keys computed in the parser are the index's."""

from __future__ import annotations

import gc
import json

import pytest

from papersift import pipeline_bulk
from papersift.index.authors import AUTHOR_KEYS, name_keys, paper_keys
from papersift.models import Paper
from papersift.store import bulk
from papersift.store.db import Database
from papersift.store.papers import SQLStore


def test_automatic_gc_is_off_during_a_load_and_on_again_after_it_even_after_an_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), pipeline_bulk._few_gc():
        assert not gc.isenabled() and gc.get_freeze_count() > 0
        raise RuntimeError("a batch failed")
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_json_columns_read_back_as_the_values_written_with_the_standard_encoder_as_fallback():
    for value in (["Zoë Ångström", "李雷"], {"abs": "https://arxiv.org/abs/1"}, [], ["a\u0000b"]):
        assert json.loads(bulk._JSON(value)) == value
    huge = [2**70]  # orjson refuses integers over 64 bits
    assert bulk._JSON(huge) == json.dumps(huge)


def test_paper_keys_are_each_name_keys_once_in_order():
    authors = ["Dan Alistarh", "D. Alistarh", "Alistarh, Dan", "Wei Chen", "Plato"]
    expected = list(dict.fromkeys(k for a in authors for k in name_keys(a)))
    assert list(paper_keys(authors)) == expected
    assert expected[:2] == ["i:alistarh d", "f:alistarh dan"] and "a:alistarh d" in expected


def test_pack_and_unpack_carry_the_author_keys_and_the_row(tmp_path):
    p = Paper(title="A study of things", authors=["José García", "D. Alistarh"], id="2401.00001",
              abstract="We study things.")
    lay = bulk.layout()
    q = pipeline_bulk._unpack(pipeline_bulk._pack(p, lay))
    assert q == p and q.norm_title == p.norm_title
    assert q.__dict__[AUTHOR_KEYS] == paper_keys(p.authors) == ("i:garcia j", "f:garcia jose", "i:alistarh d",
                                                                "a:alistarh d")
    assert q.__dict__[bulk.ROW] == lay.template(p)


def test_a_load_raises_the_checkpoint_threshold_and_end_load_puts_it_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    db = Database(url)
    db.upgrade()
    store = SQLStore(db)
    try:
        p = Paper(title="A study of things", authors=["A. B"], id="2401.00001")
        got = bulk.insert_new(store, [p], source="t", wal_pages=12345)
        assert got[0].new == 1
        with db.engine.connect() as conn:  # the one pooled connection the write used
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 12345
        bulk.end_load(store)
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == bulk.WAL_PAGES_DEFAULT
        assert store.get("2401.00001") is not None
    finally:
        db.close()
