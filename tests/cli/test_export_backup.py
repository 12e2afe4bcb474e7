"""`crm contact dupes|merge`, `crm export`, `crm backup` and `crm restore`, end to end."""

from __future__ import annotations

import csv
import io
import json

import pytest

from crm_tui.cli.main import app
from tests.cli.conftest import row_counts

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_dupes_and_merge_with_keep_and_prompts(crm):
    crm.ok("company", "add", "Acme")
    a = crm.json("contact", "add", "--first", "Jon", "--last", "Smith", "--email", "jon@acme.com",
                 "--company", "Acme", "--title", "CTO")
    # no email of his own: two different emails would mean two people (issue 17 #5)
    b = crm.json("contact", "add", "--first", "John", "--last", "Smith", "--phone", "+14155550123",
                 "--company", "Acme", "--title", "CEO", "--tag", "vip")
    c = crm.json("contact", "add", "--first", "Jo", "--last", "Smith", "--email", "JON@acme.com",
                 "--allow-duplicate")  # a duplicate on purpose
    crm.ok("log", "call", "--contact", str(b["id"]), "--subject", "Hello")
    found = crm.json("contact", "dupes")
    assert {(p["a_id"], p["b_id"], tuple(p["reasons"])) for p in found["pairs"]} == {
        (a["id"], b["id"], ("name",)), (a["id"], c["id"], ("email",))}
    assert "jon@acme.com" in crm.ok("contact", "dupes").stdout

    before = row_counts(crm.db_url)
    refused = crm.fails("contact", "merge", str(a["id"]), str(b["id"]), "--keep", "title=x", code=2)
    assert "title" in refused.stderr and row_counts(crm.db_url) == before
    assert "Fields that differ" in crm.ok("contact", "merge", str(a["id"]), str(b["id"]), "--dry-run").stdout
    assert row_counts(crm.db_url) == before

    # asked on a terminal: b's first name, a's title (the default), then confirm
    result = crm.runner.invoke(app, ["--db", crm.db_url, "--user", "ann", "contact", "merge", str(a["id"]),
                                     str(b["id"]), "--ask"], input="b\n\ny\n")
    assert result.exit_code == 0, result.output
    merged = crm.json("contact", "show", str(a["id"]))
    assert (merged["first_name"], merged["title"], merged["tags"]) == ("John", "CTO", ["vip"])
    assert (merged["emails"], merged["phones"]) == (["jon@acme.com"], ["+14155550123"])
    assert [x["subject"] for x in merged["recent_activities"]] == ["Hello"]
    crm.fails("contact", "show", str(b["id"]), code=1)

    done = crm.json("contact", "merge", str(a["id"]), str(c["id"]), "--keep", "first_name=b")
    assert done["survivor_id"] == a["id"] and done["kept"]["first_name"] == "b"


@sqlite_only
def test_company_merge_and_dupes(crm):
    acme = crm.json("company", "add", "Acme Inc", "--domain", "acme.com")
    other = crm.json("company", "add", "ACME, Inc.", "--allow-duplicate")  # a duplicate on purpose
    crm.ok("contact", "add", "--first", "Ann", "--company", str(other["id"]))
    assert [(p["a_id"], p["b_id"]) for p in crm.json("company", "dupes")["pairs"]] == [(acme["id"], other["id"])]
    out = crm.ok("company", "merge", str(acme["id"]), str(other["id"]), "--yes").stdout
    assert "1 related rows moved" in out
    assert crm.json("contact", "list")["items"][0]["company_name"] == "Acme Inc"


