"""The audit trail: each kind of change (create, update, archive, merge, stage move, assignment,
task completion, import) writes who, what, the field, the old and the new value, and when; the
trail is read back by record, user and time (services and `crm audit`); nothing edits or deletes
an audit row (a sweep over the code, and the rows written first are unchanged after everything
else). On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import crm_tui
from crm_tui.cli.main import app as cli
from crm_tui.errors import InvalidInput
from crm_tui.models import AuditEvent
from crm_tui.services import (
    activities,
    audit,
    companies,
    contacts,
    deals,
    importing,
    merge,
    pipelines,
    tasks,
    users,
)
from crm_tui.services.common import system_actor


def _events(session, entity, entity_id):
    rows = session.execute(select(AuditEvent).where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
                           .order_by(AuditEvent.id)).scalars()
    return [(e.actor, e.action, e.field, e.old_value, e.new_value) for e in rows]


def _all(session):
    return [(e.id, e.at, e.actor, e.entity, e.entity_id, e.action, e.field, e.old_value, e.new_value)
            for e in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]


def test_each_kind_of_change_writes_its_event(db, actor, now, tmp_path):
    later = now + timedelta(hours=1)
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "role": "sales"}, actor=actor, now=now)
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace"}, actor=actor, now=now)
        dup = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "L", "emails": ["ada@x.io"]},
                                      actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Anvils", "amount": "10", "contact_id": ada.id}, actor=actor,
                                 now=now)
        task = tasks.create_task(s, data={"title": "Call", "due_at": "+1d", "contact_id": ada.id}, actor=actor,
                                 now=now)
        first_rows = _all(s)

    with db.write() as s:
        contacts.update_contact(s, contact_id=ada.id, changes={"title": "Countess", "company_id": acme.id},
                                actor=actor, version=ada.version, now=later)
        contacts.update_contact(s, contact_id=ada.id, changes={"owner_id": bob.id}, actor=actor, now=later)
        contacts.set_contact_archived(s, contact_id=ada.id, archived=True, actor=actor, now=later)
        contacts.set_contact_archived(s, contact_id=ada.id, archived=False, actor=actor, now=later)
        companies.update_company(s, company_id=acme.id, changes={"industry": "Anvils"}, actor=actor, now=later)
        companies.set_company_archived(s, company_id=acme.id, archived=True, actor=actor, now=later)
        deals.update_deal(s, deal_id=deal.id, changes={"owner_id": bob.id}, actor=actor, now=later)
        deals.step_deal(s, deal_id=deal.id, step=1, actor=actor, now=later)
        deals.mark_lost(s, deal_id=deal.id, reason="Price", actor=actor, now=later)
        tasks.complete_task(s, task_id=task.id, actor=actor, now=later)
        tasks.assign_task(s, task_id=task.id, assignee_id=bob.id, actor=system_actor("workflows"), now=later)
        merge.merge_records(s, kind="contact", a_id=ada.id, b_id=dup.id, actor=actor, now=later)
        activities.log_activity(s, data={"kind": "call", "subject": "Hello", "contact_id": ada.id}, actor=actor,
                                now=later)
    csv = tmp_path / "people.csv"
    csv.write_text("first_name,last_name,email\nGrace,Hopper,grace@x.io\n")
    with db.write() as s:
        importing.run_import(s, path=csv, options=importing.ImportOptions(entity="contacts"), actor=actor, now=later)

    with db.read() as s:
        ada_events = _events(s, "contact", ada.id)
        assert ada_events[0] == ("ann", "create", None, None, "Ada Lovelace")
        assert ("ann", "update", "title", None, "Countess") in ada_events
        assert any(e[1:3] == ("update", "company_id") and e[4] == str(acme.id) for e in ada_events)
        assert ("ann", "update", "owner_id", str(actor.user_id), str(bob.id)) in ada_events  # assignment
        assert ("ann", "archive", "archived", "false", "true") in ada_events
        assert ("ann", "unarchive", "archived", "true", "false") in ada_events
        assert [e[1:3] for e in ada_events if e[1] == "merge"] == [("merge", "merged_from")]
        assert _events(s, "contact", dup.id)[-1] == ("ann", "merge", "merged_into", f"#{dup.id}", f"#{ada.id}")

        company_events = _events(s, "company", acme.id)
        assert company_events[0] == ("ann", "create", None, None, "Acme")
        assert ("ann", "update", "industry", None, "Anvils") in company_events
        assert ("ann", "archive", "archived", "false", "true") in company_events

        stages = {st.id: st for st in pipelines.default_pipeline(s).stages}
        deal_events = _events(s, "deal", deal.id)
        assert deal_events[0][:2] == ("ann", "create")
        assert ("ann", "update", "owner_id", str(actor.user_id), str(bob.id)) in deal_events
        [move] = [e for e in deal_events if e[1] == "move"]
        assert move[2] == "stage_id" and stages[int(move[3])].position < stages[int(move[4])].position
        assert ("ann", "lost", "status", "open", "lost") in deal_events
        assert ("ann", "lost", "lost_reason", None, "Price") in deal_events

        task_events = _events(s, "task", task.id)
        assert [e[:3] for e in task_events] == [("ann", "create", None), ("ann", "complete", "done_at"),
                                               ("system:workflows", "reassign", "assignee_id")]
        [imported] = s.execute(select(AuditEvent).where(AuditEvent.entity == "import")).scalars().all()
        assert (imported.actor, imported.action) == ("ann", "import") and "1 created" in imported.new_value

        # every row says when and who; and the rows written first are exactly as they were
        every = _all(s)
        assert all(row[1] is not None and row[2] for row in every)
        assert every[:len(first_rows)] == first_rows

        # read back by record, by user and by time
        by_record = audit.list_events(s, entity="deal", entity_id=deal.id, limit=100).items
        assert {e.entity_id for e in by_record} == {deal.id} and len(by_record) == len(deal_events)
        assert by_record[0].at >= by_record[-1].at  # newest first
        by_system = audit.list_events(s, actor="system:workflows").items
        assert [e.action for e in by_system] == ["reassign"]
        since = audit.list_events(s, since=later, limit=500).items
        assert len(since) == len(every) - len(first_rows)


def test_crm_audit_filters_by_record_user_and_since(db, db_url, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
        contacts.update_contact(s, contact_id=ada.id, changes={"title": "Countess"}, actor=actor,
                                now=now + timedelta(days=2))
        contacts.create_contact(s, data={"first_name": "Grace"}, actor=actor, now=now)
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli, ["--db", db_url, "--user", "ann", "audit", "--json", *args])
        assert result.exit_code == 0, result.output
        import json

        return json.loads(result.output)["items"]

    rows = run("--record", f"contact:{ada.id}")
    assert [(r["action"], r["field"], r["new_value"]) for r in rows] == [("update", "title", "Countess"),
                                                                       ("create", None, "Ada")]
    assert len(run("--user", "ann")) == 4 and run("--user", "bob") == []  # ann: herself, 2 contacts, 1 edit
    since = (now + timedelta(days=1)).date().isoformat()
    assert [r["field"] for r in run("--since", since)] == ["title"]
    bad = runner.invoke(cli, ["--db", db_url, "--user", "ann", "audit", "--record", "contact"])
    assert bad.exit_code != 0 and "give KIND:ID" in bad.output


def test_parse_record():
    assert audit.parse_record("Deal:#40") == ("deal", 40)
    for bad in ("contact", "contact:", ":3", "contact:x"):
        with pytest.raises(InvalidInput):
            audit.parse_record(bad)


# no path in the app or the CLI changes an audit row: nothing updates or deletes audit_events, and
# the CLI has no command that could (`crm audit` only reads)
WRITES = re.compile(r"(update|delete)\(\s*AuditEvent|session\.delete\([^)]*audit|"
                    r"(UPDATE|DELETE\s+FROM)\s+audit_events", re.IGNORECASE)


def test_nothing_edits_or_deletes_audit_rows():
    root = Path(crm_tui.__file__).parent
    offenders = [f"{path.relative_to(root)}:{n}" for path in root.rglob("*.py") if "migrations" not in path.parts
                 for n, line in enumerate(path.read_text().splitlines(), 1) if WRITES.search(line)]
    assert offenders == []
    result = CliRunner().invoke(cli, ["audit", "--help"])
    assert result.exit_code == 0
    assert not re.search(r"--(delete|edit|purge|set|update)\b", result.output)
