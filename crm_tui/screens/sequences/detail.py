"""One sequence: its steps (a add, e edit, r remove: an email from a template or a task, each
after a delay in business days) and its enrolled contacts, a keyset-paged list with their status
(s stops the highlighted one, asked first; enter opens the contact; v shows one status at a time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Select, Static

from crm_tui.clock import get_zone
from crm_tui.errors import InvalidInput
from crm_tui.screens.base import AreaScreen, Outcome
from crm_tui.screens.forms import ConfirmScreen, FormScreen, _field, _input
from crm_tui.screens.sequences.common import EDIT, SEQUENCES_CSS, funnel_text
from crm_tui.services import sequence_views, sequences
from crm_tui.services.common import Actor
from crm_tui.services.lookup import Choice
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable
from crm_tui.widgets.picker import Picker

STATUSES = (None, "active", "stopped", "finished")  # v steps through them


def step_text(step: sequences.StepRead) -> str:
    return f"{step.template or '?'}" if step.kind == "email" else f"{step.task_title or ''}"


def enrollment_status(row: sequences.EnrollmentRow) -> str:
    if row.status == "stopped" and row.stop_reason:
        return f"stopped: {row.stop_reason.replace('_', ' ')}"
    return row.status


class StepForm(FormScreen[sequences.StepRead | None]):
    """A step: an email from a template (a picker of the templates you may use) or a task with a
    title, after a delay in business days from the step before it (from enrolment, for the first)."""

    def __init__(self, sequence_id: int, step: sequences.StepRead | None = None) -> None:
        super().__init__()
        self.sequence_id, self.step = sequence_id, step

    def form_title(self) -> str:
        return f"Edit step {self.step.position}" if self.step else "New step"

    def compose_fields(self) -> ComposeResult:
        s = self.step
        yield _field("Kind", Select([("email", "email"), ("task", "task")], value=s.kind if s else "email",
                                    allow_blank=False, id="step-kind", compact=True))
        yield _field("After", _input("step-delay", str(s.delay_days) if s else "2",
                                     placeholder="business days after the step before"))
        choice = Choice("template", s.template_id, s.template or f"#{s.template_id}") if s and s.template_id else None
        yield _field("Template", Picker("template", id="step-template", choice=choice, search=self._templates,
                                        placeholder="type a template's name"))
        yield _field("Task", _input("step-task", (s.task_title or "") if s else "",
                                    placeholder="the task's title, e.g. Call them"))

    def on_mount(self) -> None:
        self._kind_shown(self.query_one("#step-kind", Select).value)

    def _templates(self, text: str) -> list[Choice]:
        """The picker's matches (run in its worker thread)."""
        with self.app.db.read() as session:
            return sequence_views.template_choices(session, self.app.actor, text)

    @on(Select.Changed, "#step-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        self._kind_shown(event.value)

    def _kind_shown(self, kind: Any) -> None:
        self.query_one("#step-template-picker").parent.display = kind == "email"
        self.query_one("#step-task").parent.display = kind == "task"

    def values(self) -> dict[str, Any]:
        picker = self.query_one("#step-template-picker", Picker)
        return {"kind": self.query_one("#step-kind", Select).value,
                "delay": self.query_one("#step-delay", Input).value.strip(),
                "template": picker.chosen_id if picker.chosen_id is not None else (picker.text or None),
                "task_title": self.query_one("#step-task", Input).value.strip() or None}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> sequences.StepRead:
        try:
            delay = int(values["delay"])
        except ValueError:
            raise InvalidInput(f"invalid delay {values['delay']!r}: give a whole number of business days") from None
        kind = values["kind"]
        template = values["template"] if kind == "email" else None
        task_title = values["task_title"] if kind == "task" else None
        if isinstance(template, str):  # typed, never chosen: the one template it names
            found = sequence_views.template_choices(session, actor, template, limit=6)
            template = sequence_views.resolve_choice(found, template, "template").id
        if self.step is None:
            return sequences.add_step(session, actor, self.sequence_id, kind=kind, delay_days=delay,
                                      template=template, task_title=task_title, now=now)
        return sequences.edit_step(session, actor, self.sequence_id, self.step.id, version=self.step.version,
                                   kind=kind, delay_days=delay, template=template, task_title=task_title, now=now)


class SequenceDetailScreen(AreaScreen):
    """A sequence's steps on top, its enrolments below; tab moves between the two."""

    CSS_PATH = SEQUENCES_CSS
    AUTO_FOCUS = "#sequence-steps"
    BINDINGS = [
        Binding("escape", "back", "Back", id="sequence.back"),
        Binding("a", "add_step", "Add step", id="sequence.add_step"),
        Binding("e", "edit_step", "Edit step", id="sequence.edit_step"),
        Binding("r", "remove_step", "Remove step", id="sequence.remove_step"),
        Binding("s", "stop", "Stop enrolment", id="sequence.stop"),
        Binding("v", "cycle_status", "Status", id="sequence.status"),
    ]
    NEEDS = {"add_step": EDIT, "edit_step": EDIT, "remove_step": EDIT, "stop": "activity.log"}

    def __init__(self, sequence_id: int) -> None:
        super().__init__()
        self.sequence_id = sequence_id
        self.sequence: sequences.SequenceRead | None = None
        self.steps: list[sequences.StepRead] = []
        self.status: str | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("Loading…", id="sequence-head", markup=False)
        yield Static("", id="sequence-funnel", markup=False)
        yield DataTable(id="sequence-steps", cursor_type="row", zebra_stripes=True)
        yield KeysetTable(self._columns(), noun="enrolments", id="sequence-enrollments", counted=False,
                          empty_text="No one enrolled yet: E on a contact, or b on marked contacts, "
                                     "or crm sequence enroll NAME --list LIST.")
        yield from self.compose_frame_bottom()

    def _columns(self) -> list[Column]:
        zone = get_zone(self.app.actor.timezone)
        return [
            Column("Contact", lambda r: r.contact, ratio=2),
            Column("Status", enrollment_status, width=20),
            Column("Next", lambda r: f"step {r.next_position}" if r.next_position else "—", width=7),
            Column("Due", lambda r: fmt.when(r.next_due_at, self.app.now(), zone) if r.next_position else "—",
                   width=16),
        ]

    def on_mount(self) -> None:
        table = self.query_one("#sequence-steps", DataTable)
        for label, key, width in (("#", "position", 2), ("Kind", "kind", 5), ("After", "delay", 10),
                                  ("What", "what", 48)):
            table.add_column(label, key=key, width=width)
        table.border_title = "Steps"
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load()
        self._enrollments().load(self._fetch(), keep_position=True)

    def _enrollments(self) -> KeysetTable:
        return self.query_one("#sequence-enrollments", KeysetTable)

    def _fetch(self):
        db, actor, sid, status = self.app.db, self.app.actor, self.sequence_id, self.status

        def fetch(*, after, before, limit, with_total):
            with db.read() as session:
                return sequence_views.enrollments_window(session, actor, sid, status=status, after=after,
                                                         before=before, limit=limit)
        return fetch

    @work(thread=True, exclusive=True, group="sequence-load", exit_on_error=False)
    def _load(self) -> Outcome:
        with self.app.db.read() as session:
            sequence = sequences.get_sequence(session, self.app.actor, self.sequence_id)
            steps = sequences.steps(session, self.sequence_id)
        return Outcome(self._show, sequence, steps)

    def _show(self, sequence: sequences.SequenceRead, steps: list[sequences.StepRead]) -> None:
        self.sequence, self.steps = sequence, steps
        whose = "team" if sequence.shared else f"{sequence.owner or '?'}'s"
        archived = " · archived" if sequence.archived else ""
        self.query_one("#sequence-head", Static).update(
            f"{sequence.name} — {whose} · {sequence.window} · ≤{sequence.daily_cap}/day per sender{archived}")
        shown = f" · showing {self.status}" if self.status else ""
        self.query_one("#sequence-funnel", Static).update(funnel_text(sequence.funnel) + shown)
        table = self.query_one("#sequence-steps", DataTable)
        where = table.cursor_row
        table.clear()
        for s in steps:
            days = f"+{s.delay_days} day{'s' if s.delay_days != 1 else ''}"
            table.add_row(*(Text(c, no_wrap=True) for c in (str(s.position), s.kind, days, step_text(s))),
                          key=str(s.id))
        if steps:
            table.move_cursor(row=min(max(where, 0), len(steps) - 1), animate=False)
        table.border_subtitle = "" if steps else "no steps: press a to add one"
        self._enrollments().border_title = "Enrolled" + (f" ({self.status})" if self.status else "")

    def current_step(self) -> sequences.StepRead | None:
        if not self.steps:
            return None
        row = self.query_one("#sequence-steps", DataTable).cursor_row
        return self.steps[min(max(row, 0), len(self.steps) - 1)]

    # -- steps

    def action_add_step(self) -> None:
        self.app.push_screen(StepForm(self.sequence_id), self._saved)

    def action_edit_step(self) -> None:
        step = self.current_step()
        if step is None:
            self.notify("No step to edit: a adds one.", severity="warning")
            return
        self.app.push_screen(StepForm(self.sequence_id, step), self._saved)

    def action_remove_step(self) -> None:
        step = self.current_step()
        if step is None:
            return
        self.app.push_screen(ConfirmScreen(f"Remove step {step.position} ({step.label})?", "Remove"),
                             lambda yes: self._remove(step) if yes else None)

    @work(thread=True, exclusive=True, group="sequence-save", exit_on_error=False)
    def _remove(self, step: sequences.StepRead) -> Outcome:
        with self.app.db.write() as session:
            sequences.remove_step(session, self.app.actor, self.sequence_id, step.id, version=step.version,
                                  now=self.app.now())
        return Outcome(self._saved, f"Step {step.position} removed")

    def _saved(self, result: Any) -> None:
        if result is not None:
            self.notify(result if isinstance(result, str) else f"Step {result.position} saved", title="Sequence")
            self.app.data_changed()
        self.refresh_data()

    # -- enrolments

    def action_stop(self) -> None:
        row = self._enrollments().current_row
        if row is None or self.focused is not self._enrollments():
            self.notify("Highlight an enrolment in the Enrolled list (tab), then press s.", severity="warning")
            return
        if row.status != "active":
            self.notify(f"{row.contact}'s enrolment is {row.status} already.", severity="warning")
            return
        self.app.push_screen(ConfirmScreen(f"Stop {row.contact}'s enrolment in {row.sequence}?", "Stop"),
                             lambda yes: self._stop(row) if yes else None)

    @work(thread=True, exclusive=True, group="sequence-save", exit_on_error=False)
    def _stop(self, row: sequences.EnrollmentRow) -> Outcome:
        with self.app.db.write() as session:
            done = sequences.stop(session, self.app.actor, row.id, now=self.app.now())
        return Outcome(self._saved, f"Stopped: {done.contact}")

    def action_cycle_status(self) -> None:
        self.status = STATUSES[(STATUSES.index(self.status) + 1) % len(STATUSES)]
        self._enrollments().load(self._fetch())
        self._load()

    @on(KeysetTable.Selected, "#sequence-enrollments")
    def _open_contact(self, event: KeysetTable.Selected) -> None:
        self.app.open_record("contact", event.row.contact_id)

    def action_back(self) -> None:
        self.app.pop_screen()
