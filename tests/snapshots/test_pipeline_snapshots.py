"""Snapshots of the pipeline board (80x24 and 120x36) and of a deal's detail, on fixed demo data
and a frozen clock. Review every changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from tests.snapshots.test_snapshots import SIZES, settle


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
