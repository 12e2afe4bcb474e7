"""Reading an import file: CSV (any of UTF-8 with or without BOM, latin-1; comma, semicolon or
tab; quoted newlines), XLSX through openpyxl, JSON (an array of flat objects, as `crm export
--format json` writes it) and vCard through services.vcard. Every source gives its header and then
(line number, cells) one row at a time, so a big file is never held in memory. A row the file does
not hold properly (an unclosed quote, more cells than the header, a nested or out-of-range JSON
value) comes as a `BadRow`, which the import reports as invalid and never writes."""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import math
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from itertools import chain
from pathlib import Path

from crm_tui.errors import InvalidInput
from crm_tui.services.vcard import read_contacts

SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# csv's default 128 KiB field limit is too small for a long notes column
csv.field_size_limit(16 * 1024 * 1024)
# as git and grep tell a binary file: a NUL byte near the start (text has none)
BINARY_SNIFF = 8000


class BadRow(list):
    """The cells of a row the file does not hold properly, with its problems as (column, value,
    message): the import reports the row as invalid, with its line, and writes none of it."""

    def __init__(self, cells, problems: list[tuple[str, str, str]]) -> None:
        super().__init__(cells)
        self.problems = problems


@dataclass
class Source:
    """An open import file: its header, how it was read, and an iterator over its data rows."""

    path: Path
    kind: str  # csv, xlsx, json or vcf
    headers: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    estimated_rows: int = 0
    sha256: str = ""
    # for vCard: rows already in field form (see importing.run's docstring)
    records: Iterator[dict] | None = None
    _rows: Iterator[tuple[int, list[str]]] | None = field(default=None, repr=False)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(line number in the file, cells) for each data row; blank rows are left out."""
        return self._rows if self._rows is not None else iter(())

    def describe(self) -> str:
        if self.kind == "csv":
            return f"CSV, {self.encoding}, {_DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-separated"
        return {"xlsx": "Excel workbook (first sheet)", "json": "JSON array of records",
                "vcf": "vCard"}.get(self.kind, self.kind)


def open_source(path: str | Path) -> Source:
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidInput(f"no file {str(path)!r}")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(path)
    if suffix in (".vcf", ".vcard"):
        return _open_vcard(path)
    if suffix == ".json":
        return _open_json(path)
    return _open_csv(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- CSV ------------------------------------------------------------------------------------


def _encoding(path: Path) -> str:
    """utf-8-sig when the file starts with a BOM (utf-16 for a UTF-16 one), utf-8 when all of it
    decodes, else latin-1 (which decodes any byte: Windows exports of accented names). A file that
    is not text (see _check_text) is refused rather than read as rows of garbage."""
    with path.open("rb") as handle:
        head = handle.read(BINARY_SNIFF)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for block in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            _check_text(path, head, utf8=False)
            return "latin-1"
    _check_text(path, head, utf8=True)
    return "utf-8"


# bytes no text file holds (C0 controls but tab, line breaks, form feed, ^Z and escape). A file that
# is all UTF-8 is text even so (a NUL in a cell is a cell: services.validation deals with it); one
# that is not, with such bytes, is binary (an image, a zip, a database) rather than latin-1 text
_NOT_TEXT = re.compile(rb"[\x00-\x08\x0b\x0e-\x19\x1c-\x1f]")


def _check_text(path: Path, head: bytes, *, utf8: bool) -> None:
    nuls = head.count(0)
    # UTF-16 puts a NUL beside each ASCII letter: all on the odd bytes (LE) or all on the even ones (BE)
    odd = head[1::2].count(0)
    if nuls and nuls * 3 >= len(head) and (odd == nuls or odd == 0):
        raise InvalidInput(f"{path.name} looks like UTF-16 text without a byte-order mark: save it as UTF-8 "
                           "(or as UTF-16 with a byte-order mark)")
    if not utf8 and _NOT_TEXT.search(head):
        raise InvalidInput(f"{path.name} is not a text file (it holds binary data): an import file is CSV, "
                           "JSON, vCard or .xlsx")


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    # the sniffer gives up on some files (one column, ragged quoting): count on the header line
    first = sample.split("\n", 1)[0]
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


class _CsvRecords:
    """The records of a CSV file as (the physical line each starts on, its cells), read by a strict
    csv.reader, which refuses a quote that is never closed instead of letting it swallow the rest
    of the file into one cell. A broken record comes as a BadRow, and reading goes on from the line
    after its first, so the rows an unclosed quote swallowed are read as themselves."""

    def __init__(self, handle, delimiter: str) -> None:
        self.handle, self.delimiter = handle, delimiter
        self.replay: deque[str] = deque()  # lines of a broken record, read again
        self.taken: list[str] = []  # the lines the record being read has used so far
        self.line = 1  # where the next record starts

    def next_line(self) -> str:
        line = self.replay.popleft() if self.replay else next(self.handle)
        self.taken.append(line)
        return line

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        reader = self._reader()
        while True:
            start, self.taken = self.line, []
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                first, rest = self.taken[0], self.taken[1:]
                self.replay.extendleft(reversed(rest))
                self.line += 1
                reader = self._reader()  # a reader that failed is in the middle of a record
                yield start, BadRow([], [("", first.rstrip("\r\n")[:80], _csv_problem(exc))])
                continue
            self.line += len(self.taken)
            yield start, cells

    def _reader(self):
        return csv.reader(_Lines(self), delimiter=self.delimiter, strict=True)


class _Lines:
    """The lines a csv.reader reads, from the file or from a broken record's replay."""

    def __init__(self, records: _CsvRecords) -> None:
        self.records = records

    def __iter__(self):
        return self

    def __next__(self) -> str:
        return self.records.next_line()


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return ('a quote (") opens a cell and is never closed: the rows after it would have been read '
                "into that one cell")
    if "expected after" in text:
        return 'a quoted cell has more text after its closing quote (a quote inside a cell is written "")'
    if "field larger than field limit" in text:
        return "a cell is larger than 16 MB (an unclosed quote?)"
    return f"not valid CSV ({text})"


