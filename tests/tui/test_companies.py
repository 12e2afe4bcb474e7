"""The Companies area and the account view, driven through the real app with a pilot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from textual.widgets import Input, Label, Static, TabbedContent

from crm_tui.models import AuditEvent, Company
from crm_tui.screens.companies.form import CompanyForm
from crm_tui.screens.companies.screen import CompaniesScreen
from crm_tui.screens.conflict import FieldConflictScreen
from crm_tui.screens.forms import ConfirmScreen
from crm_tui.screens.companies.detail import CompanyDetailScreen
from crm_tui.services import activities, companies, contacts, deals
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle


@pytest.fixture
def accounts(db, actor, now):
    """Acme (two contacts, deals in two currencies, a call logged on a contact alone) and Beta."""
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme Corp", "domain": "acme.com", "industry": "Anvils"},
                                        actor=actor, now=now)
        beta = companies.create_company(s, data={"name": "Beta Ltd", "domain": "beta.io"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace",
                                               "company_id": acme.id}, actor=actor, now=now)
        bob = contacts.create_contact(s, data={"first_name": "Bob", "last_name": "Stone"}, actor=actor, now=now)
        activities.log_activity(s, data={"kind": "call", "subject": "Ada's intro call", "contact_id": ada.id,
                                         "occurred_at": now - timedelta(hours=3)}, actor=actor, now=now)
        activities.log_activity(s, data={"kind": "call", "subject": "Bob before he joined", "contact_id": bob.id,
                                         "occurred_at": now - timedelta(hours=2)}, actor=actor, now=now)
        contacts.update_contact(s, contact_id=bob.id, changes={"company_id": acme.id}, actor=actor, now=now)
        for title, amount, currency in (("Anvils", "1,000", "USD"), ("Rockets", "250.50", "USD"),
                                        ("Euro anvils", "400", "EUR")):
            deals.create_deal(s, data={"title": title, "amount": amount, "currency": currency,
                                       "company_id": acme.id}, actor=actor, now=now)
        won = deals.create_deal(s, data={"title": "Big win", "amount": "5000", "company_id": acme.id},
                                actor=actor, now=now)
        deals.mark_won(s, deal_id=won.id, actor=actor, now=now)
        deals.create_deal(s, data={"title": "Beta's", "amount": "99", "company_id": beta.id}, actor=actor, now=now)
    return {"acme": acme.id, "beta": beta.id}


def _list(app) -> KeysetTable:
    return app.screen.query_one("#company-list", KeysetTable)


def _names(app) -> list[str]:
    return [row.name for row in _list(app).visible_rows()]


def _companies(db) -> list[tuple[str, str | None, str | None, bool]]:
    with db.read() as s:
        return [tuple(r) for r in s.execute(select(Company.name, Company.domain, Company.industry, Company.archived)
                                            .order_by(Company.id))]


async def _to_companies(app, pilot) -> None:
    await settle(app, pilot)
    await pilot.press("2")
    await settle(app, pilot)
    assert isinstance(app.screen, CompaniesScreen)


async def test_list_search_and_the_account_view_with_its_consolidated_timeline_and_totals(db, actor, now, accounts):
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await _to_companies(app, pilot)
        assert _names(app) == ["Acme Corp", "Beta Ltd"]
        assert [row.contacts for row in _list(app).visible_rows()] == [2, 0]
        assert _list(app).total == 2

        await pilot.press("s")  # newest first: same creation time, so the later id first
        await settle(app, pilot)
        assert _names(app) == ["Beta Ltd", "Acme Corp"]
        assert "sorted by newest" in str(app.screen.query_one("#company-list-line", Static).render())

        await pilot.press("slash", *"zzz", "enter")
        await settle(app, pilot)
        assert _names(app) == [] and _list(app).total == 0
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"acme", "down")  # searches now and moves into the list
        await settle(app, pilot)
        assert _names(app) == ["Acme Corp"] and _list(app).total == 1
        assert app.focused is _list(app)

        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CompanyDetailScreen) and screen.company_id == accounts["acme"]
        card = str(screen.query_one("#company-card", Static).render())
        assert "Acme Corp" in card and "acme.com · Anvils" in card
        assert "Deals open 3 · €400.00 + $1,250.50   won 1 · $5,000.00" in card

        timeline = screen.query_one("#company-timeline", KeysetTable)
        what = [(a.contact_name, a.subject) for a in timeline.visible_rows()]
        assert what == [(None, "New → Won"), ("Bob Stone", "Bob before he joined"),
                        ("Ada Lovelace", "Ada's intro call")]
        assert app.focused is timeline
        tabs = screen.query_one(TabbedContent)
        assert [str(tabs.get_tab(p).label) for p in ("company-tab-timeline", "company-tab-contacts",
                                                       "company-tab-deals", "company-tab-tasks")] == [
            "Timeline 3", "Contacts 2", "Deals 4", "Tasks 0"]

        await pilot.press("right_square_bracket", "right_square_bracket")  # the Deals tab, open and closed
        await settle(app, pilot)
        assert tabs.active == "company-tab-deals"
        deal_rows = screen.query_one("#company-deals", KeysetTable).visible_rows()
        assert sorted((d.title, d.status) for d in deal_rows) == [
            ("Anvils", "open"), ("Big win", "won"), ("Euro anvils", "open"), ("Rockets", "open")]

        await pilot.press("left_square_bracket")  # the Contacts tab; Enter opens the contact
        await settle(app, pilot)
        assert tabs.active == "company-tab-contacts"
        assert app.focused is screen.query_one("#company-contacts", KeysetTable)
        assert [c.full_name for c in app.focused.visible_rows()] == ["Ada Lovelace", "Bob Stone"]
        await pilot.press("enter")
        await settle(app, pilot)
        from crm_tui.screens.contacts.detail import ContactDetailScreen

        assert isinstance(app.screen, ContactDetailScreen) and app.screen.contact_id is not None
        from crm_tui.widgets.area_bar import AreaBar

        assert app.screen.query_one(AreaBar).current == "companies"  # still in the Companies area
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, CompaniesScreen)


async def test_log_an_activity_for_the_company_from_the_account_view(db, actor, now, accounts):
    from crm_tui.screens.forms import LogActivityForm

    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await _to_companies(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("l")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, LogActivityForm)
        form.query_one("#subject", Input).value = "Quarterly review"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CompanyDetailScreen)
        timeline = app.screen.query_one("#company-timeline", KeysetTable)
        assert timeline.visible_rows()[0].subject == "Quarterly review"
        assert timeline.visible_rows()[0].company_id == accounts["acme"]
        assert timeline.total == 4


async def test_new_company_is_saved_only_once_valid_with_the_error_inline(db, actor, now, accounts):
    app = make_app(db, actor, now)
    before = _companies(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_companies(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, CompanyForm)
        error = form.query_one("#company-form-error", Label)

        await pilot.press("ctrl+s")  # no name
        await settle(app, pilot)
        assert app.screen is form and "company name is required" in str(error.render())
        assert error.has_class("-shown")
        assert _companies(db) == before

        await pilot.press(*"Gamma", "enter", *"not a domain", "enter", *"Robots")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and "invalid domain 'not a domain'" in str(error.render())
        assert _companies(db) == before

        domain = form.query_one("#company-domain", Input)
        domain.value = "https://www.Gamma.example/about"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CompaniesScreen)
        assert _companies(db) == [*before, ("Gamma", "gamma.example", "Robots", False)]
        assert _names(app) == ["Acme Corp", "Beta Ltd", "Gamma"]


async def test_edit_that_conflicts_asks_then_offers_reload_and_never_overwrites(db, actor, now, accounts):
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await _to_companies(app, pilot)
        await pilot.press("e")  # Acme, highlighted first
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, CompanyForm) and form.company.version == 1
        assert form.query_one("#company-industry", Input).value == "Anvils"

        with db.write() as s:  # a teammate saves meanwhile
            companies.update_company(s, company_id=accounts["acme"], changes={"industry": "Rockets"},
                                     actor=actor, version=1, now=now + timedelta(minutes=1))
        form.query_one("#company-name", Input).value = "Acme Inc"
        form.query_one("#company-industry", Input).value = "Robots"  # the field they changed too
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldConflictScreen)  # it asks (screens/conflict.py) ...
        await pilot.press("escape")  # ... and going back leaves it unsaved, with a reload offered
        await settle(app, pilot)
        assert app.screen is form
        message = str(form.query_one("#company-form-error", Label).render())
        assert message.startswith("Not saved: company 'Acme Corp' was changed by ann at 2026-11-23 10:01 UTC")
        assert "ctrl+r reload theirs" in str(form.query_one("#company-form-hint", Label).render())
        assert form.query_one("#company-form-reload").display
        assert any("was changed" in n.message for n in app._notifications)
        assert _companies(db)[0] == ("Acme Corp", "acme.com", "Rockets", False)

        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert form.company.version == 2
        assert form.query_one("#company-name", Input).value == "Acme Corp"
        assert form.query_one("#company-industry", Input).value == "Rockets"
        assert not form.query_one("#company-form-reload").display

        form.query_one("#company-name", Input).value = "Acme Inc"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, CompaniesScreen)
        assert _companies(db)[0] == ("Acme Inc", "acme.com", "Rockets", False)
        with db.read() as s:  # only the name was sent: one audit row for the rename
            renames = s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.entity == "company", AuditEvent.entity_id == accounts["acme"],
                AuditEvent.action == "update"))
        assert renames == 2  # the teammate's industry, then our name
        assert _names(app) == ["Acme Inc", "Beta Ltd"]


async def test_archive_asks_first_and_u_undoes_it(db, actor, now, accounts):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_companies(app, pilot)
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(app, pilot)
        assert [c[3] for c in _companies(db)] == [False, False]

        await pilot.press("a")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, CompaniesScreen)
        assert [c[3] for c in _companies(db)] == [True, False]
        assert _names(app) == ["Beta Ltd"]

        await pilot.press("u")
        await settle(app, pilot)
        assert [c[3] for c in _companies(db)] == [False, False]
        assert _names(app) == ["Acme Corp", "Beta Ltd"]
