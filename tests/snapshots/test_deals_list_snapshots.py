"""Snapshots of the deals list beside the board (80x24): the demo's deals sorted by amount, and its
filter form, on fixed demo data and a frozen clock. Review every changed SVG before accepting it."""

from __future__ import annotations

import pytest

from crm_tui.app import CrmApp
from crm_tui.services import demo
from tests.snapshots.test_snapshots import settle


@pytest.fixture
def demo_app(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as session:
        demo.load_demo(session, contacts=60, seed=7, actor=actor_sqlite, now=now)
    return CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)


async def _deals_list(pilot) -> None:
    await settle(pilot.app, pilot)
    await pilot.press("3")
    await settle(pilot.app, pilot)
    await pilot.press("v")
    await settle(pilot.app, pilot)


def test_deals_list_80x24(snap_compare, demo_app):
    async def run_before(pilot):
        await _deals_list(pilot)
        await pilot.press("s", "down")  # by amount, the second row highlighted
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=run_before)


def test_deals_filter_form_80x24(snap_compare, demo_app):
    async def run_before(pilot):
        await _deals_list(pilot)
        await pilot.press("f")
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=run_before)


def test_deal_lists_picker_80x24(snap_compare, demo_app):
    async def run_before(pilot):
        await _deals_list(pilot)
        await pilot.press("l")
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=run_before)
