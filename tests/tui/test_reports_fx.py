"""The Reports area with issue 22's reports: a product report chosen from the list, and c converting
the pipeline's other currencies (through the real app, on SQLite)."""

from __future__ import annotations

from crm_tui.screens.reports.screen import ReportsScreen
from tests.unit.test_reports_fx import build_sales

from .conftest import make_app, settle


async def test_revenue_by_product_and_the_convert_toggle(sqlite_db, actor_sqlite, now, monkeypatch):
    monkeypatch.setenv("CRM_TEAM_TIMEZONE", "America/New_York")
    build_sales(sqlite_db, actor_sqlite, now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen) and screen.report.name == "pipeline"
        negotiation = [r.values for r in screen.report.table.rows if r.values["stage"] == "Negotiation"][0]
        assert negotiation["amount_minor"] == 0  # Delta is in EUR: left out by default

        await pilot.press("c")  # convert: Delta's 1,200.00 EUR at today's 1.08
        await settle(app, pilot)
        negotiation = [r.values for r in screen.report.table.rows if r.values["stage"] == "Negotiation"][0]
        assert negotiation["amount_minor"] == 1296_00 and screen.report.converted
        assert "USD, converted" in str(screen.query_one("#report-heading").render())
        await pilot.press("c")
        await settle(app, pilot)
        assert not screen.report.converted

        await pilot.press("r", *["down"] * 8, "enter")  # the ninth report: revenue by product
        await settle(app, pilot)
        assert screen.report.name == "revenue-by-product"
        assert [(r.values["product"], r.values["revenue_minor"]) for r in screen.report.table.rows] == [
            ("A-1 · Widget", 5000_00), ("B-2 · Gadget", 2972_00)]
        assert any("Zeta (GBP)" in note for note in screen.report.notes)
