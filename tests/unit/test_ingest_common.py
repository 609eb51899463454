"""Shared importer helpers: dates, names, LaTeX accents, decoding, safe XML."""

from __future__ import annotations

import codecs
import io
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from papersift.ingest import common
from papersift.models import ParseError


@pytest.mark.parametrize(("value", "expected"), [
    ("2020-05-01", date(2020, 5, 1)),
    ("2020-05", date(2020, 5, 1)),
    ("2020", date(2020, 1, 1)),
    (2017, date(2017, 1, 1)),
    ("2025-09-04T21:26:31.000Z", date(2025, 9, 4)),
    ("2012-01-23T21:15:02Z", date(2012, 1, 23)),
    ("Mon, 2 Apr 2007 19:18:42 GMT", date(2007, 4, 2)),
    ("yesterday", None), ("", None), (None, None), ("2020-13-45", None), (True, None), ({}, None),
])
def test_parse_date(value: object, expected: date | None) -> None:
    assert common.parse_date(value) == expected


def test_parse_datetime_and_make_date() -> None:
    expected = datetime(2025, 9, 8, 2, 44, 20, 973000, tzinfo=UTC)
    assert common.parse_datetime("2025-09-08T02:44:20.973Z") == expected
    assert common.parse_datetime("Tue, 2 Apr 2013 01:50:08 GMT") == datetime(2013, 4, 2, 1, 50, 8, tzinfo=UTC)
    assert common.parse_datetime("nope") is None
    assert common.make_date("2017", "jan") == date(2017, 1, 1)
    assert common.make_date("2017", "September", "3") == date(2017, 9, 3)
    assert common.make_date("2017", "foo") is None
    assert common.make_date("{2017}") is None


@pytest.mark.parametrize(("text", "expected"), [
    (r"M{\"u}ller", "Müller"), (r"Bal\'azs", "Balázs"), (r"\'{E}cole", "École"),
    (r"Fran\c{c}ois", "François"), (r"{\ss}", "ß"), (r"Dvo\v{r}\'ak", "Dvořák"), (r"{\o}ystein", "øystein"),
    (r"$\alpha$ \cite{x}", r"$\alpha$ \cite{x}"),
    ("plain", "plain"),
])
def test_decode_accents(text: str, expected: str) -> None:
    assert common.decode_accents(text) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("Turing, Alan", ["Alan Turing"]),
    ("Alan Turing, Grace Hopper", ["Alan Turing", "Grace Hopper"]),
    ("A. Vaswani, N. Shazeer, and N. Parmar", ["A. Vaswani", "N. Shazeer", "N. Parmar"]),
    ("Smith, J. and Doe, Jane", ["J. Smith", "Jane Doe"]),
    ("X Y (MIT, USA), Z W (ETH)", ["X Y", "Z W"]),
    ("One; Two Three", ["One", "Two Three"]),
    (["Ada Lovelace", {"name": "Alan Turing"}, ["Hopper", "Grace", ""], 5, None],
     ["Ada Lovelace", "Alan Turing", "Grace Hopper"]),
    (None, []), (42, []),
])
def test_split_authors(value: object, expected: list[str]) -> None:
    assert common.split_authors(value) == expected


def test_repair_mojibake() -> None:
    assert common.repair_mojibake("Aurora RamÃ\xadrez") == "Aurora Ramírez"
    assert common.repair_mojibake("Ramírez") == "Ramírez"
    assert common.repair_mojibake("Ã© alone ✓") == "Ã© alone ✓"  # not latin-1 encodable: left alone


def test_decode_text_prefers_utf8_with_replacement() -> None:
    data = "Müller ".encode() + b"\xff" + " Ramírez".encode()
    assert common.decode_text(data, "x") == "Müller \ufffd Ramírez"
    assert common.decode_text("café".encode("cp1252"), "x") == "café"
    with pytest.raises(ParseError, match="binary"):
        common.decode_text(b"\x00\x01\x02" * 10, "x")


def test_utf8_xml_stream_sanitises() -> None:
    stream = common.Utf8XmlStream(io.BytesIO(b"<a>ok \xff\x0c bad</a>"))
    out = b"".join(iter(lambda: stream.read(4), b""))
    assert out.decode() == "<a>ok \ufffd  bad</a>"


def test_iter_json_array_salvages() -> None:
    got = list(common.iter_json_array('[{"a": 1}, {"b": 2}, {"c": ', "src"))
    assert got[:2] == [(1, {"a": 1}), (2, {"b": 2})]
    assert isinstance(got[2][1], ParseError) and "truncated" in got[2][1].reason
    assert list(common.iter_json_array("[]", "src")) == []


def test_looks_binary() -> None:
    assert common.looks_binary(b"abc\x00def")
    assert common.looks_binary(bytes(range(1, 32)) * 10)
    assert not common.looks_binary("Ünïcödé text\n\twith tabs".encode())


