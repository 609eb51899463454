"""Helpers shared by the importers: file opening (gzip aware), probing, decoding, safe XML,
date parsing, author-name normalisation and cheap LaTeX accent decoding."""

from __future__ import annotations

import codecs
import gzip
import io
import json
import logging
import os
import re
import stat
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree

from papersift.ingest.base import Record, decode
from papersift.models import Paper, ParseError

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
HEAD_SIZE = 64 * 1024
#: Formats that must hold a whole file in memory (BibTeX, HF text/JSON) refuse bigger files.
MAX_WHOLE_FILE = 256 * 1024 * 1024
#: Streamed formats refuse a line (JSON lines) or record (CSV) longer than this, without ever
#: holding it: ``PAPERSIFT_MAX_RECORD_BYTES`` overrides it.
MAX_RECORD_BYTES = 16 * 1024 * 1024
MIN_RECORD_BYTES = 1024
#: A CSV record may span at most this many lines (a quoted field with newlines); more is taken
#: for a quote that was never closed.
MAX_RECORD_LINES = 1000
_CHUNK = 1024 * 1024
#: What reading a (possibly gzipped, possibly corrupt) file can raise.
READ_ERRORS = (OSError, EOFError, zlib.error)
# Byte-order marks of the encodings decoded to UTF-8 on the fly (UTF-32 LE first: it starts like UTF-16 LE).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))
_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"))


# --------------------------------------------------------------------------- files

def max_record_bytes() -> int:
    """The size cap of one line / record of a streamed file (``PAPERSIFT_MAX_RECORD_BYTES``, bytes)."""
    raw = os.environ.get("PAPERSIFT_MAX_RECORD_BYTES", "").strip().replace("_", "")
    if not raw:
        return MAX_RECORD_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < MIN_RECORD_BYTES:
        log.warning("PAPERSIFT_MAX_RECORD_BYTES=%r is not a number of bytes >= %d; using %d", raw,
                    MIN_RECORD_BYTES, MAX_RECORD_BYTES)
        return MAX_RECORD_BYTES
    return value


def _not_regular(source: str, mode: int) -> ParseError:
    if stat.S_ISDIR(mode):
        return ParseError(source, "file", "is a directory")
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    return ParseError(source, "file", f"{kind}, not a regular file; skipped")


