"""Reference-manager exports read into a library (parse only; accounts/interests.py stores them).

``read_library(path)`` yields ``Entry`` (a Paper and its tags) or ``ParseError`` per entry, for:

* BibTeX / BibLaTeX (Zotero "BibTeX"/"Better BibTeX", Google Scholar, JabRef): ingest/bibtex.py
  reads the papers; the ``keywords`` field gives the tags.
* Zotero CSV ("Item Type", "Title", "Author", "Abstract Note", "Manual Tags", ...): each row is
  mapped onto the generic schema and read by ingest/tabular.py; "Manual Tags" are the tags.
* Zotero RDF (XML, ``rdf:RDF`` with ``z:itemType``): parsed here with lxml (no entities, no
  network); manual tags (``dc:subject`` text) and the names of the collections holding an item
  are the tags. Attachments and notes are skipped.
* anything else papersift ingests (CSV/JSONL of the generic schema, arXiv formats): no tags.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from papersift.ingest import bibtex, tabular
from papersift.ingest.common import (
    located,
    parse_date,
    probe,
    read_all,
    read_text,
    safe_parser,
    split_authors,
    text_of,
    xml_error,
)
from papersift.models import Paper, ParseError, split_arxiv_id

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "z": "http://www.zotero.org/namespaces/export#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "bib": "http://purl.org/net/biblio#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "prism": "http://prismstandard.org/namespaces/1.2/basic/",
}
RDF_ABOUT = f"{{{NS['rdf']}}}about"
RDF_RESOURCE = f"{{{NS['rdf']}}}resource"
SKIP_TYPES = {"attachment", "note", "annotation"}
_DOI = re.compile(r"\b(10\.\d{4,9}/\S+)", re.IGNORECASE)
FORMATS = ("auto", "bibtex", "zotero-csv", "zotero-rdf", "csv", "jsonl")


@dataclass
class Entry:
    paper: Paper
    tags: list[str] = field(default_factory=list)
    location: str = ""


def detect(path: Path) -> str:
    """bibtex | zotero-rdf | zotero-csv | another ingest format name; ParseError if unknown."""
    from papersift.ingest import detect_format

    head = probe(path)
    low = head[:65536].lower()
    if b"rdf:rdf" in low and b"zotero.org/namespaces/export" in low:
        return "zotero-rdf"
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].lower()
    if b"item type" in first and b"title" in first:
        return "zotero-csv"
    return detect_format(path)


def read_library(path: Path, fmt: str = "auto") -> Iterator[Entry | ParseError]:
    path = Path(path)
    if fmt == "auto":
        try:
            fmt = detect(path)
        except ParseError as e:
            yield e
            return
    if fmt == "zotero-rdf":
        yield from _read_rdf(path)
    elif fmt == "zotero-csv":
        yield from _read_zotero_csv(path)
    elif fmt == "bibtex":
        yield from _read_bibtex(path)
    else:
        from papersift.ingest import read

        for rec in read(path, fmt):
            yield rec if isinstance(rec, ParseError) else Entry(rec, [], rec.origin)


# -- BibTeX -------------------------------------------------------------------------------------------
def _bibtex_keywords(path: Path) -> dict[str, list[str]]:
    import bibtexparser

    out: dict[str, list[str]] = {}
    try:
        lib = bibtexparser.parse_string(read_text(path))
    except Exception:  # bibtex.read reports what cannot be parsed
        return out
    for e in lib.entries:
        kw = e.fields_dict.get("keywords")
        if kw is not None and isinstance(kw.value, str):
            out[e.key] = [bibtex.latex_to_text(t).strip() for t in re.split(r"[,;]", kw.value) if t.strip()]
    return out


def _read_bibtex(path: Path) -> Iterator[Entry | ParseError]:
    keywords = _bibtex_keywords(path)
    for rec in bibtex.read(path):
        if isinstance(rec, ParseError):
            yield rec
            continue
        m = re.match(r"entry (\S+) \(", rec.origin)
        yield Entry(rec, keywords.get(m.group(1), []) if m else [], rec.origin)


# -- Zotero CSV ---------------------------------------------------------------------------------------
def _read_zotero_csv(path: Path) -> Iterator[Entry | ParseError]:
    source = str(path)
    try:
        text = read_text(path)
    except ParseError as e:
        yield e
        return
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as e:
        yield ParseError(source, "file", f"bad CSV: {e}")
        return
    for n, row in enumerate(rows, start=1):
        loc = f"row {n + 1}"
        r = {(k or "").strip().lower(): (v or "") for k, v in row.items() if isinstance(v, str)}
        if r.get("item type", "").strip().lower() in SKIP_TYPES:
            continue
        rec = {"title": r.get("title", ""), "abstract": r.get("abstract note", ""), "authors": r.get("author", ""),
               "doi": r.get("doi", ""), "url": r.get("url", ""),
               "published": r.get("date", "") or r.get("publication year", "")}
        extra = " ".join((r.get("extra", ""), r.get("url", ""), r.get("archive location", "")))
        if "arxiv" in extra.lower():
            aid, _v = split_arxiv_id(extra)
            if aid:
                rec["arxiv_id"] = aid
        try:
            got = tabular.to_paper(rec, source, loc, "zotero-csv")
        except Exception as e:  # one bad row never ends the file
            got = ParseError(source, loc, f"{type(e).__name__}: {e}")
        if isinstance(got, ParseError):
            yield got
            continue
        tags = [t.strip() for t in r.get("manual tags", "").split(";") if t.strip()]
        yield Entry(located(got, loc), tags, loc)  # type: ignore[arg-type]


# -- Zotero RDF ---------------------------------------------------------------------------------------
def _q(tag: str) -> str:
    prefix, _, name = tag.partition(":")
    return f"{{{NS[prefix]}}}{name}"


def _child_text(el: Any, tag: str) -> str:
    c = el.find(tag, NS)
    return " ".join(text_of(c).split()) if c is not None else ""


def _rdf_authors(item: Any) -> list[str]:
    names: list[str] = []
    for person in item.iterfind("bib:authors//foaf:Person", NS):
        given, family = _child_text(person, "foaf:givenName"), _child_text(person, "foaf:surname")
        name = " ".join(x for x in (given, family) if x)
        if name:
            names.append(name)
    return split_authors(names)


def _rdf_ids(item: Any) -> tuple[str | None, str | None, str]:
    """(arXiv id, DOI, url) from rdf:about, dc:identifier, prism:number, dc:description."""
    texts = [item.get(RDF_ABOUT) or ""]
    url = ""
    for ident in item.iterfind("dc:identifier", NS):
        uri = ident.find("dcterms:URI/rdf:value", NS)
        if uri is not None:
            url = url or (uri.text or "").strip()
            texts.append(uri.text or "")
        else:
            texts.append(text_of(ident))
    texts += [_child_text(item, "prism:number"), _child_text(item, "dc:description"),
              _child_text(item, "dcterms:isReferencedBy")]
    doi = None
    for t in texts:
        m = _DOI.search(t)
        if m:
            doi = m.group(1).rstrip(".,;")
            break
    aid = None
    for t in texts:
        if "arxiv" in t.lower():
            aid, _v = split_arxiv_id(t)
            if aid:
                break
    if not aid and doi and doi.lower().startswith("10.48550/arxiv."):
        aid, _v = split_arxiv_id(doi[len("10.48550/arxiv."):])
    return aid, doi, url


def _read_rdf(path: Path) -> Iterator[Entry | ParseError]:
    source = str(path)
    try:
        root = etree.fromstring(read_all(path), safe_parser())
    except ParseError as e:
        yield e
        return
    except etree.XMLSyntaxError as e:
        yield xml_error(source, e)
        return
    if root is None or root.tag != _q("rdf:RDF"):
        yield ParseError(source, "file", "not a Zotero RDF export (no rdf:RDF root)")
        return
    collections: dict[str, list[str]] = {}
    for coll in root.iterfind("z:Collection", NS):
        name = _child_text(coll, "dc:title")
        for part in coll.iterfind("dcterms:hasPart", NS):
            ref = part.get(RDF_RESOURCE)
            if ref and name:
                collections.setdefault(ref, []).append(name)
    n = 0
    for item in root:
        if not isinstance(item.tag, str):
            continue
        kind = _child_text(item, "z:itemType").lower()
        if not kind or kind in SKIP_TYPES:
            continue
        n += 1
        about = item.get(RDF_ABOUT) or ""
        loc = f"item {n} ({about or etree.QName(item).localname}, line {item.sourceline})"
        title = _child_text(item, "dc:title")
        if not title:
            yield ParseError(source, loc, "item has no title")
            continue
        aid, doi, url = _rdf_ids(item)
        tags = [" ".join(s.text.split()) for s in item.iterfind("dc:subject", NS) if s.text and s.text.strip()]
        try:
            paper = Paper(title=title, abstract=_child_text(item, "dcterms:abstract"), authors=_rdf_authors(item),
                          published=parse_date(_child_text(item, "dc:date")), doi=doi, arxiv_id=aid,
                          links={"abs": url} if url.startswith(("http://", "https://")) else {},
                          sources=["zotero-rdf"])
        except Exception as e:  # one bad item never ends the file
            yield ParseError(source, loc, f"{type(e).__name__}: {e}")
            continue
        if not paper.title:
            yield ParseError(source, loc, "no title left once invalid characters are removed")
            continue
        yield Entry(located(paper, loc), [*tags, *collections.get(about, [])], loc)  # type: ignore[arg-type]
