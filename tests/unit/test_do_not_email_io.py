"""do_not_email goes out with a contacts export and comes back in with an import (issue 21): a
"do not email" column (yes/no) marks, an empty cell keeps the mark, and the service keeps the
contact list's filter on it."""

from __future__ import annotations

import csv
import io

from crm_tui.services import contacts, export
from crm_tui.services.common import system_actor
from crm_tui.services.importing import ImportOptions, run_import


def _import(db, actor, now, path, **options):
    with db.write() as s:
        report = run_import(s, path=path, actor=actor, now=now, options=ImportOptions(entity="contacts", **options))
    assert report.invalid == 0 and not report.problems, report.problems
    return report


def _marks(db) -> dict[str, bool]:
    with db.read() as s:
        rows = contacts.list_contacts(s, limit=50).items
        return {r.full_name: contacts.get_contact(s, contact_id=r.id).do_not_email for r in rows}


def test_export_carries_the_mark_and_an_import_reads_it_back(db, actor, now, tmp_path):
    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "Ann", "emails": ["ann@acme.com"], "do_not_email": True},
                                actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Bo", "emails": ["bo@acme.com"]}, actor=actor, now=now)
    out = io.StringIO()
    with db.read() as s:
        export.snapshot(s)
        export.write_csv(s, "contacts", out, actor=system_actor())
    rows = {r["first_name"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert (rows["Ann"]["do_not_email"], rows["Bo"]["do_not_email"]) == ("true", "false")

    # the same file, edited: Bo asks not to be emailed, Ann's cell is left empty (kept), Cy is new
    path = tmp_path / "contacts.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["First name", "Email", "Do not email"])
        writer.writerows([["Ann", "ann@acme.com", ""], ["Bo", "bo@acme.com", "yes"], ["Cy", "cy@acme.com", "yes"],
                          ["Di", "di@acme.com", "no"]])
    report = _import(db, actor, now, path, on_duplicate="update")
    assert (report.created, report.updated) == (2, 1)
    assert _marks(db) == {"Ann": True, "Bo": True, "Cy": True, "Di": False}
    with db.read() as s:
        assert contacts.count_contacts(s, filters={"do_not_email": True}) == 3


def test_an_unreadable_mark_is_a_problem_on_its_line(db, actor, now, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("First name,Email,Unsubscribed\nEd,ed@acme.com,perhaps\n", encoding="utf-8")
    with db.write() as s:
        report = run_import(s, path=path, actor=actor, now=now, options=ImportOptions(entity="contacts"),
                            dry_run=True)
    assert [(p.line, p.message) for p in report.problems] == [(2, "can't read 'perhaps' as yes or no")]
