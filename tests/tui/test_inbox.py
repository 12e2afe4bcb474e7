"""The Inbox through the real app: complete (a recurring task rolls forward), snooze with a typed
time, reschedule, log a call that completes, new task, open what a task is about, mine/team/one
teammate; and the app's timer naming a task that falls due."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from crm_tui.app import CrmApp
from crm_tui.models import Activity, Task
from crm_tui.screens.pipeline.deal import DealDetailScreen
from crm_tui.screens.inbox.dialogs import LogAndCompleteForm, WhenForm
from crm_tui.screens.inbox.screen import InboxScreen, PersonPicker
from crm_tui.services import contacts, deals, tasks, users
from tests.tui.conftest import make_app, settle

UTC = timezone.utc


@pytest.fixture
def db(sqlite_db):
    """The screen on SQLite only: the services under it run on both backends in tests/unit."""
    return sqlite_db


@pytest.fixture
def actor(actor_sqlite):
    return actor_sqlite


@pytest.fixture
def inbox_data(db, actor, now):
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace"}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Acme renewal", "amount": 100, "contact_id": ada.id},
                                 actor=actor, now=now)
        made = {}
        for title, due, extra in (
            ("Call Ada", now - timedelta(hours=3), {"contact_id": ada.id}),
            ("Send quote", now - timedelta(hours=2), {"deal_id": deal.id}),
            ("Weekly review", "today 9am", {"recurrence": "every monday"}),
            ("Prepare demo", "today 3pm", {}),
            ("Bob's follow-up", now - timedelta(days=1), {"assignee_id": bob.id}),
        ):
            made[title] = tasks.create_task(s, data={"title": title, "due_at": due, **extra}, actor=actor, now=now)
    return {"bob": bob, "ada": ada, "deal": deal, **{k: v.id for k, v in made.items()}}


def _titles(app) -> list[str]:
    return [t.title for t in app.screen.table.visible_rows()]


def _task(db, task_id):
    with db.read() as s:
        return tasks.get_task(s, task_id=task_id)


async def _to(pilot, title: str) -> None:
    """Move the cursor onto the row with this title (each key press costs a Pilot round trip)."""
    table = pilot.app.screen.table
    step = _titles(pilot.app).index(title) - _titles(pilot.app).index(table.current_row.title)
    await pilot.press(*(["down"] * step if step > 0 else ["up"] * -step))
    assert table.current_row.title == title


async def test_work_through_the_inbox(db, actor, now, inbox_data):
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, InboxScreen) and screen.section == "overdue"
        assert _titles(app) == ["Call Ada", "Send quote", "Weekly review"]
        assert screen.counts == {"overdue": 3, "today": 1, "upcoming": 0, "snoozed": 0, "done": 0}
        assert app.inbox_due == 4

        # x on a recurring task: done, and the next one is due next Monday 9am
        await _to(pilot, "Weekly review")
        await pilot.press("x")
        await settle(app, pilot)
        assert _task(db, inbox_data["Weekly review"]).done_at == now
        with db.read() as s:
            series = s.scalars(select(Task.due_at).where(Task.title == "Weekly review", Task.done_at.is_(None))).all()
        assert series == [datetime(2026, 11, 30, 9, 0, tzinfo=UTC)]
        assert _titles(app) == ["Call Ada", "Send quote"] and app.inbox_due == 3

        # z, then a typed time: snoozed until then, gone from Overdue
        await _to(pilot, "Send quote")
        await pilot.press("z")
        assert isinstance(app.screen, WhenForm)
        await pilot.press(*"+2d", "enter")
        await settle(app, pilot)
        assert _task(db, inbox_data["Send quote"]).snoozed_until == now + timedelta(days=2)
        assert _titles(app) == ["Call Ada"]

        # r in Today, a bad time first (the dialog stays and says why), then a good one
        await pilot.press("right")
        await settle(app, pilot)
        assert screen.section == "today" and _titles(app) == ["Prepare demo"]
        await pilot.press("r", "tab")  # from the presets to the box
        app.screen.query_one("#when").value = "blorp"
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, WhenForm) and "can't read 'blorp'" in str(app.screen.query_one("#form-error").render())
        app.screen.query_one("#when").value = "fri 3pm"
        await pilot.press("enter")
        await settle(app, pilot)
        assert _task(db, inbox_data["Prepare demo"]).due_at == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
        assert isinstance(app.screen, InboxScreen) and _titles(app) == []
        assert screen.counts["upcoming"] == 2  # and the weekly review, next Monday

        # c: log a call with a follow-up, and the task is done in the same step
        await pilot.press("left")
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, LogAndCompleteForm)
        form.query_one("#follow_title").value = "Send pricing"
        form.query_one("#follow_due").value = "+3d"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert _task(db, inbox_data["Call Ada"]).done_at == now
        with db.read() as s:
            call = s.execute(select(Activity.contact_id, Activity.subject).where(Activity.kind == "call")).one()
            follow = s.execute(select(Task.contact_id, Task.due_at).where(Task.title == "Send pricing")).one()
        assert (call.contact_id, call.subject) == (inbox_data["ada"].id, "Call Ada")
        assert (follow.contact_id, follow.due_at) == (inbox_data["ada"].id, now + timedelta(days=3))
        assert screen.counts["overdue"] == 0 and screen.counts["done"] == 2

        # Enter on a deal's task opens the deal
        await pilot.press("right", "right", "right")
        await settle(app, pilot)
        assert screen.section == "snoozed" and _titles(app) == ["Send quote"]
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen) and app.screen.deal_id == inbox_data["deal"].id
        await pilot.press("escape")

        # n: a new task
        await pilot.press("n")
        await settle(app, pilot)
        app.screen.query_one("#title").value = "Plan Q1"
        app.screen.query_one("#due").value = "tomorrow 10am"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        with db.read() as s:
            assert s.scalars(select(Task.due_at).where(Task.title == "Plan Q1")).one() == now.replace(
                hour=10) + timedelta(days=1)

        # t: the whole team's; u: one teammate's
        await pilot.press("left", "left", "left")
        await pilot.press("t")
        await settle(app, pilot)
        assert screen.section == "overdue" and _titles(app) == ["Bob's follow-up"]
        assert screen.counts["overdue"] == 1
        await pilot.press("t")
        await settle(app, pilot)
        assert _titles(app) == []
        await pilot.press("u")
        await settle(app, pilot)
        assert isinstance(app.screen, PersonPicker)
        await pilot.press("down", "down", "enter")  # Mine, Whole team, bob
        await settle(app, pilot)
        assert screen.scope == inbox_data["bob"].id and _titles(app) == ["Bob's follow-up"]
        assert screen.table.noun == "Overdue · bob's"


async def _until(pilot, condition) -> None:
    """Wait for the next timer ticks (10 ms apart) until `condition` holds: a bounded wait on a state,
    not a sleep for a fixed time (settle() can't be used while a timer keeps starting workers)."""
    for _ in range(300):
        if condition():
            return
        await pilot.pause(0.01)
    assert condition()


async def test_x_on_a_task_a_teammate_changed_says_so_and_shows_theirs(db, actor, now, inbox_data):
    """The Inbox completes with the version it shows: a teammate's change meanwhile is not
    overwritten; the person is told who changed it, the list shows the task as it is now, and x
    on that completes it."""
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        await _to(pilot, "Call Ada")
        with db.write() as s:  # ann again, on her other machine: an hour later, still overdue
            tasks.reschedule_task(s, task_id=inbox_data["Call Ada"], due_at=now - timedelta(hours=2),
                                  actor=actor, now=now)
        fresh = _task(db, inbox_data["Call Ada"])
        await pilot.press("x")
        await settle(app, pilot)
        [told] = [n for n in app._notifications if n.title == "Changed by someone else"]
        assert "task 'Call Ada' was changed by ann" in told.message
        assert _task(db, inbox_data["Call Ada"]).done_at is None
        await _to(pilot, "Call Ada")
        assert app.screen.table.current_row.version == fresh.version  # the list shows it as it is now
        await pilot.press("x")
        await settle(app, pilot)
        assert _task(db, inbox_data["Call Ada"]).done_at == now


async def test_the_timer_names_a_task_that_falls_due(db, actor, now, inbox_data):
    clock = [now]
    app = CrmApp(db, actor, clock=lambda: clock[0], welcome=False, inbox_refresh_s=0.01)
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(pilot, lambda: app.inbox_due == 4)
        await pilot.press("4")
        await _until(pilot, lambda: isinstance(app.screen, InboxScreen) and "Call Ada" in _titles(app))
        with db.write() as s:  # as a rule on a teammate's machine would
            tasks.create_task(s, data={"title": "Ring Ada", "due_at": now + timedelta(minutes=5),
                                       "origin": "rule", "rule_name": "Stale deal"}, actor=actor, now=now)
        clock[0] = now + timedelta(minutes=6)

        def named() -> list:
            return [n for n in app._notifications if n.title == "Task due" and n.message.startswith("Ring Ada")]

        await _until(pilot, lambda: named() and "Ring Ada" in _titles(app) and app.inbox_due == 5)
        await pilot.pause(0.05)  # more ticks: the task is named once, not on every tick
        assert len(named()) == 1
        assert app.screen.table.current_row.title in _titles(app)


async def test_the_first_rows_read_before_the_orm_take_the_keys(db, actor, now, inbox_data, monkeypatch):
    """The Inbox opened as the app starts (4 at once) shows the first overdue tasks read on the
    start's plain connection (services/start.py: TaskRows, not TaskReads); the keys work on them."""
    from crm_tui.db import open_database
    from crm_tui.shapes import TaskRow

    quick = open_database(db.url, quick_reads=True)
    mount = CrmApp.on_mount

    def on_mount(app):
        mount(app)
        app.action_area("inbox")  # before the first frame, as a key typed at launch

    monkeypatch.setattr(CrmApp, "on_mount", on_mount)
    app = make_app(quick, actor, now)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(app, pilot)
            assert isinstance(app.screen, InboxScreen)
            assert _titles(app)[:2] == ["Call Ada", "Send quote"]
            assert all(isinstance(row, TaskRow) for row in app.screen.table.visible_rows())
            assert app.screen.table.current_row.related == "contact: Ada Lovelace"
            await pilot.press("x")
            await settle(app, pilot)
            assert _task(db, inbox_data["Call Ada"]).done_at == now
            assert _titles(app)[0] == "Send quote"
            await pilot.press("z")
            await settle(app, pilot)
            assert isinstance(app.screen, WhenForm)
    finally:
        quick.dispose()
