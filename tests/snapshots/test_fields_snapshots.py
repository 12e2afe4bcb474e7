"""Snapshots of typed custom fields at 80x24 (issue 20): Settings · Custom fields, and the contact
form with its typed fields under the others (scrolled to them). Review every changed SVG before
accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from crm_tui.app import CrmApp
from crm_tui.services import contacts, fields
from tests.snapshots.test_snapshots import settle


@pytest.fixture
def fields_app(sqlite_db, actor_sqlite, now):
    actor = actor_sqlite
    with sqlite_db.write() as s:
        fields.add_field(s, kind="contact", key="segment", type="choice", options=["smb", "mid", "enterprise"],
                         required=True, default="smb", actor=actor, now=now)
        fields.add_field(s, kind="contact", key="seats", type="number", label="Seats", actor=actor, now=now)
        fields.add_field(s, kind="contact", key="renewal", type="date", label="Renewal", actor=actor, now=now)
        fields.add_field(s, kind="contact", key="vip", type="yes/no", label="VIP", actor=actor, now=now)
        fields.add_field(s, kind="company", key="website", type="url", actor=actor, now=now)
        fields.add_field(s, kind="deal", key="arr", type="money", label="ARR", actor=actor, now=now)
        fields.edit_field(s, kind="contact", key="segment", add_options=["strategic"], retire_options=["mid"],
                          actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "custom": {
            "segment": "enterprise", "seats": "120", "renewal": "2027-03-31", "vip": "yes"}}, actor=actor, now=now)
    return CrmApp(sqlite_db, actor, clock=lambda: now, welcome=False, inbox_refresh_s=None)


def test_field_settings_80x24(snap_compare, fields_app):
    from crm_tui.screens.settings.fields import FieldSettingsScreen

    async def open_settings(pilot):
        await settle(pilot.app, pilot)
        pilot.app.push_screen(FieldSettingsScreen())
        await settle(pilot.app, pilot)

    assert snap_compare(fields_app, terminal_size=(80, 24), run_before=open_settings)


def test_contact_form_with_typed_fields_80x24(snap_compare, fields_app):
    from crm_tui.screens.forms import ContactForm

    async def open_form(pilot):
        await settle(pilot.app, pilot)
        with pilot.app.db.read() as s:
            ada = contacts.list_contacts(s, limit=1).items[0]
            record = contacts.get_contact(s, contact_id=ada.id)
        pilot.app.push_screen(ContactForm(record))
        await settle(pilot.app, pilot)
        pilot.app.screen.query_one("#cf-1").focus()
        pilot.app.screen.query_one("#form-body").scroll_end(animate=False)
        await settle(pilot.app, pilot)

    assert snap_compare(fields_app, terminal_size=(80, 24), run_before=open_form)