def check_regular(path: Path) -> None:
    """ParseError unless ``path`` is (a symlink to) a regular file: reading a FIFO or a device
    (/dev/zero) would block or never end; a symlink loop is reported, not followed."""
    source = str(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ParseError(source, "file", "no such file") from None
    except OSError as e:  # ELOOP (symlink loop), EACCES, ENAMETOOLONG ...
        raise ParseError(source, "file", f"cannot read file: {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        raise _not_regular(source, mode)


class _GzipFile(gzip.GzipFile):
    """A GzipFile that closes the file it decompresses (GzipFile leaves a passed-in file open)."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw_file = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw_file.close()


def _mark_undecodable(e: UnicodeError) -> tuple[str, int]:
    """Decoding error handler of the UTF-16/32 transcoder: a lone surrogate or a cut-off code unit
    becomes a lone surrogate, which leaves as bytes that are not UTF-8, so that the line or record
    holding it is rejected like any other invalid UTF-8, never silently replaced."""
    assert isinstance(e, UnicodeDecodeError)
    return "\udcff", e.end


codecs.register_error("papersift-mark", _mark_undecodable)
_XML_DECL_UTF16 = re.compile(rb"""^(\s*<\?xml[^>]*encoding\s*=\s*["'])utf-?(?:16|32)[a-z-]*(["'])""",
                             re.IGNORECASE)


class _Transcoder(io.RawIOBase):
    """UTF-16 / UTF-32 (with a byte-order mark) in, UTF-8 out, a chunk at a time, so that every
    importer reads UTF-8. An XML declaration naming the old encoding is made to say UTF-8."""

    def __init__(self, raw: IO[bytes], encoding: str) -> None:
        self._raw = raw
        self._dec = codecs.getincrementaldecoder(encoding)(errors="papersift-mark")
        self._buf = b""
        self._eof = self._started = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf and not self._eof:
            chunk = self._raw.read(64 * 1024)
            self._eof = not chunk
            self._buf = self._dec.decode(chunk, final=self._eof).encode("utf-8", "surrogatepass")
            if self._buf and not self._started:
                self._started = True
                self._buf = _XML_DECL_UTF16.sub(rb"\1UTF-8\2", self._buf, count=1)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def open_binary(path: Path) -> IO[bytes]:
    """Open a regular file for binary reading, transparently decompressing gzip (by magic bytes)
    and decoding UTF-16/UTF-32 with a byte-order mark to UTF-8. A FIFO, socket or device raises
    ParseError without blocking (it is opened non-blocking and checked before any read)."""
    nonblock = getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, os.O_RDONLY | nonblock | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(str(path), mode)
        if nonblock:
            os.set_blocking(fd, True)
        f: IO[bytes] = os.fdopen(fd, "rb")  # owns fd from here; returned to the caller, who closes it
    except BaseException:
        os.close(fd)
        raise
    try:
        if f.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]
            f = cast(IO[bytes], _GzipFile(f))  # a GzipFile reads like any binary file
        start = f.peek(4)[:4]  # type: ignore[attr-defined]
        for bom, encoding in _BOMS:
            if start.startswith(bom):
                return io.BufferedReader(_Transcoder(f, encoding), _CHUNK)
        return f
    except BaseException:
        f.close()
        raise


def read_head(path: Path, size: int = HEAD_SIZE) -> bytes:
    """The first `size` bytes of the (decompressed) file."""
    with open_binary(path) as f:
        return f.read(size)


def looks_binary(head: bytes) -> bool:
    """True for data that is clearly not text: NUL bytes or many control characters."""
    sample = head[:8192]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    ctrl = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return ctrl > len(sample) * 0.05


def probe(path: Path) -> bytes:
    """Read the head of a file for an importer; raise ParseError for unreadable/empty/binary files
    and for anything that is not a regular file (FIFO, socket, device, symlink loop)."""
    source = str(path)
    check_regular(path)
    try:
        head = read_head(path)
    except FileNotFoundError:
        raise ParseError(source, "file", "no such file") from None
    except IsADirectoryError:
        raise ParseError(source, "file", "is a directory") from None
    except READ_ERRORS as e:  # includes gzip.BadGzipFile and corrupt deflate data
        raise ParseError(source, "file", f"cannot read file: {e}") from None
    if not head.strip():
        raise ParseError(source, "file", "empty file")
    if looks_binary(head):
        raise ParseError(source, "file", "binary file, not text")
    return head


def read_all(path: Path, limit: int = MAX_WHOLE_FILE) -> bytes:
    """Whole (decompressed) file content for formats that cannot be streamed."""
    source = str(path)
    try:
        with open_binary(path) as f:
            data = f.read(limit + 1)
    except READ_ERRORS as e:
        raise ParseError(source, "file", f"cannot read file: {e}") from None
    if len(data) > limit:
        raise ParseError(source, "file", f"file larger than {limit // (1024 * 1024)} MB; not supported "
                                         "for this format")
    return data


def read_text(path: Path) -> str:
    """A whole text file, checked (missing / empty / binary / too big -> ParseError) and decoded."""
    probe(path)
    return decode_text(read_all(path), str(path))


def decode_text(data: bytes, source: str) -> str:
    """Decode file content: UTF-8; UTF-8 with a few bad bytes replaced (U+FFFD) when the rest is
    clearly UTF-8; otherwise the legacy fallback of `base.decode` (cp1252/latin-1)."""
    if looks_binary(data[:8192]):
        raise ParseError(source, "file", "binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    # Any valid multi-byte sequence means UTF-8 with a few damaged bytes (legacy 8-bit text almost
    # never forms one); otherwise the file is in a legacy encoding.
    if any(ord(c) > 127 and c not in "\ufffd\ufeff" for c in text):
        return text.removeprefix("\ufeff")
    return decode(data, source)


def decode_line(raw: bytes) -> str:
    """Decode a line for a format sniffer (never for a record): UTF-8, bad bytes replaced."""
    return raw.decode("utf-8", errors="replace").removeprefix("\ufeff")


def iter_lines(path: Path, limit: int | None = None) -> Iterator[tuple[int, bytes | ParseError]]:
    """(1-based line number, raw line) of a (possibly gzipped) file, streamed. A line longer than
    ``limit`` bytes (default: ``max_record_bytes()``) comes as a ParseError instead: it is read in
    bounded chunks up to the next newline and dropped, never held in memory."""
    limit = limit or max_record_bytes()
    source = str(path)
    with open_binary(path) as f:
        n = 0
        while True:
            line = f.readline(limit + 1)
            if not line:
                return
            n += 1
            if len(line) <= limit or (len(line) == limit + 1 and line.endswith(b"\n")):
                yield n, line
                continue
            size = len(line)
            del line
            while True:
                chunk = f.readline(_CHUNK)
                size += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield n, ParseError(source, f"line {n}", f"line of {size:,} bytes is longer than the limit of "
                                                     f"{limit:,} (PAPERSIFT_MAX_RECORD_BYTES); skipped")


def parse_json_line(raw: bytes, source: str, location: str) -> Any:
    """The JSON value of one line, or a located ParseError: not UTF-8 (rejected, never decoded
    with replacement characters), invalid JSON, nested too deeply for the decoder."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return ParseError(source, location, f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at byte {e.start + 1}); "
                                            "line skipped (save the file as UTF-8)")
    try:
        return json.loads(text.removeprefix("\ufeff"))
    except RecursionError:
        return ParseError(source, location, "JSON nested too deeply; line skipped")
    except MemoryError:
        return ParseError(source, location, "out of memory decoding this JSON line; skipped")
    except ValueError as e:
        return ParseError(source, location, f"invalid JSON: {e}")


def iter_json_lines(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, value) of every non-blank line of a JSON-lines file; a line that cannot be a
    record (too long, not UTF-8, invalid JSON, nested too deeply) comes as a located ParseError."""
    source = str(path)
    for n, raw in iter_lines(path):
        if isinstance(raw, ParseError):
            yield raw.location, raw
        elif raw.strip():
            yield f"line {n}", parse_json_line(raw, source, f"line {n}")


def located(rec: Record, location: str) -> Record:
    """``rec`` with a Paper's origin set (where it was read, for a rejection by the store)."""
    if isinstance(rec, Paper) and not rec.origin:
        rec.origin = location
    return rec


def guarded(source: str, location: str, make: Callable[..., Record | None], *args: Any) -> Record | None:
    """``make(*args)``: one record. Any failure (a record of an unexpected shape, nesting too deep
    for the interpreter, memory) becomes a located ParseError, so one record never ends a file."""
    try:
        rec = make(*args)
    except RecursionError:
        return ParseError(source, location, "record nested too deeply; skipped")
    except MemoryError:
        return ParseError(source, location, "out of memory reading this record; skipped")
    except Exception as e:
        return ParseError(source, location, f"cannot read record: {type(e).__name__}: {e}")
    return located(rec, location) if rec is not None else None


def iter_json_array(text: str, source: str) -> Iterator[tuple[int, Any]]:
    """(1-based index, value) of the elements of a top-level JSON array, decoded one at a time so
    that elements before a syntax error are kept; the error itself comes last as a ParseError."""
    dec = json.JSONDecoder()
    i = text.index("[") + 1
    n, size = 0, len(text)
    while True:
        while i < size and text[i] in " \t\r\n":
            i += 1
        if i < size and text[i] == "]":
            return
        if n and i < size and text[i] == ",":
            i += 1
            while i < size and text[i] in " \t\r\n":
                i += 1
        elif n:
            yield n + 1, _json_error(source, text, i, "expected ',' or ']'")
            return
        try:
            value, i = dec.raw_decode(text, i)
        except ValueError as e:
            yield n + 1, _json_error(source, text, getattr(e, "pos", i), f"invalid JSON: {e}")
            return
        except RecursionError:  # the element's end is unknown: the rest of the array is lost
            yield n + 1, _json_error(source, text, i, "JSON nested too deeply; the rest of the array is skipped")
            return
        n += 1
        yield n, value


def _json_error(source: str, text: str, pos: int, reason: str) -> ParseError:
    if pos >= len(text.rstrip()):
        reason = f"truncated JSON (ends inside a value): {reason}"
    return ParseError(source, f"line {text.count(chr(10), 0, pos) + 1}", reason)


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as latin-1 ('RamÃ­rez' -> 'Ramírez'); otherwise unchanged."""
    if not text or text.isascii() or not re.search("[\u00c2-\u00f4][\u0080-\u00bf]", text):
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


# --------------------------------------------------------------------------- XML

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_DECL_ENC = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class Utf8XmlStream:
    """File-like wrapper feeding lxml clean UTF-8: invalid bytes become U+FFFD and characters that
    XML 1.0 forbids become spaces, so one bad byte rejects nothing instead of aborting the parse."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._dec = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._buf = b""
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        want = _CHUNK if size is None or size < 0 else max(size, 1)
        while len(self._buf) < want and not self._eof:
            chunk = self._raw.read(max(want, 64 * 1024))
            self._eof = not chunk
            text = self._dec.decode(chunk, final=self._eof)
            self._buf += _XML_ILLEGAL.sub(" ", text).encode("utf-8")
        out, self._buf = self._buf[:want], self._buf[want:]
        return out


def xml_source(raw: IO[bytes], head: bytes) -> IO[bytes] | Utf8XmlStream:
    """Wrap a binary stream for lxml: sanitise it when it is (declared or implied) UTF-8."""
    m = _XML_DECL_ENC.match(head.lstrip(b"\xef\xbb\xbf"))
    if m and m.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
        return raw
    return Utf8XmlStream(raw)


def safe_iterparse(source: Any, tags: tuple[str, ...]) -> Any:
    """lxml iterparse with no entity resolution, no network, no DTD loading, no huge trees."""
    return etree.iterparse(source, events=("end",), tag=tags, resolve_entities=False, no_network=True,
                           load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True)


def free(el: Any) -> None:
    """Release a processed element and its already-processed siblings (iterparse memory)."""
    el.clear()
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def xml_error(source: str, e: Exception) -> ParseError:
    """A ParseError for an lxml syntax error (truncated or malformed XML) or a read error."""
    if isinstance(e, READ_ERRORS):
        return ParseError(source, "file", f"cannot read file: {e}")
    msg = str(getattr(e, "msg", "") or e).split(" (<string>")[0] or "malformed XML"
    line = getattr(e, "lineno", None) or (getattr(e, "position", None) or (None,))[0]
    loc = f"line {line}" if line else "file"
    if "too long" in msg or "huge" in msg.lower():
        msg += " (a single text node over 10 MB is refused)"
    return ParseError(source, loc, f"malformed or truncated XML: {msg}")


def text_of(el: Any) -> str:
    """All text inside an element (children included), or '' for None."""
    if el is None:
        return ""
    if len(el) == 0:
        return el.text or ""
    return "".join(el.itertext())


# --------------------------------------------------------------------------- dates

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_ISO = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T ].*)?\s*$")
_RFC2822_DAY = re.compile(r"^\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{4})(?:\s|$)")


def month_number(value: Any) -> int | None:
    """1-12 from 'jan', 'January', 'Sept.', '3', 3; None otherwise."""
    if isinstance(value, int):
        return value if 1 <= value <= 12 else None
    s = str(value or "").strip().lower().rstrip(".")
    if s.isdigit():
        n = int(s)
        return n if 1 <= n <= 12 else None
    return _MONTHS.get(s[:3]) if len(s) >= 3 else None


def make_date(year: Any, month: Any = None, day: Any = None) -> date | None:
    """A date from parts; missing month/day default to 1 (year-only dates become Jan 1)."""
    try:
        y = int(str(year).strip()[:4])
        m = month_number(month) if month not in (None, "") else 1
        d = int(str(day).strip()) if day not in (None, "") else 1
        if m is None or not 1000 <= y <= 2999:
            return None
        return date(y, m, d)
    except (TypeError, ValueError):
        return None


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 (with Z / offset / millis) or RFC 2822 ('Mon, 2 Apr 2007 19:18:42 GMT'); tz-aware UTC."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    s = value.strip()
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(s)
        except (TypeError, ValueError, IndexError):
            return None
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_date(value: Any) -> date | None:
    """A calendar date from ISO ('2020', '2020-05', '2020-05-01', '2020-05-01T12:00:00Z'),
    RFC 2822 or a year as int. Partial dates default to the first month/day."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        return make_date(int(value))
    if not isinstance(value, str):
        return None
    s = value.strip()
    m = _ISO.match(s)
    if m:
        return make_date(m.group(1), m.group(2), m.group(3))
    m = _RFC2822_DAY.match(s)  # 'Mon, 2 Apr 2007 19:18:42 GMT': the calendar day as written (UTC)
    if m:
        return make_date(m.group(3), m.group(2), m.group(1))
    dt = parse_datetime(s)
    return dt.date() if dt else None


def date_precision(value: Any) -> str | None:
    """How precisely ``value`` (as parse_date reads it) names a day: "day", "month" or "year";
    None when it names no date."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, date):  # datetime too
        return "day"
    if isinstance(value, int | float):
        return "year"
    if not isinstance(value, str):
        return None
    m = _ISO.match(value.strip())
    if m:
        return "day" if m.group(3) else "month" if m.group(2) else "year"
    return "day"


def parse_dated(value: Any) -> tuple[date | None, str | None]:
    """(date, precision) for ``value``: "2024-02" is (2024-02-01, "month"); (None, None) if no date."""
    d = parse_date(value)
    return (d, date_precision(value)) if d else (None, None)


def make_dated(year: Any, month: Any = None, day: Any = None) -> tuple[date | None, str | None]:
    """make_date with the precision the parts give (a year alone is a year, not January 1st)."""
    d = make_date(year, month, day)
    if d is None:
        return None, None
    if month in (None, ""):
        return d, "year"
    return d, "month" if day in (None, "") else "day"


# --------------------------------------------------------------------------- names and text

_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
            "r": "\u030a"}
