"""The bulk path of ``papersift ingest`` for the arXiv metadata snapshot (issue 9).

Same contract as the general path in pipeline.py (dedup, owner rules, ingest log, per-record
isolation), less work per record:

* orjson decode and one fused clean per record (ingest/snapshot_fast.py), in a forked child
  process that hands this one plain tuples (a Paper's fields in order, its normalised title, its
  author keys for the lexical index and its store row but for pk/seq/first_seen: pickled far
  faster than the Paper objects the general path sends, and work this process no longer does),
  over a pipe whose few buffered batches bound memory;
* new papers go to SQLite as prepared tuples in one ``executemany`` per batch, duplicates through
  the merging upsert (store/bulk.py);
* tantivy indexes in its own threads (the owner's writer) from the papers in hand;
* first load into an empty store: the papers indexes the load does not read are dropped and
  built after the data (store/bulk.py ``defer_indexes``; a killed load's next run builds them);
* resumable: every batch commits a checkpoint (the file's digest, the byte offset and line after
  the batch) with its last transaction; a re-run after a kill (SIGKILL included) seeks there, and
  anything of the interrupted batch that did land is found again and merged, not duplicated.

Used when the file is in the snapshot format and the store is SQLite; ``PAPERSIFT_BULK_INGEST=0``
turns it off (the general path then reads the file).
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import multiprocessing as mp
import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from papersift.engine import Engine
from papersift.index.authors import AUTHOR_KEYS, paper_keys
from papersift.ingest import snapshot_fast
from papersift.ingest.arxiv_snapshot import FORMAT
from papersift.models import IngestStats, Paper, ParseError
from papersift.store import bulk

if TYPE_CHECKING:
    from papersift.pipeline import IndexCommits, Progress

log = logging.getLogger(__name__)
# files larger than this are parsed in a child process (PAPERSIFT_BULK_PARALLEL_BYTES)
PARALLEL_BYTES = int(os.environ.get("PAPERSIFT_BULK_PARALLEL_BYTES", 8 << 20))
_FIELDS = tuple(f.name for f in dataclasses.fields(Paper))
Batch = tuple[list[Paper], list[ParseError], int, int]


# a full garbage collection every this many batches while automatic collection is off (_few_gc)
GC_EVERY_BATCHES = 64


@contextmanager
def _few_gc() -> Iterator[None]:
    """Automatic cyclic garbage collection off for a bulk load (reference counting frees its
    objects; they hold no cycles). Left on, it took ~17 % of both processes' time: every few
    hundred allocations it scans the young objects, and a batch allocates about a million.
    ``gc.freeze`` first moves everything alive now (imports, the engine) out of its reach, so the
    full collection every GC_EVERY_BATCHES batches only looks at what the load holds."""
    was = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was:
            gc.enable()


def _pack(p: Paper, layout: bulk.Layout) -> tuple[object, ...]:
    d = p.__dict__
    return (*(d[f] for f in _FIELDS), p.norm_title, paper_keys(p.authors), layout.template(p))


def _unpack(t: tuple[Any, ...]) -> Paper:
    p = Paper.__new__(Paper)
    d = p.__dict__
    d.update(zip(_FIELDS, t, strict=False))
    d["_norm"] = (d["title"], t[-3])  # Paper.norm_title's cache: computed once, in the child
    d[AUTHOR_KEYS] = t[-2]  # its author keys for the lexical index
    d[bulk.ROW] = t[-1]  # its row for the store, but for pk, seq and first_seen
    return p


def _child(path: Path, batch: int, offset: int, line: int, conn: Any, other_end: Any) -> None:
    """Runs in the parser process: parse, send plain tuples; an empty message ends the file. The
    inherited read end is closed first, so a killed ingest leaves no reader and a send fails."""
    other_end.close()
    try:
        layout = bulk.layout()
        with _few_gc():
            for i, (papers, errors, pos, n) in enumerate(snapshot_fast.read_batches(path, batch, offset, line), 1):
                conn.send_bytes(pickle.dumps(([_pack(p, layout) for p in papers], errors, pos, n), protocol=5))
                if i % GC_EVERY_BATCHES == 0:
                    gc.collect()
        conn.send_bytes(b"")
    except (BrokenPipeError, EOFError, OSError):  # the ingest is gone: so are we
        pass
    finally:
        conn.close()


def batches(path: Path, batch: int, offset: int = 0, line: int = 0) -> Iterator[Batch]:
    """Parsed batches of a snapshot file, from a checkpoint. A big file is parsed in a forked child
    (parse beside the store and index writes here); if the child cannot start or dies, parsing
    goes on in this process after the last batch it delivered."""
    try:
        ctx = mp.get_context("fork")
    except ValueError:
        ctx = None
    if ctx is None or (os.cpu_count() or 1) < 2 or path.stat().st_size - offset < PARALLEL_BYTES:
        yield from snapshot_fast.read_batches(path, batch, offset, line)
        return
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(path, batch, offset, line, send, recv), daemon=True)
    pos, n = offset, line
    try:
        proc.start()
        send.close()
        while True:
            try:
                data = recv.recv_bytes()
            except (EOFError, OSError):
                log.warning("%s: the parser process died after line %d; parsing on in this process", path, n)
                break
            if not data:
                return
            tuples, errors, pos, n = pickle.loads(data)
            yield [_unpack(t) for t in tuples], errors, pos, n
    finally:
        recv.close()
        if proc.is_alive():
            proc.terminate()
        if proc.pid is not None:
            proc.join(timeout=10)
    yield from snapshot_fast.read_batches(path, batch, pos, n)


def applies(eng: Engine, fmt: str) -> bool:
    return fmt == FORMAT and eng.db.is_sqlite and os.environ.get("PAPERSIFT_BULK_INGEST", "1") != "0"


def ingest_snapshot(eng: Engine, path: Path, digest: str | None, stats: IngestStats,
                    progress: Progress | None, pacer: IndexCommits, batch_size: int, force: bool = False) -> None:
    """Read one snapshot file into the store (and the lexical index, as owner), resuming after the
    last committed batch of an interrupted run of the same file content (unless ``force``)."""
    key = str(path)
    offset = line = 0
    if digest is not None and not force:
        cp = bulk.get_checkpoint(eng.store, key)
        if cp and cp.get("sha256") == digest and isinstance(cp.get("offset"), int) and isinstance(cp.get("line"), int):
            offset, line = cp["offset"], cp["line"]
            log.info("%s: resuming after line %d (byte %d) of an interrupted ingest", path, line, offset)
            if progress:
                progress(line)
    deferred = bulk.defer_indexes(eng.store)
    if deferred:
        log.info("first load into an empty store: %d indexes are built after the data", len(deferred))
    try:
        with _few_gc():
            _load(eng, path, key, digest, stats, progress, pacer, batch_size, offset, line)
    except BaseException:
        try:  # what stopped the load (a full disk, a read-only file, Ctrl-C) is what the caller sees
            bulk.end_load(eng.store)
        except Exception:
            log.warning("could not put SQLite's checkpoint threshold back after the load", exc_info=True)
        raise
    bulk.end_load(eng.store)


def _load(eng: Engine, path: Path, key: str, digest: str | None, stats: IngestStats, progress: Progress | None,
          pacer: IndexCommits, batch_size: int, offset: int, line: int) -> None:
    from papersift.pipeline import record_batch, record_rejected  # pipeline imports this module

    for i, (papers, errors, pos, n) in enumerate(batches(path, batch_size, offset, line), 1):
        if i % GC_EVERY_BATCHES == 0:
            gc.collect()
        point: tuple[str, dict[str, Any]] | None = (
            (key, {"sha256": digest, "offset": pos, "line": n}) if digest is not None else None)
        if papers:
            for got in bulk.insert_new(eng.store, papers, source=key, checkpoint=point, wal_pages=bulk.BULK_WAL_PAGES):
                record_batch(eng, stats, got)
        if errors:
            record_rejected(eng, stats, errors)
            if not papers and point is not None:
                with eng.db.write() as conn:
                    bulk.set_checkpoint(conn, *point)
        pacer.step(eng, len(papers))
        if progress:
            progress(len(papers) + len(errors))


def finish(eng: Engine, path: Path) -> None:
    """The file is fully read (and marked so in the ingest log): build the indexes a first load
    deferred, forget the file's checkpoint."""
    built = bulk.restore_indexes(eng.store)
    if built:
        log.info("built %d deferred indexes", built)
    bulk.clear_checkpoint(eng.store, str(path))
