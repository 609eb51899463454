"""bibtex: Zotero / Google Scholar / arXiv BibTeX via bibtexparser 2.x."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from papersift.ingest import bibtex, detect_format
from papersift.models import Paper, ParseError

LIB = Path(__file__).parent.parent / "fixtures" / "bibtex" / "library.bib"


def recs() -> dict[str, Paper | ParseError]:
    out: dict[str, Paper | ParseError] = {}
    for r in bibtex.read(LIB):
        out[r.title if isinstance(r, Paper) else r.location] = r
    return out


def test_library() -> None:
    rs = list(bibtex.read(LIB))
    assert len(rs) == 8
    by = recs()
    att = by["Attention is all you need"]
    assert isinstance(att, Paper)
    assert att.authors[:2] == ["Ashish Vaswani", "Noam Shazeer"]
    assert "Łukasz Kaiser" in att.authors and "Aidan N Gomez" in att.authors
    assert att.published == date(2017, 1, 1)  # year only: January 1st
    assert att.arxiv_id is None and att.id.startswith("bibtex-")
    bert = by["Bert: Pre-training of deep bidirectional transformers for language understanding"]
    assert bert.arxiv_id == "1810.04805"  # Google Scholar: journal={arXiv preprint arXiv:...}
    adam = by["Adam: A Method for Stochastic Optimization"]  # braces stripped
    assert adam.arxiv_id == "1412.6980" and adam.id == "1412.6980"
    assert adam.doi == "10.48550/arxiv.1412.6980"
    assert adam.abstract.startswith("We introduce Adam")
    assert adam.authors == ["Diederik P. Kingma", "Jimmy Ba"]
    assert adam.published == date(2017, 1, 1)  # month = jan
    assert adam.links["abs"] == "http://arxiv.org/abs/1412.6980"
    res = by["Deep Residual Learning for Image Recognition"]
    assert res.arxiv_id == "1512.03385" and res.categories == ["cs.CV"]
    gpu = by["GPU kernels for Schrödinger equations & the Müller–Brown potential"]
    assert gpu.arxiv_id == "2106.99999" and gpu.version == 2
    assert gpu.published == date(2021, 6, 15)
    assert gpu.authors == ["Jane Doe", "The Example Consortium", "Jörg Müller"]  # "others" dropped
    conf = by["A Conference Paper Without arXiv"]
    assert conf.doi == "10.1000/xyz.123" and conf.published == date(2020, 9, 1)
    err = next(r for r in rs if isinstance(r, ParseError))
    assert err.location.startswith("entry notitle") and "title" in err.reason
    dup = by["Same Key, Different Paper"]  # repeated key smith2020 is still imported
    assert dup.authors == ["John Smith"] and dup.published == date(2021, 1, 1)


def test_unclosed_brace_reports_line_and_keeps_others(tmp_path: Path) -> None:
    f = tmp_path / "bad.bib"
    f.write_text("@article{a1, title={Good One}, year=2020}\n\n"
                 "@article{bad, title={Unclosed, author={X}, year=2021\n\n"
                 "@article{c3, title={Third}, year={2019}}\n")
    rs = list(bibtex.read(f))
    assert [type(r).__name__ for r in rs] == ["Paper", "ParseError", "Paper"]
    assert rs[1].location == "line 3" and "syntax" in rs[1].reason
    assert rs[2].title == "Third"


def test_no_entries(tmp_path: Path) -> None:
    f = tmp_path / "x.bib"
    f.write_text("% only a comment\n")
    (e,) = list(bibtex.read(f))
    assert isinstance(e, ParseError)


def test_latex_and_html(tmp_path: Path) -> None:
    f = tmp_path / "x.bib"
    f.write_text(r"""@misc{k, title = {<script>alert(1)</script> and $O(n^2)$ \textit{fast} {\'E}cole},
        author = {Fran{\c{c}}ois, Jean}, url = {https://arxiv.org/abs/2301.00001v1}}""")
    (p,) = list(bibtex.read(f))
    assert p.title == "<script>alert(1)</script> and $O(n^2)$ fast École"
    assert p.authors == ["Jean François"]
    assert p.arxiv_id == "2301.00001" and p.version == 1


def test_detect() -> None:
    assert detect_format(LIB) == "bibtex"
