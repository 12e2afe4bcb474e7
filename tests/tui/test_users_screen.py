"""Settings · Users (issue 20): an admin adds, edits, deactivates users and changes their roles in
the app, through the same services as `crm user` (permission gate, audit, the last admin kept)."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Select

from crm_tui.screens.forms import ConfirmScreen
from crm_tui.screens.settings.users import UserForm, UserSettingsScreen
from crm_tui.services import audit, users
from crm_tui.widgets.key_bar import KeyBar

from .conftest import make_app, settle


async def _open(app, pilot) -> UserSettingsScreen:
    await settle(app, pilot)
    await app.push_screen(UserSettingsScreen())
    await settle(app, pilot)
    return app.screen


def _user(db, login: str):
    with db.read() as s:
        return next(u for u in users.list_users(s) if u.login == login)


async def test_an_admin_adds_a_user_with_a_manager_then_changes_the_role(db, actor, now):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        assert screen.query_one(DataTable).row_count == 1
        await pilot.press("n")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, UserForm)
        await pilot.press(*"bob", "tab", *"Bob Stone", "tab", *"bob@example.com")
        form.query_one("#role", Select).value = "manager"
        form.query_one("#manager", Input).focus()
        await pilot.press(*"an")
        await settle(app, pilot)
        await pilot.press("enter", "ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen and screen.query_one(DataTable).row_count == 2
        bob = _user(db, "bob")
        assert (bob.name, bob.email, bob.role, bob.manager_id) == ("Bob Stone", "bob@example.com", "manager",
                                                                   actor.user_id)
        screen.query_one(DataTable).move_cursor(row=1)
        await pilot.press("e")
        await settle(app, pilot)
        app.screen.query_one("#role", Select).value = "sales"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    assert _user(db, "bob").role == "sales"
    with db.read() as s:
        events = audit.list_events(s, entity="user", entity_id=bob.id, limit=10).items
    assert sorted(e.action for e in events) == ["create", "update"]


async def test_deactivating_asks_and_the_last_admin_is_kept(db, actor, now):
    with db.write() as s:
        users.create_user(s, data={"login": "bob", "role": "sales"}, actor=actor, now=now)
    app = make_app(db, actor, now)
    notices: list[str] = []
    app.notify = lambda message, **kw: notices.append(str(message))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        screen.query_one(DataTable).move_cursor(row=1)  # bob (the list is by login)
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert not _user(db, "bob").active
        screen.query_one(DataTable).move_cursor(row=0)  # ann, the only admin
        await pilot.press("d", "y")
        await settle(app, pilot)
        assert app.screen is screen and _user(db, "ann").active
        assert any("last active admin" in n for n in notices)


async def test_bad_input_is_one_line_and_writes_nothing(db, actor, now):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(app, pilot)
        await pilot.press("n")
        await settle(app, pilot)
        await pilot.press(*"Bad Login", "ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, UserForm)
        assert "invalid login 'Bad Login'" in str(app.screen.query_one("#form-error").render())
    with db.read() as s:
        assert [u.login for u in users.list_users(s)] == ["ann"]


async def test_a_non_admin_sees_the_team_but_no_keys_to_change_it(db, actor, now):
    with db.write() as s:
        users.create_user(s, data={"login": "sal", "role": "sales"}, actor=actor, now=now)
    with db.write() as s:
        sal = users.actor_for(s, login="sal", now=now)
    app = make_app(db, sal, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        shown = {d for _k, _s, d, _e in screen.query_one(KeyBar).shown()}
        assert "New user" not in shown
        await pilot.press("n")
        await settle(app, pilot)
        assert app.screen is screen
