"""Author name keys: "Dan Alistarh", "D. Alistarh" and "Alistarh, Dan" are one author; "Wei Chen",
"Xi Chen" and "Yu Chen" are three.

Each stored author name gives keys (indexed by index/lexical.py in a raw field):

* ``i:alistarh d`` - surname and first initial (every name);
* ``f:alistarh dan`` - surname and full first name (names written with one);
* ``a:alistarh d`` - surname and initial, for names written with an initial only ("D. Alistarh").

A filter written with a full first name ("Dan Alistarh", "Alistarh, Dan") matches ``f:alistarh dan``
and the initial-only ``a:alistarh d`` (that may be Dan; the source did not say more), never
"Dmitri Alistarh"; a filter written with an initial ("D. Alistarh") matches every ``i:alistarh d``.
"""

from __future__ import annotations

import re
import unicodedata

# a Paper attribute holding its author keys (``paper_keys``), set by a bulk ingest's parser process
AUTHOR_KEYS = "_author_keys"
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}
_PART = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


def _fold(text: str) -> str:
    if text.isascii():  # NFKD leaves ASCII as it is and it has no combining marks
        return text.lower()
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def split_name(name: str) -> tuple[str, str, bool] | None:
    """(surname, first given name or initial, given is an initial) for a person's name, or None
    when it has no surname and given name ("Plato", "")."""
    name = _fold(name.strip())
    if "," in name:
        last, _, first = name.partition(",")
        first_words = [w for w in _PART.findall(first) if w not in _SUFFIXES]
        last_words = [w for w in _PART.findall(last) if w not in _SUFFIXES]
        if not first_words or not last_words:
            return None
        surname = "".join(last_words[-1:])
        given_raw = first.strip().split()[0] if first.strip() else ""
        given = first_words[0]
    else:
        tokens: list[tuple[str, list[str]]] = []  # (word, its name parts): each word split once
        for t in name.split():
            parts = _PART.findall(t)
            if parts and parts[0] not in _SUFFIXES:
                tokens.append((t, parts))
        if len(tokens) < 2:
            return None
        surname = tokens[-1][1][-1]
        given_raw = tokens[0][0]
        given = tokens[0][1][0]
    return surname, given, len(given) == 1 or (given_raw.endswith(".") and len(given) <= 2)


def name_keys(name: str) -> list[str]:
    """The index keys of one stored author name (see the module docstring)."""
    parts = split_name(name)
    if parts is None:
        return []
    surname, given, initial = parts
    keys = [f"i:{surname} {given[0]}"]
    keys.append(f"a:{surname} {given[0]}" if initial else f"f:{surname} {given}")
    return keys


def paper_keys(authors: list[str]) -> tuple[str, ...]:
    """The keys of a paper's author list, each once, in order (what the lexical index stores)."""
    return tuple(dict.fromkeys(k for a in authors for k in name_keys(a)))


def query_keys(name: str) -> list[str] | None:
    """The keys an author filter matches (any of them), or None when the filter is not a
    "given name + surname" (one word: the caller matches it as a word of any author name)."""
    parts = split_name(name)
    if parts is None:
        return None
    surname, given, initial = parts
    if initial:
        return [f"i:{surname} {given[0]}"]
    return [f"f:{surname} {given}", f"a:{surname} {given[0]}"]
