"""Snapshots at 80x24 (over SSH) of the screens issue 20 found cut or crowded there: the stale deals
and win-rate reports, the contact and board filter dialogs, the new-contact form, the import screen
and the roles screen, on fixed data and a frozen clock. Review every changed SVG before accepting
it with --snapshot-update."""

from __future__ import annotations

import pytest

from tests.snapshots.test_snapshots import settle
from tests.tui.conftest import make_app
from tests.unit.test_reports import build_dataset

SIZE = (80, 24)


@pytest.fixture
def report_app(sqlite_db, actor_sqlite, now, monkeypatch):
    monkeypatch.setenv("CRM_TEAM_TIMEZONE", "America/New_York")
    build_dataset(sqlite_db, actor_sqlite, now)
    return make_app(sqlite_db, actor_sqlite, now)


def _report(downs: int):
    async def run_before(pilot):
        await settle(pilot.app, pilot)
        await pilot.press("5")
        await settle(pilot.app, pilot)
        await pilot.press("r", *["down"] * downs, "enter")
        await settle(pilot.app, pilot)

    return run_before


def test_stale_deals_report(snap_compare, demo_app):
    assert snap_compare(demo_app, terminal_size=SIZE, run_before=_report(6))


def test_win_rate_report(snap_compare, report_app):
    assert snap_compare(report_app, terminal_size=SIZE, run_before=_report(2))


def _keys(*keys: str):
    async def run_before(pilot):
        await settle(pilot.app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot.app, pilot)

    return run_before


def test_contact_filter_dialog(snap_compare, demo_app):
    assert snap_compare(demo_app, terminal_size=SIZE, run_before=_keys("f"))


def test_board_filter_dialog(snap_compare, demo_app):
    assert snap_compare(demo_app, terminal_size=SIZE, run_before=_keys("3", "slash"))


def test_new_contact_form(snap_compare, demo_app):
    assert snap_compare(demo_app, terminal_size=SIZE, run_before=_keys("n"))


def test_import_screen(snap_compare, demo_app):
    async def run_before(pilot):
        from crm_tui.screens.settings.imports import ImportScreen

        await settle(pilot.app, pilot)
        pilot.app.push_screen(ImportScreen())
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=SIZE, run_before=run_before)


def test_role_settings(snap_compare, demo_app):
    async def run_before(pilot):
        from crm_tui.screens.settings.roles import RoleSettingsScreen

        await settle(pilot.app, pilot)
        pilot.app.push_screen(RoleSettingsScreen())
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=SIZE, run_before=run_before)


def test_help_shows_the_marking_keys(snap_compare, demo_app):
    """Help on the contacts list at 80x24, scrolled to the list's keys: space, *, then esc, b and u
    with when they apply."""
    async def run_before(pilot):
        from textual.containers import VerticalScroll

        from crm_tui.screens.help import binding_rows

        await settle(pilot.app, pilot)
        await pilot.press("question_mark")
        await settle(pilot.app, pilot)
        ids = [row[3] for row in binding_rows(pilot.app.screen.for_screen)]
        # the table's heading line, then one line a key: the list's up/down keys at the top
        pilot.app.screen.query_one(VerticalScroll).scroll_to(y=ids.index("list.up") + 2, animate=False)
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=SIZE, run_before=run_before)
