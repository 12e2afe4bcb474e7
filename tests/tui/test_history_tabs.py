"""The History tab of the contact, company and deal screens, driven through the real app: a change
made through the services (by another user than the record's owner) shows as one line with who
made it, the field, and the old and new values, an id field by the names it stood for
(owner ann → carl, stage Qualified → Proposal), never by raw ids."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import TabbedContent

from crm_tui.screens.companies.detail import CompanyDetailScreen
from crm_tui.screens.contacts.detail import ContactDetailScreen
from crm_tui.screens.pipeline.deal import DealDetailScreen
from crm_tui.services import companies, contacts, deals, pipelines, users
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle


def _people(db, actor, now):
    """bob (a manager) makes the changes; carl (a seller) is the new owner; ann owned everything."""
    with db.write() as s:
        users.create_user(s, data={"login": "bob", "role": "manager"}, actor=actor, now=now)
        carl = users.create_user(s, data={"login": "carl", "role": "sales"}, actor=actor, now=now)
    with db.write() as s:
        bob = users.actor_for(s, login="bob", now=now)
    return bob, carl


async def _history_lines(db, actor, now, screen, presses: int, pane_id: str, table_id: str) -> list[str]:
    """Open `screen` in the real app, step to its History tab with `]`, and read the table's rows
    as painted (spaces squeezed)."""
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        app.push_screen(screen)
        await settle(app, pilot)
        for _ in range(presses):
            await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert app.screen.query_one(TabbedContent).active == pane_id
        table = app.screen.query_one(f"#{table_id}", KeysetTable)
        assert app.focused is table
        return [" ".join(table.render_line(y).text.split()) for y in range(1, len(table.visible_rows()) + 1)]


async def test_contact_history_names_the_new_owner(db, actor, now):
    bob, carl = _people(db, actor, now)
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace",
                                               "owner_id": actor.user_id}, actor=actor, now=now - timedelta(days=1))
        contacts.update_contact(s, contact_id=ada.id, changes={"owner_id": carl.id}, actor=bob,
                                now=now - timedelta(hours=1))
    lines = await _history_lines(db, actor, now, ContactDetailScreen(ada.id), 5, "tab-history", "history")
    assert lines[0] == "2026-11-23 09:00 bob owner: ann → carl"
    assert not any("owner_id" in line for line in lines)


async def test_company_history_shows_the_rename_and_the_new_owner(db, actor, now):
    bob, carl = _people(db, actor, now)
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme", "owner_id": actor.user_id}, actor=actor,
                                        now=now - timedelta(days=1))
        companies.update_company(s, company_id=acme.id, changes={"name": "Acme Corp"}, actor=bob,
                                 now=now - timedelta(hours=2))
        companies.update_company(s, company_id=acme.id, changes={"owner_id": carl.id}, actor=bob,
                                 now=now - timedelta(hours=1))
    lines = await _history_lines(db, actor, now, CompanyDetailScreen(acme.id), 6, "company-tab-history",
                                 "company-history")
    assert lines[:2] == ["2026-11-23 09:00 bob owner: ann → carl",
                         "2026-11-23 08:00 bob name: Acme → Acme Corp"]


async def test_deal_history_names_the_stages_it_moved_between(db, actor, now):
    bob, _carl = _people(db, actor, now)
    with db.write() as s:
        stage = {st.name: st.id for st in pipelines.default_pipeline(s).stages}
        anvils = deals.create_deal(s, data={"title": "Anvils", "amount": "1000", "stage_id": stage["Qualified"]},
                                   actor=actor, now=now - timedelta(days=1))
        deals.move_deal(s, deal_id=anvils.id, stage_id=stage["Proposal"], actor=bob, now=now - timedelta(hours=1))
    lines = await _history_lines(db, actor, now, DealDetailScreen(anvils.id), 5, "tab-deal-history", "deal-history")
    assert lines[0] == "2026-11-23 09:00 bob stage: Qualified → Proposal"
    assert f"stage: {stage['Qualified']}" not in " ".join(lines)
