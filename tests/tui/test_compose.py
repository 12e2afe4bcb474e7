"""Email from a record (issue 21): m on a contact composes it (To from the contact, a picker for
others, a template whose missing merge field is one line on the error line), ctrl+e hands the body
to $EDITOR, ctrl+s sends it through a real SMTP server on loopback, and the email is on the
timeline. The templates screen adds a template and previews it for a contact."""

from __future__ import annotations

import contextlib
import email
import socket

import pytest
from sqlalchemy import select
from textual.widgets import Checkbox, DataTable, Input, Select, TextArea

from crm_tui.app import CrmApp
from crm_tui.config import Settings, SmtpConfig
from crm_tui.models import Activity, EmailMessage
from crm_tui.screens.compose import ComposeScreen, PreviewScreen
from crm_tui.screens.settings.templates import TemplateForm, TemplateSettingsScreen
from crm_tui.services import companies, contacts, email_templates as templates, users
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import settle

aiosmtpd = pytest.importorskip("aiosmtpd.controller")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    server = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    yield inbox, Settings(smtp=SmtpConfig(host="127.0.0.1", port=port, sender="crm@team.example", timeout=5))
    server.stop()


def seed(db, actor, now) -> int:
    with db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"name": "Ann Admin", "email": "ann@team.example"},
                          actor=actor, now=now)
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        lee = contacts.create_contact(s, data={"first_name": "Lee", "last_name": "Park", "emails": ["lee@acme.com"],
                                               "company_id": acme.id}, actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Bo", "last_name": "Boss", "emails": ["bo@acme.com"],
                                         "company_id": acme.id}, actor=actor, now=now)
        templates.add_template(s, name="Intro", subject="Hello {{ contact.first_name }}",
                               body="Hi {{ contact.first_name }},\nfrom {{ me.name }}", actor=actor, now=now)
        templates.add_template(s, name="Renewal", subject="Your renewal", body="About {{ deal.title }}",
                               actor=actor, now=now)
    return lee.id


def _template(screen, name: str) -> int:
    return next(t.id for t in screen.start.templates if t.name == name)


async def test_compose_from_a_contact_template_error_editor_send_and_timeline(sqlite_db, actor_sqlite, now, smtp,
                                                                               monkeypatch):
    inbox, settings = smtp
    lee = seed(sqlite_db, actor_sqlite, now)
    app = CrmApp(sqlite_db, actor_sqlite, settings=settings, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_record("contact", lee)
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        compose = app.screen
        assert isinstance(compose, ComposeScreen)
        assert compose.query_one("#compose-to", Input).value == "lee@acme.com"
        assert "Ann Admin <ann@team.example>" in str(compose.query_one("#compose-from").render())

        # a template whose merge field has no value here: one line, nothing filled in
        compose.query_one("#compose-template", Select).value = _template(compose, "Renewal")
        await settle(app, pilot)
        assert "deal has no value here" in str(compose.query_one("#compose-error").render())
        assert compose.query_one("#compose-subject", Input).value == ""

        compose.query_one("#compose-template", Select).value = _template(compose, "Intro")
        await settle(app, pilot)
        assert compose.query_one("#compose-subject", Input).value == "Hello Lee"
        assert compose.query_one("#compose-body", TextArea).text == "Hi Lee,\nfrom Ann Admin"

        # another address from the picker: it goes to Cc
        compose.query_one("#compose-add", Input).focus()
        await pilot.press(*"Boss")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        assert compose.query_one("#compose-cc", Input).value == "bo@acme.com"

        # ctrl+e: the body in $EDITOR (the terminal handed over; here a headless one)
        monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
        monkeypatch.setenv("EDITOR", "sed -i s/Hi/Howdy/")
        monkeypatch.delenv("VISUAL", raising=False)
        await pilot.press("ctrl+e")
        await settle(app, pilot)
        assert compose.query_one("#compose-body", TextArea).text == "Howdy Lee,\nfrom Ann Admin"

        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert isinstance(app.screen, PreviewScreen)
        await pilot.press("enter")  # send from the preview
        await settle(app, pilot)
        assert not isinstance(app.screen, (ComposeScreen, PreviewScreen))
        timeline = app.screen.query_one("#timeline", KeysetTable)
        await settle(app, pilot)
        assert any(row.subject == "Hello Lee" and row.kind == "email" for row in timeline.visible_rows())

    [msg] = inbox.messages
    assert (msg["From"], msg["To"], msg["Cc"], msg["Subject"]) == ("Ann Admin <ann@team.example>", "lee@acme.com",
                                                                    "bo@acme.com", "Hello Lee")
    with sqlite_db.read() as s:
        stored = s.scalar(select(EmailMessage))
        linked = sorted(s.scalars(select(Activity.contact_id).where(Activity.email_id == stored.id)))
        assert msg["Message-ID"] == f"<{stored.message_id}>"
    assert lee in linked and len(linked) == 2  # Lee and Bo (on Cc) each have it on their timeline


async def test_without_smtp_the_composer_says_so_and_sends_nothing(sqlite_db, actor_sqlite, now):
    lee = seed(sqlite_db, actor_sqlite, now)
    app = CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.push_screen(ComposeScreen("contact", lee))
        await settle(app, pilot)
        app.screen.query_one("#compose-subject", Input).value = "Hi"
        app.screen.query_one("#compose-body", TextArea).text = "Hello"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ComposeScreen)
        assert "Email is off" in str(app.screen.query_one("#compose-error").render())
    with sqlite_db.read() as s:
        assert s.scalar(select(EmailMessage)) is None


