"""Contacts and accounts (issue 20): from a contact open its company; from a company create a
contact, a deal or a task for it; x on a Tasks tab completes a task (task notes are shown); Enter
on a timeline entry opens the whole note. Real app, frozen clock."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import Input, Label, Static, TabbedContent

from crm_tui.screens.activity import ActivityScreen
from crm_tui.screens.companies.detail import CompanyDetailScreen
from crm_tui.screens.contacts.detail import ContactDetailScreen
from crm_tui.screens.forms import ContactForm, DealForm, TaskForm
from crm_tui.services import activities, companies, contacts, tasks
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle

NOTE = ("Long call about the rollout. " * 12).strip()


def _seed(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme Corp"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "company_id": acme.id,
                                               "address": "1 Elm St", "birthday": "1985-12-10",
                                               "social_urls": ["github.com/ada"], "description": "Likes engines."},
                                      actor=actor, now=now)
        activities.log_activity(s, data={"kind": "call", "subject": "Rollout", "body": NOTE, "contact_id": ada.id,
                                         "occurred_at": now - timedelta(hours=1)}, actor=actor, now=now)
        task = tasks.create_task(s, data={"title": "Send quote", "notes": "v2 pricing, 3 seats",
                                          "contact_id": ada.id, "due_at": now + timedelta(days=1)},
                                 actor=actor, now=now)
    return acme, ada, task


async def _open(app, pilot, screen):
    await settle(app, pilot)
    await app.push_screen(screen)
    await settle(app, pilot)
    return app.screen


async def test_a_contact_shows_its_profile_opens_its_company_and_completes_a_task(db, actor, now):
    acme, ada, task = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, ContactDetailScreen(ada.id))
        card = str(screen.query_one("#contact-card", Static).render())
        assert "10 Dec 1985" in card and "1 Elm St" in card and "https://github.com/ada" in card
        assert "Likes engines." in card
        await pilot.press("right_square_bracket", "right_square_bracket")  # Tasks
        await settle(app, pilot)
        table = screen.query_one("#tasks", KeysetTable)
        assert app.focused is table and [t.notes for t in table.visible_rows()] == ["v2 pricing, 3 seats"]
        await pilot.press("x")
        await settle(app, pilot)
        assert table.visible_rows() == []
        with db.read() as s:
            assert tasks.get_task(s, task_id=task.id).done_at == now
        await pilot.press("c")
        await settle(app, pilot)
        assert isinstance(app.screen, CompanyDetailScreen) and app.screen.company_id == acme.id


async def test_enter_on_a_timeline_entry_shows_the_whole_note(db, actor, now):
    _acme, ada, _task = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot, ContactDetailScreen(ada.id))
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ActivityScreen)
        assert str(app.screen.query_one("#activity-notes", Static).render()).replace("\n", " ").split() == NOTE.split()


async def test_from_a_company_new_contact_deal_and_task_are_for_it(db, actor, now):
    acme, ada, _task = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot, CompanyDetailScreen(acme.id))
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ContactForm) and form.query_one("#company", Input).value == "Acme Corp"
        assert str(form.query_one("#form-title", Label).render()) == "New contact · Acme Corp"
        await pilot.press(*"Grace", "ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, DealForm)
        assert str(app.screen.query_one("#form-title", Label).render()) == "New deal · Acme Corp"
        await pilot.press(*"Anvils", "ctrl+s")
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        assert isinstance(app.screen, TaskForm)
        await pilot.press(*"Call Acme", "ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
    with db.read() as s:
        grace = contacts.list_contacts(s, query="grace").items[0]
        assert grace.company_name == "Acme Corp"
        page = companies.company_tasks(s, company_id=acme.id)
        assert "Call Acme" in [t.title for t in page.items]
        from crm_tui.services import deals
        assert [d.title for d in deals.list_deals(s, company_id=acme.id).items] == ["Anvils"]
