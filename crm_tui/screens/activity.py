"""One logged activity, opened from a timeline (Enter): the whole note, readable at 80 columns and
scrollable, with `e` to correct its subject, outcome and notes and `d` to delete it (asked first).
The screens that show a timeline mix in `ActivityOpener`: it opens this dialog (or, for an email the
CRM stored, the email's thread: screens/mail/thread.py, through the app) and, after a delete, says so
in a toast and offers `u` to bring the activity back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static, TextArea

from crm_tui.clock import get_zone
from crm_tui.models.schemas import ActivityRead
from crm_tui.screens.base import Outcome, ReportsWorkerErrors, RoleGate
from crm_tui.screens.forms import CSS as FORMS_CSS
from crm_tui.screens.forms import ConfirmScreen, FormScreen, _field, _input
from crm_tui.services import activities, mail_thread
from crm_tui.services.common import Actor
from crm_tui.widgets import fmt

CSS = FORMS_CSS


def _history(activity: ActivityRead) -> bool:
    """A stage change or a system event: the record's history, neither edited nor deleted."""
    return activity.kind not in {kind.value for kind in activities.LOGGABLE}


class ActivityScreen(RoleGate, ReportsWorkerErrors, ModalScreen[tuple[str, ActivityRead] | None]):
    """Dismisses with ("deleted", activity), ("edited", activity), or None when nothing changed."""

    CSS_PATH = CSS
    AUTO_FOCUS = "#activity-body"
    BINDINGS = [
        Binding("escape,q", "close", "Close", id="activity.close"),
        Binding("e", "edit", "Edit", id="activity.edit"),
        Binding("d,delete", "delete", "Delete", id="activity.delete"),
    ]
    NEEDS = {"edit": "activity.log", "delete": "activity.log"}

    def __init__(self, activity: ActivityRead) -> None:
        super().__init__()
        self.activity = activity
        self.edited = False

    def compose(self) -> ComposeResult:
        with Vertical(id="activity-dialog"):
            yield Static(id="activity-head")
            with VerticalScroll(id="activity-body"):
                yield Static(id="activity-notes")
            hint = "↑↓ scroll · e edit · d delete · esc close"
            if _history(self.activity):
                hint = "↑↓ scroll · esc close · part of the record's history"
            yield Label(hint, id="activity-hint")

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        a = self.activity
        zone = get_zone(self.app.actor.timezone)
        facts = " · ".join(x for x in (a.direction, f"{a.duration_minutes} min" if a.duration_minutes else None,
                                       a.outcome) if x)
        # the markup is ours; each $value goes in as plain text, never read as markup
        head = Content.from_markup(
            "[b]$kind[/b]  $when  [dim]by[/dim] $by" + ("  [dim]with[/dim] $contact" if a.contact_name else "")
            + "\n[b]$subject[/b]" + ("\n[dim]$facts[/dim]" if facts else ""),
            kind=a.kind.replace("_", " ").capitalize(), when=fmt.stamp(a.occurred_at, zone),
            by=a.user_login or "—", contact=a.contact_name or "", subject=a.subject or "(no subject)", facts=facts)
        self.query_one("#activity-head", Static).update(head)
        self.query_one("#activity-notes", Static).update(Content(a.body or "(no notes)"))

    def _refuse_history(self, verb: str) -> bool:
        if _history(self.activity):
            what = "A stage change" if self.activity.kind == "stage_change" else "A system event"
            self.notify(f"{what} is part of the record's history: it cannot be {verb}.", severity="warning")
            return True
        return False

    def action_close(self) -> None:
        self.dismiss(("edited", self.activity) if self.edited else None)

    def action_edit(self) -> None:
        if self._refuse_history("edited"):
            return

        def saved(activity: ActivityRead | None) -> None:
            if activity is not None:
                self.activity, self.edited = activity, True
                self._show()

        self.app.push_screen(ActivityEditForm(self.activity), saved)

    def action_delete(self) -> None:
        if self._refuse_history("deleted"):
            return
        a = self.activity
        what = f"the {a.kind}" + (f" “{a.subject}”" if a.subject else "")

        def answer(yes: bool | None) -> None:
            if yes:
                self._delete(a.id, a.version)

        self.app.push_screen(ConfirmScreen(f"Delete {what}? u undoes it.", "Delete"), answer)

    @work(thread=True, exclusive=True, group="activity-delete", exit_on_error=False)
    def _delete(self, activity_id: int, version: int) -> Outcome:
        with self.app.db.write() as session:
            deleted = activities.delete_activity(session, activity_id=activity_id, version=version,
                                                 actor=self.app.actor, now=self.app.now())
        return Outcome(self.dismiss, ("deleted", deleted))


