"""Snapshots of two reports on the hand-made dataset and a frozen clock: the pipeline at 80x24 (over
SSH: the chart below the table) and the team's activity at 120x36 (the list of reports on the left).
Review every changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from tests.snapshots.test_snapshots import settle
from tests.tui.conftest import make_app
from tests.unit.test_reports import build_dataset


@pytest.fixture
def report_app(sqlite_db, actor_sqlite, now, monkeypatch):
    monkeypatch.setenv("CRM_TEAM_TIMEZONE", "America/New_York")
    build_dataset(sqlite_db, actor_sqlite, now)
    return make_app(sqlite_db, actor_sqlite, now)


def test_pipeline_report_80x24(snap_compare, report_app):
    async def open_reports(pilot):
        await pilot.press("5")
        await settle(pilot.app, pilot)

    assert snap_compare(report_app, terminal_size=(80, 24), run_before=open_reports)


def test_activity_report_120x36(snap_compare, report_app):
    async def open_activity(pilot):
        await pilot.press("5")
        await settle(pilot.app, pilot)
        await pilot.press("r", "down", "down", "down", "down", "enter")
        await settle(pilot.app, pilot)

    assert snap_compare(report_app, terminal_size=(120, 36), run_before=open_activity)
