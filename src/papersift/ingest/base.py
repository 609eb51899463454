"""The contract every importer follows.

An importer module exposes ``FORMAT`` (its name), ``sniff(head: bytes, path) -> bool`` and
``read(path) -> Iterator[Paper | ParseError]``. It is total: a bad record is *yielded* as a
``ParseError`` (file, location, reason) and reading goes on; a file that cannot be read at all
yields one ``ParseError`` and stops. Parsers never touch the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from papersift.models import Paper, ParseError

Record = Paper | ParseError


class Importer(Protocol):
    FORMAT: str

    def sniff(self, head: bytes, path: Path) -> bool: ...

    def read(self, path: Path) -> Iterator[Record]: ...


def decode(data: bytes, source: str) -> str:
    """Decode bytes as UTF-8 (with BOM), falling back to cp1252/latin-1; reject binary data."""
    if b"\x00" in data[:8192]:
        raise ParseError(source, "file", "binary file (NUL bytes), not text")
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")
