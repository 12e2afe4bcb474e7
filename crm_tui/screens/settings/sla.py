"""Settings · SLAs (read only): the policies with their targets per priority, the business hours
of each calendar and its holidays this year. Changes go through `crm sla` (an sla.admin's)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.services import sla
from crm_tui.services.business_hours import DAYS, duration_text, hours_text

PRIORITIES = ("urgent", "high", "normal", "low")


def _target(minutes: int | None) -> str:
    return duration_text(minutes) if minutes else "-"


class SlaSettingsScreen(AreaScreen):
    """Pushed from the command palette: two tables, policies above and calendars below."""

    CSS_PATH = "sla.tcss"
    AUTO_FOCUS = "#sla-policies"
    BINDINGS = [
        Binding("escape", "back", "Back", id="sla.back"),
    ]

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("SLA policies — first response / resolution per priority (1d = 8 business hours)",
                     id="sla-line")
        yield DataTable(id="sla-policies", cursor_type="row", zebra_stripes=True)
        yield Static("Business hours", id="sla-hours-line")
        yield DataTable(id="sla-hours", cursor_type="row", zebra_stripes=True)
        yield Static("Read only: change them with crm sla policy|hours|holiday", id="sla-detail")
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        policies = self.query_one("#sla-policies", DataTable)
        policies.add_column("Policy", key="name", width=16)
        for p in PRIORITIES:
            policies.add_column(p.capitalize(), key=p)
        hours = self.query_one("#sla-hours", DataTable)
        hours.add_column("Calendar", key="name", width=16)
        hours.add_column("Zone", key="zone")
        for d in DAYS:
            hours.add_column(d.capitalize(), key=d)
        hours.add_column("Holidays", key="holidays")
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="sla-load", exit_on_error=False)
    def _load(self) -> Outcome:
        with self.app.db.read() as session:
            policies = sla.list_policies(session, actor=self.app.actor)
            calendars = sla.list_calendars(session, actor=self.app.actor)
        return Outcome(self._show, policies, calendars)

    def _show(self, policies: list[sla.PolicyRead], calendars: list[sla.CalendarRead]) -> None:
        table = self.query_one("#sla-policies", DataTable)
        table.clear()
        for p in policies:
            name = p.name + (" *" if p.is_default else "")
            table.add_row(name, *(f"{_target(p.targets[x]['first'])}/{_target(p.targets[x]['resolve'])}"
                                  for x in PRIORITIES), key=str(p.id))
        hours = self.query_one("#sla-hours", DataTable)
        hours.clear()
        for c in calendars:
            shown = hours_text(c.hours)
            hours.add_row(c.name, c.timezone, *(shown[d].replace("closed", "·") for d in DAYS), str(c.holidays),
                          key=str(c.id))
        line = ("SLA policies — first response / resolution per priority (1d = 8 business hours; * the default)"
                if policies else "No SLA policies yet: add one with crm sla policy add NAME -t urgent=30m/4h ...")
        self.query_one("#sla-line", Static).update(line)
        if not calendars:
            self.query_one("#sla-hours-line", Static).update(
                "No business hours yet: crm sla hours set --days mon-fri --from 9:00 --to 17:00 --zone ZONE")

    def action_back(self) -> None:
        self.app.pop_screen()
