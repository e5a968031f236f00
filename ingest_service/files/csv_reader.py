"""A streaming CSV reader (RFC 4180 and the files people actually export): quoted fields with embedded
delimiters, quotes and newlines; CRLF, LF or CR line ends; a UTF-8 BOM; the delimiter guessed among
comma, tab, pipe and semicolon; the encoding guessed among UTF-8 (with or without BOM), UTF-16 (as
Excel writes "Unicode text") and cp1252. Pure: bytes or text in, records out; no I/O beyond the
file object it is handed.

Records follow the shape PapaParse and csv-spectrum agree on: every line end starts a new record, so
a blank line is the record `[""]` (callers skip those) and a file ending with a line end has a last
blank record. Lenient where real files need it, strict where guessing would corrupt data:
- a quote inside an unquoted field is kept literally (`A,B",C` -> `B"`);
- spaces after a closing quote are ignored (`"B" ,C` -> `B`);
- a quoted field that never closes, or text after a closing quote, is a `CsvError` naming the row
  (the record's 1-based number) and the column.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

# A record longer than this is refused: almost always an unclosed quote swallowing the file.
MAX_RECORD_CHARS = 1 << 20
DELIMITERS = (",", "\t", "|", ";")
_SAMPLE_BYTES = 1 << 16
_CHUNK_BYTES = 1 << 20
_QUOTED = re.compile(r'"[^"]*"')


class CsvError(ValueError):
    """A file that cannot be read as CSV; `row` and `column` are 1-based (column may be None)."""

    def __init__(self, row: int, column: int | None, message: str) -> None:
        where = f"row {row}" + (f", column {column_letter(column)}" if column else "")
        super().__init__(f"{where}: {message}")
        self.row = row
        self.column = column
        self.reason = message


def column_letter(column: int) -> str:
    """1 -> "A", 27 -> "AA": how a spreadsheet names the column."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class Dialect:
    encoding: str
    delimiter: str
    # "\n" (LF, and CRLF read leniently) or "\r" (old Mac files).
    newline: str = "\n"


@dataclass(frozen=True)
class Record:
    row: int
    fields: list[str]

    @property
    def blank(self) -> bool:
        return len(self.fields) == 1 and self.fields[0] == ""


# ---------------------------------------------------------------- encoding


