"""`a` in the Inbox: give the highlighted task to a teammate through the owner picker, on both
databases. A manager's assign is saved, audited and leaves "mine"; a seller's refusal on a
teammate's task is shown and writes nothing; marketing is not offered the key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from textual.widgets import Input

from crm_tui.models import AuditEvent
from crm_tui.screens.inbox.dialogs import AssignForm
from crm_tui.screens.inbox.screen import InboxScreen
from crm_tui.services import tasks, users
from crm_tui.widgets.key_bar import KeyBar
from tests.tui.conftest import make_app, settle


@pytest.fixture
def team(db, actor, now):
    """ann (admin) with two overdue tasks; bob (sales) with one; sam (sales), max (marketing)."""
    with db.write() as s:
        for login, role in (("bob", "sales"), ("max", "marketing"), ("sam", "sales")):
            users.create_user(s, data={"login": login, "name": login.title(), "role": role}, actor=actor, now=now)
    out = {"ann": actor}
    for login in ("bob", "max", "sam"):
        with db.write() as s:
            out[login] = users.actor_for(s, login=login, now=now)
    with db.write() as s:
        for title, hours, who in (("Call Ada", 3, "ann"), ("Send quote", 2, "ann"), ("Bob's call", 1, "bob")):
            out[title] = tasks.create_task(s, data={"title": title, "due_at": now - timedelta(hours=hours),
                                                    "assignee_id": out[who].user_id}, actor=actor, now=now)
    return out


def _titles(app) -> list[str]:
    return [t.title for t in app.screen.table.visible_rows()]


def _stored(db, task_id):
    with db.read() as s:
        return tasks.get_task(s, task_id=task_id)


def _notices(app) -> list[str]:
    return [n.message for n in app._notifications]


async def _open_inbox(app, pilot) -> InboxScreen:
    await settle(app, pilot)
    await pilot.press("4")
    await settle(app, pilot)
    assert isinstance(app.screen, InboxScreen)
    return app.screen


async def _pick(app, pilot, label: str) -> None:
    """In the assign dialog: type the start of `label` over what the picker shows, then choose the
    first match with enter (by keys, as a person would)."""
    picker = app.screen.query_one("#assignee", Input)
    assert app.screen.focused is picker
    await pilot.press("home", "ctrl+k", *label[:2])  # ctrl+k: delete to the end
    await settle(app, pilot)
    await pilot.press("enter")
    await pilot.pause()
    assert picker.value == label


def _shown(form) -> list[str]:
    from crm_tui.widgets.picker import Picker, PickerMatches

    if not form.query_one("#assignee-picker", Picker).is_open:
        return []
    matches = form.query_one("#assignee-matches", PickerMatches)
    return [str(matches.get_option_at_index(i).prompt).split("  ")[0] for i in range(matches.option_count)]


async def test_a_manager_gives_a_task_to_a_teammate(db, team, now):
    app = make_app(db, team["ann"], now)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _open_inbox(app, pilot)
        assert _titles(app) == ["Call Ada", "Send quote"]
        assert "Assign" in {description for _k, _s, description, _e in screen.query_one(KeyBar).shown()}

        await pilot.press("a")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, AssignForm) and form.form_title() == "Assign · Call Ada"
        assert form.query_one("#assignee", Input).value == "ann"
        await pilot.press("down")  # the team, without typing
        await settle(app, pilot)
        assert _shown(form) == ["ann", "bob", "max", "sam"]
        await pilot.press("escape")  # closes the matches, not the form
        assert app.screen is form and _shown(form) == []

        # the one it has already: said under the field, nothing written
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and "ann has the task already" in str(form.query_one("#form-error").render())

        await _pick(app, pilot, "bob")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        stored = _stored(db, team["Call Ada"].id)
        assert (stored.assignee_login, stored.version) == ("bob", team["Call Ada"].version + 1)
        assert "Gave “Call Ada” to bob." in _notices(app)
        assert _titles(app) == ["Send quote"] and screen.counts["overdue"] == 1  # no longer mine

        # the whole team's view shows who has it now
        await pilot.press("t")
        await settle(app, pilot)
        assert {t.title: t.assignee_login for t in screen.table.visible_rows()} == {
            "Call Ada": "bob", "Send quote": "ann", "Bob's call": "bob"}
    with db.read() as s:
        events = s.execute(select(AuditEvent.actor, AuditEvent.field, AuditEvent.old_value, AuditEvent.new_value)
                           .where(AuditEvent.entity == "task", AuditEvent.action == "reassign")).all()
    assert [tuple(e) for e in events] == [("ann", "assignee_id", str(team["ann"].user_id), str(team["bob"].user_id))]


async def test_a_seller_is_refused_a_teammates_task_and_nothing_is_written(db, team, now):
    bobs = team["Bob's call"]
    app = make_app(db, team["sam"], now)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _open_inbox(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        assert _titles(app) == ["Call Ada", "Send quote", "Bob's call"]
        await pilot.press("down", "down")
        assert screen.table.current_row.title == "Bob's call"
        await pilot.press("a")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, AssignForm)
        await _pick(app, pilot, "sam")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert ("sam (sales) may not give other people's tasks to someone else: that needs the admin or manager "
                "role; you may on your own") in _notices(app)
        assert app.screen is form and not form.saving  # still open, to pick again or leave
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen
    stored = _stored(db, bobs.id)
    assert (stored.assignee_login, stored.version) == ("bob", bobs.version)
    with db.read() as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.action == "reassign")).all() == []


async def test_marketing_is_not_offered_the_key(db, team, now):
    app = make_app(db, team["max"], now)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await _open_inbox(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        assert screen.table.current_row is not None
        assert "Assign" not in {description for _k, _s, description, _e in screen.query_one(KeyBar).shown()}
        await pilot.press("a")
        await settle(app, pilot)
        assert app.screen is screen