def _open_csv(path: Path) -> Source:
    encoding = _encoding(path)
    with path.open("r", encoding=encoding, newline="") as handle:
        sample = handle.read(SNIFF_BYTES)
    if not sample.strip():
        raise InvalidInput(f"{path.name} is empty: an import file needs a header row and at least one row")
    delimiter = _sniff_delimiter(sample)
    handle = path.open("r", encoding=encoding, newline="")
    try:
        records = _CsvRecords(handle, delimiter)
        found = iter(records)
        headers = _csv_headers(path, found)
        header_end = records.line - 1
        rows = _csv_rows(found, len(headers))
        first = next(rows, None)
    except BaseException:
        handle.close()
        raise
    if first is None:
        handle.close()
        raise InvalidInput(f"{path.name} has a header row but no data rows: there is nothing to import")
    with path.open("rb") as raw:
        lines = sum(block.count(b"\n") for block in iter(lambda: raw.read(1 << 20), b""))
    return Source(path=path, kind="csv", headers=headers, encoding=encoding, delimiter=delimiter,
                  estimated_rows=max(1, lines - header_end), sha256=file_sha256(path),
                  _rows=_closing(chain([first], rows), handle))


def _csv_headers(path: Path, found) -> list[str]:
    for line, cells in found:
        if isinstance(cells, BadRow):
            raise InvalidInput(f"{path.name}, line {line}: the header row is not valid CSV: {cells.problems[0][2]}")
        if any(c.strip() for c in cells):
            return _header(cells)
    raise InvalidInput(f"{path.name} is empty: an import file needs a header row and at least one row")


