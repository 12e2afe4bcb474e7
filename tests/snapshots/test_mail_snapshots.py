"""Snapshots of email at 80x24 (issue 21): the composer on a contact with a template filled in and
a second address on Cc, the composer's missing-merge-field line, and Settings · Email templates.
Review every changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from crm_tui.app import CrmApp
from crm_tui.services import companies, contacts, email_templates as templates, users
from tests.snapshots.test_snapshots import settle


@pytest.fixture
def mail_app(sqlite_db, actor_sqlite, now):
    actor = actor_sqlite
    with sqlite_db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"name": "Ann Admin", "email": "ann@team.example"},
                          actor=actor, now=now)
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Lee", "last_name": "Park", "emails": ["lee@acme.com"],
                                         "company_id": acme.id}, actor=actor, now=now)
        templates.add_template(s, name="Intro", subject="Hello {{ contact.first_name }}", shared=True,
                               body="Hi {{ contact.first_name }},\n\nGood to meet you at {{ company.name }}.\n\n"
                                    "{{ me.name }}", actor=actor, now=now)
        templates.add_template(s, name="Renewal", subject="Your renewal", body="About {{ deal.title }}",
                               actor=actor, now=now)
    return CrmApp(sqlite_db, actor, clock=lambda: now, welcome=False, inbox_refresh_s=None)


def _lee(app) -> int:
    with app.db.read() as s:
        return contacts.list_contacts(s, limit=1).items[0].id


async def _compose(pilot, template: str):
    from crm_tui.screens.compose import ComposeScreen

    await settle(pilot.app, pilot)
    pilot.app.push_screen(ComposeScreen("contact", _lee(pilot.app)))
    await settle(pilot.app, pilot)
    screen = pilot.app.screen
    screen.query_one("#compose-cc", Input).value = "bo@acme.com"
    screen.query_one("#compose-template", Select).value = next(t.id for t in screen.start.templates
                                                               if t.name == template)
    await settle(pilot.app, pilot)
    for field in screen.query("Input, TextArea"):
        field.cursor_blink = False  # a blinking cursor draws differently from one frame to the next
    screen.query_one("#compose-to", Input).focus()
    await settle(pilot.app, pilot)


def test_compose_80x24(snap_compare, mail_app):
    async def run_before(pilot):
        await _compose(pilot, "Intro")

    assert snap_compare(mail_app, terminal_size=(80, 24), run_before=run_before)


def test_compose_missing_merge_field_80x24(snap_compare, mail_app):
    async def run_before(pilot):
        await _compose(pilot, "Renewal")

    assert snap_compare(mail_app, terminal_size=(80, 24), run_before=run_before)


def test_template_settings_80x24(snap_compare, mail_app):
    from crm_tui.screens.settings.templates import TemplateSettingsScreen

    async def run_before(pilot):
        await settle(pilot.app, pilot)
        pilot.app.push_screen(TemplateSettingsScreen())
        await settle(pilot.app, pilot)

    assert snap_compare(mail_app, terminal_size=(80, 24), run_before=run_before)


def test_template_form_80x24(snap_compare, mail_app):
    from crm_tui.screens.settings.templates import TemplateSettingsScreen

    async def run_before(pilot):
        await settle(pilot.app, pilot)
        pilot.app.push_screen(TemplateSettingsScreen())
        await settle(pilot.app, pilot)
        await pilot.press("e")
        await settle(pilot.app, pilot)
        for field in pilot.app.screen.query("Input, TextArea"):
            field.cursor_blink = False
        await settle(pilot.app, pilot)

    assert snap_compare(mail_app, terminal_size=(80, 24), run_before=run_before)
