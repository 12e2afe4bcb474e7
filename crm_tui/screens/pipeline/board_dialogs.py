"""The board's dialogs: the new-deal form opened on the board's stage, the filter, the pipeline
picker. Apart from the board (board.py), whose first frame is drawn before the ORM has loaded:
these load with the forms when first opened."""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select
from textual.widgets.option_list import Option

from crm_tui.models.schemas import PipelineRead
from crm_tui.errors import CrmError
from crm_tui.screens.base import Outcome, ReportsWorkerErrors
from crm_tui.screens.forms import CSS as FORMS_CSS
from crm_tui.screens.forms import DealForm
from crm_tui.services import lookup, pipelines
from crm_tui.services.lookup import Choice
from crm_tui.shapes import CLOSE_PERIODS, EVERYONE, MINE, BoardFilter
from crm_tui.widgets.picker import ME, Picker

CSS = [FORMS_CSS, "pipeline.tcss"]


@dataclass
class PipelinesRead(Message, bubble=False):
    """Every pipeline, for the pipeline picker."""

    pipelines: list[PipelineRead]




class BoardDealForm(DealForm):
    """The new-deal form, opened on the board's pipeline and focused stage."""

    def __init__(self, *, pipeline_id: int, stage_id: int) -> None:
        super().__init__()
        self.preset = (pipeline_id, stage_id)


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

    def _owner_choice(self) -> Choice | None:
        if self.owner_label == MINE:
            return ME
        if self.filters.owner_id is not None and self.owner_label != EVERYONE:
            return Choice("user", self.filters.owner_id, self.owner_label)
        return None

    def compose(self) -> ComposeResult:
        f = self.filters
        with Vertical(id="form-dialog"):
            yield Label("Filter the board", id="form-title")
            with Vertical(id="form-body"):
                yield Horizontal(Label("Search", classes="field-label"),
                                 Input(f.text, id="filter-text", placeholder="title or company", compact=True),
                                 classes="field")
                yield Horizontal(Label("Owner", classes="field-label"),
                                 Picker("user", id="filter-owner", choice=self._owner_choice(), extras=(ME,),
                                        placeholder="me, or a name; empty: everyone"), classes="field")
                yield Horizontal(Label("Closing", classes="field-label"),
                                 Select([(label, key) for key, label in CLOSE_PERIODS.items()], value=f.close,
                                        allow_blank=False, id="filter-close", compact=True), classes="field")
                yield Horizontal(Label("", classes="field-label"),
                                 Checkbox("Stale deals only", f.stale_only, id="filter-stale", compact=True),
                                 classes="field")
            yield Label("", id="form-error", markup=False)
            with Horizontal(id="form-footer"):
                yield Label("^s apply · ^r reset · esc cancel", id="form-hint")
                yield Button("Apply", id="filter-apply", variant="primary", compact=True)
                yield Button("Cancel", id="filter-cancel", compact=True)

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
        picker = self.query_one("#filter-owner-picker", Picker)
        self._apply(self.app, picker.value, picker.choice)

    @work(thread=True, exclusive=True, group="board-filter", exit_on_error=False)
    def _apply(self, app, owner: int | str | None, choice: Choice | None) -> Outcome:
        """A name typed and never chosen is read by the one rule (lookup.resolve), or refused."""
        if isinstance(owner, str):
            try:
                with app.db.read() as session:
                    choice = lookup.resolve(session, kind="user", text=owner)
            except CrmError as exc:
                return Outcome(self._refused, exc.message)
            owner = choice.id
        return Outcome(self._applied, owner, choice)

    def _refused(self, message: str) -> None:
        error = self.query_one("#form-error", Label)
        error.update(message)
        error.add_class("-shown")

    def _applied(self, owner: int | None, choice: Choice | None) -> None:
        if owner == ME.id:
            owner_id, label = self.app.actor.user_id, MINE
        elif owner is None:
            owner_id, label = None, EVERYONE
        else:
            owner_id, label = owner, choice.label if choice is not None else f"#{owner}"
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
        self.post_message(PipelinesRead(found))

    @on(PipelinesRead)
    def _show(self, message: PipelinesRead) -> None:
        found = message.pipelines
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
