"""arxiv-atom: arXiv API Atom feeds, legacy and current, plain or JSON-wrapped."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from papersift.ingest import arxiv_atom, detect_format
from papersift.models import Paper, ParseError

ARX = Path(__file__).parent.parent / "fixtures" / "arxiv"
LEGACY = ARX / "search_query=au_del_maestro.xml"
CURRENT = ARX / "q_testing_s0_m10_bc5a6c384fe9.json"


def papers(path: Path) -> list[Paper]:
    recs = list(arxiv_atom.read(path))
    assert all(isinstance(r, Paper) for r in recs), recs
    return recs  # type: ignore[return-value]


def test_legacy_feed() -> None:
    ps = papers(LEGACY)
    assert len(ps) == 10
    p = ps[0]
    assert p.arxiv_id == "1201.4869" and p.version == 1
    assert p.title == "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert p.abstract.startswith("As helium-4 is cooled below 2.17 K")
    assert p.authors == ["Adrian Del Maestro"]
    assert p.categories == ["cond-mat.mes-hall", "cond-mat.other"]
    assert p.published == date(2012, 1, 23) and p.updated == date(2012, 1, 23)
    assert p.doi == "10.1142/s021797921244002x"
    assert p.links["abs"] == "http://arxiv.org/abs/1201.4869v1"
    assert p.links["pdf"] == "http://arxiv.org/pdf/1201.4869v1"
    old = ps[1]
    assert old.arxiv_id == "cond-mat/0412498" and old.authors == ["Adrian Del Maestro", "Subir Sachdev"]
    v2 = next(p for p in ps if p.arxiv_id == "1303.6954")
    assert v2.version == 2 and v2.published == date(2013, 3, 27) and v2.updated == date(2013, 9, 3)
    assert v2.authors == ["B. Kulchytskyy", "G. Gervais", "A. Del Maestro"]


def test_current_feed_in_json_wrapper() -> None:
    ps = papers(CURRENT)
    assert len(ps) == 10
    p = ps[0]
    assert p.arxiv_id == "2202.12139" and p.version == 1
    assert p.title.startswith("Testing Deep Learning Models")
    assert p.categories == ["cs.SE", "cs.LG"]
    assert p.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert p.doi == "10.1109/icstw55395.2022.00035"
    assert p.links["pdf"] == "https://arxiv.org/pdf/2202.12139v1"
    # the recording decoded UTF-8 as latin-1 ("RamÃ­rez"); the importer repairs it
    assert ps[1].authors[0] == "Aurora Ramírez"
    assert "José Raúl Romero" in ps[1].authors
    # primary category first even when it is not the first <category>
    ar = next(p for p in ps if p.arxiv_id == "1205.1866")
    assert ar.categories[0] == "cs.AR"
    assert next(p for p in ps if p.arxiv_id == "2005.14124").version == 2


def test_primary_category_first_and_deduped(tmp_path: Path) -> None:
    f = tmp_path / "feed.xml"
    f.write_text("""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"
      xmlns:arxiv="http://arxiv.org/schemas/atom"><entry><id>http://arxiv.org/abs/2101.00001v3</id>
      <title>T &amp; &lt;script&gt;alert(1)&lt;/script&gt;</title><summary>S</summary>
      <author><name>M{\\"u}ller</name></author>
      <category term="cs.LG"/><category term="stat.ML"/><category term="cs.LG"/>
      <arxiv:primary_category term="stat.ML"/></entry></feed>""")
    (p,) = list(arxiv_atom.read(f))
    assert p.categories == ["stat.ML", "cs.LG"]
    assert p.version == 3 and p.title == "T & <script>alert(1)</script>"
    assert p.authors == ["Müller"]


def test_api_error_entry_and_bad_status(tmp_path: Path) -> None:
    f = tmp_path / "err.xml"
    f.write_text("""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry>
      <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.1234</id><title>Error</title>
      <summary>incorrect id format for 1234.1234</summary></entry></feed>""")
    (e,) = list(arxiv_atom.read(f))
    assert isinstance(e, ParseError) and "incorrect id format" in e.reason
    w = tmp_path / "rec.json"
    w.write_text(json.dumps({"url": "u", "status_code": 503, "body": "Service Unavailable"}))
    (e,) = list(arxiv_atom.read(w))
    assert isinstance(e, ParseError) and "503" in e.reason


def test_detect() -> None:
    assert detect_format(LEGACY) == "arxiv-atom"
    assert detect_format(CURRENT) == "arxiv-atom"
