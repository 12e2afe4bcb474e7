"""The Reports area: the list of reports, the chosen one as a table with a chart beside (or below,
on a narrow terminal), keys to change the period, owner and pipeline, Enter to open the deals or
contacts behind a row, and the sales goals form."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui import config
from crm_tui.widgets.key_bar import KeyBar
from crm_tui.clock import get_zone
from crm_tui.models.schemas import ContactRow, UserRead
from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.errors import InvalidInput
from crm_tui.screens.forms import FormScreen, _field, _input, pick_id, picked, user_picker
from crm_tui.services import goals, lookup, pipelines, reports, users
from crm_tui.services.lookup import Choice
from crm_tui.widgets.picker import Picker
from crm_tui.services.common import Actor
from crm_tui.widgets import fmt
from crm_tui.widgets.area_bar import AreaBar
from crm_tui.widgets.bar_chart import BarChart
from crm_tui.widgets.keyset_table import Column, KeysetTable
from crm_tui.widgets.text_line import Paragraphs

CSS = "reports.tcss"
NUMERIC = {"int", "money", "percent", "days", "minutes", "score", "signed"}
WIDE = 100  # from this width the list of reports stays on the left
CHART_BESIDE = 130  # from this width the chart sits beside the table, below it otherwise



def _fit_columns(columns, cells: list[list[Text]], room: int) -> list[int | None]:
    """Each column's width so that every column shows in `room` cells (the table's width): the
    numbers as wide as they are, the text columns (a deal's title, a name) sharing what is left,
    cut with an ellipsis. None where everything fits as it is."""
    natural = [max([cell_len(str(columns[i].title))] + [row[i].cell_len for row in cells]) for i in range(len(columns))]
    padding = 2 * len(columns)  # the DataTable's cell padding
    if sum(natural) + padding <= room:
        return [None] * len(columns)
    texts = [i for i, c in enumerate(columns) if c.kind not in NUMERIC]
    fixed = sum(w for i, w in enumerate(natural) if i not in texts)
    left = max(6 * len(texts), room - padding - fixed)
    wanted = sum(natural[i] for i in texts) or 1
    widths: list[int | None] = list(natural)
    for i in texts:
        widths[i] = max(6, min(natural[i], left * natural[i] // wanted))
    return widths

class ReportsScreen(AreaScreen):
    AREA = "reports"
    CSS_PATH = CSS
    AUTO_FOCUS = "#report-table"
    BINDINGS = [
        Binding("p", "next_preset", "Period", id="reports.period"),
        Binding("left_square_bracket", "shift_period(-1)", "Earlier", id="reports.earlier"),
        Binding("right_square_bracket", "shift_period(1)", "Later", id="reports.later"),
        Binding("d", "custom_range", "Dates", show=False, id="reports.dates"),
        Binding("o", "next_owner", "Owner", id="reports.owner"),
        Binding("l", "next_pipeline", "Pipeline", show=False, id="reports.pipeline"),
        Binding("t", "next_table", "Table", show=False, id="reports.table"),
        Binding("r", "focus_reports", "Reports", id="reports.list"),
        Binding("g", "set_goal", "Goal", show=False, id="reports.goal"),
        Binding("c", "toggle_convert", "Convert", show=False, id="reports.convert"),
        Binding("escape", "focus_table", "To table", show=False, id="reports.to_table"),
    ]
    NEEDS = {"set_goal": "goal.edit"}

    def __init__(self) -> None:
        super().__init__()
        settings = self.app.settings  # as the CLI loaded them at start
        self.zone_name = config.team_timezone(settings)
        self.currency = settings.currency
        self.name_ = "pipeline"
        self.preset: str | None = reports.DEFAULT_PRESET
        self.period: reports.Period | None = None
        self.owner_id: int | None = None
        self.pipeline_id: int | None = None
        self.table_index = 0
        # False: sum the deals in the team's currency only (the others are counted in a note);
        # True: convert every deal at its close day's rate (c toggles; see services/conversion.py)
        self.convert = False
        self.report: reports.Report | None = None
        self._fitted_to = 0  # the width the table's columns were last fitted to
        self._team: list[UserRead] = []
        self._pipelines: list = []

    @property
    def zone(self):
        return get_zone(self.zone_name)

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static(id="report-heading")
        with Horizontal(id="report-body"):
            yield OptionList(*[Option(spec.title, id=spec.name) for spec in self._shown_reports()],
                             id="report-list")
            with Vertical(id="report-main"):
                yield DataTable(id="report-table", cursor_type="row", zebra_stripes=False)
                yield BarChart(id="report-chart")
        yield Paragraphs(2, id="report-notes")  # notes name pipelines as typed; a cut one ends with "…"
        yield from self.compose_frame_bottom()

    def _shown_reports(self) -> list:
        """The reports the person's role may see (marketing: the sources report alone; support: the
        service desk's)."""
        may = getattr(self.app, "may", lambda _action: True)
        shown = [spec for spec in reports.REPORTS.values() if may(spec.needs)]
        if shown and self.name_ not in {spec.name for spec in shown}:
            self.name_ = shown[0].name
        return shown

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # whose records the report may show: the service desk's, by case.view; the others (the
        # sources report too: marketing picks no owner there), by report.view
        needs = reports.REPORTS[self.name_].needs
        if action == "next_owner" and getattr(self.app, "capabilities", {}).get(
                needs if needs == "case.view" else "report.view") != "all":
            return False  # a seller's reports are their own deals: there is no one else to pick
        return super().check_action(action, parameters)

    def on_mount(self) -> None:
        self.query_one("#report-list", OptionList).border_title = "Reports"
        self.query_one("#report-list", OptionList).highlighted = 0
        self.period = reports.preset_period(self.preset, now=self.app.now(), zone=self.zone)
        self.load_choices()
        self.reload()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")
        self.set_class(self.size.width >= CHART_BESIDE, "-chart-beside")
        self._refit()

    # --- loading --------------------------------------------------------------------------------

    def reload(self) -> None:
        self.query_one("#report-heading", Static).update(f"[b]{reports.REPORTS[self.name_].title}[/b] · loading…")
        self.compute(self.name_, self.period, self.owner_id, self.pipeline_id, self.app.now(), self.convert)

    def refresh_data(self) -> None:
        self.reload()

    @work(thread=True, exclusive=True, group="report", exit_on_error=False)
    def compute(self, name: str, period: reports.Period, owner_id: int | None, pipeline_id: int | None,
                now: datetime, convert: bool = False) -> Outcome:
        with self.app.db.read() as session:
            report = reports.run_report(session, name=name, period=period, zone=self.zone, currency=self.currency,
                                        owner_id=owner_id, pipeline_id=pipeline_id, now=now, actor=self.app.actor,
                                        convert=convert)
        return Outcome(self.show_report, report)

    @work(thread=True, exclusive=True, group="report-choices", exit_on_error=False)
    def load_choices(self) -> Outcome:
        with self.app.db.read() as session:
            team = users.list_users(session, include_inactive=False)
            found = pipelines.list_pipelines(session)
        return Outcome(self._set_choices, team, found)

    def _set_choices(self, team: list[UserRead], found: list) -> None:
        self._team, self._pipelines = team, found
        if self.report is not None:  # the report came first: its heading names the pipeline now
            self._show_heading(self.report)

    # --- showing ----------------------------------------------------------------------------------

    def show_report(self, report: reports.Report) -> None:
        if report.name != self.name_:
            return  # the person moved on to another report meanwhile
        self.report = report
        self.table_index = min(self.table_index, len(report.tables) - 1)
        table = report.tables[self.table_index]
        self._show_heading(report)
        self._fill_table(report, table)
        chart = self.query_one(BarChart)
        chart.show(report.chart if self.table_index == 0 else None, report.currency,
                   columns=bool(report.chart and report.chart.over_time))
        chart.display = report.chart is not None and self.table_index == 0
        self.query_one("#report-notes", Paragraphs).update(report.notes)

    def _show_heading(self, report: reports.Report) -> None:
        """What was asked, the pipeline's name (once the pipelines are read), and which table."""
        pipeline = next((p.name for p in self._pipelines if p.id == report.pipeline_id), None)
        heading = report.heading + (f" · {pipeline}" if pipeline and reports.REPORTS[report.name].uses_pipeline else "")
        if len(report.tables) > 1:
            heading += f" · table {self.table_index + 1}/{len(report.tables)} (t)"
        self.query_one("#report-heading", Static).update(Content(heading))  # it names the pipeline as typed

    def _fill_table(self, report: reports.Report, table: reports.Table) -> None:
        grid = self.query_one("#report-table", DataTable)
        cursor = grid.cursor_row
        grid.clear(columns=True)
        grid.border_title = table.title
        cells = [[self._cell(report, column, row.values.get(column.key)) for column in table.columns]
                 for row in table.rows]
        if table.total:
            cells.append([self._cell(report, c, table.total.get(c.key), bold=True) if c.key in table.total else Text("")
                          for c in table.columns])
        room = self._fitted_to = self._table_room()
        widths = _fit_columns(table.columns, cells, room)
        for column, width in zip(table.columns, widths, strict=True):
            grid.add_column(Text(column.title, justify="right" if column.kind in NUMERIC else "left",
                                 overflow="ellipsis", no_wrap=True), key=column.key, width=width)
        for i, row in enumerate(cells):
            grid.add_row(*row, key="total" if table.total and i == len(cells) - 1 else str(i))
        if grid.row_count:
            grid.move_cursor(row=min(cursor, grid.row_count - 1))

    def _table_room(self) -> int:
        """The cells inside the table's border, as reports.tcss lays it out at this width (the list
        of reports beside it from WIDE, the chart beside it from CHART_BESIDE); the list opened
        over a narrow table is not counted: it closes again."""
        width = self.size.width or 80
        main = width - (28 if width >= WIDE else 0)
        table = main - (main * 45 // 100 if width >= CHART_BESIDE else 0)
        return table - 2

    def _refit(self) -> None:
        """Fit the columns again when the table's width changed (the terminal was resized)."""
        report = self.report
        if report is not None and self._table_room() != self._fitted_to:
            self._fill_table(report, report.tables[self.table_index])

    @staticmethod
    def _cell(report: reports.Report, column: reports.Column, value: Any, bold: bool = False) -> Text:
        text = reports.format_cell(column, value, report.currency)
        return Text(text, justify="right" if column.kind in NUMERIC else "left", style="bold" if bold else "",
                    overflow="ellipsis", no_wrap=True)

    # --- choosing a report ------------------------------------------------------------------------

    @on(OptionList.OptionHighlighted, "#report-list")
    def report_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.choose(event.option.id)

    @on(OptionList.OptionSelected, "#report-list")
    def report_selected(self, event: OptionList.OptionSelected) -> None:
        self.choose(event.option.id)
        self.action_focus_table()

    def choose(self, name: str | None) -> None:
        if name and name != self.name_:
            self.name_, self.table_index = name, 0
            self.query_one("#report-table", DataTable).move_cursor(row=0)
            self.reload()

    def action_focus_reports(self) -> None:
        """Into the list of reports; on a narrow terminal it opens over the table, and r closes it."""
        if self.size.width < WIDE:
            self.toggle_class("-list-open")
        if self.size.width >= WIDE or self.has_class("-list-open"):
            self.query_one("#report-list", OptionList).focus()
        else:
            self.action_focus_table()

    def action_focus_table(self) -> None:
        self.remove_class("-list-open")
        self.query_one("#report-table", DataTable).focus()

    # --- period, owner, pipeline ------------------------------------------------------------------

    def action_next_preset(self) -> None:
        presets = reports.PRESETS
        self.preset = presets[(presets.index(self.preset) + 1) % len(presets)] if self.preset in presets else presets[0]
        self.period = reports.preset_period(self.preset, now=self.app.now(), zone=self.zone)
        self.reload()

    def action_shift_period(self, steps: int) -> None:
        self.period, self.preset = self.period.shift(steps), None
        self.reload()

    def action_custom_range(self) -> None:
        def chosen(period: reports.Period | None) -> None:
            if period is not None:
                self.period, self.preset = period, None
                self.reload()

        self.app.push_screen(RangeForm(self.period, self.zone), chosen)

    def action_next_owner(self) -> None:
        """Everyone, then me, then each teammate in turn."""
        me = self.app.actor.user_id
        order = [None, me, *(u.id for u in self._team if u.id != me)]
        position = order.index(self.owner_id) if self.owner_id in order else 0
        self.owner_id = order[(position + 1) % len(order)]
        self.reload()

    def action_next_pipeline(self) -> None:
        if not reports.REPORTS[self.name_].uses_pipeline or not self._pipelines:
            self.notify("This report is not per pipeline.")
            return
        order = [None, *(p.id for p in self._pipelines)] if self.name_ != "pipeline" else [p.id for p in self._pipelines]
        current = self.pipeline_id if self.pipeline_id in order else (self.report.pipeline_id if self.report else None)
        position = order.index(current) if current in order else 0
        self.pipeline_id = order[(position + 1) % len(order)]
        self.reload()

    def action_toggle_convert(self) -> None:
        """Convert every currency into the team's (at each deal's close-day rate), or back to the
        team's currency alone with the others counted in a note."""
        spec = reports.REPORTS[self.name_]
        if not spec.converts:
            self.notify("This report always converts." if spec.name.startswith(("revenue-by", "discounts"))
                        else "This report adds no amounts.")
            return
        self.convert = not self.convert
        self.notify(f"Amounts converted to {self.currency} at each deal's close-date rate." if self.convert
                    else f"Amounts in {self.currency} only; other currencies are counted in the notes.")
        self.reload()

    def action_next_table(self) -> None:
        if self.report is not None and len(self.report.tables) > 1:
            self.table_index = (self.table_index + 1) % len(self.report.tables)
            self.show_report(self.report)

    # --- drill-down and goals ---------------------------------------------------------------------

    @on(DataTable.RowSelected, "#report-table")
    def drill_down(self, event: DataTable.RowSelected) -> None:
        if self.report is None or event.row_key.value in (None, "total"):
            return
        row = self.report.tables[self.table_index].rows[int(event.row_key.value)]
        if row.drill is None:
            self.notify("Nothing to list under this row.")
            return
        self.app.push_screen(DrillScreen(row.drill))

    def action_set_goal(self) -> None:
        def saved(goal) -> None:
            if goal is not None:
                self.notify(f"Goal of {goal.user_login} for {goals.period_label(goal.period_kind, goal.period_start)}:"
                            f" {fmt.money(goal.amount_minor, goal.currency)}")
                self.reload()

        self.app.push_screen(GoalForm(self.currency, self.zone, self.owner_id), saved)


# --- the rows behind a report row ------------------------------------------------------------------


def _deal_columns(app) -> list[Column]:
    return [
        Column("Deal", lambda r: r.title, ratio=3, min_width=12),
        Column("Company", lambda r: r.company_name or "", ratio=2, min_width=8, hide_below=90),
        Column("Stage", lambda r: r.stage_name, width=11),
        Column("Owner", lambda r: r.owner_login or "", width=8),
        Column("Amount", lambda r: fmt.money(r.amount_minor, r.currency), width=13, align="right"),
        Column("Status", lambda r: r.status, width=6, hide_below=70),
    ]


def _contact_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("Name", lambda r: r.full_name or "(no name)", ratio=3, min_width=12),
        Column("Company", lambda r: r.company_name or "", ratio=2, min_width=8),
        Column("Email", lambda r: r.email or "", ratio=3, min_width=10, hide_below=90),
        Column("Stage", lambda r: r.lifecycle, width=9),
        Column("Owner", lambda r: r.owner_login or "", width=8, hide_below=70),
        Column("Added", lambda r: fmt.when(r.created_at, app.now(), zone), width=11),
    ]


class DrillScreen(Screen):
    """The deals or contacts under a report row, a keyset page at a time; Enter opens one."""

    CSS_PATH = CSS
    AUTO_FOCUS = "#drill-list"
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back", id="reports.drill_back")]

    def __init__(self, drill: reports.Drill) -> None:
        super().__init__()
        self.drill = drill

    def compose(self) -> ComposeResult:
        yield AreaBar("reports")
        yield Static(self.drill.title, id="drill-title", markup=False)  # it names stages and people as typed
        columns = _deal_columns(self.app) if self.drill.entity == "deal" else _contact_columns(self.app)
        yield KeysetTable(columns, noun="deals" if self.drill.entity == "deal" else "contacts", id="drill-list",
                          empty_text="Nothing here.")
        yield KeyBar()

    def on_mount(self) -> None:
        db, drill = self.app.db, self.drill

        def fetch(*, after, before, limit, with_total):
            with db.read() as session:
                return reports.drill_page(session, drill=drill, after=after, before=before, limit=limit,
                                          with_total=with_total)

        self.query_one(KeysetTable).load(fetch)

    @on(KeysetTable.Selected, "#drill-list")
    def open_row(self, event: KeysetTable.Selected) -> None:
        self.app.open_record("contact" if isinstance(event.row, ContactRow) else "deal", event.row.id)


# --- forms -----------------------------------------------------------------------------------------


class RangeForm(FormScreen[reports.Period | None]):
    """A custom range of days: from and to (included), typed the way people say dates."""

    HINT = "tab next · ctrl+s apply · esc cancel"

    def __init__(self, period: reports.Period | None, zone) -> None:
        super().__init__()
        self.period, self.zone = period, zone

    def form_title(self) -> str:
        return "Report period"

    def compose_buttons(self) -> ComposeResult:
        yield Button("Apply", id=self.part("save"), variant="primary", compact=True)  # as the hint says
        yield Button("Cancel", id=self.part("cancel"), compact=True)

    def compose_fields(self) -> ComposeResult:
        start = self.period.start.isoformat() if self.period else ""
        last = self.period.last_day.isoformat() if self.period else ""
        yield _field("From", _input("range-from", start, "2026-11-01"))
        yield _field("To", _input("range-to", last, "2026-11-30 (included)"))

    def values(self) -> dict[str, Any]:
        return {"start": self.query_one("#range-from", Input).value, "end": self.query_one("#range-to", Input).value}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> reports.Period:
        return reports.resolve_period(start=values["start"].strip() or None, end=values["end"].strip() or None,
                                      now=now, zone=self.zone, order=actor.date_order)


class GoalForm(FormScreen):
    """Set a user's sales goal for a month or a quarter."""

    LOADS = True

    def __init__(self, currency: str, zone, user_id: int | None) -> None:
        super().__init__()
        self.currency, self.zone, self.user_id = currency, zone, user_id

    def form_title(self) -> str:
        return "Sales goal"

    def compose_fields(self) -> ComposeResult:
        actor = self.app.actor
        mine = self.user_id is None or self.user_id == actor.user_id
        yield _field("User", user_picker("goal-user", actor.user_id if mine else None, actor.login,
                                         empty="choose whose"))
        yield _field("Period", _input("goal-period", "this-month", "2026-11, 2026-Q4, next-month"))
        yield _field("Amount", _input("goal-amount", "", "25,000"))
        yield _field("Currency", _input("goal-currency", self.currency))

    def read(self, session, actor: Actor) -> Choice | None:
        """A teammate's goal: their name, for the picker."""
        if self.user_id is None or self.user_id == actor.user_id:
            return None
        return lookup.label(session, kind="user", record_id=self.user_id)

    def loaded(self, choice: Choice | None) -> None:
        picker = self.query_one("#goal-user-picker", Picker)
        if choice is not None and not picker.text:
            picker.set_choice(choice)

    def values(self) -> dict[str, Any]:
        return {"user_id": picked(self, "goal-user"),
                "period": self.query_one("#goal-period", Input).value,
                "amount": self.query_one("#goal-amount", Input).value,
                "currency": self.query_one("#goal-currency", Input).value or self.currency}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime):
        if values["user_id"] is None:
            raise InvalidInput("choose whose goal this is")
        values["user_id"] = pick_id(session, "user", values["user_id"])
        if not values["amount"].strip():
            raise InvalidInput("amount is required")
        kind, start = goals.parse_goal_period(values["period"], now=now, zone=self.zone)
        return goals.set_goal(session, user_id=values["user_id"], kind=kind, start=start, amount=values["amount"],
                              currency=values["currency"], actor=actor, now=now)


