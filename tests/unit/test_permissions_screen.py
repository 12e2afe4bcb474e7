"""Settings · Roles in the app: opened by its command palette entry, an admin changes a cell, a seller
is refused with a notification naming the role (issue 8). One app run per actor; SQLite only."""

from __future__ import annotations

import shutil

import pytest

from crm_tui.commands import CrmCommands
from crm_tui.db import open_database
from crm_tui.screens.settings.roles import RoleSettingsScreen
from crm_tui.services import permissions, users
from tests.tui.conftest import make_app, settle


@pytest.fixture
def lite(tmp_path, sqlite_template):
    shutil.copy(sqlite_template, tmp_path / "crm.db")
    database = open_database(f"sqlite:///{tmp_path / 'crm.db'}")
    yield database
    database.dispose()


async def _open_roles(app, pilot) -> RoleSettingsScreen:
    await settle(app, pilot)
    commands = {name: run for name, run, _help in CrmCommands(app.screen)._static()}
    commands["Settings: roles and permissions"]()  # what the palette entry runs
    await settle(app, pilot)
    assert isinstance(app.screen, RoleSettingsScreen)
    return app.screen


async def test_an_admin_changes_a_cell_and_a_seller_is_refused(lite, now):
    with lite.write() as s:
        ann = users.actor_for(s, login="ann", now=now)
        users.create_user(s, data={"login": "sam", "role": "sales"}, actor=ann, now=now)
        sam = users.actor_for(s, login="sam", now=now)

    app = make_app(lite, ann, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_roles(app, pilot)
        actions = [r.action for r in screen.rows]
        # down to deal.edit, right to the support column (admin, manager, sales, marketing, support)
        await pilot.press(*["down"] * actions.index("deal.edit"), "right", "right", "right", "right")
        await pilot.press("o")
        await settle(app, pilot)
        assert "support deal.edit: own" in [n.message for n in app._notifications]
        assert "own*" in str(screen.query_one("#roles-table").get_cell("deal.edit", "support"))

    with lite.read() as s:
        assert permissions.scope_of(s, "support", "deal.edit") == "own"

    app = make_app(lite, sam, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_roles(app, pilot)
        assert "Read only" in str(screen.query_one("#roles-line").render())
        shown = {d for _k, _s, d, _e in screen.query_one("KeyBar").shown()}
        assert "Back" in shown and not shown & {"All", "Own", "None", "Reset role"}  # not offered
        await pilot.press("a")  # and pressed anyway, it does nothing
        await settle(app, pilot)
        assert not [n for n in app._notifications if n.title == "Not done"]
