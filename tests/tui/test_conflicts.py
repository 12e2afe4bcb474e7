"""Edit conflicts, field by field: two sessions edit the same record; different fields merge
without asking, the same field asks (opened / theirs / yours) and each choice does what it says.

The teammate is a second session (their own actor, their own transaction) writing through the
services while this app's form is open; the forms run in a real app at 80x24 on SQLite (the
version check they rely on is tested on both backends in tests/unit)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from textual.widgets import Input, Label

from crm_tui.models import AuditEvent
from crm_tui.screens.companies.form import CompanyForm
from crm_tui.screens.conflict import FieldConflictScreen, KeepChoice, resolve, three_way
from crm_tui.screens.pipeline.deal import DealEditForm
from crm_tui.screens.forms import ContactForm
from crm_tui.services import companies, contacts, deals, users
from tests.tui.test_forms import SIZE, Host, settle

# --- the three-way compare itself ------------------------------------------------------------------


def test_three_way_merges_different_fields_and_flags_the_same_one():
    opened = {"title": "CEO", "last_name": "Lovelace", "emails": ["a@x.io"], "owner_id": 1}
    theirs = {"title": "CFO", "last_name": "Lovelace", "emails": ["a@x.io", "b@x.io"], "owner_id": 1}
    mine = {"title": "CTO", "last_name": "King", "emails": ["a@x.io", "b@x.io"], "owner_id": 1}
    compare = three_way(opened, theirs, mine)
    assert compare.mine == ("title", "last_name", "emails")
    assert compare.theirs == ("title", "emails")
    assert compare.clashes == ("title",)  # the same email added on both sides is no clash
    assert resolve(opened, theirs, mine) == {**theirs, "title": "CTO", "last_name": "King"}
    assert resolve(opened, theirs, mine, {"title": "theirs"}) == {**theirs, "last_name": "King"}


# --- the contact form -------------------------------------------------------------------------------


def _ann_and_bob(db, now):
    with db.write() as s:
        ann = users.actor_for(s, login="ann", now=now)
        users.create_user(s, data={"login": "bob", "name": "Bob", "role": "manager"}, actor=ann, now=now)
        bob = users.actor_for(s, login="bob", now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "title": "CEO",
                                               "emails": ["ada@x.io"]}, actor=ann, now=now)
    return ann, bob, ada


def _bob_saves(db, bob, contact, now, **changes):
    with db.write() as s:  # the other session, committed while the form is open
        return contacts.update_contact(s, contact_id=contact.id, changes=changes, actor=bob,
                                       version=contact.version, now=now + timedelta(minutes=5))


def _stored(db, contact_id):
    with db.read() as s:
        return contacts.get_contact(s, contact_id=contact_id)


def _ann_updates(db, entity, entity_id):
    with db.read() as s:
        rows = s.execute(select(AuditEvent.field, AuditEvent.old_value, AuditEvent.new_value).where(
            AuditEvent.entity == entity, AuditEvent.entity_id == entity_id, AuditEvent.actor == "ann",
            AuditEvent.action == "update")).all()
    return sorted(tuple(r) for r in rows)


async def test_different_fields_merge_without_asking(sqlite_db, now):
    ann, bob, ada = _ann_and_bob(sqlite_db, now)
    app = Host(sqlite_db, ann, now, ContactForm(ada))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        form.query_one("#last_name", Input).value = "King"
        form.query_one("#phones", Input).value = "+44 20 7946 0000"
        _bob_saves(sqlite_db, bob, ada, now, title="Countess", emails=["ada@x.io", "countess@x.io"])
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, FieldConflictScreen)  # nothing to ask
    [saved] = app.results
    stored = _stored(sqlite_db, ada.id)
    assert saved == stored
    assert (stored.title, stored.last_name, stored.emails) == ("Countess", "King", ["ada@x.io", "countess@x.io"])
    assert stored.phones == ["+442079460000"] and stored.version == ada.version + 2
    assert any("Merged with their changes to Title, Emails" in text for _, text in app.notices)
    # only my fields went out, on top of theirs: no write of theirs back under my name
    assert [f for f, _, _ in _ann_updates(sqlite_db, "contact", ada.id)] == ["last_name", "phones"]


async def test_same_field_asks_and_each_choice_does_what_it_says(sqlite_db, now):
    ann, bob, ada = _ann_and_bob(sqlite_db, now)
    app = Host(sqlite_db, ann, now, ContactForm(ada))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        form.query_one("#title", Input).value = "CTO"
        form.query_one("#last_name", Input).value = "King"
        ada = _bob_saves(sqlite_db, bob, ada, now, title="CFO")
        await pilot.press("ctrl+s")
        await settle(app, pilot)

        # it asks, showing per field the value I opened, theirs and mine; only the clashing field
        dialog = app.screen
        assert isinstance(dialog, FieldConflictScreen)
        assert [(c.label, c.opened, c.theirs, c.yours) for c in dialog.clashes] == [("Title", "CEO", "CFO", "CTO")]
        row = [str(label.render()) for label in dialog.query_one("#clash-row-title").query(Label)]
        assert row == ["Title", "CEO", "CFO", "CTO"]
        assert "by bob" in dialog.message

        # esc: back to the form with my edits as typed, nothing written
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is form and form.query_one("#title", Input).value == "CTO"
        assert "not saved" in str(form.query_one("#form-error", Label).render())
        assert _stored(sqlite_db, ada.id).version == ada.version

        # t: take theirs for the clash; my other field still goes in
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldConflictScreen)
        await pilot.press("t")
        await settle(app, pilot)
    stored = _stored(sqlite_db, ada.id)
    assert app.results == [stored]
    assert (stored.title, stored.last_name, stored.version) == ("CFO", "King", ada.version + 1)
    assert _ann_updates(sqlite_db, "contact", ada.id) == [("last_name", "Lovelace", "King")]


async def test_keep_yours_and_choose_per_field(sqlite_db, now):
    ann, bob, ada = _ann_and_bob(sqlite_db, now)

    # y: keep all of mine (an explicit choice, so theirs is replaced only in the fields shown)
    app = Host(sqlite_db, ann, now, ContactForm(ada))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#title", Input).value = "CTO"
        ada = _bob_saves(sqlite_db, bob, ada, now, title="CFO", source="referral")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldConflictScreen)
        await pilot.press("y")
        await settle(app, pilot)
    stored = _stored(sqlite_db, ada.id)
    assert (stored.title, stored.source, stored.version) == ("CTO", "referral", ada.version + 1)
    assert app.results == [stored]

    # per field: two clashes, keep mine for one (space flips the focused choice) and theirs for the other
    ada = stored
    app = Host(sqlite_db, ann, now, ContactForm(ada))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        form.query_one("#first_name", Input).value = "Augusta"
        form.query_one("#title", Input).value = "Engineer"
        ada = _bob_saves(sqlite_db, bob, ada, now, first_name="Ad", title="Countess")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, FieldConflictScreen)
        assert [c.name for c in dialog.clashes] == ["first_name", "title"]
        assert isinstance(app.focused, KeepChoice) and app.focused.id == "keep-first_name"
        await pilot.press("tab", "space")  # title: theirs; first name stays mine
        assert dialog.choices() == {"first_name": "yours", "title": "theirs"}
        await pilot.press("enter")
        await settle(app, pilot)
    stored = _stored(sqlite_db, ada.id)
    assert (stored.first_name, stored.title, stored.version) == ("Augusta", "Countess", ada.version + 1)


# --- the company and deal forms ------------------------------------------------------------------------


async def test_company_and_deal_forms_merge_and_ask(sqlite_db, now):
    ann, bob, _ = _ann_and_bob(sqlite_db, now)
    with sqlite_db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme", "industry": "Anvils"}, actor=ann, now=now)
        deal = deals.create_deal(s, data={"title": "Anvils", "amount": "100"}, actor=ann, now=now)

    # company: different fields merge
    app = Host(sqlite_db, ann, now, CompanyForm(acme))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#company-domain", Input).value = "acme.example"
        with sqlite_db.write() as s:
            companies.update_company(s, company_id=acme.id, changes={"industry": "Rockets"}, actor=bob,
                                     version=acme.version, now=now)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert (saved.name, saved.domain, saved.industry, saved.version) == ("Acme", "acme.example", "Rockets",
                                                                         acme.version + 2)

    # deal: the same field asks; keeping mine writes mine on the current version
    app = Host(sqlite_db, ann, now, DealEditForm(deal))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#amount", Input).value = "250"
        with sqlite_db.write() as s:
            deals.update_deal(s, deal_id=deal.id, changes={"amount": "300", "title": "Big anvils"}, actor=bob,
                              version=deal.version, now=now)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        dialog = app.screen
        assert isinstance(dialog, FieldConflictScreen)
        assert [(c.label, c.opened, c.theirs, c.yours) for c in dialog.clashes] == [
            ("Amount", "100.00", "300.00", "250")]
        await pilot.press("y")
        await settle(app, pilot)
    [saved] = app.results
    assert (saved.title, saved.amount_minor, saved.version) == ("Big anvils", 25_000, deal.version + 2)


# --- a stage move and a task completion on a record changed meanwhile ---------------------------------


def test_stale_move_and_completion_say_why_and_write_nothing(db, now):
    """The board and the Inbox send the version they show; when a teammate changed the record the
    service refuses, naming who and when (the board rolls the card back and shows this message,
    tests/tui/test_pipeline.py), and nothing is written."""
    import pytest

    from crm_tui.errors import Conflict, InvalidInput
    from crm_tui.services import tasks

    ann, bob, ada = _ann_and_bob(db, now)
    with db.write() as s:
        deal = deals.create_deal(s, data={"title": "Anvils", "contact_id": ada.id}, actor=ann, now=now)
        task = tasks.create_task(s, data={"title": "Call", "due_at": "+1d"}, actor=ann, now=now)
        deals.update_deal(s, deal_id=deal.id, changes={"title": "Big anvils"}, actor=bob, now=now)
        tasks.snooze_task(s, task_id=task.id, until="+2d", actor=bob, now=now)
    with db.write() as s, pytest.raises(Conflict, match=r"changed by bob at .* reload it"):
        deals.step_deal(s, deal_id=deal.id, step=1, actor=ann, version=deal.version, now=now)
    with db.write() as s, pytest.raises(Conflict, match=r"task 'Call' was changed by bob"):
        tasks.complete_task(s, task_id=task.id, actor=ann, version=task.version, now=now)
    with db.read() as s:
        assert deals.get_deal(s, deal_id=deal.id).stage_id == deal.stage_id
        assert tasks.get_task(s, task_id=task.id).done_at is None
        assert [e[1] for e in _events_of(s, "deal", deal.id)] == ["create", "update"]
    # on the version it shows now, it applies cleanly; a task done meanwhile says so
    with db.write() as s:
        current = tasks.get_task(s, task_id=task.id)
        tasks.complete_task(s, task_id=task.id, actor=bob, version=current.version, now=now)
    with db.write() as s, pytest.raises(InvalidInput, match="already done"):
        tasks.complete_task(s, task_id=task.id, actor=ann, now=now)


def test_a_stale_move_applies_when_the_deal_is_still_where_the_mover_saw_it(db, now):
    """A teammate changed another field (the title): a move from the stage the board showed applies
    on top of it, keeping their change. A teammate moved it: the move is refused, saying where the
    deal is now, and nothing is written."""
    import pytest

    from crm_tui.errors import Conflict

    ann, bob, ada = _ann_and_bob(db, now)
    with db.write() as s:
        seen = deals.create_deal(s, data={"title": "Anvils", "contact_id": ada.id}, actor=ann, now=now)
        deals.update_deal(s, deal_id=seen.id, changes={"title": "Big anvils"}, actor=bob, now=now)
    with db.write() as s:
        moved = deals.step_deal(s, deal_id=seen.id, step=1, actor=ann, version=seen.version, now=now,
                                from_stage_id=seen.stage_id)
    assert moved.title == "Big anvils" and moved.stage_id != seen.stage_id

    with db.write() as s:  # bob moves it on; ann's board still shows it where she moved it
        deals.step_deal(s, deal_id=seen.id, step=1, actor=bob, now=now)
        now_in = deals.get_deal(s, deal_id=seen.id)
    for attempt in (lambda s: deals.step_deal(s, deal_id=seen.id, step=-1, actor=ann, version=moved.version,
                                              now=now, from_stage_id=moved.stage_id),
                    lambda s: deals.mark_won(s, deal_id=seen.id, actor=ann, version=moved.version, now=now,
                                             from_stage_id=moved.stage_id)):
        with db.write() as s, pytest.raises(Conflict, match=rf"\(now in {now_in.stage_name}\) was changed by bob"):
            attempt(s)
    with db.read() as s:
        assert deals.get_deal(s, deal_id=seen.id).stage_id == now_in.stage_id
        assert [e[1] for e in _events_of(s, "deal", seen.id)] == ["create", "update", "move", "move"]


def _events_of(session, entity, entity_id):
    return session.execute(select(AuditEvent.actor, AuditEvent.action).where(
        AuditEvent.entity == entity, AuditEvent.entity_id == entity_id).order_by(AuditEvent.id)).all()
