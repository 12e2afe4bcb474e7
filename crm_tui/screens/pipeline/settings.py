"""Pipeline settings: add a pipeline or rename one; add, rename, reorder and delete its stages, and
set each stage's probability and rotting days. Deleting a stage that still has deals asks where
to move them first, so no deal is ever left without a stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.errors import CrmError, InvalidInput
from crm_tui.models.schemas import PipelineRead, StageRead
from crm_tui.screens.base import AreaScreen, Outcome, plain_cell
from crm_tui.screens.forms import CSS as FORMS_CSS
from crm_tui.screens.forms import ConfirmScreen, FormScreen, _field, _input
from crm_tui.services import pipelines
from crm_tui.services.common import Actor
from crm_tui.services.words import plural

CSS = [FORMS_CSS, "pipeline.tcss"]


class PipelineSettingsScreen(AreaScreen):
    AREA = "pipeline"
    CSS_PATH = CSS
    AUTO_FOCUS = "#settings-stages"
    BINDINGS = [
        Binding("escape", "close", "Back", id="settings.back"),
        Binding("a", "add_stage", "Add stage", id="settings.add_stage"),
        Binding("e", "edit_stage", "Edit stage", id="settings.edit_stage"),
        Binding("K,shift+up", "move_stage(-1)", "Move up", id="settings.stage_up"),
        Binding("J,shift+down", "move_stage(1)", "Move down", id="settings.stage_down"),
        Binding("d", "delete_stage", "Delete", id="settings.delete_stage"),
        Binding("N", "new_pipeline", "New pipeline", id="settings.new_pipeline"),
        Binding("R", "rename_pipeline", "Rename pipeline", show=False, id="settings.rename_pipeline"),
    ]
    NEEDS = {action: "pipeline.admin" for action in ("add_stage", "edit_stage", "move_stage", "delete_stage",
                                                   "new_pipeline", "rename_pipeline")}

    def __init__(self, pipeline_id: int | None = None) -> None:
        super().__init__()
        self.pipeline_id = pipeline_id
        self.found: list[PipelineRead] = []
        self.counts: dict[int, int] = {}

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        # one line at 80 columns; the footer and `?` name each key in full
        yield Static("[b]Pipeline settings[/b]  a add · e edit · K/J move · d delete · N new · R rename",
                     id="settings-help")
        with Horizontal(id="settings-body"):
            yield OptionList(id="settings-pipelines")
            yield DataTable(id="settings-stages", cursor_type="row", zebra_stripes=True)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.query_one("#settings-pipelines", OptionList).border_title = "Pipelines"
        table = self.query_one("#settings-stages", DataTable)
        table.add_columns("#", "Stage", "Kind", "Prob.", "Rots after", "Deals")
        self.load()

    @property
    def pipeline(self) -> PipelineRead | None:
        return next((p for p in self.found if p.id == self.pipeline_id), None)

    @property
    def stage(self) -> StageRead | None:
        pipeline, table = self.pipeline, self.query_one("#settings-stages", DataTable)
        if pipeline is None or not pipeline.stages:
            return None
        return pipeline.stages[min(table.cursor_row, len(pipeline.stages) - 1)]

    # --- loading -------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="settings-load", exit_on_error=False)
    def load(self, focus_stage: int | None = None) -> Outcome:
        with self.app.db.read() as session:
            found = pipelines.list_pipelines(session)
            chosen = self.pipeline_id if any(p.id == self.pipeline_id for p in found) else (
                found[0].id if found else None)
            counts = pipelines.stage_deal_counts(session, pipeline_id=chosen) if chosen else {}
        return Outcome(self._show, found, chosen, counts, focus_stage)

    def _show(self, found: list[PipelineRead], chosen: int | None, counts: dict[int, int],
              focus_stage: int | None) -> None:
        self.found, self.pipeline_id, self.counts = found, chosen, counts
        options = self.query_one("#settings-pipelines", OptionList)
        options.clear_options()
        # names go in as plain text, never read as markup
        options.add_options([Option(Content.from_markup("$name" + (" [dim](default)[/dim]" if p.is_default else ""),
                                                        name=p.name), id=str(p.id))
                             for p in found])
        index = next((i for i, p in enumerate(found) if p.id == chosen), None)
        if index is not None:
            options.highlighted = index
        table = self.query_one("#settings-stages", DataTable)
        row = table.cursor_row
        table.clear()
        pipeline = self.pipeline
        stages = pipeline.stages if pipeline else []
        for i, s in enumerate(stages):
            table.add_row(str(i + 1), plain_cell(s.name), s.kind, f"{s.probability}%",
                          f"{s.rotting_days}d" if s.rotting_days is not None else "—", f"{counts.get(s.id, 0):,}",
                          key=str(s.id))
        table.border_title = Content(f"Stages · {pipeline.name}") if pipeline else "Stages"
        if focus_stage is not None:
            row = next((i for i, s in enumerate(stages) if s.id == focus_stage), row)
        if stages:
            table.move_cursor(row=min(row, len(stages) - 1))

    @on(OptionList.OptionHighlighted, "#settings-pipelines")
    def _pipeline_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        chosen = int(event.option.id)
        if chosen != self.pipeline_id:
            self.pipeline_id = chosen
            self.load()

    def refresh_data(self) -> None:
        self.load(self.stage.id if self.stage else None)

    # --- changes ----------------------------------------------------------------------------------

    def _reload_after(self, result: Any) -> None:
        if result is not None:
            self._written(result.id if isinstance(result, StageRead) else None)

    def action_add_stage(self) -> None:
        if self.pipeline is not None:
            self.app.push_screen(StageForm(pipeline_id=self.pipeline.id), self._reload_after)

    def action_edit_stage(self) -> None:
        if self.stage is not None:
            self.app.push_screen(StageForm(pipeline_id=self.pipeline.id, stage=self.stage), self._reload_after)

    def action_new_pipeline(self) -> None:
        def created(pipeline: PipelineRead | None) -> None:
            if pipeline is not None:
                self.pipeline_id = pipeline.id
                self._reload_after(pipeline)

        self.app.push_screen(PipelineNameForm(), created)

    def action_rename_pipeline(self) -> None:
        if self.pipeline is not None:
            self.app.push_screen(PipelineNameForm(self.pipeline), self._reload_after)

    def action_move_stage(self, step: int) -> None:
        stage, pipeline = self.stage, self.pipeline
        if stage is None:
            return
        if stage.kind != "open":
            self.notify("Won and Lost always come last.", severity="warning")
            return
        open_ids = [s.id for s in pipeline.stages if s.kind == "open"]
        position = open_ids.index(stage.id) + step
        if not 0 <= position < len(open_ids):
            return
        self._write(lambda s, actor, now: pipelines.move_stage(s, stage_id=stage.id, position=position, actor=actor,
                                                               now=now), focus_stage=stage.id)

    def action_delete_stage(self) -> None:
        stage, pipeline = self.stage, self.pipeline
        if stage is None:
            return
        if stage.kind != "open":
            self.notify("The Won and Lost stages cannot be deleted.", severity="warning")
            return
        count = self.counts.get(stage.id, 0)
        others = [s for s in pipeline.stages if s.kind == "open" and s.id != stage.id]
        if not others:
            self.notify("A pipeline needs at least one open stage.", severity="warning")
            return

        def delete(target_id: int | None) -> None:
            self._write(lambda s, actor, now: pipelines.delete_stage(s, stage_id=stage.id, actor=actor,
                                                                     move_to_stage_id=target_id, now=now))

        if count:
            question = f"{stage.name} has {plural(count, 'deal')}. Move {'it' if count == 1 else 'them'} to:"
            self.app.push_screen(StagePicker(question, others),
                                 lambda target: delete(target) if target is not None else None)
        else:
            self.app.push_screen(ConfirmScreen(f"Delete the stage {stage.name}? It has no deals.", "Delete"),
                                 lambda yes: delete(None) if yes else None)

    @work(thread=True, exclusive=True, group="settings-write", exit_on_error=False)
    def _write(self, change, focus_stage: int | None = None) -> Outcome:
        try:
            with self.app.db.write() as session:
                change(session, self.app.actor, self.app.now())
        except CrmError as exc:
            return Outcome(self._not_done, exc.message)
        return Outcome(self._written, focus_stage)

    def _not_done(self, message: str) -> None:
        self.notify(message, title="Not done", severity="error")

    def _written(self, focus_stage: int | None) -> None:
        self.app.data_changed()  # the board below reloads too (this screen's own reload comes next)
        self.load(focus_stage or (self.stage.id if self.stage else None))

    def action_close(self) -> None:
        self.dismiss(None)


class StagePicker(ModalScreen[int | None]):
    """Choose a stage (where a deleted stage's deals go)."""

    CSS_PATH = CSS
    AUTO_FOCUS = "#stage-list"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="stage_picker.cancel")]

    def __init__(self, question: str, stages: list[StageRead]) -> None:
        super().__init__()
        self.question = question
        self.stages = stages

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label(self.question, id="picker-title", markup=False)  # it names the stage as typed
            yield OptionList(*[Option(Content(s.name), id=str(s.id)) for s in self.stages], id="stage-list")
            yield Label("[dim]enter moves its deals there and deletes the stage · esc cancels[/dim]")

    @on(OptionList.OptionSelected, "#stage-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)


def _number(text: str, label: str) -> int | None:
    text = text.strip().rstrip("%d").strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput(f"{label}: give a whole number")
    return int(text)


class StageForm(FormScreen[StageRead | None]):
    """A new open stage, or a stage's name, probability and rotting days."""

    def __init__(self, *, pipeline_id: int, stage: StageRead | None = None) -> None:
        super().__init__()
        self.pipeline_id = pipeline_id
        self.stage = stage

    def form_title(self) -> str:
        return f"Edit stage · {self.stage.name}" if self.stage else "New stage"

    def compose_fields(self) -> ComposeResult:
        s = self.stage
        yield _field("Name", _input("stage-name", s.name if s else ""))
        yield _field("Win chance", _input("stage-probability", str(s.probability) if s else "", placeholder="0-100 %"))
        yield _field("Rots after", _input("stage-rotting", str(s.rotting_days) if s and s.rotting_days is not None
                                          else "", placeholder="days in stage before a deal is stale; empty: never"))

    def values(self) -> dict[str, Any]:
        return {id_: self.query_one(f"#stage-{id_}").value for id_ in ("name", "probability", "rotting")}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> StageRead:
        probability = _number(values["probability"], "probability")
        rotting = _number(values["rotting"], "rots after")
        if self.stage is None:
            return pipelines.add_stage(session, pipeline_id=self.pipeline_id, actor=actor, now=now,
                                       spec={"name": values["name"], "probability": probability or 0,
                                             "rotting_days": rotting})
        return pipelines.update_stage(session, stage_id=self.stage.id, actor=actor, now=now, name=values["name"],
                                      probability=probability if probability is not None else self.stage.probability,
                                      rotting_days=rotting, clear_rotting=rotting is None,
                                      version=self.stage.version)


class PipelineNameForm(FormScreen[PipelineRead | None]):
    """A new pipeline (with the usual stages), or a new name for one."""

    def __init__(self, pipeline: PipelineRead | None = None) -> None:
        super().__init__()
        self.pipeline = pipeline

    def form_title(self) -> str:
        return f"Rename pipeline · {self.pipeline.name}" if self.pipeline else "New pipeline"

    def compose_fields(self) -> ComposeResult:
        yield _field("Name", _input("pipeline-name", self.pipeline.name if self.pipeline else ""))

    def values(self) -> dict[str, Any]:
        return {"name": self.query_one("#pipeline-name").value}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> PipelineRead:
        if self.pipeline is None:
            return pipelines.create_pipeline(session, name=values["name"], actor=actor, now=now)
        return pipelines.rename_pipeline(session, pipeline_id=self.pipeline.id, name=values["name"], actor=actor,
                                         version=self.pipeline.version, now=now)
