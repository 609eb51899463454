"""Importer registry: format detection, reading and path expansion.

``FORMATS`` maps a format name to its importer (a module or object with FORMAT, sniff, read).
``read(path, fmt="auto")`` is total for bad data: it yields Papers and ParseErrors and never raises
for file content (an unknown *format name* is a caller error and raises ValueError). Gzipped
files are decompressed transparently (detected by magic bytes, whatever the extension).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from papersift.ingest import arxiv_atom, arxiv_oai, arxiv_snapshot, bibtex, hf_json, hf_text, tabular
from papersift.ingest.base import Importer, Record
from papersift.ingest.common import probe
from papersift.models import Paper, ParseError

FORMATS: dict[str, Importer] = {
    hf_text.FORMAT: hf_text,
    hf_json.FORMAT: hf_json,
    arxiv_atom.FORMAT: arxiv_atom,
    arxiv_oai.FORMAT: arxiv_oai,
    arxiv_snapshot.FORMAT: arxiv_snapshot,
    bibtex.FORMAT: bibtex,
    tabular.JSONL.FORMAT: tabular.JSONL,
    tabular.CSV.FORMAT: tabular.CSV,
}

# Content sniffers, most specific first; the generic tabular ones last.
_SNIFF_ORDER = ("arxiv-oai", "arxiv-atom", "arxiv-snapshot", "hf-json", "hf-text", "bibtex", "jsonl", "csv")
_BY_EXTENSION = {
    ".bib": ("bibtex",), ".bibtex": ("bibtex",),
    ".csv": ("csv",), ".tsv": ("csv",),
    ".xml": ("arxiv-oai", "arxiv-atom"), ".atom": ("arxiv-atom",),
    ".txt": ("hf-text", "bibtex", "csv"),
    ".json": ("arxiv-atom", "arxiv-snapshot", "hf-json", "jsonl"),
    ".jsonl": ("arxiv-snapshot", "hf-json", "jsonl"), ".ndjson": ("arxiv-snapshot", "hf-json", "jsonl"),
}


def detect_format(path: Path) -> str:
    """Format name of a file, from its content (first 64 KB) and extension; ParseError if unknown."""
    path = Path(path)
    head = probe(path)  # raises ParseError: missing, empty, binary, unreadable
    name = path.name.lower().removesuffix(".gz")
    ext = os.path.splitext(name)[1]
    candidates = _BY_EXTENSION.get(ext, ())
    for fmt in (*candidates, *(f for f in _SNIFF_ORDER if f not in candidates)):
        try:
            if FORMATS[fmt].sniff(head, path):
                return fmt
        except Exception:  # a sniffer must never break detection
            continue
    raise ParseError(str(path), "file", f"unknown format (extension {ext or 'none'!r}); pass one of "
                                        f"{', '.join(FORMATS)} explicitly")


def read(path: Path, fmt: str = "auto") -> Iterator[Record]:
    """Papers and ParseErrors from one file, in file order."""
    path = Path(path)
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: auto, {', '.join(FORMATS)}")
    if fmt == "auto":
        try:
            fmt = detect_format(path)
        except ParseError as e:
            yield e
            return
    records = FORMATS[fmt].read(path)
    n = 0
    while True:
        try:
            rec = next(records)
        except StopIteration:
            return
        except Exception as e:  # last line of defence: an importer bug ends this file only
            yield ParseError(str(path), "file", f"importer {fmt} failed: {type(e).__name__}: {e}")
            return
        n += 1
        if isinstance(rec, Paper):
            if not rec.origin:
                rec.origin = f"record {n}"
            if not rec.title:  # e.g. a title made only of control characters or lone surrogates
                rec = ParseError(str(path), rec.origin, "no title left once invalid characters are removed")
        yield rec


def iter_paths(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Files named, and files under directories named (recursively, sorted, hidden ones skipped,
    symlinked directories not followed, so a symlink loop is never walked). Paths that do not
    exist, and entries that are not regular files (FIFOs, sockets, devices, symlink loops), are
    passed through so that ``read`` (and the pipeline) report them as skipped, without opening them."""
    for p in paths:
        p = Path(p)
        if not p.is_dir():
            yield p
            continue
        for root, dirs, files in os.walk(p, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for f in sorted(files):
                if not f.startswith("."):
                    yield Path(root) / f


__all__ = ["FORMATS", "Record", "detect_format", "iter_paths", "read"]
