"""arxiv-oai: OAI-PMH ListRecords/GetRecord, metadataPrefix arXivRaw and arXiv."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from papersift.ingest import arxiv_oai, detect_format
from papersift.models import Paper, ParseError

ARX = Path(__file__).parent.parent / "fixtures" / "arxiv"


def papers(path: Path) -> list[Paper]:
    recs = list(arxiv_oai.read(path))
    assert all(isinstance(r, Paper) for r in recs), recs
    return recs  # type: ignore[return-value]


def test_get_record_arxivraw_versions() -> None:
    (p,) = papers(ARX / "GetRecordResponse.xml")
    assert p.arxiv_id == "1302.2146" and p.id == "1302.2146"
    assert p.version == 2
    assert p.published == date(2013, 2, 8) and p.updated == date(2013, 4, 2)
    assert p.title == "The Same-Sign Dilepton Signature of RPV/MFV SUSY"
    assert p.authors == ["Joshua Berger", "Maxim Perelstein", "Michael Saelim", "Philip Tanedo"]
    assert p.categories == ["hep-ph", "hep-ex"]
    assert p.abstract.startswith("The lack of observation of superpartners")
    assert p.sources == ["arxiv-oai"]


def test_list_records_arxivraw() -> None:
    ps = papers(ARX / "ListRecordsResponse.xml")
    assert [p.arxiv_id for p in ps] == ["0704.0471", "0704.0716", "0704.0874", "0704.1109", "0704.1114",
                                        "0704.1586"]
    first = ps[0]
    assert first.authors == ["D.V. Shetty", "S.J. Yennello", "G.A. Souliotis"]  # "X, Y, and Z"
    assert first.doi == "10.1103/physrevc.76.024606"  # first of two space-separated DOIs
    assert first.title.startswith("Density dependence of the symmetry energy and the nuclear equation of")
    four = ps[1]
    assert four.version == 4 and four.published == date(2007, 4, 5) and four.updated == date(2008, 11, 14)
    assert "$^{11}$Be" in ps[-1].title  # math kept verbatim


def test_arxiv_metadata_prefix() -> None:
    ps = papers(ARX / "ListRecordsArXivFormat.xml")
    assert [p.arxiv_id for p in ps] == ["0704.0001", "0704.0002", "1302.2146"]  # deleted 0704.0003 skipped
    p = ps[0]
    assert p.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert p.published == date(2007, 4, 2) and p.updated == date(2007, 7, 24)
    assert p.version is None
    assert p.doi == "10.1103/physrevd.76.013009"
    assert p.categories == ["hep-ph"]
    assert p.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert ps[1].categories == ["math.CO", "cs.CG"]


def test_suffix_and_missing_id_falls_back_to_identifier(tmp_path: Path) -> None:
    f = tmp_path / "oai.xml"
    f.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords><record><header>
<identifier>oai:arXiv.org:2101.00001</identifier></header><metadata>
<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><created>2021-01-01</created><authors><author><keyname>Doe</keyname>
<forenames>John</forenames><suffix>Jr</suffix></author></authors><title>T</title></arXiv></metadata></record>
<record><header><identifier>oai:arXiv.org:2101.00002</identifier></header><metadata>
<oai_dc xmlns="http://www.openarchives.org/OAI/2.0/oai_dc/"/></metadata></record>
</ListRecords></OAI-PMH>""")
    p, e = list(arxiv_oai.read(f))
    assert isinstance(p, Paper) and p.arxiv_id == "2101.00001" and p.authors == ["John Doe Jr"]
    assert isinstance(e, ParseError) and "unsupported metadata format" in e.reason


def test_oai_errors(tmp_path: Path) -> None:
    f = tmp_path / "none.xml"
    f.write_text('<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                 '<error code="noRecordsMatch">nothing</error></OAI-PMH>')
    assert list(arxiv_oai.read(f)) == []
    f.write_text('<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                 '<error code="badResumptionToken">The value of the resumptionToken argument is invalid'
                 '</error></OAI-PMH>')
    (e,) = list(arxiv_oai.read(f))
    assert isinstance(e, ParseError) and "badResumptionToken" in e.reason


def test_resumption_token() -> None:
    page = (ARX / "ListRecordsResponse.xml").read_bytes()
    assert arxiv_oai.resumption_token(page) == ("726959|1001", 58011)
    assert arxiv_oai.resumption_token((ARX / "ListRecordsArXivFormat.xml").read_bytes()) == (None, 2003)
    assert arxiv_oai.resumption_token((ARX / "GetRecordResponse.xml").read_bytes()) == (None, None)
    with pytest.raises(ParseError):
        arxiv_oai.resumption_token(b"<OAI-PMH><ListRecords>")


def test_detect() -> None:
    for name in ("GetRecordResponse.xml", "ListRecordsResponse.xml", "ListRecordsArXivFormat.xml"):
        assert detect_format(ARX / name) == "arxiv-oai"