class ActivityEditForm(FormScreen[ActivityRead | None]):
    """Correct an activity's subject, outcome and notes (saved with the version it was opened at)."""

    def __init__(self, activity: ActivityRead) -> None:
        super().__init__()
        self.activity = activity

    def form_title(self) -> str:
        return f"Edit {self.activity.kind} #{self.activity.id}"

    def compose_fields(self) -> ComposeResult:
        a = self.activity
        yield _field("Subject", _input("subject", a.subject))
        yield _field("Outcome", _input("outcome", a.outcome, placeholder="e.g. left voicemail"))
        yield _field("Notes", TextArea(a.body or "", id="notes", compact=True, soft_wrap=True))

    def values(self) -> dict[str, Any]:
        return {"subject": self.query_one("#subject", Input).value.strip(),
                "outcome": self.query_one("#outcome", Input).value.strip(),
                "body": self.query_one("#notes", TextArea).text}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> ActivityRead:
        return activities.update_activity(session, activity_id=self.activity.id, version=self.activity.version,
                                          actor=actor, now=now, **values)


class ActivityOpener:
    """Mixed into a screen with a timeline table: `open_activity(row)` on Enter; after a delete, a
    toast offers `u` (the screen binds it to `undo_activity_delete()`)."""

    _deleted_activity: int | None = None

    def open_activity(self, activity: ActivityRead) -> None:
        """An email opens its thread (when the CRM stored the message, not just logged it by hand);
        anything else opens the activity dialog."""
        if activity.kind == "email":
            self._open_email(activity)
            return
        self.app.push_screen(ActivityScreen(activity), self._activity_closed)

    @work(thread=True, exclusive=True, group="activity-thread", exit_on_error=False)
    def _open_email(self, activity: ActivityRead) -> Outcome:
        app = self.app
        with app.db.read() as session:
            email_id = mail_thread.email_of_activity(session, activity_id=activity.id)
            page = None if email_id is None else mail_thread.thread_page(session, email_id=email_id,
                                                                          actor=app.actor, limit=mail_thread.PAGE)
        return Outcome(self._show_email, activity, email_id, page)

    def _show_email(self, activity: ActivityRead, email_id: int | None, page) -> None:
        if email_id is None:  # an email logged by hand: there is no message to show
            self.app.push_screen(ActivityScreen(activity), self._activity_closed)
            return
        kind, record_id = getattr(self, "KIND", None), getattr(self, "record_id", None)
        record = (kind, record_id) if kind in ("contact", "company", "deal") and record_id is not None else None
        self.app.open_view("email_thread", activity, email_id, page, record=record, callback=self._activity_closed)

    def _activity_closed(self, result: tuple[str, ActivityRead] | None) -> None:
        if result is None:
            return
        what, activity = result
        if what == "deleted":
            self._deleted_activity = activity.id
            self.notify(f"Deleted the {activity.kind}" + (f" “{activity.subject}”" if activity.subject else "")
                        + ". Press u to undo.")
        self.app.data_changed()

    def undo_activity_delete(self) -> bool:
        """Bring back the activity deleted last here; False when there is none."""
        if self._deleted_activity is None:
            return False
        self._restore_activity(self._deleted_activity)
        return True

    @work(thread=True, exclusive=True, group="activity-restore", exit_on_error=False)
    def _restore_activity(self, activity_id: int) -> Outcome:
        with self.app.db.write() as session:
            activity = activities.restore_activity(session, activity_id=activity_id, actor=self.app.actor,
                                                   now=self.app.now())
        return Outcome(self._activity_restored, activity)

    def _activity_restored(self, activity: ActivityRead) -> None:
        self._deleted_activity = None
        self.notify(f"The {activity.kind} is back.")
        self.app.data_changed()
