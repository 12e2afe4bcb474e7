"""The board's dialogs: the new-deal form opened on the board's stage, the filter, the pipeline
picker. Apart from the board (board.py), whose first frame is drawn before the ORM has loaded:
these load with the forms when first opened."""

from __future__ import annotations

from dataclasses import replace

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select
from textual.widgets.option_list import Option

from crm_tui.compat import select_options
from crm_tui.models.schemas import PipelineRead
from crm_tui.screens.base import ReportsWorkerErrors
from crm_tui.screens.forms import CSS as FORMS_CSS
from crm_tui.screens.forms import DealForm
from crm_tui.services import pipelines, users
from crm_tui.shapes import CLOSE_PERIODS, EVERYONE, MINE, BoardFilter

CSS = [FORMS_CSS, "pipeline.tcss"]


class BoardDealForm(DealForm):
    """The new-deal form, opened on the board's pipeline and focused stage."""

    def __init__(self, *, pipeline_id: int, stage_id: int) -> None:
        super().__init__()
        self.preset = (pipeline_id, stage_id)

    def _show_stages(self, pipeline_id: int | None) -> None:
        super()._show_stages(pipeline_id)
        chosen, stage_id = self.preset
        if pipeline_id == chosen:
            stage = self.query_one("#stage", Select)
            if any(value == stage_id for _, value in select_options(stage)):
                stage.value = stage_id

    def loaded(self, data) -> None:
        super().loaded(data)
        pipeline = self.query_one("#pipeline", Select)
        if any(p.id == self.preset[0] for p in self.pipelines):
            pipeline.value = self.preset[0]
            self._show_stages(self.preset[0])


class BoardFilterForm(ReportsWorkerErrors, ModalScreen[tuple[BoardFilter, str] | None]):
    """Owner (mine, everyone, a named user), text, expected close period, stale only."""

    CSS_PATH = CSS
    AUTO_FOCUS = "#filter-text"
    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", id="board_filter.apply"),
        Binding("escape", "cancel", "Cancel", id="board_filter.cancel"),
        Binding("ctrl+r", "reset", "Reset", id="board_filter.reset"),
    ]

    def __init__(self, filters: BoardFilter, owner_label: str) -> None:
        super().__init__()
        self.filters = filters
        self.owner_label = owner_label

    def _owner_value(self) -> str:
        if self.owner_label == MINE:
            return MINE
        return str(self.filters.owner_id) if self.filters.owner_id is not None else EVERYONE

    def compose(self) -> ComposeResult:
        f = self.filters
        owners = [("Everyone", EVERYONE), ("Mine", MINE)]
        if self.filters.owner_id is not None and self.owner_label not in (MINE, EVERYONE):
            owners.append((self.owner_label, str(self.filters.owner_id)))
        with Vertical(id="form-dialog"):
            yield Label("Filter the board", id="form-title")
            with Vertical(id="form-body"):
                yield Horizontal(Label("Search", classes="field-label"),
                                 Input(f.text, id="filter-text", placeholder="title or company", compact=True),
                                 classes="field")
                yield Horizontal(Label("Owner", classes="field-label"),
                                 Select(owners, value=self._owner_value(), allow_blank=False, id="filter-owner",
                                        compact=True), classes="field")
                yield Horizontal(Label("Closing", classes="field-label"),
                                 Select([(label, key) for key, label in CLOSE_PERIODS.items()], value=f.close,
                                        allow_blank=False, id="filter-close", compact=True), classes="field")
                yield Horizontal(Label("", classes="field-label"),
                                 Checkbox("Stale deals only", f.stale_only, id="filter-stale", compact=True),
                                 classes="field")
            with Horizontal(id="form-footer"):
                yield Label("^s apply · ^r reset · esc cancel", id="form-hint")
                yield Button("Apply", id="filter-apply", variant="primary", compact=True)
                yield Button("Cancel", id="filter-cancel", compact=True)

    def on_mount(self) -> None:
        self.load_users()

    @work(thread=True, exclusive=True, group="board-filter-users", exit_on_error=False)
    def load_users(self) -> None:
        with self.app.db.read() as session:
            team = users.list_users(session, include_inactive=False)
        self.app.call_from_thread(self._show_users, team)

    def _show_users(self, team) -> None:
        owner = self.query_one("#filter-owner", Select)
        value = owner.value
        options = [("Everyone", EVERYONE), ("Mine", MINE),
                   *[(u.login, str(u.id)) for u in team if u.id != self.app.actor.user_id]]
        owner.set_options(options)
        owner.value = value if any(v == value for _, v in options) else EVERYONE

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    @on(Button.Pressed, "#filter-apply")
    def _apply_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_apply()

    @on(Button.Pressed, "#filter-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_apply(self) -> None:
        owner = self.query_one("#filter-owner", Select)
        value = owner.value
        if value == MINE:
            owner_id, label = self.app.actor.user_id, MINE
        elif value == EVERYONE or value is Select.NULL:
            owner_id, label = None, EVERYONE
        else:
            owner_id = int(value)
            label = next((str(text) for text, v in select_options(owner) if v == value), value)
        filters = replace(self.filters, owner_id=owner_id, text=self.query_one("#filter-text", Input).value.strip(),
                          close=self.query_one("#filter-close", Select).value,
                          stale_only=self.query_one("#filter-stale", Checkbox).value)
        self.dismiss((filters, label))

    def action_reset(self) -> None:
        self.dismiss((BoardFilter(), EVERYONE))

    def action_cancel(self) -> None:
        self.dismiss(None)


class PipelinePicker(ReportsWorkerErrors, ModalScreen[int | None]):
    """Choose the pipeline the board shows."""

    CSS_PATH = CSS
    AUTO_FOCUS = "#pipeline-list"
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="pipeline_picker.cancel")]

    def __init__(self, current: int | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label("Pipeline  [dim]enter chooses · esc cancels[/dim]", id="picker-title")
            yield OptionList(id="pipeline-list")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="pipeline-picker", exit_on_error=False)
    def load(self) -> None:
        with self.app.db.read() as session:
            found = pipelines.list_pipelines(session)
        self.app.call_from_thread(self._show, found)

    def _show(self, found: list[PipelineRead]) -> None:
        options = self.query_one("#pipeline-list", OptionList)
        # names go in as plain text, never read as markup (escaping misses "[Q3]")
        options.add_options([Option(Content.from_markup("$name  [dim]$stages stages[/dim]", name=p.name,
                                                        stages=str(sum(s.kind == "open" for s in p.stages))),
                                    id=str(p.id)) for p in found])
        index = next((i for i, p in enumerate(found) if p.id == self.current), 0)
        if found:
            options.highlighted = index

    @on(OptionList.OptionSelected, "#pipeline-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