# --------------------------------------------------------------------------- hostile files (issue 12)

def test_iter_lines_skips_a_line_over_the_cap_in_bounded_reads(tmp_path, monkeypatch) -> None:
    f = tmp_path / "x.jsonl"
    f.write_bytes(b"short\n" + b"a" * 5000 + b"\n" + b"b" * 1024 + b"\nlast")
    reads: list[int] = []
    real = common.open_binary

    def spy(path):
        fh = real(path)
        readline = fh.readline

        def bounded(size=-1):
            reads.append(size)
            return readline(size)

        fh.readline = bounded
        return fh

    monkeypatch.setattr(common, "open_binary", spy)
    got = list(common.iter_lines(f, limit=1024))
    assert [(n, v) for n, v in got if isinstance(v, bytes)] == [(1, b"short\n"), (3, b"b" * 1024 + b"\n"),
                                                                 (4, b"last")]
    [(n, err)] = [(n, v) for n, v in got if isinstance(v, ParseError)]
    assert n == 2 and err.location == "line 2" and "5,001 bytes" in err.reason and "1,024" in err.reason
    assert reads and all(0 < r <= common._CHUNK for r in reads)  # never an unbounded readline


def test_max_record_bytes_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("PAPERSIFT_MAX_RECORD_BYTES", raising=False)
    assert common.max_record_bytes() == common.MAX_RECORD_BYTES == 16 * 1024 * 1024
    monkeypatch.setenv("PAPERSIFT_MAX_RECORD_BYTES", "1_000_000")
    assert common.max_record_bytes() == 1_000_000
    for bad in ("12", "lots", "-5"):  # too small or not a number: the default, with a warning
        monkeypatch.setenv("PAPERSIFT_MAX_RECORD_BYTES", bad)
        assert common.max_record_bytes() == common.MAX_RECORD_BYTES


@pytest.mark.parametrize("enc", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
def test_open_binary_decodes_utf16_and_utf32_with_a_bom(tmp_path, enc) -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?>\n<a>Zoë – 日本 😀</a>\n'
    data = text.encode(enc)
    if enc.endswith(("-le", "-be")):  # the explicit-endian codecs write no BOM: add it
        data = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-be": b"\x00\x00\xfe\xff"}[enc] + data
    f = tmp_path / "x.xml"
    f.write_bytes(data)
    with common.open_binary(f) as fh:  # UTF-8 out; the declaration now says so
        assert fh.read().decode("utf-8") == text.replace("UTF-16", "UTF-8")
    assert not common.looks_binary(common.probe(f))


def test_utf16_with_a_lone_surrogate_is_not_silently_repaired(tmp_path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_bytes(codecs.BOM_UTF16_LE + '{"title": "ok"}\n{"title": "'.encode("utf-16-le") + b"\x00\xd8"
                  + '"}\n'.encode("utf-16-le"))
    got = list(common.iter_json_lines(f))
    assert got[0] == ("line 1", {"title": "ok"})
    assert isinstance(got[1][1], ParseError) and "not valid UTF-8" in got[1][1].reason


def test_parse_json_line_reasons() -> None:
    assert common.parse_json_line(b'\xef\xbb\xbf{"a": 1}\n', "s", "line 1") == {"a": 1}
    bad = common.parse_json_line(b'{"a": "caf\xe9"}', "s", "line 7")
    assert isinstance(bad, ParseError) and bad.location == "line 7"
    assert bad.reason.startswith("not valid UTF-8 (byte 0xe9 at byte 11)")
    deep = common.parse_json_line(b"[" * 100_000 + b"]" * 100_000, "s", "line 2")
    assert isinstance(deep, ParseError) and "nested too deeply" in deep.reason
    assert "invalid JSON" in common.parse_json_line(b"{", "s", "line 3").reason


def test_iter_json_array_reports_deep_nesting() -> None:
    text = '[{"title": "a"}, ' + "[" * 100_000 + "]" * 100_000 + "]"
    got = list(common.iter_json_array(text, "s"))
    assert got[0] == (1, {"title": "a"})
    assert isinstance(got[1][1], ParseError) and "nested too deeply" in got[1][1].reason


def test_non_regular_files_are_refused_without_blocking(tmp_path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    for call in (common.check_regular, common.probe, common.open_binary):
        with pytest.raises(ParseError, match="a FIFO, not a regular file"):
            call(fifo)  # would block forever on open() if it were opened for reading
    if os.path.exists("/dev/zero"):
        with pytest.raises(ParseError, match="a character device"):
            common.probe(Path("/dev/zero"))
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop.name)
    with pytest.raises(ParseError, match="symbolic links"):
        common.probe(loop)
    with pytest.raises(ParseError, match="is a directory"):
        common.probe(tmp_path)
