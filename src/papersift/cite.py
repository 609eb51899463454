"""Citations: BibTeX entries (per paper, per search, a library with its tags as ``keywords``) and
the Highwire ``citation_*`` meta tags that Zotero, Google Scholar and Mendeley read from a paper
page. Pure functions of a Paper: the web pages, the API and the library export all use these."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

from papersift.models import Paper

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
STOP = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "towards", "toward"}
_KEY_CHARS = re.compile(r"[^a-z0-9]+")
_TEX_SPECIAL = re.compile(r"(?<!\\)([&%#])")


def precision(p: Paper) -> str | None:
    """How exact ``p.published`` is: "day", "month" or "year"; None without a date. A store from
    before dates carried a precision (no ``published_precision``) had only day dates."""
    if p.published is None:
        return None
    return getattr(p, "published_precision", None) or "day"


def is_web_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("https://", "http://"))


def _ascii_word(text: str) -> str:
    t = unicodedata.normalize("NFKD", text)
    return _KEY_CHARS.sub("", "".join(c for c in t if not unicodedata.combining(c)).lower())


def surname(author: str) -> str:
    """"Dan Alistarh" -> "Alistarh"; "Alistarh, Dan" -> "Alistarh"."""
    author = author.strip()
    if "," in author:
        return author.split(",", 1)[0].strip()
    parts = author.split()
    return parts[-1] if parts else ""


def cite_key(p: Paper) -> str:
    """surname + year + first significant title word, e.g. ``lovelace2024attention``."""
    who = _ascii_word(surname(p.authors[0])) if p.authors else ""
    year = f"{p.published.year:04d}" if p.published else ""
    words = [_ascii_word(w) for w in re.split(r"[\s\-:]+", p.title)]
    word = next((w for w in words if w and w not in STOP), "")
    key = f"{who}{year}{word}"
    if not key or not key[0].isalpha():
        key = "paper" + (key or _ascii_word(p.id))
    return key[:60]


def _balanced(text: str) -> bool:
    depth = 0
    for i, c in enumerate(text):
        if c in "{}" and i and text[i - 1] == "\\":
            continue
        depth += 1 if c == "{" else -1 if c == "}" else 0
        if depth < 0:
            return False
    return depth == 0


def bib_value(text: str) -> str:
    """A field value for ``{...}``: LaTeX kept as written ($...$, \\ell, accents), the characters
    that would break a LaTeX run escaped (&, %, #), unbalanced braces dropped (they would end the
    field early), no newlines."""
    text = " ".join(str(text).split())
    if not _balanced(text):
        text = text.replace("{", "").replace("}", "")
    return _TEX_SPECIAL.sub(r"\\\1", text)


def _author(name: str) -> str:
    name = bib_value(name)
    return "{" + name + "}" if re.search(r"\sand\s", name, re.IGNORECASE) else name


def bibtex_entry(p: Paper, base_url: str | None, key: str | None = None, keywords: Sequence[str] = (),
                 keep_case: bool = False) -> str:
    """One ``@misc`` entry in the style of arXiv's own export (eprint, archivePrefix, primaryClass),
    with what papersift knows: DOI, month when the date has one, abstract, and a URL (the paper's
    abstract page, else its page on ``base_url``). ``keywords``: a library's tags (``library
    import`` reads them back); ``keep_case``: the title in a second pair of braces, so BibTeX styles
    keep its capitals."""
    title = bib_value(p.title)
    fields: list[tuple[str, str]] = [("title", "{" + title + "}" if keep_case else title)]
    if p.authors:
        fields.append(("author", " and ".join(_author(a) for a in p.authors)))
    if p.published:
        fields.append(("year", f"{p.published.year:04d}"))
        if precision(p) in ("day", "month"):
            fields.append(("month", MONTHS[p.published.month - 1]))
    if p.arxiv_id:
        fields += [("eprint", p.arxiv_id), ("archivePrefix", "arXiv")]
        if p.categories:
            fields.append(("primaryClass", bib_value(p.categories[0])))
    if p.doi:
        fields.append(("doi", bib_value(p.doi)))
    url = p.links.get("abs") if is_web_url(p.links.get("abs")) else None
    if url or base_url:
        fields.append(("url", url or str(base_url).rstrip("/") + "/papers/" + p.id))
    if p.abstract:
        fields.append(("abstract", bib_value(p.abstract)))
    if keywords:
        fields.append(("keywords", bib_value(", ".join(keywords))))
    body = ",\n".join(f"  {name} = {{{value}}}" if name not in ("month", "year") else f"  {name} = {value}"
                      for name, value in fields)
    return f"@misc{{{key or cite_key(p)},\n{body}\n}}\n"


def bibtex(papers: Iterable[Paper], base_url: str | None, tags: Sequence[Sequence[str]] | None = None,
           keep_case: bool = False) -> str:
    """Entries for many papers, keys made unique (``...a``, ``...b``) in order; ``tags[i]`` are the
    i-th paper's ``keywords``."""
    seen: dict[str, int] = {}
    out = []
    for i, p in enumerate(papers):
        key = cite_key(p)
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n:
            key = f"{key}{chr(ord('a') + n - 1) if n <= 26 else n}"
        out.append(bibtex_entry(p, base_url, key, keywords=tags[i] if tags else (), keep_case=keep_case))
    return "\n".join(out)


def citation_meta(p: Paper) -> list[tuple[str, str]]:
    """Highwire Press ``<meta name=... content=...>`` pairs, as Google Scholar documents them:
    dates as YYYY/MM/DD, YYYY/MM or YYYY (only as exact as known), one citation_author per author."""
    meta: list[tuple[str, str]] = [("citation_title", p.title)]
    meta += [("citation_author", a) for a in p.authors]
    if p.published:
        d, prec = p.published, precision(p)
        when = f"{d.year:04d}" if prec == "year" else f"{d.year:04d}/{d.month:02d}" if prec == "month" \
            else f"{d.year:04d}/{d.month:02d}/{d.day:02d}"
        meta += [("citation_date", when), ("citation_publication_date", when)]
    if p.arxiv_id:
        meta.append(("citation_arxiv_id", p.arxiv_id))
    if p.doi:
        meta.append(("citation_doi", p.doi))
    if is_web_url(p.links.get("pdf")):
        meta.append(("citation_pdf_url", p.links["pdf"]))
    if is_web_url(p.links.get("abs")):
        meta.append(("citation_abstract_html_url", p.links["abs"]))
    if p.abstract:
        meta.append(("citation_abstract", p.abstract))
    return meta
