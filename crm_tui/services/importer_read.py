"""Reading an import file: CSV (any of UTF-8 with or without BOM, latin-1; comma, semicolon or
tab; quoted newlines), XLSX through openpyxl, JSON (an array of flat objects, as `crm export
--format json` writes it) and vCard through services.vcard. Every source gives its header and then
(line number, cells) one row at a time, so a big file is never held in memory."""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from crm_tui.errors import InvalidInput

SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# csv's default 128 KiB field limit is too small for a long notes column
csv.field_size_limit(16 * 1024 * 1024)


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
    # for vCard: rows already in field form (see services.importer's docstring)
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
    """utf-8-sig when the file starts with a BOM, utf-8 when all of it decodes, else latin-1
    (which decodes any byte: Windows exports of accented names)."""
    with path.open("rb") as handle:
        if handle.read(3) == b"\xef\xbb\xbf":
            return "utf-8-sig"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for block in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
    return "utf-8"


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


def _open_csv(path: Path) -> Source:
    encoding = _encoding(path)
    with path.open("r", encoding=encoding, newline="") as handle:
        sample = handle.read(SNIFF_BYTES)
    if not sample.strip():
        raise InvalidInput(f"{path.name} is empty: an import file needs a header row and at least one row")
    delimiter = _sniff_delimiter(sample)
    handle = path.open("r", encoding=encoding, newline="")
    reader = csv.reader(handle, delimiter=delimiter)
    headers: list[str] | None = None
    for cells in reader:
        if any(c.strip() for c in cells):
            headers = [c.strip() for c in cells]
            break
    if headers is None:
        handle.close()
        raise InvalidInput(f"{path.name} is empty: an import file needs a header row and at least one row")
    with path.open("rb") as raw:
        lines = sum(block.count(b"\n") for block in iter(lambda: raw.read(1 << 20), b""))
    return Source(path=path, kind="csv", headers=headers, encoding=encoding, delimiter=delimiter,
                  estimated_rows=max(0, lines - reader.line_num + 1), sha256=file_sha256(path),
                  _rows=_csv_rows(reader, handle))


def _csv_rows(reader, handle) -> Iterator[tuple[int, list[str]]]:
    try:
        start = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                # the line the record starts on (a quoted newline makes a record span lines)
                yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: the file is not valid CSV ({exc})") from None
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
            headers = [c.strip() for c in cells]
            break
    if headers is None:
        workbook.close()
        raise InvalidInput(f"{path.name} is empty: an import file needs a header row and at least one row")
    return Source(path=path, kind="xlsx", headers=headers, estimated_rows=max(0, (sheet.max_row or 0) - line),
                  sha256=file_sha256(path), _rows=_xlsx_rows(rows, line, workbook))


def _xlsx_rows(rows, header_line: int, workbook) -> Iterator[tuple[int, list[str]]]:
    try:
        for line, values in enumerate(rows, start=header_line + 1):
            cells = [_cell_text(v) for v in values]
            if any(c.strip() for c in cells):
                yield line, cells
    finally:
        workbook.close()


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
        self.decode = json.JSONDecoder().raw_decode

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
                raise self._error("the file must hold a JSON array of records, as `crm export --format json` "
                                  "writes it")
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


def _json_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return JSON_LIST_SEPARATOR.join(_json_cell(v) for v in value if v is not None)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
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
        if any(c.strip() for c in cells):
            yield line, cells


# --- vCard ----------------------------------------------------------------------------------


def _open_vcard(path: Path) -> Source:
    try:
        from crm_tui.services.vcard import read_contacts
    except ImportError:
        raise InvalidInput("reading vCard files is not available in this version of crm") from None
    records = iter(read_contacts(path))
    return Source(path=path, kind="vcf", headers=[], sha256=file_sha256(path), records=records,
                  estimated_rows=path.read_bytes().upper().count(b"BEGIN:VCARD"))