def _header(cells: list[str]) -> list[str]:
    """The header's names, up to its last named column (a spreadsheet pads a row with blank cells):
    a row's text past that is a ragged row, not a column to skip without a word."""
    names = [c.strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    return names


def _csv_rows(found, width: int) -> Iterator[tuple[int, list[str]]]:
    for line, cells in found:
        if isinstance(cells, BadRow):
            yield line, cells
        elif any(c.strip() for c in cells):
            yield line, _ragged(cells, width)


def _ragged(cells: list[str], width: int) -> list[str]:
    """The cells, or a BadRow when the row has text beyond the header's last column (a cell no
    column names would be lost, and more often the row is shifted: a delimiter inside a cell)."""
    extra = [c for c in cells[width:] if c.strip()]
    if not extra:
        return cells
    return BadRow(cells, [("", "; ".join(extra)[:80], f"the row has {len(cells)} cells but the header has {width} "
                                                       "columns (a delimiter inside an unquoted cell?)")])


def _closing(rows: Iterator, handle) -> Iterator:
    try:
        yield from rows
    finally:
        handle.close()


# --- XLSX -----------------------------------------------------------------------------------


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(" ") if value.time() != time(0) else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open_xlsx(path: Path) -> Source:
    try:
        import openpyxl
    except ImportError:
        raise InvalidInput("reading .xlsx files needs openpyxl: pip install 'crm-tui[xlsx]'") from None
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise InvalidInput(f"cannot read {path.name} as an Excel workbook: {exc}") from None
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    headers, line = None, 0
    for line, values in enumerate(rows, start=1):
        cells = [_cell_text(v) for v in values]
        if any(c.strip() for c in cells):
            headers = _header(cells)
            break
    if headers is None:
        workbook.close()
        raise InvalidInput(f"{path.name} is empty: an import file needs a header row and at least one row")
    found = _xlsx_rows(rows, line, len(headers))
    first = next(found, None)
    if first is None:
        workbook.close()
        raise InvalidInput(f"{path.name} has a header row but no data rows: there is nothing to import")
    return Source(path=path, kind="xlsx", headers=headers, estimated_rows=max(0, (sheet.max_row or 0) - line),
                  sha256=file_sha256(path), _rows=_closing(chain([first], found), workbook))


def _xlsx_rows(rows, header_line: int, width: int) -> Iterator[tuple[int, list[str]]]:
    for line, values in enumerate(rows, start=header_line + 1):
        cells = [_cell_text(v) for v in values]
        if any(c.strip() for c in cells):
            yield line, _ragged(cells, width)


# --- JSON -----------------------------------------------------------------------------------

JSON_BLOCK = 1 << 20
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
# lists (emails, phones, tags) become one cell as `crm export` writes them in CSV; no tag, email
# or phone holds a "; ", so the cell splits back into the same items
JSON_LIST_SEPARATOR = "; "


class _JsonArray:
    """The items of a top-level JSON array, decoded one at a time from a buffer that holds about
    one block of the file (json.load would hold all of it), each with the line it starts on."""

    def __init__(self, path: Path, encoding: str) -> None:
        self.name = path.name
        self.handle = path.open("r", encoding=encoding, newline="")
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        # numbers keep the text they are written in (no float rounding, no int digit limit)
        self.decode = json.JSONDecoder(parse_float=_json_number, parse_int=str, parse_constant=_BadNumber).raw_decode

    def _fill(self) -> bool:
        """Read more of the file (at least as much again as is buffered, so a huge item costs
        linear time); False at the end of the file."""
        if self.eof:
            return False
        block = self.handle.read(max(JSON_BLOCK, len(self.buf) - self.pos))
        if not block:
            self.eof = True  # the buffer stays as it was: an error's position still points into it
            return False
        self.buf = self.buf[self.pos:] + block
        self.pos = 0
        return True

    def _peek(self) -> str:
        """Move past white space to the next character and return it ("" at the end of the file)."""
        while True:
            buf, pos = self.buf, self.pos
            end = _JSON_SPACE.match(buf, pos).end()
            if end != pos:
                self.line += buf.count("\n", pos, end)
                self.pos = end
            if end < len(buf):
                return buf[end]
            if not self._fill():
                return ""

    def _error(self, message: str) -> InvalidInput:
        return InvalidInput(f"{self.name}, line {self.line}: {message}")

    def _item(self):
        while True:
            buf, pos = self.buf, self.pos
            try:
                item, end = self.decode(buf, pos)
            except json.JSONDecodeError as exc:
                if self._fill():
                    continue
                line = self.line + buf.count("\n", pos, exc.pos)
                raise InvalidInput(f"{self.name}, line {line}: not valid JSON ({exc.msg})") from None
            except RecursionError:
                # where such an item ends is beyond the decoder too, so the file stops here
                raise self._error("values nest too deeply to read (a record is a flat object of "
                                  "field: value)") from None
            # a number cut by the end of the buffer decodes too: make sure it was whole
            if end == len(buf) and self._fill():
                continue
            self.line += buf.count("\n", pos, end)
            self.pos = end
            return item

    def items(self) -> Iterator[tuple[int, object]]:
        try:
            char = self._peek()
            if not char:
                raise InvalidInput(f"{self.name} is empty: an import file needs at least one record")
            if char != "[":
                raise self._error("the file must hold a JSON array of records, as a JSON export writes it")
            self.pos += 1
            char = self._peek()
            while char != "]":
                yield self.line, self._item()
                char = self._peek()
                if char == ",":
                    self.pos += 1
                    char = self._peek()
                elif char != "]":
                    raise self._error(f"expected \",\" or \"]\" between records, found {char or 'the end'!r}")
            self.pos += 1
            if self._peek():
                raise self._error("text after the end of the JSON array")
        finally:
            self.handle.close()


class _BadNumber(str):
    """A number no field can hold: past a float's range (1e999), or NaN and Infinity (not JSON)."""


def _json_number(text: str) -> str:
    """A JSON number with a fraction or an exponent, as the text of its cell: as written, but in
    plain digits when written with a moderate exponent (1.5e3 is 1500, exactly)."""
    if not math.isfinite(float(text)):
        return _BadNumber(text)
    if "e" in text or "E" in text:
        number = Decimal(text)
        if -30 <= number.adjusted() <= 30:
            return format(number, "f")
    return text


class _Unfit:
    """A value no cell can hold: the problem the import reports for it."""

    def __init__(self, value: str, message: str) -> None:
        self.value, self.message = value, message


_NESTED = "a field holds text, a number, true/false or a list of those"


def _json_cell(value):
    """The text of a cell, or _Unfit for a nested value or a number out of range."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _BadNumber):
        return _Unfit(value, "the number is out of range" if value[-1:].isdigit() else
                      f"{value} is not a number a field can hold")
    if isinstance(value, dict):
        return _Unfit("{...}", f"a nested object: {_NESTED}")
    if isinstance(value, list):
        if any(isinstance(v, (list, dict)) for v in value):
            return _Unfit("[...]", f"a list or object inside a list: {_NESTED}")
        items = [_json_cell(v) for v in value if v is not None]
        unfit = [item for item in items if isinstance(item, _Unfit)]
        return unfit[0] if unfit else JSON_LIST_SEPARATOR.join(items)
    return str(value)


def _json_records(path: Path, encoding: str) -> Iterator[tuple[int, dict]]:
    for line, item in _JsonArray(path, encoding).items():
        if type(item) is not dict:
            raise InvalidInput(f"{path.name}, line {line}: each item of the array must be an object of "
                               f"field: value, not {type(item).__name__}")
        yield line, item


def _open_json(path: Path) -> Source:
    """Two passes: the first learns every key (objects may leave out empty fields) and checks the
    whole file is well-formed; the second gives the rows. Neither holds more than a block."""
    encoding = _encoding(path)
    headers: dict[str, None] = {}
    known = headers.keys()
    count = 0
    for _, item in _json_records(path, encoding):
        if not item.keys() <= known:
            for key in item:
                headers.setdefault(key, None)
        count += 1
    names = list(headers)
    if not count or not any(name.strip() for name in names):
        raise InvalidInput(f"{path.name} is empty: an import file needs at least one record")
    return Source(path=path, kind="json", headers=[name.strip() for name in names], encoding=encoding,
                  estimated_rows=count, sha256=file_sha256(path), _rows=_json_rows(path, encoding, names))


def _json_rows(path: Path, encoding: str, names: list[str]) -> Iterator[tuple[int, list[str]]]:
    str_ = str
    for line, item in _json_records(path, encoding):
        # a value of text, the most of any file, is its own cell
        cells = [value if type(value) is str_ else _json_cell(value)
                 for value in map(item.get, names)]
        unfit = [(name.strip(), c.value, c.message) for name, c in zip(names, cells) if type(c) is _Unfit]
        if unfit:
            yield line, BadRow([c if type(c) is str_ else "" for c in cells], unfit)
        elif any(c.strip() for c in cells):
            yield line, cells


# --- vCard ----------------------------------------------------------------------------------


def _open_vcard(path: Path) -> Source:
    _encoding(path)  # refuses a file that is not text; vcard reads it as it does any .vcf
    records = iter(read_contacts(path))
    return Source(path=path, kind="vcf", headers=[], sha256=file_sha256(path), records=records,
                  estimated_rows=path.read_bytes().upper().count(b"BEGIN:VCARD"))
