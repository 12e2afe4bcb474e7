"""The service reports in the app: a support user reaches the Reports area (5), sees only the reports
`case.view` lets them run, and opens the response and resolution times (data: tests/unit/test_service_reports.py)."""

from __future__ import annotations

from textual.widgets import DataTable, OptionList

from crm_tui.screens.reports.screen import ReportsScreen
from crm_tui.services import reports, users
from tests.unit.test_service_reports import build

from .conftest import make_app, settle

SERVICE = ["Cases opened and closed", "Response and resolution times", "SLA hit rate", "Customer satisfaction (CSAT)",
           "Net Promoter Score (NPS)"]


def _titles(screen) -> list[str]:
    options = screen.query_one("#report-list", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_support_opens_the_times_report(sqlite_db, actor_sqlite, now, monkeypatch):
    monkeypatch.setenv("CRM_TEAM_TIMEZONE", "America/New_York")
    build(sqlite_db, now)
    with sqlite_db.write() as session:
        dee = users.actor_for(session, login="dee", now=now)
    app = make_app(sqlite_db, dee, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        assert _titles(screen) == SERVICE  # no sales report: support has no report.view
        assert screen.report.name == "cases" and screen.report.period.label == "2026 Q4"
        assert screen.report.table.total["opened"] == 12  # c1 to c12: all opened in Q4 in New York

        await pilot.press("r", "down", "enter")
        await settle(app, pilot)
        report = screen.report
        assert report.name == "case-times"
        overall = report.table.rows[0].values
        # Q4's resolutions: 120 300 1440 2880 4320 (c2) 8640 (c3) minutes: median the 3rd, p90 the 6th
        assert (overall["first_median"], overall["first_p90"], overall["resolution_median"],
                overall["resolution_p90"]) == (30, 120, 1440, 8640)
        grid = screen.query_one("#report-table", DataTable)
        first_row = [str(cell) for cell in grid.get_row_at(0)]
        assert first_row[:4] == ["All", "All cases", "11", "6"] and "1d" in first_row and "6d" in first_row
        heading = str(screen.query_one("#report-heading").render())
        assert "Response and resolution times · 2026 Q4 · everyone" in heading and "USD" not in heading
        assert screen.check_action("next_owner", ()) is not False  # support sees all cases: o picks an agent
        with sqlite_db.read() as session:
            same = reports.run_report(session, name="case-times", period=report.period, zone=screen.zone,
                                      currency="USD", now=now, actor=dee)
        assert [r.values for r in same.table.rows] == [r.values for r in report.table.rows]


async def test_an_admin_sees_every_report(sqlite_db, actor_sqlite, now):
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("5")
        await settle(app, pilot)
        assert _titles(app.screen) == [spec.title for spec in reports.REPORTS.values()]
        assert _titles(app.screen)[-5:] == SERVICE