async def test_the_templates_screen_adds_one_and_previews_it_for_a_contact(sqlite_db, actor_sqlite, now):
    seed(sqlite_db, actor_sqlite, now)
    app = CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.push_screen(TemplateSettingsScreen())
        await settle(app, pilot)
        assert app.screen.query_one(DataTable).row_count == 2
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, TemplateForm)
        form.query_one("#template-name", Input).value = "Check-in"
        form.query_one("#template-subject", Input).value = "{{ company.name }} check-in"
        form.query_one("#template-body", TextArea).text = "Hi {{ contact.custom.nickname }}"
        form.query_one("#template-team", Checkbox).value = True
        form.query_one("#template-contact", Input).value = "Lee Park"
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert "contact.custom.nickname has no value" in str(form.query_one("#template-preview-error").render())
        form.query_one("#template-body", TextArea).text = "Hi {{ contact.custom.nickname | default(contact.first_name) }}"
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert "Subject: Acme check-in\n\nHi Lee" == str(form.query_one("#template-preview").render())
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, TemplateSettingsScreen)
        assert app.screen.query_one(DataTable).row_count == 3
    with sqlite_db.read() as s:
        [made] = [t for t in templates.list_templates(s, actor=actor_sqlite) if t.name == "Check-in"]
    assert made.shared


async def test_shift_m_on_a_sent_email_replies_in_its_thread(sqlite_db, actor_sqlite, now, smtp):
    from crm_tui.services import mail_send

    inbox, settings = smtp
    lee = seed(sqlite_db, actor_sqlite, now)
    with sqlite_db.write() as s:
        first = mail_send.send(s, draft=mail_send.Draft(to=["lee@acme.com"], subject="Pricing", body="Here it is.",
                                                        contact_id=lee), actor=actor_sqlite, now=now)
    app = CrmApp(sqlite_db, actor_sqlite, settings=settings, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_record("contact", lee)
        await settle(app, pilot)
        app.screen.query_one("#timeline", KeysetTable).focus()
        await pilot.press("M")
        await settle(app, pilot)
        compose = app.screen
        assert isinstance(compose, ComposeScreen)
        assert compose.query_one("#compose-subject", Input).value == "Re: Pricing"
        assert compose.query_one("#compose-to", Input).value == "lee@acme.com"
        compose.query_one("#compose-body", TextArea).text = "And one more thing."
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert not isinstance(app.screen, ComposeScreen)
    replies = [m for m in inbox.messages if m["Subject"] == "Re: Pricing"]
    assert [m["In-Reply-To"] for m in replies] == [f"<{first.message_id}>"]
    assert replies[0]["References"] == f"<{first.message_id}>"


@pytest.mark.parametrize("kind", ["company", "deal"])
async def test_m_on_a_company_or_a_deal_composes_to_its_contact(sqlite_db, actor_sqlite, now, kind):
    from crm_tui.services import deals

    lee = seed(sqlite_db, actor_sqlite, now)
    with sqlite_db.write() as s:
        deal = deals.create_deal(s, data={"title": "Acme renewal", "amount": "5000", "contact_id": lee},
                                 actor=actor_sqlite, now=now)
        company_id = contacts.get_contact(s, contact_id=lee).company_id
    app = CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_record(kind, company_id if kind == "company" else deal.id)
        await settle(app, pilot)
        await pilot.press("m")
        await settle(app, pilot)
        compose = app.screen
        assert isinstance(compose, ComposeScreen)
        # a company's first contact by name is Bo Boss; a deal's is its own contact
        assert compose.query_one("#compose-to", Input).value == ("bo@acme.com" if kind == "company" else "lee@acme.com")
        compose.query_one("#compose-template", Select).value = _template(compose, "Renewal")
        await settle(app, pilot)
        expected = "" if kind == "company" else "About Acme renewal"
        assert compose.query_one("#compose-body", TextArea).text == expected
