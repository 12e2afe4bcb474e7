"""Snapshots of the pipeline board (80x24 and 120x36) and of a deal's detail, on fixed demo data
and a frozen clock. Review every changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from crm_tui.app import CrmApp
from crm_tui.services import demo
from tests.snapshots.test_snapshots import SIZES, settle


@pytest.fixture
def demo_app(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as session:
        demo.load_demo(session, contacts=60, seed=7, actor=actor_sqlite, now=now)
    return CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)


async def _board(pilot) -> None:
    await settle(pilot.app, pilot)
    await pilot.press("3")
    await settle(pilot.app, pilot)


@pytest.mark.parametrize("size", SIZES)
def test_pipeline_board(snap_compare, demo_app, size):
    async def run_before(pilot):
        await _board(pilot)
        await pilot.press("down")  # the focus on the second card of New
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=size, run_before=run_before)


def test_deal_detail(snap_compare, demo_app):
    async def run_before(pilot):
        await _board(pilot)
        await pilot.press("enter")
        await settle(pilot.app, pilot)

    assert snap_compare(demo_app, terminal_size=(80, 24), run_before=run_before)