@sqlite_only
def test_export_to_stdout_and_file(crm, tmp_path):
    crm.ok("contact", "add", "--first", "Ann", "--last", "Lee", "--email", "ann@x.org", "--email", "a@y.org",
           "--field", "shoe=42")
    crm.ok("task", "add", "Call Ann", "--contact", "ann@x.org", "--due", "2030-01-02 09:00")
    rows = list(csv.DictReader(io.StringIO(crm.ok("export", "contacts").stdout)))
    assert rows == [{"first_name": "Ann", "last_name": "Lee", "email": "ann@x.org; a@y.org", "phone": "",
                     "title": "", "company": "", "owner": "ann", "lifecycle": "lead", "source": "", "tags": "",
                     "address": "", "birthday": "", "social": "", "description": "",  # issue 20's columns
                     "do_not_email": "false",  # issue 21
                     "custom.shoe": "42"}]
    target = tmp_path / "contacts.json"
    assert "exported 1 contacts" in crm.ok("export", "contacts", "--format", "json", "-o", str(target)).stdout
    assert json.loads(target.read_text())[0]["email"] == ["ann@x.org", "a@y.org"]
    # the export reads back as it is: JSON, its custom.NAME columns detected, its ids not kept even with --custom
    again = crm.json("import", "contacts", str(target), "--dry-run", "--custom")
    mapping = {m["column"]: (m["field"], m["how"]) for m in again["mapping"]}
    assert (mapping["custom.shoe"], mapping["id"]) == (("custom.shoe", "detected"), (None, "skipped"))
    assert (again["source"], again["rows"], again["skipped"], again["invalid"]) == ("JSON array of records", 1, 1, 0)
    assert "BEGIN:VCARD" in crm.ok("export", "contacts", "-f", "vcf").stdout
    ics = crm.ok("export", "tasks", "-f", "ics", "--open-only", "--user", "ann").stdout
    assert "BEGIN:VTODO" in ics and "SUMMARY:Call Ann" in ics
    crm.fails("export", "deals", "-f", "vcf", code=2)
    crm.fails("export", "contacts", "--open-only", code=2)
    crm.fails("export", "tasks", "-f", "ics", "--user", "nobody")


@sqlite_only
def test_backup_and_restore(crm, tmp_path):
    crm.ok("contact", "add", "--first", "Kept", "--email", "kept@x.org")
    target = tmp_path / "b.db"
    assert "quick_check ok" in crm.ok("backup", str(target)).stdout
    crm.fails("backup", str(target), code=2)
    assert "integrity_check ok" in crm.ok("backup", str(target), "--force", "--full-check").stdout
    crm.ok("contact", "add", "--first", "Later", "--email", "later@x.org")
    crm.fails("restore", str(target), code=2)  # no terminal to ask on, and no --yes
    assert crm.json("contact", "list")["total"] == 2
    crm.ok("restore", str(target), "--yes")
    assert [c["full_name"] for c in crm.json("contact", "list")["items"]] == ["Kept"]
    [restored] = crm.json("audit", "--entity", "database")["items"]  # the restore is on the record
    assert (restored["actor"], restored["action"]) == ("ann", "restore") and "b.db" in restored["new_value"]


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_backup_on_postgres_prints_the_pg_dump_command(crm, tmp_path):
    result = crm("backup", str(tmp_path / "crm.dump"))
    assert result.exit_code == 1 and "pg_dump --format=custom" in result.stdout
    assert not (tmp_path / "crm.dump").exists()


def test_export_and_backup_refusals_are_one_line_and_leave_no_file(crm, tmp_path):
    crm.ok("contact", "add", "--first", "Kept", "--email", "kept@x.org")
    crm.ok("user", "add", "sam", "--name", "Sam", "--role", "sales")
    crm.ok("user", "add", "max", "--name", "Max", "--role", "marketing")
    out = tmp_path / "out"
    out.mkdir()
    for args in (("export", "contacts", "-o", str(out / "c.csv")), ("export", "tasks", "-f", "ics"),
                 ("export", "contacts", "-f", "vcf", "-o", str(out / "c.vcf"))):
        refused = crm.fails(*args, user="sam", code=4)
        assert refused.stderr == ("error: sam (sales) may not export records to files (CSV, JSON, vCard, iCalendar): "
                                  "that needs the admin, manager or marketing role\n")
        assert refused.stdout == ""
    assert "Kept" in crm.ok("export", "contacts", user="max").stdout

    before = row_counts(crm.db_url)
    for args in (("backup", str(out / "b.db")), ("restore", str(out / "b.db"), "--yes")):
        refused = crm.fails(*args, user="max", code=4)
        assert "max (marketing) may not back up and restore the database: that needs the admin role" in refused.stderr
        assert refused.stdout == ""  # not even the pg_dump command on PostgreSQL
    assert list(out.iterdir()) == [] and row_counts(crm.db_url) == before
