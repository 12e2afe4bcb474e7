"""What a role may not do is not offered: the keys are left out of the key bar and do nothing, the
Reports area is gone for a role without reports, the palette leaves out the commands, and an
admin's change to a role shows on a teammate's open app without a restart. (The services refuse
the same actions on their own: tests/unit/test_permissions.py.)"""

from __future__ import annotations

import time

from crm_tui.app import CrmApp
from crm_tui.db import open_database
from crm_tui.screens.contacts.screen import ContactsScreen
from crm_tui.screens.help import binding_rows
from crm_tui.screens.inbox.screen import InboxScreen
from crm_tui.screens.pipeline.board import PipelineScreen
from crm_tui.screens.reports.screen import ReportsScreen
from crm_tui.services import deals, permissions, users
from crm_tui.widgets.area_bar import AreaBar
from crm_tui.widgets.key_bar import KeyBar

from .conftest import make_app, settle


def _people(db, now) -> dict:
    with db.write() as s:
        ann = users.actor_for(s, login="ann", now=now)  # the first user: an admin
    out = {"ann": ann}
    for login, role in (("sam", "support"), ("mia", "marketing"), ("sal", "sales")):
        with db.write() as s:
            users.create_user(s, data={"login": login, "name": login.title(), "role": role}, actor=ann, now=now)
        with db.write() as s:
            out[login] = users.actor_for(s, login=login, now=now)
    with db.write() as s:
        deals.create_deal(s, data={"title": "Anvils", "amount": "100"}, actor=ann, now=now)
    return out


def _keys(app) -> set[str]:
    return {description for _key, _shown, description, _enabled in app.screen.query_one(KeyBar).shown()}


def _bar(app) -> str:
    return app.screen.query_one(AreaBar).text().plain


async def test_support_sees_no_reports_and_no_deal_keys(sqlite_db, now):
    """Support sees the service desk's reports by case.view (tests/tui/test_service_reports.py); with
    it taken away, support has no report at all, and the area is refused."""
    people = _people(sqlite_db, now)
    with sqlite_db.write() as s:
        permissions.revoke(s, role="support", action="case.view", actor=people["ann"], now=now)
    app = make_app(sqlite_db, people["sam"], now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert "Reports" not in _bar(app) and "Pipeline" in _bar(app)
        assert {"New", "Edit", "Log call", "Task"} <= _keys(app)  # contacts: support edits them

        await pilot.press("5")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)  # not opened
        assert [n.message for n in app._notifications] == [
            "sam (support) may not open Reports: that needs the admin, manager, sales or marketing role"]

        await pilot.press("3")
        await settle(app, pilot)
        assert isinstance(app.screen, PipelineScreen)
        shown = _keys(app)
        assert not shown & {"Won", "Lost", "New", "◀ Move", "Move ▶"}, shown
        assert "Filter" in shown
        card = app.screen.board.current_card
        await pilot.press("right_square_bracket", "w")  # keys that do nothing for this role
        await settle(app, pilot)
        with sqlite_db.read() as s:
            assert deals.get_deal(s, deal_id=card.id).stage_name == "New"
        assert isinstance(app.screen, PipelineScreen)  # no won dialog either
        helped = {what for _where, _keys, what, _id in binding_rows(app.screen)}
        assert "Filter" in helped and not helped & {"Won", "Lost", "Reports"}, helped  # nor in ? help

        await pilot.press("4")
        await settle(app, pilot)
        assert isinstance(app.screen, InboxScreen) and "Done" in _keys(app)  # their own tasks


async def test_marketing_sees_the_sources_report_alone(sqlite_db, now):
    people = _people(sqlite_db, now)
    app = make_app(sqlite_db, people["mia"], now)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        assert isinstance(app.screen, ReportsScreen)
        listed = app.screen.query_one("#report-list")
        assert [listed.get_option_at_index(i).id for i in range(listed.option_count)] == ["sources"]
        assert app.screen.report is not None and app.screen.report.name == "sources"
        assert "Goal" not in _keys(app) and "Owner" not in _keys(app)


