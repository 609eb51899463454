"""The index owner's catch-up: follow the store's change log into the lexical index."""

from __future__ import annotations

import logging
from collections.abc import Callable

from papersift.index.lexical import LexicalIndex
from papersift.store import SQLStore

log = logging.getLogger(__name__)
Progress = Callable[[int], None]  # called with the number of records just handled


def catch_up(store: SQLStore, lexical: LexicalIndex, progress: Progress | None = None,
             commit_every: int = 100_000, commit: bool = True) -> int:
    """Apply every store change the lexical index has not seen yet. Returns papers indexed.

    With ``commit=False`` the changes are added but left for a later ``lexical.commit`` (bulk
    ingest commits once per file); a crash before that commit is healed by the next catch-up.
    Change numbers follow commit order (store/db.py), so "everything above the last number seen"
    never skips a change that commits later.
    """
    start = lexical.applied_seq
    target = store.max_seq()
    if target <= start:
        if commit and lexical.seq < lexical.applied_seq:
            lexical.commit(seq=lexical.applied_seq)
        return 0
    n = pending = 0
    for batch in store.iter_changed(start):
        n += lexical.add(batch)
        pending += len(batch)
        if progress:
            progress(len(batch))
        if pending >= commit_every:
            lexical.commit()
            pending = 0
    gone = store.deleted_changed(start)  # papers arXiv reported deleted: out of the index
    if gone:
        lexical.remove(gone)
        n += len(gone)
    lexical.applied_seq = max(target, lexical.applied_seq)
    if commit:
        lexical.commit(seq=lexical.applied_seq)
    if n:
        log.debug("lexical index caught up: %d papers, change %d", n, lexical.applied_seq)
    return n


def reindex(store: SQLStore, lexical: LexicalIndex, progress: Progress | None = None) -> int:
    """Rebuild the lexical index from the store."""
    lexical.clear()
    return catch_up(store, lexical, progress)
