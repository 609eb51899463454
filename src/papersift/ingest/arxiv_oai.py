"""arXiv OAI-PMH responses (ListRecords / GetRecord) with metadataPrefix "arXivRaw" or "arXiv".

arXivRaw: the highest <version version="vN"> gives the version and its date the `updated` date;
v1's date is `published`. arXiv: <created> is `published`, <updated> is `updated`, no version.
Deleted records (header status="deleted") carry no metadata and are skipped. An OAI-PMH <error>
is reported as a ParseError, except noRecordsMatch, which just means zero records.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from papersift.ingest.base import Record
from papersift.ingest.common import (
    decode_accents,
    first_doi,
    free,
    located,
    open_binary,
    parse_date,
    probe,
    safe_iterparse,
    safe_parser,
    split_authors,
    text_of,
    xml_error,
    xml_source,
)
from papersift.models import Paper, ParseError, split_arxiv_id

FORMAT = "arxiv-oai"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
RAW = "{http://arxiv.org/OAI/arXivRaw/}"
ARX = "{http://arxiv.org/OAI/arXiv/}"


def sniff(head: bytes, path: Path) -> bool:
    return b"http://www.openarchives.org/OAI/2.0/" in head and b"<OAI-PMH" in head


def _t(el: Any, tag: str) -> str:
    return text_of(el.find(tag)).strip()


def _raw_to_paper(md: Any) -> Paper:
    versions = []
    for v in md.findall(f"{RAW}version"):
        m = re.fullmatch(r"v?(\d+)", (v.get("version") or "").strip())
        if m:
            versions.append((int(m.group(1)), parse_date(_t(v, f"{RAW}date"))))
    versions.sort(key=lambda x: x[0])
    return Paper(
        title=decode_accents(_t(md, f"{RAW}title")),
        abstract=_t(md, f"{RAW}abstract"),
        authors=split_authors(_t(md, f"{RAW}authors")),
        categories=_t(md, f"{RAW}categories").split(),
        published=versions[0][1] if versions else None,
        updated=versions[-1][1] if versions else None,
        doi=first_doi(_t(md, f"{RAW}doi")),
        arxiv_id=_t(md, f"{RAW}id") or None,
        version=versions[-1][0] if versions else None,
        sources=[FORMAT],
    )


def _arxiv_to_paper(md: Any) -> Paper:
    authors = []
    for a in md.findall(f"{ARX}authors/{ARX}author"):
        parts = [_t(a, f"{ARX}forenames"), _t(a, f"{ARX}keyname"), _t(a, f"{ARX}suffix")]
        name = " ".join(p for p in parts if p)
        if name:
            authors.append(decode_accents(name))
    return Paper(
        title=decode_accents(_t(md, f"{ARX}title")),
        abstract=_t(md, f"{ARX}abstract"),
        authors=authors,
        categories=_t(md, f"{ARX}categories").split(),
        published=parse_date(_t(md, f"{ARX}created")),
        updated=parse_date(_t(md, f"{ARX}updated")),
        doi=first_doi(_t(md, f"{ARX}doi")),
        arxiv_id=_t(md, f"{ARX}id") or None,
        sources=[FORMAT],
    )


def record_to_paper(rec: Any, source: str, location: str) -> Record | None:
    """Map one <record>; None for a deleted record."""
    header = rec.find(f"{OAI}header")
    ident = _t(header, f"{OAI}identifier") if header is not None else ""
    if header is not None and header.get("status") == "deleted":
        return None
    meta = rec.find(f"{OAI}metadata")
    md = meta[0] if meta is not None and len(meta) else None
    if md is None:
        return ParseError(source, location, f"record {ident or '?'} has no metadata")
    if md.tag == f"{RAW}arXivRaw":
        paper = _raw_to_paper(md)
    elif md.tag == f"{ARX}arXiv":
        paper = _arxiv_to_paper(md)
    else:
        return ParseError(source, location,
                          f"unsupported metadata format {md.tag!r} (want arXivRaw or arXiv)")
    if not paper.title:
        return ParseError(source, location, f"record {ident or paper.arxiv_id or '?'} has no title")
    if not paper.arxiv_id:  # fall back to the OAI identifier (oai:arXiv.org:1302.2146)
        aid, _ = split_arxiv_id(ident.rsplit(":", 1)[-1])
        if aid:
            paper = dataclasses.replace(paper, arxiv_id=aid, id="", links={})
    return paper


def read(path: Path) -> Iterator[Record]:
    source = str(path)
    try:
        head = probe(path)
    except ParseError as e:
        yield e
        return
    n = 0
    try:
        with open_binary(path) as f:
            for _, el in safe_iterparse(xml_source(f, head), (f"{OAI}record", f"{OAI}error")):
                if el.tag == f"{OAI}error":
                    code = el.get("code") or "error"
                    if code != "noRecordsMatch":
                        yield ParseError(source, f"line {el.sourceline}",
                                         f"OAI-PMH error {code}: {' '.join(text_of(el).split())}")
                    free(el)
                    continue
                n += 1
                loc = f"record {n} (line {el.sourceline})"
                try:
                    rec = record_to_paper(el, source, loc)
                    if rec is not None:
                        rec = located(rec, loc)
                except Exception as e:  # one odd record must not stop the harvest
                    rec = ParseError(source, f"record {n}", f"cannot read record: {e}")
                if rec is not None:
                    yield rec
                free(el)
    except Exception as e:  # lxml syntax error (truncated/malformed XML) or I/O error
        yield xml_error(source, e)


def resumption_token(xml_bytes: bytes) -> tuple[str | None, int | None]:
    """(resumptionToken, completeListSize) of a ListRecords page; (None, size) on the last page.

    Raises ParseError when the page is not well-formed XML (the harvester should retry it)."""
    try:
        root = etree.parse(io.BytesIO(xml_bytes), safe_parser()).getroot()
    except etree.XMLSyntaxError as e:
        raise xml_error("resumption token", e) from None
    el = root.find(f".//{OAI}resumptionToken")
    if el is None:
        return None, None
    token = (el.text or "").strip() or None
    size = (el.get("completeListSize") or "").strip()
    return token, int(size) if size.isdigit() else None
