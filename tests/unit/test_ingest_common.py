"""Shared importer helpers: dates, names, LaTeX accents, decoding, safe XML."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

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
