"""The app's forms refuse duplicates and unknown companies the way the CLI does, and let the
person choose: open the existing record, save anyway, or add the company (issue 17 #3, #4)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from textual.widgets import Input, Label

from crm_tui.models import Company, Contact
from crm_tui.screens.companies.form import CompanyForm
from crm_tui.screens.companies.screen import CompaniesScreen
from crm_tui.screens.companies.detail import CompanyDetailScreen
from crm_tui.screens.contacts.detail import ContactDetailScreen
from crm_tui.screens.contacts.screen import ContactsScreen
from crm_tui.screens.pipeline.deal import DealEditForm
from crm_tui.screens.forms import ConfirmScreen, ContactForm, DuplicateScreen
from crm_tui.services import companies, contacts, deals

from .conftest import make_app, settle
from .test_forms import Host, error_text, fill

SIZE = (80, 24)


def _count(db, table) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(table))


@pytest.fixture
def ann(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme", "domain": "acme.com"}, actor=actor, now=now)
        return contacts.create_contact(s, data={"first_name": "Ann", "last_name": "Lee", "emails": ["ann@example.com"],
                                                "company_id": acme.id}, actor=actor, now=now)


async def _new_contact(app, pilot, **values) -> ContactForm:
    await settle(app, pilot)
    await pilot.press("n")
    await settle(app, pilot)
    form = app.screen
    assert isinstance(form, ContactForm)
    fill(form, **values)
    await pilot.press("ctrl+s")
    await settle(app, pilot)
    return form


async def test_a_taken_email_offers_to_open_the_existing_contact(db, actor, now, ann):
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        form = await _new_contact(app, pilot, first_name="Anne", emails="ANN@example.com")
        assert isinstance(app.screen, DuplicateScreen)
        question = str(app.screen.query_one("#dialog-question", Label).render())
        assert f"a contact with ann@example.com already exists: #{ann.id} Ann Lee" in question
        assert f"Open #{ann.id} Ann Lee?" in question
        assert f"a contact with ann@example.com already exists: #{ann.id}" in error_text(form)
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDetailScreen) and app.screen.contact_id == ann.id
    assert _count(db, Contact) == 1


async def test_a_taken_email_can_be_saved_anyway_or_left(db, actor, now, ann):
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        form = await _new_contact(app, pilot, first_name="Anne", emails="ann@example.com")
        await pilot.press("escape")  # back to the form, nothing saved
        await settle(app, pilot)
        assert app.screen is form and _count(db, Contact) == 1
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, DuplicateScreen)
        await pilot.press("s")  # save anyway
        await settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
    assert _count(db, Contact) == 2


async def test_an_unknown_company_is_added_only_when_confirmed(db, actor, now, ann):
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        form = await _new_contact(app, pilot, first_name="Cy", company="Globexx")
        assert isinstance(app.screen, ConfirmScreen)
        assert str(app.screen.query_one("#dialog-question", Label).render()) == "No company 'Globexx'. Create it?"
        await pilot.press("n")
        await settle(app, pilot)
        assert app.screen is form and "No company 'Globexx'." in error_text(form)
        assert (_count(db, Contact), _count(db, Company)) == (1, 1)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
    with db.read() as s:
        cy = contacts.find_contact(s, str(max(s.scalars(select(Contact.id)))))
        assert cy.company_name == "Globexx" and _count(db, Company) == 2


async def test_any_spelling_of_a_company_name_links_it_without_asking(db, actor, now, ann):
    app = Host(db, actor, now, ContactForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, first_name="Wile", company="ACME, Inc.")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert saved.company_name == "Acme" and _count(db, Company) == 1


async def test_a_deal_edit_asks_before_adding_a_company(db, actor, now, ann):
    with db.write() as s:
        deal = deals.create_deal(s, data={"title": "Renewal", "amount": "10"}, actor=actor, now=now)
    app = Host(db, actor, now, DealEditForm(deal))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        fill(app.screen, company="Initech")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
    [saved] = app.results
    assert saved.company_name == "Initech" and _count(db, Company) == 2


async def _new_company(app, pilot, name: str, domain: str = "") -> CompanyForm:
    await settle(app, pilot)
    if not isinstance(app.screen, CompaniesScreen):
        await pilot.press("2")
        await settle(app, pilot)
    await pilot.press("n")
    await settle(app, pilot)
    form = app.screen
    assert isinstance(form, CompanyForm)
    form.query_one("#company-name", Input).value = name
    form.query_one("#company-domain", Input).value = domain
    await pilot.press("ctrl+s")
    await settle(app, pilot)
    return form


async def test_new_company_with_a_taken_name_offers_the_existing_one(db, actor, now, ann):
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        form = await _new_company(app, pilot, "ACME Inc.")
        assert isinstance(app.screen, DuplicateScreen)
        assert "a company with the name 'Acme' already exists" in str(app.screen.query_one("#dialog-question",
                                                                                          Label).render())
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is form and _count(db, Company) == 1
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, CompanyDetailScreen)
    assert _count(db, Company) == 1


async def test_new_company_with_a_taken_domain_can_be_saved_anyway(db, actor, now, ann):
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        form = await _new_company(app, pilot, "Acme Labs", "acme.com")
        assert isinstance(app.screen, DuplicateScreen)
        assert "the domain acme.com" in str(form.query_one("#company-form-error", Label).render())
        await pilot.press("s")  # save anyway
        await settle(app, pilot)
        assert isinstance(app.screen, CompaniesScreen)
    assert _count(db, Company) == 2


@pytest.mark.parametrize("kind", ["contact", "company"])
async def test_the_app_offers_its_own_choices_not_the_command_lines(db, actor, now, ann, kind):
    """The service's message ends with the CLI's advice ("(crm contact show 1); add
    --allow-duplicate to add another"): the dialog and the form's error line say what was found,
    and the dialog's buttons are the choices."""
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        if kind == "contact":
            form = await _new_contact(app, pilot, first_name="Anne", emails="ann@example.com")
        else:
            await settle(app, pilot)
            await pilot.press("2", "n")
            await settle(app, pilot)
            form = app.screen
            form.query_one("#company-name", Input).value = "Acme"
            await pilot.press("ctrl+s")
            await settle(app, pilot)
        assert isinstance(app.screen, DuplicateScreen)
        question = str(app.screen.query_one("#dialog-question", Label).render())
        assert f"a {kind} with" in question and "already exists" in question
        error = str(form.query_one(f"#{form.part('error')}", Label).render())
        assert "already exists" in error
        for shown in (question, error):
            assert "--" not in shown and "crm " not in shown