def detect_encoding(sample: bytes) -> str:
    """The codec of a file from its first bytes: BOMs first, then UTF-16 without a BOM (NUL
    bytes in every other position), then UTF-8 if the sample decodes, else cp1252."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        if even.count(0) == 0 and odd.count(0) > len(odd) // 2:
            return "utf-16-le"
        if odd.count(0) == 0 and even.count(0) > len(even) // 2:
            return "utf-16-be"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sample is still UTF-8.
        if exc.reason == "unexpected end of data" and exc.start >= len(sample) - 3:
            return "utf-8"
    return legacy_encoding(sample)


def legacy_encoding(sample: bytes) -> str:
    """cp1252 (what Excel on Windows writes as "CSV"); if the bytes are not cp1252, ask
    charset-normalizer, and fall back to latin-1, which decodes anything."""
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    return best.encoding if best is not None else "latin-1"


def sniff_encoding(file: BinaryIO) -> str:
    """The whole file's encoding: a UTF-8 guess is confirmed by decoding the file to its end (cheap,
    and a file that is UTF-8 for 10 MB and cp1252 after would otherwise fail half-way)."""
    file.seek(0)
    sample = file.read(_SAMPLE_BYTES)
    encoding = detect_encoding(sample)
    if encoding == "utf-8":
        file.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := file.read(_CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            file.seek(0)
            encoding = legacy_encoding(file.read())
    file.seek(0)
    return encoding


# ---------------------------------------------------------------- dialect


def detect_newline(text: str) -> str:
    """The record separator: the first line end outside quotes; CRLF and LF both read as "\\n"."""
    stripped = _QUOTED.sub("", text)
    for i, ch in enumerate(stripped):
        if ch == "\n":
            return "\n"
        if ch == "\r":
            return "\n" if stripped[i + 1 : i + 2] in ("\n", "") else "\r"
    return "\n"


def detect_delimiter(text: str, newline: str | None = None, candidates: Iterable[str] = DELIMITERS) -> str:
    """PapaParse's guess: parse the first 10 records with each candidate, keep the one whose rows
    have the steadiest field count (and the most fields); a candidate that cannot parse the sample
    or gives single-column rows loses. Comma when nothing fits."""
    newline = newline or detect_newline(text)
    best, best_delta, best_avg = ",", None, None
    for delimiter in candidates:
        try:
            records = Tokenizer(delimiter, newline, limit=10).feed(text, final=len(text) < _SAMPLE_BYTES)
        except CsvError:
            continue
        counts = [len(r.fields) for r in records if not r.blank]
        if not counts:
            continue
        delta = sum(abs(a - b) for a, b in itertools.pairwise(counts))
        avg = sum(counts) / len(counts)
        if (best_delta is None or delta <= best_delta) and (best_avg is None or avg > best_avg) and avg > 1.99:
            best, best_delta, best_avg = delimiter, delta, avg
    return best


def sniff(file: BinaryIO) -> Dialect:
    encoding = sniff_encoding(file)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    text = decoder.decode(file.read(_SAMPLE_BYTES))
    file.seek(0)
    text = text.lstrip("\ufeff")
    newline = detect_newline(text)
    return Dialect(encoding, detect_delimiter(text, newline), newline)


# ---------------------------------------------------------------- tokenizer


class Tokenizer:
    """Turns text fed in pieces into records. Keeps only the unfinished record between feeds."""

    def __init__(self, delimiter: str = ",", newline: str = "\n", *, limit: int | None = None) -> None:
        if not delimiter or '"' in delimiter or "\n" in delimiter or "\r" in delimiter:
            raise ValueError(f"unusable delimiter {delimiter!r}")
        self.delimiter = delimiter
        self.newline = newline
        self._buf = ""
        self._row = 0
        self._limit = limit
        self._ended_with_newline = False
        self._seen_text = False
        self._burst = 1

    def feed(self, text: str, *, final: bool = False) -> list[Record]:
        if text:
            self._seen_text = True
        buf = self._buf + text if self._buf else text
        out: list[Record] = []
        pos = self._parse(buf, final, out)
        self._buf = buf[pos:]
        if final:
            if self._seen_text and self._ended_with_newline and (self._limit is None or len(out) < self._limit):
                self._row += 1
                out.append(Record(self._row, [""]))
            self._buf = ""
        elif len(self._buf) > MAX_RECORD_CHARS:
            self._too_long()
        return out

    def close(self) -> list[Record]:
        return self.feed("", final=True)

    def _too_long(self) -> None:
        # Re-read the start of the record as if the file ended there: an unclosed quote names its column.
        self._quoted_record(self._buf[:MAX_RECORD_CHARS], 0, True, self._row + 1)
        raise CsvError(self._row + 1, None, f"the record is longer than {MAX_RECORD_CHARS} characters")

    def _parse(self, buf: str, final: bool, out: list[Record]) -> int:
        # LF/CRLF files without a record limit go through the C csv module (10x faster); whatever it
        # would read differently from the rules above it refuses in strict mode (text or spaces after
        # a closing quote, a stray CR, an unclosed quote, a field over its size limit), and that
        # record is read here instead.
        fast = self.newline == "\n" and self._limit is None
        n = len(buf)
        pos = 0
        while pos < n:
            if fast:
                pos = self._parse_c(buf, pos, out)
                if pos >= n:
                    break
            for _ in range(self._burst if fast else n):
                step = self._parse_one(buf, pos, final, out)
                if step is None:
                    return pos
                pos = step
                if pos >= n:
                    break
        return pos

    def _parse_c(self, buf: str, pos: int, out: list[Record]) -> int:
        """Complete lines from `pos` through the C reader; returns where the first record it could not
        read starts (the caller reads that one in Python)."""
        cut = buf.rfind("\n") + 1
        if cut <= pos:
            return pos
        reader = csv.reader(io.StringIO(buf[pos:cut]), delimiter=self.delimiter, strict=True)
        row = self._row
        append = out.append
        lines = 0  # lines making up the records read so far (reader.line_num counts them)
        try:
            for fields in reader:
                row += 1
                append(Record(row, fields or [""]))
                lines = reader.line_num
            start = cut
        except csv.Error:
            start = pos
            for _ in range(lines):
                start = buf.index("\n", start) + 1
        read = row - self._row
        self._row = row
        if read:
            self._ended_with_newline = True
        # Records the C reader refuses in a row are read in Python in growing bursts, so a file
        # full of them does not restart the C reader (and copy the chunk) once per record.
        self._burst = 1 if read >= 256 else min(self._burst * 2, 4096)
        return start

    def _parse_one(self, buf: str, pos: int, final: bool, out: list[Record]) -> int | None:
        """One record from `pos` by the rules above: the position after it, or None when the text
        stops before the record does (or the record limit is reached)."""
        if self._limit is not None and len(out) >= self._limit:
            return None
        n = len(buf)
        end = buf.find(self.newline, pos)
        if end < 0:
            if not final:
                return None
            end = n
        line = buf[pos:end]
        if '"' not in line:
            # The common case: no quotes on this line, so it is exactly one record.
            if self.newline == "\n" and line.endswith("\r"):
                line = line[:-1]
            self._row += 1
            out.append(Record(self._row, line.split(self.delimiter)))
            self._ended_with_newline = end < n
            return end + 1
        parsed = self._quoted_record(buf, pos, final, self._row + 1)
        if parsed is None:
            return None
        fields, pos, ended = parsed
        self._row += 1
        out.append(Record(self._row, fields))
        self._ended_with_newline = ended
        return pos

    def _quoted_record(self, buf: str, pos: int, final: bool, row: int) -> tuple[list[str], int, bool] | None:
        """One record that has quotes in it, from `pos`: (fields, position after it, whether it ended
        with a line end), or None when the text stops before the record does."""
        delimiter, nl = self.delimiter, self.newline
        dlen = len(delimiter)
        lenient_crlf = nl == "\n"
        skip_tab = not delimiter.startswith("\t")
        n = len(buf)
        fields: list[str] = []
        while True:
            if pos < n and buf[pos] == '"':
                parts = []
                start = pos + 1
                while True:
                    q = buf.find('"', start)
                    if q < 0:
                        if final:
                            raise CsvError(
                                row, len(fields) + 1, "a quoted field is never closed (missing closing quote)"
                            )
                        return None
                    if q + 1 < n and buf[q + 1] == '"':
                        parts.append(buf[start : q + 1])
                        start = q + 2
                        continue
                    if q + 1 >= n and not final:
                        return None
                    parts.append(buf[start:q])
                    break
                value = "".join(parts)
                p = q + 1
                while True:
                    if p >= n:
                        if not final:
                            return None
                        fields.append(value)
                        return fields, n, False
                    if buf.startswith(delimiter, p):
                        fields.append(value)
                        pos = p + dlen
                        break
                    c = buf[p]
                    if c == nl:
                        fields.append(value)
                        return fields, p + 1, True
                    if lenient_crlf and c == "\r":
                        if p + 1 < n and buf[p + 1] == "\n":
                            fields.append(value)
                            return fields, p + 2, True
                        if p + 1 >= n and not final:
                            return None
                    if c == " " or (c == "\t" and skip_tab):
                        p += 1
                        continue
                    raise CsvError(
                        row,
                        len(fields) + 1,
                        f"unexpected {c!r} after a closing quote (a quote inside a quoted field must be doubled)",
                    )
                continue
            end = buf.find(nl, pos)
            if end < 0:
                if not final:
                    return None
                end = n
            d = buf.find(delimiter, pos, end)
            if d >= 0:
                fields.append(buf[pos:d])
                pos = d + dlen
                continue
            value = buf[pos:end]
            if lenient_crlf and value.endswith("\r"):
                value = value[:-1]
            fields.append(value)
            return fields, min(end + 1, n), end < n


# ---------------------------------------------------------------- entry points


def parse(text: str, delimiter: str | None = None) -> list[list[str]]:
    """All records of a text (tests, small inputs); the delimiter is guessed when not given."""
    text = text.lstrip("\ufeff")
    newline = detect_newline(text)
    tokenizer = Tokenizer(delimiter or detect_delimiter(text, newline), newline)
    return [r.fields for r in tokenizer.feed(text, final=True)]


def read_records(
    file: BinaryIO, dialect: Dialect | None = None, *, chunk_bytes: int = _CHUNK_BYTES
) -> Iterator[Record]:
    """Every record of a (seekable) binary file, streamed: memory holds one chunk and one record."""
    dialect = dialect or sniff(file)
    file.seek(0)
    decoder = codecs.getincrementaldecoder(dialect.encoding)(errors="strict")
    tokenizer = Tokenizer(dialect.delimiter, dialect.newline)
    first = True
    while True:
        chunk = file.read(chunk_bytes)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise CsvError(
                tokenizer._row + 1, None, f"the bytes are not valid {dialect.encoding}: {exc.reason}"
            ) from None
        if first:
            text = text.lstrip("\ufeff")
            first = False
        yield from tokenizer.feed(text, final=not chunk)
        if not chunk:
            return
