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


@dataclasses.dataclass
class OaiPage:
    """One OAI-PMH response (a ListRecords / GetRecord page) read from bytes (sources/oai.py)."""

    records: list[Record]  # papers, and a located ParseError per malformed record
    deleted: list[str]  # arXiv ids of the records with <header status="deleted">
    datestamp: str | None  # the highest header datestamp on the page (YYYY-MM-DD...)
    token: str | None  # the resumptionToken; None on the last page
    complete_size: int | None
    cursor: int | None
    error: tuple[str, str] | None  # (code, message) of an OAI-PMH <error>

    @property
    def headers(self) -> int:
        return len(self.records) + len(self.deleted)


def parse_page(data: bytes, source: str) -> OaiPage:
    """Parse a whole OAI-PMH response. Raises ParseError when it is not well-formed XML (a
    truncated or garbled body: the harvester fetches it again). Malformed records come back as
    located ParseErrors in ``records``; deleted ones as ids in ``deleted``."""
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as e:
        raise xml_error(source, e) from None
    if root is None or root.tag != f"{OAI}OAI-PMH":
        raise ParseError(source, "file", f"not an OAI-PMH response (root element {getattr(root, 'tag', None)!r})")
    err = root.find(f"{OAI}error")
    if err is not None:
        return OaiPage([], [], None, None, None, None,
                       (err.get("code") or "error", " ".join(text_of(err).split())))
    records: list[Record] = []
    deleted: list[str] = []
    stamp: str | None = None
    for n, rec in enumerate(root.iter(f"{OAI}record"), start=1):
        header = rec.find(f"{OAI}header")
        ds = _t(header, f"{OAI}datestamp") if header is not None else ""
        if ds and (stamp is None or ds > stamp):
            stamp = ds
        loc = f"record {n} (line {rec.sourceline})"
        if header is not None and header.get("status") == "deleted":
            ident = _t(header, f"{OAI}identifier")
            aid, _ = split_arxiv_id(ident.rsplit(":", 1)[-1])
            if aid:
                deleted.append(aid)
            else:
                records.append(ParseError(source, loc, f"deleted record with an unreadable identifier {ident!r}"))
            continue
        try:
            got = record_to_paper(rec, source, loc)
        except Exception as e:  # one odd record must not stop the harvest
            got = ParseError(source, loc, f"cannot read record: {e}")
        if got is not None:
            records.append(located(got, loc))
    token_el = root.find(f".//{OAI}resumptionToken")
    token = size = cursor = None
    if token_el is not None:
        token = (token_el.text or "").strip() or None
        raw_size = (token_el.get("completeListSize") or "").strip()
        raw_cursor = (token_el.get("cursor") or "").strip()
        size = int(raw_size) if raw_size.isdigit() else None
        cursor = int(raw_cursor) if raw_cursor.isdigit() else None
    return OaiPage(records, deleted, stamp, token, size, cursor, None)
