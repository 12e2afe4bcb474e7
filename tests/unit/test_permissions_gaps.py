"""The roles' newer permissions through the services (issue 8): exporting, backing up and restoring,
the team's shared lists, and giving contacts and companies to another owner; each role's outcome, the
refusal naming the role that may, and the system actor doing everything."""

from __future__ import annotations

import io
import shutil

import pytest
from sqlalchemy import func, select

from crm_tui.db import open_database
from crm_tui.errors import Forbidden
from crm_tui.models import AuditEvent, Company, Contact, SavedView
from crm_tui.services import backup, companies, contacts, export, merge, permissions, users, views
from crm_tui.services.common import system_actor
from tests.conftest import seeded_fixtures

from .test_permissions import ROLES, attempt, run_cases

LOGINS = {"admin": "ann", "manager": "mia", "sales": "sam", "marketing": "max", "support": "sue"}


def _team(db, actor, now):
    """A user per role (ann is the admin); a contact, a company and a shared list owned by each; a
    contact nobody owns."""
    out = {"admin": actor}
    with db.write() as s:
        for role in ROLES[1:]:
            users.create_user(s, data={"login": LOGINS[role], "role": role}, actor=actor, now=now)
    for role in ROLES[1:]:
        with db.write() as s:
            out[role] = users.actor_for(s, login=LOGINS[role], now=now)
    with db.write() as s:
        for role in ROLES:
            who = out[role]
            out[f"contact_{role}"] = contacts.create_contact(
                s, data={"first_name": f"Client of {who.login}", "owner_id": who.user_id}, actor=actor, now=now).id
            out[f"company_{role}"] = companies.create_company(
                s, data={"name": f"Company of {who.login}", "owner_id": who.user_id}, actor=actor, now=now).id
            out[f"view_{role}"] = views.create_view(
                s, data={"name": f"List of {who.login}", "shared": True}, actor=who, now=now).id
        out["contact_nobody"] = contacts.create_contact(s, data={"first_name": "Walk-in"}, actor=actor, now=now).id
        s.execute(Contact.__table__.update().where(Contact.id == out["contact_nobody"]).values(owner_id=None))
    return out


seeded_rows, db_url, team = seeded_fixtures(_team, "team")


def _export(fmt):
    def run(s, t, a, now):
        out = io.StringIO()
        if fmt == "vcf":
            export.write_vcards(s, out, actor=a)
        elif fmt == "ics":
            export.write_ics(s, out, actor=a, flt=export.ExportFilter(now=now), now=now)
        else:
            {"csv": export.write_csv, "json": export.write_json}[fmt](s, "contacts", out, actor=a)
    return run


def _give(kind, of, to):
    def run(s, t, a, now):
        if kind == "contact":
            contacts.update_contact(s, contact_id=t[f"contact_{of}"], changes={"owner_id": t[to].user_id},
                                    actor=a, now=now)
        else:
            companies.update_company(s, company_id=t[f"company_{of}"], changes={"owner_id": t[to].user_id},
                                     actor=a, now=now)
    return run


EXPORTERS = ("admin", "manager", "marketing")
ASSIGNERS = ("admin", "manager", "sales", "marketing")

# (what, the call, the roles it is allowed for)
CASES = [
    *((f"export contacts as {fmt}", _export(fmt), EXPORTERS) for fmt in ("csv", "json", "vcf", "ics")),
    ("rename ann's shared list", lambda s, t, a, now: views.update_view(
        s, view_id=t["view_admin"], name="Renamed", actor=a, now=now), ("admin", "manager")),
    ("delete sam's shared list", lambda s, t, a, now: views.delete_view(
        s, view_id=t["view_sales"], actor=a, now=now), ("admin", "manager", "sales")),
    ("give ann's contact to sam", _give("contact", "admin", "sales"), ("admin", "manager")),
    ("give mia's company to max", _give("company", "manager", "marketing"), ("admin", "manager")),
    ("give sam's contact to ann", _give("contact", "sales", "admin"), ("admin", "manager", "sales")),
    ("give max's company to ann", _give("company", "marketing", "admin"), ("admin", "manager", "marketing")),
    ("give sue's contact to ann", _give("contact", "support", "admin"), ("admin", "manager")),
    ("give a contact nobody owns to mia", lambda s, t, a, now: contacts.update_contact(
        s, contact_id=t["contact_nobody"], changes={"owner_id": t["manager"].user_id}, actor=a, now=now), ASSIGNERS),
    ("add a contact for mia", lambda s, t, a, now: contacts.create_contact(
        s, data={"first_name": "Eve", "owner_id": t["manager"].user_id}, actor=a, now=now), ASSIGNERS),
    ("add a company for mia", lambda s, t, a, now: companies.create_company(
        s, data={"name": "Initech", "owner_id": t["manager"].user_id}, actor=a, now=now), ASSIGNERS),
    ("merge ann's contact into mia's, keeping ann as owner", lambda s, t, a, now: merge.merge_records(
        s, kind="contact", a_id=t["contact_manager"], b_id=t["contact_admin"], keep={"owner_id": "b"}, actor=a,
        now=now), ("admin", "manager")),
]


