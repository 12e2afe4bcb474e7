"""Contacts marked "do not email" (issue 21): the contact form's checkbox saves it (and an edit of
it alone sends only it), the detail card shows the mark, and the composer warns about it without
barring the email."""

from __future__ import annotations

from textual.widgets import Checkbox, Input, Label, Static

from crm_tui.screens.compose import ComposeScreen
from crm_tui.screens.forms import ContactForm
from crm_tui.services import audit, contacts

from .conftest import make_app, settle


def _lee(db, actor, now, **extra):
    with db.write() as s:
        return contacts.create_contact(s, data={"first_name": "Lee", "last_name": "Park",
                                                "emails": ["lee@acme.com"], **extra}, actor=actor, now=now)


async def test_the_form_checkbox_marks_and_the_card_shows_it(db, actor, now):
    lee = _lee(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_record("contact", lee.id)
        await settle(app, pilot)
        card = str(app.screen.query_one("#contact-card", Static).render())
        assert "do not email" not in card
        await pilot.press("e")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ContactForm)
        box = form.query_one("#do_not_email", Checkbox)
        assert box.value is False
        box.value = True
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, ContactForm)
        assert "do not email" in str(app.screen.query_one("#contact-card", Static).render())
    with db.read() as s:
        stored = contacts.get_contact(s, contact_id=lee.id)
        changes = [e.field for e in audit.list_events(s, entity="contact", entity_id=lee.id).items if e.field]
    assert stored.do_not_email is True and stored.version == lee.version + 1
    assert changes == ["do_not_email"]  # only the field changed was sent


async def test_a_new_contact_can_be_marked_in_the_form(db, actor, now):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.push_screen(ContactForm())
        await settle(app, pilot)
        form = app.screen
        form.query_one("#first_name", Input).value = "Kim"
        form.query_one("#do_not_email", Checkbox).value = True
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    with db.read() as s:
        page = contacts.list_contacts(s, filters={"do_not_email": True})
    assert [c.full_name for c in page.items] == ["Kim"]


async def test_the_composer_warns_about_a_do_not_email_recipient_but_lets_you_write(db, actor, now):
    lee = _lee(db, actor, now, do_not_email=True)
    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "Bo", "emails": ["bo@acme.com"]}, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.push_screen(ComposeScreen("contact", lee.id))
        await settle(app, pilot)
        screen = app.screen
        warning = screen.query_one("#compose-warning", Label)
        assert "Lee Park <lee@acme.com>" in str(warning.render()) and warning.display
        assert screen.query_one("#compose-to", Input).value == "lee@acme.com"  # still addressed
        screen.query_one("#compose-to", Input).value = "bo@acme.com"
        await settle(app, pilot)
        assert not warning.display
        screen.query_one("#compose-cc", Input).value = "LEE@acme.com"
        await settle(app, pilot)
        assert warning.display and "Lee Park" in str(warning.render())


async def test_the_contact_list_filter_narrows_to_do_not_email(db, actor, now):
    from crm_tui.screens.contacts.filters import ContactFilterForm
    from crm_tui.widgets.keyset_table import KeysetTable

    _lee(db, actor, now, do_not_email=True)
    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "Bo", "emails": ["bo@acme.com"]}, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#contact-list", KeysetTable)
        assert sorted(r.full_name for r in table.visible_rows()) == ["Bo", "Lee Park"]
        await pilot.press("f")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactFilterForm)
        app.screen.query_one("#do-not-email", Checkbox).value = True
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert [r.full_name for r in table.visible_rows()] == ["Lee Park"]
        assert "do not email" in str(app.screen.query_one("#filter-line").render())
        assert app.screen.filters == {"do_not_email": True}
