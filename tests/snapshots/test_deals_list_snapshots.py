"""Snapshots of the deals list beside the board (80x24): the demo's deals sorted by amount, and its
filter form, on fixed demo data and a frozen clock. Review every changed SVG before accepting it."""

from __future__ import annotations

from tests.snapshots.test_snapshots import settle


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
