"""Snapshots of issue 22's reports on a hand-made dataset (test_reports_fx.build_sales) and a frozen
clock: revenue by product at 80x24 (over SSH), and the fit check of the same screen. Review every
changed SVG before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from tests.snapshots.test_snapshots import settle
from tests.tui.conftest import make_app
from tests.snapshots.fits import opened_and_fits
from tests.unit.test_reports_fx import build_sales


@pytest.fixture
def sales_app(sqlite_db, actor_sqlite, now, monkeypatch):
    monkeypatch.setenv("CRM_TEAM_TIMEZONE", "America/New_York")
    build_sales(sqlite_db, actor_sqlite, now)
    return make_app(sqlite_db, actor_sqlite, now)


async def _open_revenue_by_product(pilot):
    await pilot.press("5")
    await settle(pilot.app, pilot)
    await pilot.press("r", *["down"] * 8, "enter")
    await settle(pilot.app, pilot)


def test_revenue_by_product_80x24(snap_compare, sales_app):
    """The snapshot, after the checks that the report shown is revenue by product and that it fits."""
    async def opened(pilot):
        await _open_revenue_by_product(pilot)
        assert pilot.app.screen.report.name == "revenue-by-product"

    assert snap_compare(sales_app, terminal_size=(80, 24), run_before=opened_and_fits(opened))
