"""Snapshots at 80x24 (issue 20): a form with its pickers (matches open under a field), and
Settings · Users. Fixed demo data, frozen clock. Review every changed SVG before accepting it."""

from __future__ import annotations

import pytest

from crm_tui.services import contacts
from tests.snapshots.test_snapshots import settle

SIZE = (80, 24)


def test_deal_form_with_pickers(snap_compare, demo_app):
    from crm_tui.screens.forms import DealForm

    async def open_form(pilot):
        app = pilot.app
        await settle(app, pilot)
        with app.db.read() as session:
            first = contacts.list_contacts(session, sort="name", limit=1, now=app.now()).items[0]
        app.push_screen(DealForm(contact_id=first.id))
        await settle(app, pilot)
        app.screen.query_one("#company").focus()
        await pilot.press(*"net")
        await settle(app, pilot)

    assert snap_compare(demo_app, terminal_size=SIZE, run_before=open_form)


def test_users_screen(snap_compare, demo_app):
    from crm_tui.screens.settings.users import UserSettingsScreen

    async def open_users(pilot):
        await settle(pilot.app, pilot)
        pilot.app.push_screen(UserSettingsScreen())
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=SIZE, run_before=open_users)


NOTE = ("Called about the rollout: they want the per-seat pricing for 40 seats, a pilot in January, "
        "and a security review before the contract. Their CFO signs anything above $50k.\n\n"
        "Next: send the v2 quote, book the pilot kickoff, and ask legal for the DPA template. "
        "Mentioned a competitor's offer at $38 per seat; they prefer us for the import tooling.")


def test_note_view(snap_compare, demo_app):
    from datetime import timedelta

    from crm_tui.screens.contacts.detail import ContactDetailScreen
    from crm_tui.services import activities

    async def open_note(pilot):
        app = pilot.app
        await settle(app, pilot)
        with app.db.write() as session:
            first = contacts.list_contacts(session, sort="name", limit=1, now=app.now()).items[0]
            activities.log_activity(session, data={"kind": "call", "subject": "Rollout and pricing", "body": NOTE,
                                                   "contact_id": first.id, "outcome": "interested",
                                                   "occurred_at": app.now() - timedelta(minutes=5)},
                                    actor=app.actor, now=app.now())
        app.push_screen(ContactDetailScreen(first.id))
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)

    assert snap_compare(demo_app, terminal_size=SIZE, run_before=open_note)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_deal_form_stage_and_owner_pickers(snap_compare, demo_app, size):
    """The stage picker's list (down, nothing typed: the pipeline's open stages) over the fields
    below it, then, at 120x36, the owner picker's matches for a name typed."""
    from crm_tui.screens.forms import DealForm

    async def open_form(pilot):
        app = pilot.app
        await settle(app, pilot)
        app.push_screen(DealForm())
        await settle(app, pilot)
        if size == (80, 24):
            app.screen.query_one("#stage").focus()
            await pilot.press("down")
        else:
            app.screen.query_one("#owner").focus()
            await pilot.press("home", "ctrl+k", *"a")
        await settle(app, pilot)

    assert snap_compare(demo_app, terminal_size=size, run_before=open_form)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_deals_filter_owner_picker(snap_compare, demo_app, size):
    """The deals list's filter: "me" and "nobody" first, then the users that match."""
    from crm_tui.screens.pipeline.deals import DealFilterForm

    async def open_form(pilot):
        app = pilot.app
        await settle(app, pilot)
        app.push_screen(DealFilterForm({}))
        await settle(app, pilot)
        app.screen.query_one("#filter-owner").focus()
        await pilot.press("down")
        await settle(app, pilot)

    assert snap_compare(demo_app, terminal_size=size, run_before=open_form)
