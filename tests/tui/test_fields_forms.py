"""Typed custom fields in the contact form and on the detail screen (issue 20): they load under
the other fields, a bad value is one line under the fields with nothing written, an edit sends only
the fields changed, and the detail screen shows them."""

from __future__ import annotations

from textual.widgets import Input, Label, Select

from crm_tui.screens.forms import ContactForm
from crm_tui.services import contacts, fields
from tests.tui.test_forms import SIZE, Host, contact_count, error_text, settle


def _define(db, actor, now) -> None:
    with db.write() as s:
        fields.add_field(s, kind="contact", key="segment", type="choice", options=["smb", "mid", "enterprise"],
                         required=True, actor=actor, now=now)
        fields.add_field(s, kind="contact", key="seats", type="number", actor=actor, now=now)
        fields.add_field(s, kind="contact", key="vip", type="yes/no", label="VIP", actor=actor, now=now)


async def test_new_contact_with_typed_fields(db, actor, now):
    _define(db, actor, now)
    app = Host(db, actor, now, ContactForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert str(form.query_one("#custom-fields-heading", Label).render()) == "Custom fields"
        form.query_one("#first_name", Input).value = "Grace"
        form.query_one("#cf-1", Input).value = "a dozen"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert error_text(form) == "segment is required"
        form.query_one("#cf-0", Select).value = "mid"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert error_text(form) == "seats: 'a dozen' is not a number"
        assert contact_count(db) == 0
        form.query_one("#cf-1", Input).value = "12"
        form.query_one("#cf-2", Select).value = "yes"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, ContactForm)
    [saved] = app.results
    assert saved.custom == {"segment": "mid", "seats": 12, "vip": True}


async def test_edit_sends_only_the_changed_fields(db, actor, now):
    _define(db, actor, now)
    with db.write() as s:
        c = contacts.create_contact(s, data={"first_name": "Ada", "custom": {"segment": "smb", "seats": 3,
                                                                             "legacy": "x"}}, actor=actor, now=now)
    app = Host(db, actor, now, ContactForm(c))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert form.query_one("#cf-0", Select).value == "smb"
        assert form.query_one("#cf-1", Input).value == "3"
        form.query_one("#cf-1", Input).value = ""
        form.query_one("#cf-0", Select).value = "enterprise"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    with db.read() as s:
        assert contacts.get_contact(s, contact_id=c.id).custom == {"segment": "enterprise", "legacy": "x"}


async def test_the_detail_screen_shows_typed_and_untyped_values(sqlite_db, actor_sqlite, now):
    from crm_tui.screens.contacts.detail import ContactDetailScreen
    from tests.tui.conftest import make_app
    from tests.tui.conftest import settle as settle_app

    _define(sqlite_db, actor_sqlite, now)
    with sqlite_db.write() as s:
        c = contacts.create_contact(s, data={"first_name": "Ada", "custom": {"segment": "smb", "vip": "no",
                                                                             "legacy": "x"}},
                                    actor=actor_sqlite, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_app(app, pilot)
        app.push_screen(ContactDetailScreen(c.id))
        await settle_app(app, pilot)
        line = str(app.screen.query_one("#contact-card").render())
    assert "segment smb" in line and "seats —" in line and "VIP no" in line and "legacy x" in line


async def test_a_company_shows_its_custom_fields_under_the_card(sqlite_db, actor_sqlite, now):
    from crm_tui.models import Company
    from crm_tui.screens.companies.detail import CompanyDetailScreen
    from crm_tui.screens.detail import CustomFieldsLine
    from crm_tui.services import companies
    from tests.tui.conftest import make_app
    from tests.tui.conftest import settle as settle_app

    with sqlite_db.write() as s:
        fields.add_field(s, kind="company", key="website", type="url", actor=actor_sqlite, now=now)
        fields.add_field(s, kind="company", key="tier", type="choice", options=["gold", "silver"],
                         actor=actor_sqlite, now=now)
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor_sqlite, now=now)
        s.get(Company, acme.id).custom = {"website": "https://acme.test", "crm id": "A-1"}  # as an import sets it
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle_app(app, pilot)
        app.push_screen(CompanyDetailScreen(acme.id))
        await settle_app(app, pilot)
        line = str(app.screen.query_one(CustomFieldsLine).render())
    assert line.split() == ["website", "https://acme.test", "tier", "—", "crm", "id", "A-1"]


async def test_company_and_deal_forms_take_their_typed_fields(db, actor, now):
    from crm_tui.screens.companies.form import CompanyForm
    from crm_tui.screens.forms import DealForm
    from crm_tui.services import companies, deals

    with db.write() as s:
        fields.add_field(s, kind="company", key="tier", type="choice", options=["gold", "silver"], required=True,
                         actor=actor, now=now)
        fields.add_field(s, kind="deal", key="arr", type="money", actor=actor, now=now)
    app = Host(db, actor, now, CompanyForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        form.query_one("#company-name", Input).value = "Acme"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "tier is required" in str(form.query_one("#company-form-error", Label).render())
        form.query_one("#cf-0", Select).value = "gold"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [acme] = app.results
    with db.read() as s:
        assert fields.stored_custom(s, "company", acme.id) == {"tier": "gold"}
        acme = companies.get_company(s, company_id=acme.id)
    app = Host(db, actor, now, CompanyForm(acme))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one("#cf-0", Select).value == "gold"
        app.screen.query_one("#cf-0", Select).value = "silver"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    with db.read() as s:
        assert fields.stored_custom(s, "company", acme.id) == {"tier": "silver"}

    app = Host(db, actor, now, DealForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        form.query_one("#title", Input).value = "Big one"
        form.query_one("#cf-0", Input).value = "12.345"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "arr: '12.345' has more than two decimals" == error_text(form)
        form.query_one("#cf-0", Input).value = "1,200.50"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [deal] = app.results
    with db.read() as s:
        assert fields.stored_custom(s, "deal", deal.id) == {"arr": 120050}
        assert deals.get_deal(s, deal_id=deal.id).title == "Big one"
