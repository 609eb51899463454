"""ingest -> store (-> indexes when this process owns them): reading files into papersift.

Every batch is one store write (store/db.py). When this process is the index owner (engine.py)
it feeds the lexical index straight from the upserted rows and commits it every COMMIT_EVERY
papers or COMMIT_SECONDS, across files, and once at the end of ``ingest_paths``; otherwise it
writes the store only and the owner indexes. A deferred commit loses nothing: an index catches up
from the store's change log on the next owner open.

One bad record never blocks a file: importers yield it as a located ParseError, and a record the
store refuses is rejected alone (``SQLStore.upsert_many`` retries its batch in smaller
transactions). Every rejection goes to the ingest log and to ``IngestStats.errors``.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Full
from typing import Any

from papersift import ingest, pipeline_bulk
from papersift.engine import Engine
from papersift.ingest.common import check_regular
from papersift.models import IngestStats, Paper, ParseError

BATCH = 5000
PARALLEL_PARSE_BYTES = 8 << 20  # files larger than this are parsed in a child process
COMMIT_EVERY = 200_000  # papers between lexical index commits during a bulk ingest
COMMIT_SECONDS = 30.0  # ... and at most this long between them, so readers see new papers soon
Progress = Callable[[int], None]  # called with the number of records just handled


@dataclass
class IndexCommits:
    """When an owning ingest commits the lexical index: after COMMIT_EVERY papers or COMMIT_SECONDS,
    whichever comes first, counted across files, and at ``finish``. A tantivy commit costs about
    0.1 s: one per file made 10,000 one-record files take 16 minutes."""

    papers: int = 0
    last: float = field(default_factory=time.monotonic)

    def step(self, eng: Engine, papers: int) -> None:
        """Index what the store has that the index has not; commit when one is due."""
        if not eng.is_owner:
            return
        self.papers += papers
        due = self.papers >= COMMIT_EVERY or time.monotonic() - self.last >= COMMIT_SECONDS
        eng.catch_up(commit=due)
        if due:
            self.papers, self.last = 0, time.monotonic()

    def finish(self, eng: Engine) -> None:
        if eng.is_owner:
            eng.catch_up()
            self.papers, self.last = 0, time.monotonic()



def record_batch(eng: Engine, stats: IngestStats, got: IngestStats) -> None:
    """A batch the store took: its counts, the records it refused (the rest landed) and, as index
    owner when nobody wrote in between, its rows in the lexical index at once."""
    stats.add(got)
    if got.errors:
        eng.store.record_errors(got.errors)
    if eng.is_owner and got.seq and eng.lexical.applied_seq == got.seq - 1:
        eng.lexical.add(got.inserted, replace=False)
        eng.lexical.add(got.changed)
        eng.lexical.applied_seq = got.seq


def record_rejected(eng: Engine, stats: IngestStats, errors: list[ParseError]) -> None:
    """Records the parser could not read: counted, listed and logged in the store."""
    stats.read += len(errors)
    stats.rejected += len(errors)
    stats.errors.extend(errors)
    eng.store.record_errors(errors)

def _batched(records: Iterable[Paper | ParseError],
             size: int) -> Iterator[tuple[list[Paper], list[ParseError]]]:
    papers: list[Paper] = []
    errors: list[ParseError] = []
    for rec in records:
        if isinstance(rec, ParseError):
            errors.append(rec)
        else:
            papers.append(rec)
        if len(papers) >= size or len(errors) >= size:
            yield papers, errors
            papers, errors = [], []
    if papers or errors:
        yield papers, errors


def _parse_worker(path: Path, fmt: str, batch_size: int, queue: mp.Queue) -> None:
    """Runs in a child process: parse the file and hand batches to the parent. Exits as soon as
    the parent is gone (a killed ingest must not leave a parser blocked on a full queue)."""
    parent = os.getppid()

    def put(item: object) -> None:
        while True:
            try:
                queue.put(item, timeout=1)
                return
            except Full:
                if os.getppid() != parent:
                    os._exit(0)

    try:
        for item in _batched(ingest.read(path, fmt), batch_size):
            put(item)
    except BaseException as e:  # an importer bug must end this file, not hang the parent
        put(([], [ParseError(str(path), "file", f"importer failed: {type(e).__name__}: {e}")]))
    finally:
        put(None)


def _parsed_batches(path: Path, fmt: str, batch_size: int) -> Iterator[tuple[list[Paper], list[ParseError]]]:
    """Batches of parsed records. Big files are parsed in a forked child process, so parsing
    overlaps with the store and index writes in this one (about 1.7x on two cores). If the child
    cannot start or dies, parsing goes on here from the first record it had not delivered."""
    ctx = _fork_context()
    if ctx is None or (os.cpu_count() or 1) < 2 or path.stat().st_size < PARALLEL_PARSE_BYTES:
        yield from _batched(ingest.read(path, fmt), batch_size)
        return
    queue = ctx.Queue(maxsize=4)
    proc = ctx.Process(target=_parse_worker, args=(path, fmt, batch_size, queue), daemon=True)
    delivered = 0
    try:
        proc.start()
        while True:
            try:
                item = queue.get(timeout=2)
            except Empty:
                if proc.is_alive():
                    continue
                break  # died without its end marker: finish in this process
            if item is None:
                return
            delivered += len(item[0]) + len(item[1])
            yield item
    finally:
        if proc.is_alive():
            proc.terminate()
        if proc.pid is not None:
            proc.join(timeout=10)
    rest = itertools.islice(ingest.read(path, fmt), delivered, None)
    yield from _batched(rest, batch_size)


def _fork_context() -> Any:
    try:
        return mp.get_context("fork")  # no re-import of __main__ (spawn would re-run unguarded scripts)
    except ValueError:  # platforms without fork
        return None


@dataclass
class FileReport:
    path: Path
    format: str
    stats: IngestStats
    skipped: bool = False


def _storable(path: Path) -> bool:
    """False for a file name with undecodable bytes: the ingest log (UTF-8 text) cannot key it."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def ingest_file(eng: Engine, path: Path, fmt: str = "auto", force: bool = False,
                progress: Progress | None = None, batch_size: int = BATCH,
                commits: IndexCommits | None = None) -> FileReport:
    """Read one file into the store (and the index, as owner). Unchanged, fully ingested files
    are skipped; anything but a regular file (FIFO, socket, device, symlink loop) is rejected
    without being opened. ``commits`` paces the index commits across files (``ingest_paths``);
    without it the index is committed at the end of this file."""
    stats = IngestStats()
    logged = _storable(path)  # else read every time: a re-run adds nothing (dedup), it just re-reads
    try:
        check_regular(path)
        digest = eng.store.file_digest(path)
        real_fmt = ingest.detect_format(path) if fmt == "auto" else fmt
    except ParseError as e:
        stats.read += 1
        stats.rejected += 1
        stats.errors.append(e)
        eng.store.record_errors([e])
        return FileReport(path, fmt, stats)
    except OSError as e:
        err = ParseError(str(path), "file", f"cannot read: {e.strerror or e}")
        stats.read += 1
        stats.rejected += 1
        stats.errors.append(err)
        return FileReport(path, fmt, stats)
    if not force and logged and eng.store.file_done(path, digest):
        return FileReport(path, real_fmt, stats, skipped=True)
    pacer = commits or IndexCommits()
    fast = pipeline_bulk.applies(eng, real_fmt)  # the arXiv snapshot's bulk path (pipeline_bulk.py)
    if fast:
        pipeline_bulk.ingest_snapshot(eng, path, digest if logged else None, stats, progress, pacer, batch_size, force)
    for papers, errors in (() if fast else _parsed_batches(path, real_fmt, batch_size)):
        if papers:
            record_batch(eng, stats, eng.store.upsert_many(papers, source=str(path)))
        if errors:
            record_rejected(eng, stats, errors)
        pacer.step(eng, len(papers))
        if progress:
            progress(len(papers) + len(errors))
    if commits is None:
        pacer.finish(eng)
    if logged:
        eng.store.mark_file(path, digest, real_fmt, stats.read, stats.rejected)
        if fast:
            pipeline_bulk.finish(eng, path)
    return FileReport(path, real_fmt, stats)


def ingest_paths(eng: Engine, paths: Iterable[Path], fmt: str = "auto", force: bool = False,
                 progress: Progress | None = None, on_file: Callable[[FileReport], None] | None = None,
                 ) -> IngestStats:
    total = IngestStats()
    commits = IndexCommits()
    for path in ingest.iter_paths([Path(p) for p in paths]):
        report = ingest_file(eng, path, fmt, force, progress, commits=commits)
        total.add(report.stats)
        if on_file:
            on_file(report)
    commits.finish(eng)
    return total
