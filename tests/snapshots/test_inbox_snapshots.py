"""Snapshots of the Inbox on fixed tasks and a frozen clock (FROZEN_NOW, a Monday 10:00 UTC): the
list at 80x24 and 120x36, and the snooze dialog at 80x24 (the team view is checked by the Pilot test). Review every
changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_tui.app import CrmApp
from crm_tui.services import companies, contacts, deals, tasks, users
from tests.snapshots.test_snapshots import settle

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 36), id="120x36")]


@pytest.fixture
def inbox_app(sqlite_db, actor_sqlite, now):
    actor = actor_sqlite
    with sqlite_db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "name": "Bob Stone"}, actor=actor, now=now)
        acme = companies.create_company(s, data={"name": "Acme Industries"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "company_id": acme.id},
                                      actor=actor, now=now)
        grace = contacts.create_contact(s, data={"first_name": "Grace", "last_name": "Hopper"}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Acme renewal 2027", "amount": 12500, "contact_id": ada.id},
                                 actor=actor, now=now)
        for title, due, extra in (
            ("Send the signed contract back to legal", now - timedelta(days=2, hours=3), {"deal_id": deal.id}),
            ("Call Ada about the renewal", now - timedelta(hours=5), {"contact_id": ada.id}),
            ("Weekly pipeline review", "today 9am", {"recurrence": "every monday"}),
            ("Follow up: no reply in 14 days", now - timedelta(minutes=20),
             {"contact_id": grace.id, "origin": "rule", "rule_name": "Stale lead"}),
            ("Prepare the demo", now + timedelta(hours=3), {"company_id": acme.id}),
            ("Quarterly check-in", "+3d", {"contact_id": grace.id}),
            ("Bob's overdue call", now - timedelta(days=1), {"assignee_id": bob.id, "contact_id": grace.id}),
        ):
            tasks.create_task(s, data={"title": title, "due_at": due, **extra}, actor=actor, now=now)
    return CrmApp(sqlite_db, actor, clock=lambda: now, welcome=False, inbox_refresh_s=None)


async def _open_inbox(pilot) -> None:
    await settle(pilot.app, pilot)
    await pilot.press("4")
    await settle(pilot.app, pilot)


@pytest.mark.parametrize("size", SIZES)
def test_inbox(snap_compare, inbox_app, size):
    assert snap_compare(inbox_app, terminal_size=size, run_before=_open_inbox)


def test_snooze_dialog(snap_compare, inbox_app):
    async def snooze(pilot):
        await _open_inbox(pilot)
        await pilot.press("z")
        await settle(pilot.app, pilot)

    assert snap_compare(inbox_app, terminal_size=(80, 24), run_before=snooze)