_SPECIAL = {"ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å",
            "AA": "Å", "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ"}
# {\'e}  \'{e}  \'e  \c{c}  \v{s}  {\ss}  \o{}  (symbol accents may go without braces)
_ACCENT_RE = re.compile(
    r"\{\\([`'^\"~=.])\s*\{?([A-Za-z]|\\[ij])\}?\}"
    r"|\\([`'^\"~=.])\s*\{([A-Za-z]|\\[ij])\}"
    r"|\\([`'^\"~=.])([A-Za-z])"
    r"|\{?\\([uvHckr])\s*\{([A-Za-z])\}\}?"
    r"|\{\\([uvHckr])\s+([A-Za-z])\}"
    r"|\{\\(ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)\}"
    r"|\\(ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?:\{\}|(?![A-Za-z]))")


def _accent_sub(m: re.Match[str]) -> str:
    g = m.groups()
    for i in range(0, 10, 2):
        if g[i]:
            base = g[i + 1]
            base = {"\\i": "i", "\\j": "j"}.get(base, base)
            return unicodedata.normalize("NFC", base + _ACCENTS[g[i]])
    return _SPECIAL[g[10] or g[11]]


def decode_accents(text: str) -> str:
    """Replace LaTeX accent commands ({\\"u}, \\'e, \\c{c}, {\\ss}) by Unicode; math and other
    LaTeX are left alone."""
    if not text or "\\" not in text:
        return text
    return _ACCENT_RE.sub(_accent_sub, text)


