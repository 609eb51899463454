"""The embed stage: papers' text in the store -> embedder -> vectors back in the store.

Any process may run it (it is a store writer); the index owner then follows the new vectors into
the vector index. It walks the papers that need a vector for the model in primary-key order and
commits every chunk in one transaction, so a killed run loses at most the chunk in flight and
resumes where it stopped; a paper whose text did not change since its last vector is not embedded
again. Callers that may run beside each other (the worker's embed job, ``papersift embed``) take
the "embed" job lease first (jobs/), so two processes never embed the same papers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from papersift.index.embedders import Embedder
from papersift.store import embeddings as vectors_sql
from papersift.store.db import Database

log = logging.getLogger(__name__)
CHUNK = 256  # papers per transaction


def text_of(title: str, abstract: str) -> str:
    """The text a paper is embedded from: "title. abstract", or whichever part it has (a paper
    with no title must not start with a stray ". ": it shifts every token the model sees)."""
    title, abstract = (title or "").strip(), (abstract or "").strip()
    if title and abstract:
        return f"{title}. {abstract}"
    return title or abstract


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class EmbedReport:
    embedded: int = 0  # vectors computed and stored
    unchanged: int = 0  # papers whose text had not changed: no model call
    stopped: bool = False  # ``should_stop`` ended the run early


def pending(db: Database, model: str) -> int:
    return vectors_sql.count_pending(db, model)


def embed_pending(db: Database, embedder: Embedder, progress: Callable[[int], None] | None = None,
                  batch_size: int = 64, chunk: int = CHUNK,
                  should_stop: Callable[[], bool] | None = None) -> EmbedReport:
    """Embed every paper that lacks a vector for ``embedder`` (or whose text changed)."""
    report = EmbedReport()
    after = 0
    while True:
        if should_stop is not None and should_stop():
            report.stopped = True
            break
        rows = vectors_sql.pending(db, embedder.name, after, chunk)
        if not rows:
            break
        texts = [text_of(r.title, r.abstract) for r in rows]
        hashes = [text_hash(t) for t in texts]
        need = [i for i, r in enumerate(rows) if hashes[i] != r.stored_hash]
        vecs = embedder.embed([texts[i] for i in need], batch_size=batch_size) if need else None
        by_row = {i: vecs[j] for j, i in enumerate(need)} if vecs is not None else {}
        vectors_sql.write(db, embedder.name, [(r.pk, r.seq, hashes[i], by_row.get(i)) for i, r in enumerate(rows)])
        report.embedded += len(need)
        report.unchanged += len(rows) - len(need)
        after = rows[-1].pk
        if progress is not None:
            progress(len(rows))
    return report
