"""Malformed import files (issue 16, items 12 and 13), through `crm import contacts FILE` on SQLite
and PostgreSQL. A file the reader cannot hold row by row is refused in one line; a row it cannot
hold (an unclosed quote, more cells than the header, a nested or out-of-range JSON value, an
unreadable vCard) is a bad row with its line. Either way nothing is written without
--skip-invalid, and with it exactly the good rows go in. One more hostile file is one more Case."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from crm_tui.models import ContactEmail
from tests.security.conftest import row_counts

HEAD = "first_name,last_name,email\n"
ANN, BOB, CY = "Ann,Lee,ann@x.io\n", "Bob,Ray,bob@x.io\n", "Cy,Do,cy@x.io\n"


def card(name: str, email: str, extra: str = "") -> str:
    return (f"BEGIN:VCARD\r\nVERSION:3.0\r\nN:{name};;;;\r\nFN:{name}\r\n{extra}EMAIL:{email}\r\n"
            "END:VCARD\r\n")


def xlsx(*rows: list) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class Case:
    id: str
    name: str  # the file's name: its suffix picks the reader
    content: str | bytes
    bad: tuple[tuple[int, str], ...] = ()  # (line, part of the problem) of each bad row
    good: tuple[str, ...] = ()  # the emails --skip-invalid imports, no more, no less
    error: str = ""  # the one line that refuses the whole file instead


CASES = [
    # CSV: a quote never closed swallowed every row after it into one contact's name
    Case("unclosed-quote-to-the-end", "q.csv", HEAD + 'Ann,"Lee,ann@x.io\n' + BOB + CY,
         bad=((2, "never closed"),), good=("bob@x.io", "cy@x.io")),
    Case("unclosed-quote-closed-by-a-later-row", "q.csv", HEAD + 'Ann,"Lee,ann@x.io\n' + BOB + 'Cy,"Do",cy@x.io\n',
         bad=((2, "after its closing quote"),), good=("bob@x.io", "cy@x.io")),
    Case("text-after-a-closing-quote", "q.csv", HEAD + ANN + 'Bob,"Ray"s,bob@x.io\n' + CY,
         bad=((3, "after its closing quote"),), good=("ann@x.io", "cy@x.io")),
    # CSV: the extra cells of a ragged row were dropped without a word
    Case("ragged-row", "r.csv", HEAD + ANN + "Bob,Ray,bob@x.io,VP,Sales\n" + CY,
         bad=((3, "5 cells but the header has 3"),), good=("ann@x.io", "cy@x.io")),
    Case("ragged-row-xlsx", "r.xlsx", xlsx(["first_name", "email"], ["Ann", "ann@x.io"],
                                           ["Bob", "bob@x.io", "Sales"]),
         bad=((3, "3 cells but the header has 2"),), good=("ann@x.io",)),
    Case("ragged-row-after-a-quoted-newline", "r.csv", HEAD + 'Ann,"Lee\nJr",ann@x.io\n' + "Bob,Ray,bob@x.io,x\n",
         bad=((4, "4 cells"),), good=("ann@x.io",)),
    # JSON: a nested value was stored as its text, 1e999 as the name "inf", NaN as "nan"
    Case("nested-object", "n.json", '[{"first_name": "Ann", "email": "ann@x.io"},\n'
         '{"first_name": {"given": "Bob"}, "email": "bob@x.io"},\n{"first_name": "Cy", "email": "cy@x.io"}]',
         bad=((2, "a nested object"),), good=("ann@x.io", "cy@x.io")),
    Case("list-in-a-list", "n.json", '[{"first_name": "Ann", "email": ["ann@x.io", ["bob@x.io"]]},\n'
         '{"first_name": "Cy", "email": ["cy@x.io", "cy@y.io"]}]',
         bad=((1, "inside a list"),), good=("cy@x.io", "cy@y.io")),
    Case("number-out-of-range", "i.json", '[{"first_name": 1e999, "email": "bob@x.io"},\n'
         '{"first_name": "Cy", "email": "cy@x.io"}]', bad=((1, "out of range"),), good=("cy@x.io",)),
    Case("nan-and-infinity", "i.json", '[{"first_name": "Ann", "email": "ann@x.io"},\n'
         '{"first_name": NaN, "email": "bob@x.io"},\n{"first_name": "Cy", "last_name": -Infinity, '
         '"email": "cy@x.io"}]', bad=((2, "NaN is not a number"), (3, "-Infinity is not a number")),
         good=("ann@x.io",)),
    Case("an-int-past-python's-digit-limit", "i.json",
         '[{"first_name": "Ann", "email": "ann@x.io", "score": ' + "9" * 5000 + "}]", good=("ann@x.io",)),
    # vCard: bad base64 in one card stopped the whole file with "internal error"
    Case("bad-base64", "b.vcf", card("Ann", "ann@x.io") + card("Bob", "bob@x.io", "PHOTO;ENCODING=b;TYPE=JPEG:"
         "!!!notbase64***\r\n") + card("Cy", "cy@x.io"), bad=((7, "not valid base64"),), good=("ann@x.io", "cy@x.io")),
    Case("card-never-ended", "e.vcf", card("Ann", "ann@x.io") + "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob\r\n",
         bad=((7, "no END:VCARD"),), good=("ann@x.io",)),
    Case("unreadable-line-in-a-card", "u.vcf", card("Ann", "ann@x.io", "not a property\r\n") + card("Cy", "cy@x.io"),
         bad=((1, "cannot be read"),), good=("cy@x.io",)),
    # whole files no row can come from
    Case("nested-100k-levels", "d.json", "[" * 100_000 + "]" * 100_000, error="nest too deeply"),
    Case("nested-100k-levels-in-a-value", "d.json",
         '[{"first_name": "Ann", "x": ' + "[" * 100_000 + "]" * 100_000 + "}]", error="nest too deeply"),
    Case("binary-file-as-csv", "x.csv", bytes(range(256)) * 40, error="not a text file"),
    Case("binary-file-as-vcf", "x.vcf", b"BEGIN:VCARD\r\n" + bytes(range(256)) * 40, error="not a text file"),
    Case("utf16-csv-without-bom", "w.csv", (HEAD + ANN).encode("utf-16-le"), error="UTF-16"),
    Case("empty-file", "e.csv", "", error="is empty"),
    Case("header-only", "h.csv", HEAD, error="no data rows"),
    Case("header-and-blank-rows", "h.csv", HEAD + ",,\n\n", error="no data rows"),
    Case("header-only-xlsx", "h.xlsx", xlsx(["first_name", "email"]), error="no data rows"),
    Case("vcf-without-a-card", "v.vcf", "hello\n", error="holds no vCard"),
]


def stored_emails(db_url: str) -> set[str]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(sa.select(ContactEmail.email)))
    finally:
        engine.dispose()


@pytest.fixture
def before(crm, db_url) -> dict[str, int]:
    crm.ok("contact", "list")  # the acting user exists before the counts are taken
    return row_counts(db_url)


def write(tmp_path, case: Case):
    path = tmp_path / case.name
    if isinstance(case.content, bytes):
        path.write_bytes(case.content)
    else:
        path.write_text(case.content, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", [c for c in CASES if not c.error], ids=lambda c: c.id)
def test_bad_rows_are_reported_with_their_line_and_skipped_on_request(crm, db_url, tmp_path, before, case):
    path = write(tmp_path, case)
    result = crm("import", "contacts", str(path), "--json")
    assert "internal error" not in result.output and "Traceback" not in result.output
    report = json.loads(result.stdout)
    problems = [(p["line"], p["message"]) for p in report["problems"]]
    assert sorted({line for line, _ in problems}) == [line for line, _ in case.bad], problems
    for line, text in case.bad:
        assert any(at == line and text in message for at, message in problems), (line, text, problems)
    if case.bad:
        assert result.exit_code == 2 and "nothing was imported" in result.stderr
        assert row_counts(db_url) == before
    else:
        assert result.exit_code == 0, result.output
        assert stored_emails(db_url) == set(case.good)
        return
    skipped = crm.json("import", "contacts", str(path), "--skip-invalid")
    assert (skipped["invalid"], skipped["created"]) == (len(case.bad), skipped["rows"] - len(case.bad))
    assert stored_emails(db_url) == set(case.good)


@pytest.mark.parametrize("case", [c for c in CASES if c.error], ids=lambda c: c.id)
def test_files_no_row_can_come_from_are_refused_in_one_line(crm, db_url, tmp_path, before, case):
    path = write(tmp_path, case)
    for extra in ((), ("--skip-invalid",)):
        result = crm.fails("import", "contacts", str(path), *extra, code=2)
        assert case.error in result.stderr and path.name in result.stderr
        assert row_counts(db_url) == before


def test_a_quoted_newline_and_trailing_empty_cells_are_still_fine(crm, db_url, tmp_path):
    """The strict reading must not refuse what is well-formed."""
    path = tmp_path / "ok.csv"
    path.write_text('first_name,last_name,email,notes\nAnn,Lee,ann@x.io,"line one\nline ""two"""\n'
                    "Bob,Ray,bob@x.io,,,\n", encoding="utf-8")
    report = crm.json("import", "contacts", str(path), "--custom")
    assert (report["created"], report["invalid"], report["problems"]) == (2, 0, [])
    assert stored_emails(db_url) == {"ann@x.io", "bob@x.io"}
