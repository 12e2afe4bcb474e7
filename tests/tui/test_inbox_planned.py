"""The Inbox's Planned section through the real app, on a frozen clock (issue 17 #10): the calls
and meetings logged ahead, with their times in the user's zone; Enter opens what each is about; task
keys write nothing on them; the team's; and a meeting leaves the list when the engine counts it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.app import CrmApp
from crm_tui.models import AuditEvent, Contact
from crm_tui.models.schemas import PlannedRead
from crm_tui.screens.contacts.detail import ContactDetailScreen
from crm_tui.screens.pipeline.deal import DealDetailScreen
from crm_tui.screens.inbox.screen import InboxScreen
from crm_tui.services import activities, contacts, deals, users
from tests.tui.conftest import settle


@pytest.fixture
def db(sqlite_db):
    """The screen on SQLite only: the services under it run on both backends in tests/unit."""
    return sqlite_db


@pytest.fixture
def planned(db, actor_sqlite, now):
    actor = actor_sqlite
    with db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"timezone": "Europe/Paris"}, actor=actor, now=now)
        ann = users.actor_for(s, login="ann", now=now)
        users.create_user(s, data={"login": "bob", "role": "sales"}, actor=actor, now=now)
        bob = users.actor_for(s, login="bob", now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace"}, actor=ann, now=now)
        grace = contacts.create_contact(s, data={"first_name": "Grace", "last_name": "Hopper"}, actor=ann, now=now)
        deal = deals.create_deal(s, data={"title": "Acme renewal", "amount": 100, "contact_id": ada.id},
                                 actor=ann, now=now)
        for who, data in (
            (ann, {"kind": "meeting", "subject": "Kick-off", "occurred_at": now + timedelta(hours=2),
                   "contact_id": ada.id, "deal_id": deal.id, "duration_minutes": 45}),
            (ann, {"kind": "call", "subject": "Check in", "occurred_at": now + timedelta(days=1, hours=-1),
                   "contact_id": grace.id}),
            (ann, {"kind": "call", "subject": "Made this morning", "occurred_at": now - timedelta(hours=1),
                   "contact_id": grace.id}),
            (bob, {"kind": "meeting", "subject": "Bob's demo", "occurred_at": now + timedelta(hours=5),
                   "contact_id": grace.id}),
        ):
            activities.log_activity(s, data=data, actor=who, now=now)
    return {"ann": ann, "ada": ada, "grace": grace, "deal": deal}


def _subjects(app) -> list[str]:
    return [row.subject for row in app.screen.table.visible_rows()]


def _cells(screen, row) -> list[str]:
    return [column.text(row) for column in screen.table.columns]


async def test_planned_meetings_in_the_inbox(db, now, planned):
    clock = {"now": now}
    app = CrmApp(db, planned["ann"], clock=lambda: clock["now"], welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        screen = app.screen
        # nothing due: the Inbox opens on the planned meetings and calls, soonest first
        assert isinstance(screen, InboxScreen) and screen.section == "planned"
        assert _subjects(app) == ["Kick-off", "Check in"]
        assert screen.planned == 2 and screen.table.total == 2
        assert screen.counts == {"overdue": 0, "today": 0, "upcoming": 0, "snoozed": 0, "done": 0}
        kick_off = screen.table.current_row
        assert isinstance(kick_off, PlannedRead)
        # FROZEN_NOW is 10:00 UTC, 11:00 in Paris: the meeting is at 13:00 there
        assert _cells(screen, kick_off)[:4] == ["meeting: Kick-off", "deal: Acme renewal", "today 13:00",
                                                 f"{now:%Y-%m-%d} 13:00"]
        assert "Planned 2" in screen.query_one("#inbox-sections").text().plain

        # a task's keys leave the key bar in Planned, and write nothing on a planned meeting
        assert not any(screen.check_action(a, ()) for a in ("complete", "snooze", "reschedule", "log_call"))
        assert screen.check_action("new_task", ()) is not False
        with db.read() as s:
            audited = s.scalar(select(func.count()).select_from(AuditEvent))
        await pilot.press("x", "z", "c")
        await settle(app, pilot)
        assert isinstance(app.screen, InboxScreen)
        with db.read() as s:
            assert s.scalar(select(func.count()).select_from(AuditEvent)) == audited

        # Enter opens what it is about: the deal, else the contact
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen) and app.screen.deal_id == planned["deal"].id
        await pilot.press("escape")
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDetailScreen) and app.screen.contact_id == planned["grace"].id
        await pilot.press("escape")
        await settle(app, pilot)

        # the whole team's: bob's demo too, with who logged each
        await pilot.press("t")
        await settle(app, pilot)
        assert _subjects(app) == ["Kick-off", "Bob's demo", "Check in"]
        assert "bob" in _cells(screen, screen.table.visible_rows()[1])
        await pilot.press("t")
        await settle(app, pilot)
        await pilot.press("right")  # round to Overdue: the task keys are back
        await settle(app, pilot)
        assert screen.section == "overdue" and screen.check_action("complete", ()) is not False
        await pilot.press("left")
        await settle(app, pilot)

        # the meeting's time comes: the engine counts it as contact and it leaves Planned at once
        clock["now"] = now + timedelta(hours=2, minutes=1)
        app.run_workflows()
        await settle(app, pilot)
        with db.read() as s:
            assert s.get(Contact, planned["ada"].id).last_contacted_at == now + timedelta(hours=2)
        assert screen.section == "planned" and _subjects(app) == ["Check in"] and screen.planned == 1
