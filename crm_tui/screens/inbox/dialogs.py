"""The Inbox's dialogs on a task: snooze or reschedule, assign, log a call and complete. Apart from
the Inbox (screen.py), so that its first frame waits for none of the forms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from crm_tui.clock import get_zone
from crm_tui.errors import InvalidInput
from crm_tui.models.schemas import ActivityRead, TaskRead
from crm_tui.screens.forms import CSS as FORMS_CSS
from crm_tui.screens.forms import (
    FormScreen,
    LogActivityForm,
    _field,
    _input,
    pick_id,
    picked,
    past_due_question,
    user_picker,
)
from crm_tui.services import tasks
from crm_tui.services.common import Actor

CSS = "inbox.tcss"


class WhenForm(FormScreen[TaskRead | None]):
    """Snooze or reschedule a task: a preset, or a time typed the way people say it, read in the
    user's zone ("+2d", "fri 3pm", "2026-12-01 10:00"). Typing while on the presets goes to the box."""

    CSS_PATH = [FORMS_CSS, CSS]
    HINT = "enter picks · type a time · esc cancel"

    def __init__(self, task: TaskRead, mode: str, presets: list[tuple[str, datetime]]) -> None:
        super().__init__()
        self.for_task = task
        self.mode = mode  # "snooze" or "reschedule"
        self.presets = presets
        self.preset: datetime | None = None

    def form_title(self) -> str:
        verb = "Snooze" if self.mode == "snooze" else "Reschedule"
        return f"{verb} · {self.for_task.title}"

    def compose_fields(self) -> ComposeResult:
        zone = get_zone(self.app.actor.timezone)
        options = [Option(f"{label:<16} {when.astimezone(zone):%a %d %b %H:%M}", id=str(i))
                   for i, (label, when) in enumerate(self.presets)]
        yield OptionList(*options, id="when-presets", compact=True)
        label = "Until" if self.mode == "snooze" else "Due"
        # no select-on-focus: the key that moved focus here is already in the box
        yield _field(label, _input("when", placeholder="or type: +2d, fri 3pm, 2026-12-01 10:00",
                                   select_on_focus=False))

    def on_mount(self) -> None:  # FormScreen.on_mount runs too: Textual calls each class's handler
        presets = self.query_one("#when-presets", OptionList)
        if self.presets:
            presets.highlighted = 0
            presets.focus()
        else:
            presets.display = False
            self.query_one("#when", Input).focus()

    def on_key(self, event: events.Key) -> None:
        """A printable key on the presets starts typing a time instead."""
        if isinstance(self.focused, OptionList) and event.character and event.is_printable \
                and event.character != " ":
            event.stop()
            event.prevent_default()
            box = self.query_one("#when", Input)
            box.focus()
            box.insert_text_at_cursor(event.character)

    @on(OptionList.OptionSelected, "#when-presets")
    def _preset_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.preset = self.presets[int(event.option.id)][1]
        self.action_save()

    @on(Input.Changed, "#when")
    def _typed(self) -> None:
        self.preset = None

    def values(self) -> dict[str, Any]:
        typed = self.query_one("#when", Input).value.strip()
        return {"when": self.preset if self.preset is not None else typed}

    def confirm_before_save(self, values: dict[str, Any], now: datetime) -> str | None:
        # a snooze into the past is refused outright (snooze_task); a new due date there is asked about
        return past_due_question(values["when"], self.app.actor, now) if self.mode == "reschedule" else None

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> TaskRead:
        when = values["when"]
        if isinstance(when, str):
            when = tasks.parse_due(when, actor=actor, now=now)
        if self.mode == "snooze":
            return tasks.snooze_task(session, task_id=self.for_task.id, until=when, version=self.for_task.version,
                                     actor=actor, now=now)
        return tasks.reschedule_task(session, task_id=self.for_task.id, due_at=when, version=self.for_task.version,
                                     actor=actor, now=now)


class AssignForm(FormScreen[TaskRead | None]):
    """Give a task to a teammate: the same user picker as a contact's or a deal's owner (the active
    users, and the current assignee even when deactivated). Saved with the version the Inbox read."""

    def __init__(self, task: TaskRead) -> None:
        super().__init__()
        self.for_task = task

    def form_title(self) -> str:
        return f"Assign · {self.for_task.title}"

    def compose_fields(self) -> ComposeResult:
        yield _field("Assignee", user_picker("assignee", self.for_task.assignee_id, self.for_task.assignee_login,
                                             empty="choose someone"))

    def on_mount(self) -> None:  # FormScreen.on_mount runs too: Textual calls each class's handler
        self.query_one("#assignee", Input).focus()

    def values(self) -> dict[str, Any]:
        return {"assignee_id": picked(self, "assignee")}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> TaskRead:
        values["assignee_id"] = pick_id(session, "user", values["assignee_id"])
        if values["assignee_id"] is None:
            raise InvalidInput("choose who takes the task")
        if values["assignee_id"] == self.for_task.assignee_id:
            raise InvalidInput(f"{self.for_task.assignee_login} has the task already: choose someone else")
        return tasks.assign_task(session, task_id=self.for_task.id, assignee_id=values["assignee_id"],
                                 version=self.for_task.version, actor=actor, now=now)


class LogAndCompleteForm(LogActivityForm):
    """Log a call about a task and complete the task, in one transaction; the form's follow-up
    fields add the next task."""

    def __init__(self, task: TaskRead) -> None:
        super().__init__(contact_id=task.contact_id, company_id=task.company_id, deal_id=task.deal_id,
                         kind="call", subject_hint=task.title)
        self.for_task = task

    def form_title(self) -> str:
        return f"Log a call · completes “{self.for_task.title}”"

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime
              ) -> tuple[ActivityRead, TaskRead | None, TaskRead, TaskRead | None]:
        # the same session, so one transaction: a refused log leaves the task open, and a task
        # changed meanwhile (Conflict) logs nothing
        done, following = tasks.complete_task(session, task_id=self.for_task.id, version=self.for_task.version,
                                               actor=actor, now=now)
        activity, follow = super().write(session, values, actor=actor, now=now)
        return activity, follow, done, following