async def test_the_palette_leaves_out_what_the_role_may_not_do(sqlite_db, now):
    from crm_tui.commands import CrmCommands

    people = _people(sqlite_db, now)
    app = make_app(sqlite_db, people["sam"], now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        names = {name for name, _callback, _help in CrmCommands(app.screen)._static()}
        assert "New contact" in names and "Go to Pipeline" in names and "Go to Cases" in names
        # support's reports are the service desk's (case.view); deals and imports are not theirs
        assert "Go to Reports" in names
        assert not names & {"New deal", "Import a file (CSV, XLSX, vCard)"}
    seller = make_app(sqlite_db, people["mia"], now)  # marketing: no case.view
    async with seller.run_test(size=(120, 36)) as pilot:
        await settle(seller, pilot)
        names = {name for name, _callback, _help in CrmCommands(seller.screen)._static()}
        assert "Go to Reports" in names and not names & {"Go to Cases", "New case"}


async def test_a_sellers_report_owner_is_fixed_and_an_admin_has_every_key(sqlite_db, now):
    people = _people(sqlite_db, now)
    seller = make_app(sqlite_db, people["sal"], now)
    async with seller.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(seller, pilot)
        assert "Owner" not in _keys(seller) and "Period" in _keys(seller)
        await pilot.press("3")
        await settle(seller, pilot)
        assert {"Won", "Lost", "New"} <= _keys(seller)  # their own deals: the service checks each one
    admin = make_app(sqlite_db, people["ann"], now)
    async with admin.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(admin, pilot)
        assert "Reports" in _bar(admin) and "Owner" in _keys(admin)


async def test_an_admins_change_to_a_role_reaches_an_open_app(tmp_path, sqlite_template, now):
    import shutil

    path = tmp_path / "team.db"
    shutil.copy(sqlite_template, path)
    mine, theirs = open_database(f"sqlite:///{path}"), open_database(f"sqlite:///{path}")
    try:
        people = _people(mine, now)
        app = CrmApp(theirs, people["sal"], clock=lambda: now, welcome=False, inbox_refresh_s=None,
                     live_refresh_s=0.1)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press("3")
            await settle(app, pilot)
            assert "Won" in _keys(app)
            with mine.write() as s:  # the admin, in another process, takes deals from sales
                permissions.revoke(s, role="sales", action="deal.edit", actor=people["ann"], now=now)
            deadline = time.monotonic() + 5
            while "Won" in _keys(app):
                assert time.monotonic() < deadline, "the role change did not reach the open app"
                await pilot.pause(0.05)
            assert "Filter" in _keys(app)
    finally:
        mine.dispose()
        theirs.dispose()


async def test_the_first_frame_shows_the_role_s_defaults_and_the_stored_permissions_follow(sqlite_db, now):
    """No query stands before the first frame: its key bar and area bar show what the role may do
    by default. The role's stored permissions are read right after it and replace them, so a
    permission an admin took away leaves the keys a moment later."""
    people = _people(sqlite_db, now)
    with sqlite_db.write() as session:
        permissions.revoke(session, role="sales", action="deal.edit", actor=people["ann"], now=now)
    with sqlite_db.read() as session:
        stored = permissions.capabilities(session, people["sal"])
    assert stored["deal.edit"] == permissions.NONE

    class PipelineFirst(CrmApp):
        DEFAULT_MODE = "pipeline"

    app = PipelineFirst(sqlite_db, people["sal"], clock=lambda: now, welcome=False, inbox_refresh_s=None)
    assert app.capabilities == permissions.role_defaults(people["sal"]) and app.may("deal.edit")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert app.capabilities == stored
        assert "Won" not in _keys(app) and "Filter" in _keys(app)
