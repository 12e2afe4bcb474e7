"""Settings · SLAs (read only): reached from the palette's tools, it lists the policies' targets
per priority and each calendar's hours, and says how to add them when there are none; it fits 80x24."""

from __future__ import annotations

from textual.widgets import DataTable

from crm_tui.areas import TOOLS
from crm_tui.screens.settings.sla import SlaSettingsScreen
from crm_tui.services import sla

from .conftest import make_app, settle
from .fit import assert_fits


def test_the_palette_offers_the_sla_screen():
    tool = next(t for t in TOOLS if t.name == "Settings: SLAs")
    assert tool.screen() is SlaSettingsScreen and tool.needs == "case.view"


def _cells(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_policies_and_hours_are_listed(sqlite_db, actor_sqlite, now):
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.push_screen(SlaSettingsScreen())
        await settle(app, pilot)
        assert "No SLA policies yet" in str(app.screen.query_one("#sla-line").render())
        assert "No business hours yet" in str(app.screen.query_one("#sla-hours-line").render())
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, SlaSettingsScreen)

        with sqlite_db.write() as s:
            sla.set_hours(s, days="mon-fri", intervals=[("9:00", "17:00")], timezone="Europe/Berlin",
                          actor=actor_sqlite, now=now)
            sla.add_holiday(s, day="2026-12-25", name="Christmas", actor=actor_sqlite, now=now)
            sla.add_policy(s, name="Standard", targets={"urgent": {"first": "30m", "resolve": "4h"},
                                                         "low": {"resolve": "5d"}}, actor=actor_sqlite, now=now)
        app.push_screen(SlaSettingsScreen())
        await settle(app, pilot)
        assert _cells(app.screen.query_one("#sla-policies", DataTable)) == [
            ["Standard *", "30m/4h", "-/-", "-/-", "-/5d"]]
        assert _cells(app.screen.query_one("#sla-hours", DataTable)) == [
            ["Business hours", "Europe/Berlin", *["09:00-17:00"] * 5, "·", "·", "1"]]
        assert "* the default" in str(app.screen.query_one("#sla-line").render())
        assert_fits(app.screen)
