"""Permissions through import (issue 16, item 1): a file may do no more than its importer may do
with the commands, and what it changes is audited as the commands audit it.

CASES is the table: who runs `crm import KIND` on which file, and either the one-line refusal
(nothing written) or None (allowed). `command`, where given, is the same change made through a
command, which must be refused as well. Add a row for a new hole."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from crm_tui.services import companies, contacts, deals, permissions, tasks, users

TEAM = (("mia", "manager"), ("sam", "sales"), ("bob", "sales"), ("max", "marketing"), ("sue", "support"))


@pytest.fixture
def team(db, actor) -> dict[str, int]:
    """ann (admin, first user) and five teammates; bob (sales) owns a company, a deal, a contact, a task.
    Made through the services (the CLI's start-up per command would make each case slow)."""
    with db.write() as s:
        ids = {login: users.create_user(s, data={"login": login, "role": role}, actor=actor).id
               for login, role in TEAM}
        company = companies.create_company(s, data={"name": "Acme", "owner_id": ids["bob"]}, actor=actor).id
        return {
            "company": company,
            "deal": deals.create_deal(s, data={"title": "Bob renewal", "amount": "50000", "company_id": company,
                                               "owner_id": ids["bob"]}, actor=actor).id,
            "contact": contacts.create_contact(s, data={"first_name": "Cy", "emails": ["cy@acme.io"],
                                                        "owner_id": ids["bob"]}, actor=actor).id,
            "task": tasks.create_task(s, data={"title": "Call Cy", "assignee_id": ids["bob"]}, actor=actor).id,
            "sams_deal": deals.create_deal(s, data={"title": "Sam deal", "amount": "10", "owner_id": ids["sam"]},
                                           actor=actor).id,
        }


@dataclass(frozen=True)
class Case:
    id: str
    user: str
    kind: str
    csv: str
    args: tuple[str, ...] = ()
    refused: str | None = None  # in the one-line error; None: the import is allowed
    code: int = 4
    command: tuple[str, ...] = ()  # the same change by command: refused as well
    scopes: tuple[tuple[str, str, str], ...] = ()  # (role, action, scope) an admin set first


UPDATE = ("--on-duplicate", "update")
SALES_IMPORT = (("sales", "import.run", "all"),)
SUPPORT_IMPORT = (("support", "import.run", "all"),)
CASES = [
    # the reproductions
    Case("marketing-edits-colleagues-deal", "max", "deals",
         "Deal Name,Amount,Deal Stage,Owner,Account\nBob renewal,1,Lost,max,Acme\n", UPDATE,
         "max (marketing) may not add, edit, move, win, lose and archive deals",
         command=("deal", "edit", "{deal}", "--amount", "1")),
    Case("marketing-creates-a-user", "max", "contacts", "First Name,Email,Owner\nNew,new@x.io,newbie\n",
         ("--create-users",), "--create-users: max (marketing) may not add, change and deactivate users",
         command=("user", "add", "newbie")),
    Case("marketing-assigns-a-task", "max", "tasks", "Task,Assigned to\nCall Cy back,bob\n", (),
         "max (marketing) may not give tasks to someone else",
         command=("task", "add", "Call back", "--assignee", "bob")),
    Case("marketing-takes-a-contact", "max", "contacts", "Email,Owner\ncy@acme.io,max\n", UPDATE,
         "max (marketing) may not give other people's contacts and companies to another owner",
         command=("contact", "edit", "{contact}", "--owner", "max")),
    # the same holes by other roles and kinds
    Case("sales-edits-colleagues-deal", "sam", "deals", "Deal Name,Amount,Account\nBob renewal,1,Acme\n", UPDATE,
         "deal #{deal}: sam (sales) may not add, edit, move, win, lose and archive deals of other people",
         command=("deal", "edit", "{deal}", "--amount", "1"), scopes=SALES_IMPORT),
    Case("sales-adds-a-deal-for-a-colleague", "sam", "deals", "Deal Name,Owner\nNew one,bob\n", (),
         "sam (sales) may not add, edit, move, win, lose and archive deals of other people",
         command=("deal", "add", "New one", "--owner", "bob"), scopes=SALES_IMPORT),
    Case("marketing-edits-colleagues-task", "max", "tasks", "Task,Notes\nCall Cy,hello\n", UPDATE,
         "may not add, complete, snooze and reschedule tasks of other people", command=("task", "done", "{task}")),
    Case("support-takes-a-company", "sue", "companies", "Name,Owner\nAcme,sue\n", UPDATE,
         "sue (support) may not give contacts and companies to another owner",
         command=("company", "edit", "{company}", "--owner", "sue"), scopes=SUPPORT_IMPORT),
    Case("no-company-edit-adds-a-company", "sue", "contacts", "First Name,Company\nEve,Newco\n", (),
         "sue (support) may not add, edit, archive and merge companies", command=("company", "add", "Newco"),
         scopes=(*SUPPORT_IMPORT, ("support", "company.edit", "none"))),
    Case("own-activity-scope-logs-for-a-colleague", "max", "activities",
         "Type,Date,Contact,Subject,User\nCall,2026-11-02 10:00,cy@acme.io,Hi,bob\n", (),
         "max (marketing) may not log calls, emails, meetings and notes of other people",
         scopes=(("marketing", "activity.log", "own"),)),
    Case("marketing-imports-deals-at-all", "max", "deals", "Deal Name\nMine\n", (),
         "max (marketing) may not add, edit, move, win, lose and archive deals", command=("deal", "add", "Mine")),
    # allowed: what the commands allow
    Case("sales-gives-own-deal-away", "sam", "deals", "Deal Name,Owner\nSam deal,bob\n", UPDATE,
         scopes=SALES_IMPORT),
    Case("manager-moves-colleagues-deal", "mia", "deals",
         "Deal Name,Amount,Deal Stage,Owner,Account\nBob renewal,1,Lost,mia,Acme\n", UPDATE),
    Case("marketing-adds-own-task", "max", "tasks", "Task\nMy task\n"),
    Case("marketing-adds-a-contact-for-bob", "max", "contacts", "First Name,Owner\nDee,bob\n"),
    Case("admin-creates-a-user", "ann", "contacts", "First Name,Owner\nDee,newbie\n", ("--create-users",)),
]


def snapshot(db_url: str) -> dict[str, list[str]]:
    """Every row of every table: a refused import must leave all of it as it was."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return {t.name: sorted(repr(tuple(r)) for r in conn.execute(sa.select(t)))
                    for t in SQLModel.metadata.sorted_tables}
    finally:
        engine.dispose()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_import_does_no_more_than_the_commands(crm, team, db, actor, db_url, tmp_path, case):
    with db.write() as s:
        for role, action, scope in case.scopes:
            permissions.set_scope(s, role=role, action=action, scope=scope, actor=actor)
    path = tmp_path / f"{case.kind}.csv"
    path.write_text(case.csv, encoding="utf-8")
    command = ("import", case.kind, str(path), *case.args)
    before = snapshot(db_url)
    if case.refused is None:
        crm.ok(*command, user=case.user)
        assert snapshot(db_url) != before
        return
    assert case.refused.format(**team) in crm.fails(*command, user=case.user, code=case.code).stderr
    assert snapshot(db_url) == before
    if case.command:
        crm.fails(*(a.format(**team) for a in case.command), user=case.user, code=4)
        assert snapshot(db_url) == before


def test_refused_rows_are_bad_rows_skipped_with_skip_invalid(crm, team, db_url, tmp_path):
    path = tmp_path / "tasks.csv"
    path.write_text("Task,Assigned to\nMine,max\nBob's,bob\n", encoding="utf-8")
    before = snapshot(db_url)
    failed = crm.fails("import", "tasks", str(path), user="max", code=4)
    assert failed.stderr.strip() == (
        f"error: 1 of 2 rows of tasks.csv are refused (line 3: max (marketing) may not give tasks to someone "
        "else: that needs the admin or manager role), so nothing was imported; fix them, or re-run "
        "with --skip-invalid to import the rest")
    assert snapshot(db_url) == before
    report = crm.json("import", "tasks", str(path), "--skip-invalid", user="max")
    assert (report["created"], report["invalid"], report["refused"]) == (1, 0, 1)
    assert [(p["line"], p["column"], p["value"], p["status"]) for p in report["problems"]] == [
        (3, "Assigned to", "bob", "refused")]
    assert "1 refused" in crm.ok("import", "tasks", str(path), "--skip-invalid", "--dry-run", user="max").stdout


def _events(db_url: str, entity: str, entity_id: int) -> list[tuple]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT action, field, old_value, new_value, actor FROM audit_events "
                "WHERE entity = :e AND entity_id = :i ORDER BY id"), {"e": entity, "i": entity_id})]
    finally:
        engine.dispose()


def _stage_changes(crm, deal_id: int) -> list[tuple]:
    return [(a["kind"], a["subject"], a["outcome"], a["body"])
            for a in crm.json("deal", "show", str(deal_id))["recent_activities"] if a["kind"] == "stage_change"]


def test_an_allowed_import_audits_each_change_as_deal_move_does(crm, team, db_url, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text("Deal Name,Amount,Deal Stage,Owner,Account,Lost Reason\nBob renewal,1,Lost,mia,Acme,price\n",
                    encoding="utf-8")
    crm.ok("import", "deals", str(path), "--on-duplicate", "update", user="mia")
    deal = team["deal"]
    events = _events(db_url, "deal", deal)[1:]  # after the "create"
    assert {(a, f) for a, f, *_ in events} == {
        ("lost", "stage_id"), ("lost", "status"), ("lost", "lost_reason"), ("lost", "closed_at"),
        ("update", "amount_minor"), ("update", "owner_id")}
    assert ("update", "amount_minor", "5000000", "100", "mia") in events
    assert ("lost", "status", "open", "lost", "mia") in events
    assert _stage_changes(crm, deal) == [("stage_change", "New → Lost", "lost", "price")]
    # the same move by command writes the same shape
    other = crm.json("deal", "add", "Other", "--amount", "5")["id"]
    crm.ok("deal", "lost", str(other), "--reason", "price", user="mia")
    assert {(a, f) for a, f, *_ in _events(db_url, "deal", other)[1:]} == {
        (a, f) for a, f, *_ in events if a == "lost"}
    assert _stage_changes(crm, other) == _stage_changes(crm, deal)
    # reopened by file: audited as a reopen; a row without a stage leaves the deal where it is
    path.write_text("Deal Name,Deal Stage,Account\nBob renewal,Qualified,Acme\n", encoding="utf-8")
    crm.ok("import", "deals", str(path), "--on-duplicate", "update", user="mia")
    assert ("reopen", "status", "lost", "open", "mia") in _events(db_url, "deal", deal)
    path.write_text("Deal Name,Amount,Account\nBob renewal,7,Acme\n", encoding="utf-8")
    crm.ok("import", "deals", str(path), "--on-duplicate", "update", user="mia")
    shown = crm.json("deal", "show", str(deal))
    assert (shown["stage_name"], len(_stage_changes(crm, deal))) == ("Qualified", 2)


def test_an_allowed_contact_import_audits_fields_and_tags(crm, team, db_url, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("Email,Title,Tags,Owner\ncy@acme.io,CTO,vip,mia\n", encoding="utf-8")
    crm.ok("import", "contacts", str(path), "--on-duplicate", "update", user="mia")
    events = [e for e in _events(db_url, "contact", team["contact"]) if e[0] == "update"]
    assert {(f, old, new) for _, f, old, new, _ in events} >= {("title", None, "CTO"), ("tags", "[]", '["vip"]')}
    assert {f for _, f, *_ in events} == {"title", "tags", "owner_id"}


def test_users_an_import_adds_are_audited_as_user_add_does(crm, team, db_url, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("First Name,Owner\nDee,newbie\n", encoding="utf-8")
    report = crm.json("import", "contacts", str(path), "--create-users")
    assert report["users_created"] == ["newbie"]
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT action, new_value, actor FROM audit_events WHERE entity = 'user' "
                                        "AND new_value LIKE 'newbie%'")).all() == [
                ("create", "newbie (sales), by import", "ann")]
    finally:
        engine.dispose()
