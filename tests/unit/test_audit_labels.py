"""The audit trail read back names the records its id fields point to (a login, a company's or a
contact's name, a deal's title, a stage's or a pipeline's name) beside the raw ids, with one query
for the whole page however many events it holds. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from crm_tui.models.schemas import AuditRead
from crm_tui.services import audit, companies, contacts, deals, merge, pipelines, tasks, users


def _stages(session) -> dict[str, int]:
    return {stage.name: stage.id for stage in pipelines.default_pipeline(session).stages}


def _changes(session, entity, entity_id) -> list[tuple[str, str | None, str | None, str | None]]:
    """(field, old, new, who) as the History tab shows them, oldest first, one row per changed field."""
    items = audit.list_events(session, entity=entity, entity_id=entity_id, limit=100).items
    return [(e.field_label, e.old_shown, e.new_shown, e.actor) for e in reversed(items) if e.field]


def test_id_fields_read_back_as_names_and_keep_their_raw_ids(db, actor, now):
    later = now + timedelta(hours=1)
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob"}, actor=actor, now=now)
        acme = companies.create_company(s, data={"name": "Acme Corp"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "owner_id": actor.user_id},
                                      actor=actor, now=now)
        mail_only = contacts.create_contact(s, data={"emails": ["grace@navy.mil"]}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Anvils", "amount": "10"}, actor=actor, now=now)
        task = tasks.create_task(s, data={"title": "Call", "due_at": "+1d", "assignee_id": actor.user_id},
                                 actor=actor, now=now)
        stage = _stages(s)
    with db.write() as s:
        contacts.update_contact(s, contact_id=ada.id, changes={"owner_id": bob.id, "company_id": acme.id},
                                actor=actor, now=later)
        deals.move_deal(s, deal_id=deal.id, stage_id=stage["Qualified"], actor=actor, now=later)
        deals.move_deal(s, deal_id=deal.id, stage_id=stage["Proposal"], actor=actor, now=later)
        deals.update_deal(s, deal_id=deal.id, changes={"contact_id": mail_only.id, "company_id": acme.id},
                          actor=actor, now=later)
        tasks.assign_task(s, task_id=task.id, assignee_id=bob.id, actor=actor, now=later)

    with db.read() as s:
        assert ("owner", "ann", "bob", "ann") in _changes(s, "contact", ada.id)
        assert ("company", None, "Acme Corp", "ann") in _changes(s, "contact", ada.id)
        deal_changes = _changes(s, "deal", deal.id)
        assert ("stage", "New", "Qualified", "ann") in deal_changes
        assert ("stage", "Qualified", "Proposal", "ann") in deal_changes
        # a contact with no name is known by its email
        assert ("contact", None, "grace@navy.mil", "ann") in deal_changes
        assert ("assignee", "ann", "bob", "ann") in _changes(s, "task", task.id)

        owner = next(e for e in audit.list_events(s, entity="contact", entity_id=ada.id).items if e.field == "owner_id")
        # the raw values stay as they were written, for `crm audit --json`; the names sit beside them
        assert (owner.old_value, owner.new_value) == (str(actor.user_id), str(bob.id))
        assert (owner.old_label, owner.new_label) == ("ann", "bob")
        assert set(owner.model_dump()) == set(AuditRead.model_fields) | {"old_label", "new_label"}


def test_a_removed_record_reads_back_as_its_id(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme Corp"}, actor=actor, now=now)
        acme_dup = companies.create_company(s, data={"name": "Acme Corporation"}, actor=actor, now=now,
                                            allow_duplicate=True)  # a duplicate on purpose
        ada = contacts.create_contact(s, data={"first_name": "Ada", "company_id": acme_dup.id}, actor=actor, now=now)
        contacts.update_contact(s, contact_id=ada.id, changes={"company_id": None}, actor=actor, now=now)
        merge.merge_records(s, kind="company", a_id=acme.id, b_id=acme_dup.id, actor=actor, now=now)
    with db.read() as s:
        assert ("company", f"#{acme_dup.id}", None, "ann") in _changes(s, "contact", ada.id)


def test_the_names_of_a_page_come_from_one_query(db, actor, now):
    """However many id changes a page holds, naming them costs one query more than reading them."""
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob"}, actor=actor, now=now)
        acme = companies.create_company(s, data={"name": "Acme Corp"}, actor=actor, now=now)
        few = contacts.create_contact(s, data={"first_name": "Few"}, actor=actor, now=now)
        many = contacts.create_contact(s, data={"first_name": "Many"}, actor=actor, now=now)
        stage = _stages(s)
        deal = deals.create_deal(s, data={"title": "Anvils", "contact_id": many.id}, actor=actor, now=now)
        contacts.update_contact(s, contact_id=few.id, changes={"owner_id": bob.id}, actor=actor, now=now)
        for i in range(6):
            contacts.update_contact(s, contact_id=many.id, actor=actor, now=now + timedelta(minutes=i),
                                    changes={"owner_id": bob.id if i % 2 == 0 else actor.user_id,
                                             "company_id": acme.id if i % 2 == 0 else None})
            deals.move_deal(s, deal_id=deal.id, stage_id=stage["Proposal" if i % 2 == 0 else "Qualified"],
                            actor=actor, now=now + timedelta(minutes=i))

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        with db.read() as s:
            s.connection()  # SQLite's explicit BEGIN is not one of the page's queries
            counts = []
            for entity, entity_id in (("contact", few.id), ("contact", many.id), ("deal", deal.id)):
                statements.clear()
                page = audit.list_events(s, entity=entity, entity_id=entity_id, limit=50)
                assert sum(e.new_label is not None for e in page.items) >= (1 if entity_id == few.id else 6)
                counts.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert counts[0] == counts[1] == counts[2]
