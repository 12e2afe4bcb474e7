"""Importing files: for each messy fixture, the report, and the database after a dry run, a failed run
and a successful run; duplicates against the CRM and within the file; re-runs add nothing."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from crm_tui.errors import InvalidInput
from crm_tui.models import AuditEvent, Company, Contact, Deal, ImportRun, Task, User
from crm_tui.services import contacts
from crm_tui.services.importing import read as importer_read
from crm_tui.services.importing import ImportFailed, ImportOptions, preview_import, run_import, write_report_csv

FIXTURES = Path(__file__).parents[1] / "fixtures" / "import"


def counts(db) -> dict[str, int]:
    with db.read() as session:
        return {t.name: session.scalar(sa.select(sa.func.count()).select_from(t))
                for t in SQLModel.metadata.sorted_tables}


def run(db, actor, now, name, entity="contacts", *, dry_run=False, path=None, **options):
    opts = ImportOptions(entity=entity, **options)
    with (db.read() if dry_run else db.write()) as session:
        return run_import(session, path=path or FIXTURES / name, options=opts, actor=actor, now=now, dry_run=dry_run)


def problems(report) -> list[tuple[int, str, str]]:
    return [(p.line, p.column, p.message) for p in report.problems]


def test_bom_semicolons_quoted_newline(db, actor, now):
    before = counts(db)
    dry = run(db, actor, now, "contacts_bom_semicolon.csv", dry_run=True, custom=True)
    assert counts(db) == before
    assert dry.source == "CSV, utf-8-sig, semicolon-separated"
    assert (dry.rows, dry.created, dry.skipped, dry.invalid, dry.companies_created) == (3, 3, 0, 0, 2)
    report = run(db, actor, now, "contacts_bom_semicolon.csv", custom=True)
    assert report.summary() == dry.summary() and report.committed
    with db.read() as session:
        rows = {c.email: c for c in session.scalars(sa.select(Contact))}
        ann, bob = rows["ann.lee@example.com"], rows["bob@example.com"]
        # "Acme, Inc." and "ACME" are one company
        assert ann.company_id == bob.company_id
        assert session.get(Company, ann.company_id).name == "Acme, Inc."
        # the quoted line break is kept, as a newline: CR is a control character (issue 16 #6)
        assert ann.phone == "+14155552671" and ann.custom == {"Notes": "Met at the fair;\nwants a demo"}
        assert rows["chloe@durand.fr"].full_name == "Chloé Durand"
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.entity == "import")).all()
        assert len(events) == 1 and "3 created" in events[0].new_value
    after = counts(db)
    assert after["contacts"] == before["contacts"] + 3 and after["companies"] == before["companies"] + 2
    assert after["audit_events"] == before["audit_events"] + 1 and after["import_runs"] == 1
    # the same file again: every row is a duplicate, nothing new but the run's own record
    again = run(db, actor, now, "contacts_bom_semicolon.csv", custom=True)
    assert (again.created, again.skipped) == (0, 3) and again.imported_before
    assert {k: v for k, v in counts(db).items() if k not in ("audit_events", "import_runs")} == {
        k: v for k, v in after.items() if k not in ("audit_events", "import_runs")}


def test_latin1_tab_separated_with_owner(db, actor, now):
    report = run(db, actor, now, "contacts_latin1.tsv")
    assert report.source == "CSV, latin-1, tab-separated" and report.created == 2
    with db.read() as session:
        jose = session.scalars(sa.select(Contact).where(Contact.email == "jose@muller.de")).one()
        assert (jose.first_name, jose.last_name, jose.owner_id) == ("José", "Müller", actor.user_id)
        assert session.get(Company, jose.company_id).name == "Brückner GmbH"
    # found by the search index (kept in bulk, not by a trigger per row)
    with db.read() as session:
        assert [r.full_name for r in contacts.list_contacts(session, query="müller").items] == ["José Müller"]
        assert [r.full_name for r in contacts.list_contacts(session, query="bruckner").items] == ["José Müller"]
        if session.bind.dialect.name == "sqlite":
            session.execute(sa.text("INSERT INTO contacts_fts(contacts_fts) VALUES ('integrity-check')"))
            session.execute(sa.text("INSERT INTO companies_fts(companies_fts) VALUES ('integrity-check')"))


@pytest.fixture
def existing(db, actor, now):
    with db.write() as session:
        return contacts.create_contact(session, data={"first_name": "Existing", "last_name": "Person",
                                                      "emails": ["existing@example.com"]}, actor=actor, now=now)


MESSY_PROBLEMS = [
    (6, "Email", "invalid email 'frank@@bad': The part after the @-sign contains invalid characters: '@'."),
    (7, "", "a contact needs a name or an email"),
    (8, "Lifecycle Stage", "invalid lifecycle stage 'VIP customer': choose one of lead, prospect, customer, former"),
]


def test_messy_contacts_dry_run_failed_run_and_skip_invalid(db, actor, now, existing, tmp_path):
    before = counts(db)
    dry = run(db, actor, now, "contacts_messy.csv", dry_run=True, country="US")
    assert problems(dry) == MESSY_PROBLEMS
    assert [(s.line, s.record_id, s.reason) for s in dry.duplicates] == [
        (3, dry.duplicates[0].record_id, "same email dana@white.io as line 2"),
        # line 4, Eve Adams, shares Dana White's phone: another name, so another person (issue 17 #5)
        (5, existing.id, f"same email existing@example.com as contact #{existing.id}"),
    ]
    assert (dry.rows, dry.created, dry.skipped, dry.invalid) == (8, 3, 2, 3)
    assert counts(db) == before
    # all or nothing: invalid rows and no --skip-invalid write nothing at all
    with pytest.raises(ImportFailed, match="3 of 8 rows of contacts_messy.csv are invalid") as failed:
        run(db, actor, now, "contacts_messy.csv", country="US")
    assert problems(failed.value.report) == MESSY_PROBLEMS and not failed.value.report.committed
    assert counts(db) == before
    report = run(db, actor, now, "contacts_messy.csv", country="US", skip_invalid=True)
    assert report.summary() == dry.summary()
    after = counts(db)
    assert after["contacts"] == before["contacts"] + 3 and after["companies"] == before["companies"] + 2
    with db.read() as session:
        dana = contacts.find_contact(session, "dana@white.io")
        assert (dana.phones, dana.tags, dana.lifecycle, dana.company_name) == (
            ["+14155550100"], ["newsletter", "vip"], "customer", "Northwind")
    # the report file: every problem and every skipped duplicate, by line
    written = write_report_csv(report, tmp_path / "contacts_messy.csv")
    lines = written.read_text(encoding="utf-8").splitlines()
    assert written.name == "contacts_messy.import-report.csv" and lines[0] == "line,status,column,value,problem"
    assert [line.split(",")[0] for line in lines[1:]] == ["3", "5", "6", "7", "8"]
    # a second run creates nothing
    assert run(db, actor, now, "contacts_messy.csv", country="US", skip_invalid=True).created == 0
    assert counts(db)["contacts"] == after["contacts"]


def test_on_duplicate_update_fills_in_and_create_duplicates(db, actor, now, existing):
    run(db, actor, now, "contacts_messy.csv", country="US", skip_invalid=True)
    with db.read() as session:
        version = contacts.find_contact(session, "existing@example.com").version
    updated = run(db, actor, now, "contacts_messy.csv", country="US", skip_invalid=True, on_duplicate="update",
                  constants=("title=Imported",))
    # lines 2, 4 (Eve Adams, found by her phone and name, not Dana who shares the phone), 5 and 9 change
    # a record; line 3 adds nothing to line 2
    assert (updated.created, updated.skipped, updated.updated, updated.unchanged) == (0, 0, 4, 1)
    with db.read() as session:
        found = contacts.find_contact(session, "existing@example.com")
        assert (found.title, found.version) == ("Imported", version + 1)
        dana = contacts.find_contact(session, "dana@white.io")
        assert (dana.title, dana.full_name, dana.version) == ("Imported", "Dana White", 2)
        eve = contacts.list_contacts(session, query="Eve Adams").items
        assert [(e.full_name, e.phone) for e in eve] == [("Eve Adams", "+14155550100")]
    before = counts(db)["contacts"]
    created = run(db, actor, now, "contacts_messy.csv", country="US", skip_invalid=True, on_duplicate="create")
    assert (created.created, created.skipped) == (5, 0)
    assert counts(db)["contacts"] == before + 5


def test_within_file_duplicates_update_the_record_this_run_created(db, actor, now, tmp_path):
    path = tmp_path / "dupes.csv"
    path.write_text("Email,First name,Last name,Title\nkim@x.io,Kim,Ro,\nKIM@x.io,,,CTO\n", encoding="utf-8")
    report = run(db, actor, now, None, path=path, on_duplicate="update")
    assert (report.created, report.updated) == (1, 1)
    with db.read() as session:
        kim = contacts.find_contact(session, "kim@x.io")
        assert (kim.full_name, kim.title) == ("Kim Ro", "CTO")
        assert [r.full_name for r in contacts.list_contacts(session, query="cto").items] == ["Kim Ro"]


@pytest.mark.parametrize(("name", "message"), [
    ("contacts_missing_required.csv", "missing required column: contacts need first_name or last_name or "
                                      "full_name or email; the file has 'Phone', 'Company'"),
    ("empty.csv", "empty.csv is empty: an import file needs a header row"),
    ("headerless.csv", "the file has no header row: its first row ('ann@example.com', 'Ann', 'Lee', "
                       "'+14155552671') looks like data"),
])
def test_files_that_cannot_be_imported_say_why(db, actor, now, name, message):
    before = counts(db)
    with pytest.raises(InvalidInput) as error:
        run(db, actor, now, name)
    assert message in error.value.message
    assert counts(db) == before


DEAL_PROBLEMS = [
    (5, "Deal Stage", "unknown stage 'Signed Contract'; stages: New, Qualified, Proposal, Negotiation, Won, Lost"),
    (6, "Sales agent", "no user 'zed' (by login, email or name); add the user first, or re-run with --create-users"),
    (7, "Amount", "invalid amount 'abc': use a number such as 12500 or 12,500.50"),
    (8, "Close Date", "invalid date '31/31/2026'"),
    (9, "Close Date", "ambiguous date '03/04/2026': day 3 of month 4, or month 3 day 4? Re-run with --dayfirst "
                      "or --monthfirst, or set date_order (dmy or mdy) in the config file or CRM_DATE_ORDER"),
]


def test_deals_with_unknown_stages_and_owners(db, actor, now):
    before = counts(db)
    dry = run(db, actor, now, "deals_messy.csv", "deals", dry_run=True)
    assert problems(dry) == DEAL_PROBLEMS
    with pytest.raises(ImportFailed):
        run(db, actor, now, "deals_messy.csv", "deals")
    assert counts(db) == before
    report = run(db, actor, now, "deals_messy.csv", "deals", skip_invalid=True, create_users=True, dayfirst=True)
    assert problems(report) == [p for p in DEAL_PROBLEMS if p[0] in (5, 7, 8)]
    assert (report.created, report.users_created, report.companies_created) == (5, ["zed"], 4)
    with db.read() as session:
        deals = {d.title: d for d in session.scalars(sa.select(Deal))}
        won, eur, lost = deals["Acme renewal"], deals["Acme expansion"], deals["Globex pilot"]
        assert (won.status, won.amount_minor, won.currency) == ("won", 1250050, "USD")
        # closed on 15 October: the end of that day in the team's zone (UTC when none is set)
        assert won.closed_at == datetime(2026, 10, 15, 23, 59, 59, 999999, tzinfo=timezone.utc)
        assert (eur.status, eur.amount_minor, eur.currency, eur.closed_at) == ("open", 123450, "EUR", None)
        assert (lost.status, lost.amount_minor) == ("lost", 120000)
        assert won.company_id == eur.company_id
        assert deals["Wayne deal"].expected_close == date(2026, 4, 3)
        zed = session.scalars(sa.select(User).where(User.login == "zed")).one()
        assert deals["Umbrella deal"].owner_id == zed.id
    assert run(db, actor, now, "deals_messy.csv", "deals", skip_invalid=True, create_users=True,
               dayfirst=True).created == 0


def test_tasks_with_ambiguous_dates_and_dayfirst(db, actor, now):
    dry = run(db, actor, now, "tasks_dates.csv", "tasks", dry_run=True)
    assert [p[0] for p in problems(dry)] == [2]
    run(db, actor, now, "tasks_dates.csv", "tasks", dayfirst=True)
    with db.read() as session:
        tasks = {t.title: t for t in session.scalars(sa.select(Task))}
        session.expunge_all()
    assert tasks["Call Ann"].due_at == datetime(2026, 4, 3, 9, 0, tzinfo=timezone.utc)
    assert tasks["Send quote"].due_at.date() == date(2026, 4, 13) and tasks["Send quote"].done_at == now
    assert tasks["Book demo"].due_at == datetime(2026, 5, 2, 14, 30, tzinfo=timezone.utc)
    assert tasks["Call Ann"].done_at is None


def test_activities_link_contacts_and_move_last_contacted(db, actor, now):
    run(db, actor, now, "contacts_bom_semicolon.csv")
    report = run(db, actor, now, "activities.csv", "activities", skip_invalid=True)
    assert problems(report) == [(6, "Type", "invalid activity type 'Fax': choose one of call, email, meeting, note")]
    assert report.created == 3
    with db.read() as session:
        ann = contacts.find_contact(session, "ann.lee@example.com")
        assert ann.last_contacted_at == datetime(2026, 11, 5, 15, 0, tzinfo=timezone.utc)
    assert run(db, actor, now, "activities.csv", "activities", skip_invalid=True).skipped == 3


def test_companies_by_domain_then_name_and_xlsx(db, actor, now, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Company Name", "Website", "Industry", "Employees"])
    sheet.append(["Acme Inc", "https://www.acme.com/", "Software", 120])
    sheet.append(["ACME", None, "Retail", None])  # the same company by name
    sheet.append(["Acme Europe", "acme.com", None, None])  # the same company by domain
    path = tmp_path / "companies.xlsx"
    workbook.save(path)
    preview = preview_import(path=path, options=ImportOptions(entity="companies"))
    assert preview.rows[0] == ["Acme Inc", "https://www.acme.com/", "Software", "120"]
    report = run(db, actor, now, None, "companies", path=path)
    assert (report.created, report.skipped) == (1, 2)
    with db.read() as session:
        acme = session.scalars(sa.select(Company)).one()
        assert (acme.domain, acme.size, acme.industry) == ("acme.com", "120", "Software")
        assert session.scalar(sa.select(sa.func.count()).select_from(ImportRun)) == 1


def test_vcard_cards_go_through_the_same_pipeline(db, actor, now, tmp_path):
    pytest.importorskip("vobject")
    path = tmp_path / "cards.vcf"
    path.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\nEMAIL:ann@lee.io\r\nORG:Acme\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Annie;;;\r\nFN:Annie Lee\r\nEMAIL:ANN@LEE.IO\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Bad;Bob;;;\r\nFN:Bob Bad\r\nEMAIL:bob@@bad\r\nEND:VCARD\r\n",
        encoding="utf-8")
    report = run(db, actor, now, None, path=path, skip_invalid=True)
    assert (report.source, report.created, report.skipped, report.invalid) == ("vCard", 1, 1, 1)
    assert [(p.line, p.column) for p in report.problems] == [(14, "email")]  # the line its card begins on
    with db.read() as session:
        assert contacts.find_contact(session, "ann@lee.io").company_name == "Acme"


def test_json_files_are_read_a_record_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(importer_read, "JSON_BLOCK", 16)  # records cross block edges
    path = tmp_path / "people.json"
    path.write_bytes('\ufeff[\n {"first_name": "Ann", "email": ["a@x.io", "b@x.io"], "n": 12345678901},\n\n'
                     '  {"first_name": "Zoë", "vip": true, "custom.x": null, "extra": 1.5e3}\n]\n'.encode())
    source = importer_read.open_source(path)
    assert (source.kind, source.estimated_rows) == ("json", 2)
    assert source.headers == ["first_name", "email", "n", "vip", "custom.x", "extra"]  # every record's keys
    assert list(source.rows()) == [(2, ["Ann", "a@x.io; b@x.io", "12345678901", "", "", ""]),
                                   (4, ["Zoë", "", "", "true", "", "1500"])]


@pytest.mark.parametrize(("text", "message"), [
    ("", "is empty"), ("[ ]", "is empty"), ('{"a": 1}', "must hold a JSON array"),
    ("[1, 2]", "line 1: each item of the array must be an object"),
    ('[\n{"a": 1},\n{"a": 2,}\n]', "line 3: not valid JSON"),
    ('[{"a": 1} {"a": 2}]', 'expected "," or "]"'), ('[{"a": 1}] x', "text after the end"),
    ('[{"a": 1},', "not valid JSON"),
])
def test_bad_json_files_are_refused_with_the_line(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput, match=message):
        importer_read.open_source(path)


# --- users (issue 17 #20) ----------------------------------------------------------------------------

TEAM_FILE = """User name,Full name,E-mail,Profile,Reports to,Region
bob,Bob Brown,bob@x.io,Sales rep,carol@x.io,emea
carol,Carol Chen,Carol@X.io,Manager,dan,EMEA
dan,Dan Diaz,dan@x.io,administrator,,Americas
eve,,,sales,bob,
"""


def _users_file(tmp_path, text: str, name: str = "team.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _team(db) -> dict[str, tuple]:
    with db.read() as s:
        logins = dict(s.execute(sa.select(User.id, User.login)).all())
        return {u.login: (u.name, u.email, u.role, logins.get(u.manager_id), u.team)
                for u in s.scalars(sa.select(User).where(User.login != "ann"))}


def test_users_import_links_managers_named_later_in_the_file(db, actor, now, tmp_path):
    path = _users_file(tmp_path, TEAM_FILE)
    assert [(c.column, c.field) for c in preview_import(path=path, options=ImportOptions("users")).mapping.columns] \
        == [("User name", "login"), ("Full name", "name"), ("E-mail", "email"), ("Profile", "role"),
            ("Reports to", "manager"), ("Region", "team")]
    before = counts(db)
    dry = run(db, actor, now, "", "users", path=path, dry_run=True)
    assert counts(db) == before and (dry.rows, dry.created, dry.invalid) == (4, 4, 0)
    report = run(db, actor, now, "", "users", path=path)
    assert report.summary() == dry.summary() and report.committed
    assert _team(db) == {
        "bob": ("Bob Brown", "bob@x.io", "sales", "carol", "emea"),  # carol named by email, two rows on
        "carol": ("Carol Chen", "carol@x.io", "manager", "dan", "emea"),  # one team, spelled as first seen
        "dan": ("Dan Diaz", "dan@x.io", "admin", None, "Americas"),
        "eve": ("eve", None, "sales", "bob", None),  # no name: the login
    }
    with db.read() as s:  # each new user audited as `crm user add` audits it
        created = s.scalars(sa.select(AuditEvent.entity_id).where(AuditEvent.entity == "user",
                                                                  AuditEvent.action == "create")).all()
        assert len(created) == 5  # ann, and the file's four
    again = run(db, actor, now, "", "users", path=path)
    assert (again.created, again.skipped) == (0, 4)


def test_users_import_bad_rows(db, actor, now, tmp_path):
    path = _users_file(tmp_path, "Login,Email,Role,Manager,Team\n"
                                 "bob,bob@x.io,overlord,,\n"  # no such role
                                 "cy,cy@x.io,sales,nobody@x.io,\n"  # no such manager
                                 "di,di@x.io,sales,di,\n"  # herself
                                 "fay,fay@x.io,sales,gus,\n"
                                 "gus,gus@x.io,sales,fay@x.io,\n"  # fay reports to gus: a cycle
                                 "Not A Login!,,sales,,\n"
                                 "hal,hal@x.io,sales,ann,North\n")
    before = counts(db)
    with pytest.raises(ImportFailed, match="5 of 7 rows of team.csv are invalid") as caught:
        run(db, actor, now, "", "users", path=path)
    assert counts(db) == before
    assert problems(caught.value.report) == [
        (2, "Role", "invalid role 'overlord': choose one of admin, manager, sales, marketing, support"),
        (3, "Manager", "no user 'nobody@x.io' (by login or email) to be the manager, in the CRM or the file"),
        (4, "Manager", "a user cannot be their own manager"),
        (6, "Manager", "fay@x.io reports to gus (directly or through others); a manager cannot report to their "
                       "own report"),
        (7, "Login", "invalid login 'Not A Login!': use letters, digits, '.', '_', '-' or '@' (at most 64)"),
    ]
    report = run(db, actor, now, "", "users", path=path, skip_invalid=True)
    # rows bad in themselves are left out; a manager found bad once every row was in is left unset
    assert (report.created, report.invalid) == (4, 5)
    team = _team(db)
    assert sorted(team) == ["cy", "fay", "gus", "hal"]
    assert (team["fay"][3], team["gus"][3], team["cy"][3], team["hal"][3:]) == ("gus", None, None, ("ann", "North"))


def test_users_import_updates_duplicates_audited_and_keeps_an_admin(db, actor, now, tmp_path):
    from crm_tui.services import users

    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "name": "Bob", "email": "bob@x.io"}, actor=actor, now=now)
        users.create_user(s, data={"login": "cy", "team": "EMEA"}, actor=actor, now=now)
    path = _users_file(tmp_path, "Login,Email,Role,Manager,Territory\n"
                                 "BOB@X.IO,,manager,zed,emea\n"  # bob by email, his manager further down
                                 "zed,zed@x.io,,,\n")
    skipped = run(db, actor, now, "", "users", path=path)
    assert (skipped.created, skipped.skipped) == (1, 1) and _team(db)["bob"][2:] == ("sales", None, None)
    report = run(db, actor, now, "", "users", path=path, on_duplicate="update")
    assert (report.updated, report.unchanged, report.skipped) == (1, 1, 0)
    assert _team(db)["bob"] == ("Bob", "bob@x.io", "manager", "zed", "EMEA")
    with db.read() as s:
        changed = {e.field for e in s.scalars(sa.select(AuditEvent).where(
            AuditEvent.entity == "user", AuditEvent.entity_id == bob.id, AuditEvent.action == "update"))}
    assert changed == {"role", "team", "manager_id"}
    before = counts(db)
    with pytest.raises(InvalidInput, match="ann is the last active admin"):
        run(db, actor, now, "", "users", path=_users_file(tmp_path, "Login,Role\nann,sales\n", "demote.csv"),
            on_duplicate="update")
    assert counts(db) == before
    with pytest.raises(InvalidInput, match="--on-duplicate create: a login names one user"):
        run(db, actor, now, "", "users", path=path, on_duplicate="create")


def test_users_import_needs_user_admin_before_the_file_is_read(db, actor, now, tmp_path):
    from crm_tui.errors import Forbidden
    from crm_tui.services import users

    with db.write() as s:
        users.create_user(s, data={"login": "mia", "role": "manager"}, actor=actor, now=now)
        mia = users.actor_for(s, login="mia", now=now)
    before = counts(db)
    for path in (_users_file(tmp_path, "Login,Role\nmia,admin\n"), tmp_path / "missing.csv"):
        with pytest.raises(Forbidden, match="mia \\(manager\\) may not add, change and deactivate users"):
            run(db, mia, now, "", "users", path=path, on_duplicate="update")
    assert counts(db) == before
