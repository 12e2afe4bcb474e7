"""A snapshot of the Inbox's Planned section (issue 17 #10) at 80x24 on a frozen clock (FROZEN_NOW,
a Monday 10:00 UTC) for a user in Europe/Paris: the calls and meetings logged ahead, soonest first,
with their local times. Review a changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_tui.app import CrmApp
from crm_tui.services import activities, companies, contacts, deals, users
from tests.snapshots.test_snapshots import settle


@pytest.fixture
def planned_app(sqlite_db, actor_sqlite, now):
    actor = actor_sqlite
    with sqlite_db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"timezone": "Europe/Paris"}, actor=actor, now=now)
        ann = users.actor_for(s, login="ann", now=now)
        acme = companies.create_company(s, data={"name": "Acme Industries"}, actor=ann, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "company_id": acme.id},
                                      actor=ann, now=now)
        deal = deals.create_deal(s, data={"title": "Acme renewal 2027", "amount": 12500, "contact_id": ada.id},
                                 actor=ann, now=now)
        for data in (
            {"kind": "meeting", "subject": "Renewal kick-off", "occurred_at": now + timedelta(hours=2),
             "contact_id": ada.id, "deal_id": deal.id, "duration_minutes": 45},
            {"kind": "call", "subject": "Check the quote arrived", "occurred_at": now + timedelta(hours=23),
             "contact_id": ada.id},
            {"kind": "meeting", "subject": "Quarterly review", "occurred_at": now + timedelta(days=10),
             "company_id": acme.id, "duration_minutes": 60},
        ):
            activities.log_activity(s, data=data, actor=ann, now=now)
    return CrmApp(sqlite_db, ann, clock=lambda: now, welcome=False, inbox_refresh_s=None)


def test_planned_section(snap_compare, planned_app):
    async def open_planned(pilot):
        await settle(pilot.app, pilot)
        await pilot.press("4")  # no task due: the Inbox opens on Planned
        await settle(pilot.app, pilot)

    assert snap_compare(planned_app, terminal_size=(80, 24), run_before=open_planned)