def test_each_role_through_the_services(db, team, now):
    got, wrong = run_cases(db, team, now, CASES)
    assert wrong == []
    # a refusal says which roles may, and whether the person may on their own records
    assert got[("export contacts as csv", "sales")] == (
        "sam (sales) may not export records to files (CSV, JSON, vCard, iCalendar): "
        "that needs the admin, manager or marketing role")
    assert got[("rename ann's shared list", "support")] == (
        "sue (support) may not change and delete other people's shared lists: "
        "that needs the admin or manager role; you may on your own")
    assert got[("give ann's contact to sam", "sales")].endswith("that needs the admin or manager role; "
                                                               "you may on your own")
    assert got[("give sue's contact to ann", "support")] == (
        "sue (support) may not give contacts and companies to another owner: that needs the admin or manager role")


def test_everyone_changes_their_own_lists_and_keeps_their_records_when_nothing_changes_hands(db, team, now):
    for role in ROLES:
        who = team[role]
        assert attempt(db, lambda s, who=who, role=role: views.update_view(
            s, view_id=team[f"view_{role}"], query="acme", actor=who, now=now)) == "ok"
        assert attempt(db, lambda s, who=who, role=role: views.delete_view(
            s, view_id=team[f"view_{role}"], actor=who, now=now)) == "ok"
        # editing a record without touching its owner, or "giving" it to its owner, is no assignment
        assert attempt(db, lambda s, who=who: contacts.update_contact(
            s, contact_id=team["contact_admin"], changes={"title": "CTO", "owner_id": team["admin"].user_id},
            actor=who, now=now)) == "ok"
        # a contact nobody owns is anyone's to take
        assert attempt(db, lambda s, who=who: contacts.update_contact(
            s, contact_id=team["contact_nobody"], changes={"owner_id": who.user_id}, actor=who, now=now)) == "ok"


def test_a_refused_change_writes_nothing(db, team, now):
    def counts():
        with db.read() as s:
            return [s.scalar(select(func.count()).select_from(m)) for m in (AuditEvent, SavedView)]

    before = counts()
    with pytest.raises(Forbidden):
        with db.write() as s:
            views.delete_view(s, view_id=team["view_admin"], actor=team["sales"], now=now)
    with pytest.raises(Forbidden):
        with db.write() as s:
            contacts.update_contact(s, contact_id=team["contact_admin"], changes={"owner_id": team["sales"].user_id},
                                    actor=team["sales"], now=now)
    assert counts() == before
    with db.read() as s:
        assert s.get(Contact, team["contact_admin"]).owner_id == team["admin"].user_id
        assert s.get(Company, team["company_admin"]).owner_id == team["admin"].user_id


def test_a_refused_export_writes_not_even_a_header(db, team):
    for writer in (lambda s, out: export.write_csv(s, "contacts", out, actor=team["support"]),
                   lambda s, out: export.write_json(s, "deals", out, actor=team["sales"])):
        out = io.StringIO()
        with db.read() as s, pytest.raises(Forbidden):
            writer(s, out)
        assert out.getvalue() == ""


def test_an_admin_may_open_export_to_a_role(db, team, now):
    assert attempt(db, _export_as(team["sales"])) != "ok"
    with db.write() as s:
        permissions.grant(s, role="sales", action="data.export", actor=team["admin"], now=now)
    assert attempt(db, _export_as(team["sales"])) == "ok"


def _export_as(who):
    return lambda s: export.write_csv(s, "companies", io.StringIO(), actor=who)


@pytest.mark.parametrize("seeded_rows", ["sqlite"], indirect=True)  # its db_url is a copy of `seeded_rows`
def test_backup_and_restore_are_the_admins(db, team, tmp_path, now):
    results, copies = {}, tmp_path / "copies"
    for role in ROLES:
        try:
            copy = backup.backup_sqlite(db, copies / f"{role}.db", actor=team[role])
            results[role] = "ok" if copy.path.exists() else "no file"
        except Forbidden as exc:
            results[role] = str(exc)
    assert results["admin"] == "ok"
    assert {role: r for role, r in results.items() if role != "admin"} == {
        role: f"{LOGINS[role]} ({role}) may not back up and restore the database: that needs the admin role"
        for role in ROLES[1:]}
    assert sorted(p.name for p in copies.iterdir()) == ["admin.db"]  # a refusal leaves not even a partial file

    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "After the backup"}, actor=team["admin"], now=now)
    with pytest.raises(Forbidden, match="needs the admin role"):
        backup.restore_sqlite(db, copies / "admin.db", actor=team["manager"],
                              known_revisions=backup.known_revisions())
    with db.read() as s:  # the refused restore left the database as it was
        assert contacts.count_contacts(s, query="after") == 1
    backup.restore_sqlite(db, copies / "admin.db", actor=system_actor("cron"),
                          known_revisions=backup.known_revisions())
    with db.read() as s:
        assert contacts.count_contacts(s, query="after") == 0


def test_the_system_actor_may_do_all_of_it(db, team, now, tmp_path, sqlite_template):
    system = system_actor("workflow")
    for what, call, _allowed in CASES:
        assert attempt(db, lambda s, call=call: call(s, team, system, now)) == "ok", what
    path = tmp_path / "own.db"
    shutil.copy(sqlite_template, path)
    other = open_database(f"sqlite:///{path}")
    try:
        assert backup.backup_sqlite(other, tmp_path / "copy.db", actor=system).path.exists()
    finally:
        other.dispose()