def normalize_name(name: str) -> str:
    """'Last, First' -> 'First Last'; 'Last, Jr., First' -> 'First Last Jr.'; others unchanged."""
    name = " ".join(name.split()).strip(" ,;")
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 2 and all(parts):
        return f"{parts[1]} {parts[0]}"
    if len(parts) == 3 and all(parts):
        return f"{parts[2]} {parts[0]} {parts[1]}"
    return name


def _split_top_level(s: str, sep: str) -> list[str]:
    """Split on `sep` outside parentheses/brackets/braces."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


_AND = re.compile(r"\s+and\s+|\s*&\s*", re.IGNORECASE)
_PAREN = re.compile(r"\([^()]*\)")


def split_authors(value: Any) -> list[str]:
    """Author names from a list (strings or {"name": ...}) or one string: arXiv style
    ('A. B, C. D, and E. F (Affil)'), BibTeX style ('Last, First and Last2, First2') or ';'-separated."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        names = []
        for a in value:
            if isinstance(a, dict):
                a = a.get("name") or " ".join(str(a.get(k) or "") for k in ("first", "last"))
            if isinstance(a, list | tuple):  # [last, first, suffix]
                a = " ".join(as_str(x) for x in (*a[1:2], *a[:1], *a[2:3]) if as_str(x))
            if isinstance(a, str) and a.strip():
                names.append(normalize_name(a))
        return names
    if not isinstance(value, str):
        return []
    s = " ".join(value.split())
    if ";" in s:
        parts = _split_top_level(s, ";")
    else:
        by_and = [p for p in _AND.split(s) if p.strip()]
        if len(by_and) > 1 and all(p.count(",") == 1 for p in by_and):
            parts = by_and  # "Last, First and Last, First"
        elif len(by_and) == 1 and s.count(",") == 1 and len(s.split(",")[0].split()) == 1:
            parts = [s]  # one author as "Last, First"
        else:
            parts = [q for p in _split_top_level(s, ",") for q in _AND.split(p)]
    names = []
    for p in parts:
        p = _PAREN.sub(" ", p)
        p = re.sub(r"^\s*and\s+", "", p, flags=re.IGNORECASE)
        p = " ".join(p.split()).strip(" ,;")
        if p:
            names.append(normalize_name(decode_accents(p)))
    return names


def first_doi(value: Any) -> str | None:
    """The first DOI of a field that may hold several separated by spaces (arXiv does that)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.split()[0].strip().rstrip(",;")


def as_str(value: Any) -> str:
    """A string field or '' (numbers become strings; anything else is dropped)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def as_int(value: Any) -> int:
    try:
        return max(0, int(value)) if not isinstance(value, bool) and value is not None else 0
    except (TypeError, ValueError):
        return 0
