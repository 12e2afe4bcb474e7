"""The Inbox: the tasks due, section by section (Overdue, Today, Upcoming, Snoozed, Done recently),
and Planned, the calls and meetings logged ahead of their time; mine or the team's, and the keys
that work through them: complete, snooze, reschedule, assign to a teammate, log a call and
complete, open what a task (or a planned meeting) is about, new task.

The first frame is drawn before SQLAlchemy and the models have loaded: services/start.py reads my
first overdue tasks on the start's plain connection (TaskRow, with TaskRead's fields: the keys take
either). The services load where they are first used, after it; every read or write here waits for
the ORM (`_session`)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from crm_tui.clock import get_zone, in_zone
from crm_tui.screens.base import ReportsWorkerErrors, AreaScreen
from crm_tui.services import sections
from crm_tui.services.start import first_overdue, hold_orm, load_orm, release_orm
from crm_tui.shapes import TaskRow
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable
from crm_tui.widgets.text_line import TextLine

if TYPE_CHECKING:
    from crm_tui.models.schemas import PlannedRead, TaskRead, UserRead

CSS = "inbox.tcss"
SECTIONS = sections.INBOX_SECTIONS
NOTHING_DUE = "Nothing overdue, nothing due today. n adds a task."
EMPTY = {
    "overdue": "Nothing overdue. → shows what is due today.",
    "today": "Nothing else due today. n adds a task.",  # overdue with nothing due today: NOTHING_DUE
    "upcoming": f"Nothing due in the next {sections.UPCOMING_DAYS} days. n adds a task.",
    "planned": "No call or meeting planned. Log one with a time ahead (l on a contact) and it waits here.",
    "snoozed": "Nothing snoozed. z on a task hides it until later.",
    "done": "Nothing done in the last 7 days yet. x completes the highlighted task.",
}
MINE, TEAM = "mine", "team"


# --- what the screen's workers hand back (posted from their threads) --------------------------------


@dataclass
class SectionsCounted(Message, bubble=False):
    """Every section's count, for the bar (fetched with a section's total), for `scope`."""

    counts: dict[str, int]
    planned: int
    scope: str | int
    section: str  # the section whose total came with them


@dataclass
class TaskWritten(Message, bubble=False):
    """A task was completed or reopened: what to tell the person."""

    text: str


@dataclass
class PeopleRead(Message, bubble=False):
    """The active users, for the person picker."""

    people: list[UserRead]


def _session(db, *, write: bool = False) -> AbstractContextManager:
    """A read (or write) session, once the ORM has loaded (services/start.py load_orm: one thread
    at a time imports it; the Inbox's first frame is drawn before)."""
    load_orm()
    return db.write() if write else db.read()


def _tasks():
    """services.tasks, for the keys (with the ORM, if it has not loaded yet)."""
    load_orm()
    from crm_tui.services import tasks

    return tasks


class SectionBar(TextLine):
    """One line: the sections with their counts (the current one highlighted), and whose tasks.
    Styled in inbox.tcss (a widget's DEFAULT_CSS would make Textual parse every stylesheet again
    when the Inbox first opens)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.section = "overdue"
        self.counts: dict[str, int] | None = None
        self.scope_label = "mine"
        self._spans: list[tuple[int, int, str]] = []

    def show(self, *, section: str, counts: dict[str, int] | None, scope_label: str) -> None:
        self.section, self.counts, self.scope_label = section, counts, scope_label
        self.refresh()

    def text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        for name in SECTIONS:
            count = "" if self.counts is None else f" {self.counts.get(name, 0)}"
            label = f" {sections.INBOX_SECTION_TITLES[name]}{count} "
            start = text.cell_len
            if name == self.section:
                style = "reverse bold"
            elif name == "overdue" and self.counts and self.counts.get("overdue"):
                style = "bold red"
            else:
                style = ""
            text.append(label, style=style)
            self._spans.append((start, text.cell_len, name))
            text.append("·" if name != SECTIONS[-1] else "", style="dim")
        who = f"{self.scope_label} "
        room = self.size.width - text.cell_len
        if room > len(who) + 1:
            text.append(who.rjust(room), style="italic")
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, name in self._spans:
            if start <= event.x < end:
                screen = self.screen
                if isinstance(screen, InboxScreen):
                    screen.show_section(name)
                return


def inbox_columns(screen: InboxScreen, *, team: bool) -> list[Column]:
    zone = screen.zone
    columns = [
        Column("Task", lambda t: f"↻ {t.title}" if t.recurrence else t.title, ratio=3, min_width=12),
        Column("About", lambda t: t.related or "", ratio=2, min_width=8),
        Column("Due", lambda t: screen.when_text(t), width=17),
        Column("At", lambda t: fmt.stamp(t.due_at, zone) if t.due_at else "", width=16, hide_below=110),
        Column("Origin", lambda t: sections.origin_label(t), width=10),
    ]
    if team:
        columns.insert(2, Column("Who", lambda t: t.assignee_login or "", width=8))
    return columns


def planned_columns(screen: InboxScreen, *, team: bool) -> list[Column]:
    """Planned's rows are activities: what, what about, when in the user's zone, and how long."""
    zone = screen.zone
    columns = [
        Column("Planned", lambda a: f"{a.kind}: {a.subject}" if a.subject else a.kind, ratio=3, min_width=12),
        Column("About", lambda a: a.related or "", ratio=2, min_width=8),
        Column("When", lambda a: fmt.when(a.occurred_at, screen.app.now(), zone), width=17),
        Column("At", lambda a: fmt.stamp(a.occurred_at, zone), width=16, hide_below=110),
        Column("Length", lambda a: f"{a.duration_minutes} min" if a.duration_minutes else "", width=10),
    ]
    if team:
        columns.insert(2, Column("Who", lambda a: a.user_login or "", width=8))
    return columns


class InboxScreen(AreaScreen):
    AREA = "inbox"
    CSS_PATH = CSS
    AUTO_FOCUS = "#inbox-list"
    BINDINGS = [
        Binding("x", "complete", "Done", id="inbox.complete"),
        Binding("z", "snooze", "Snooze", id="inbox.snooze"),
        Binding("r", "reschedule", "Reschedule", id="inbox.reschedule"),
        Binding("c", "log_call", "Call+done", id="inbox.log_call"),
        Binding("n", "new_task", "New", id="inbox.new"),
        # after New: on an 80-column key bar it is Assign that gives way (? lists every key)
        Binding("a", "assign", "Assign", id="inbox.assign"),
        Binding("t", "toggle_team", "Mine/team", id="inbox.team"),
        Binding("u", "pick_person", "Teammate", show=False, id="inbox.person"),
        Binding("right,l", "section(1)", "Next section", show=False, id="inbox.next_section"),
        Binding("left,h", "section(-1)", "Previous section", show=False, id="inbox.prev_section"),
    ]
    NEEDS = {**{action: "task.edit" for action in ("complete", "snooze", "reschedule", "log_call", "new_task")},
             "assign": "task.assign"}
    # the keys that work on a task, not on a planned meeting: off the key bar in Planned
    ON_A_TASK = ("complete", "snooze", "reschedule", "log_call", "assign")

    def __init__(self) -> None:
        super().__init__()
        self.section = "overdue"
        self.scope: str | int = MINE  # MINE, TEAM, or a teammate's user id
        self.scope_login = ""
        self.counts: dict[str, int] | None = None  # the task sections'
        self.planned: int | None = None  # how many calls and meetings are planned
        self._columns: tuple[bool, bool] | None = None  # (the team's, planned) the columns are for
        self._auto_pick = True
        self._away = False
        self._zone = None
        hold_orm()  # a worker loading the ORM meanwhile would slow the first frame (released on mount)

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield SectionBar(id="inbox-sections")
        table = KeysetTable(inbox_columns(self, team=False), noun="overdue", id="inbox-list",
                            empty_text=EMPTY["overdue"])
        self._first_fetch = self.fetcher()
        # the first page is fetched while the screen mounts (on the spot, from a local database)
        table.preload(self._first_fetch, here=self.app.db.local_reads)
        yield self.focused_at_start(table)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self._columns = (False, False)
        self._auto_pick = True  # until the first counts: open on the first section with something in it
        self.reload(fetch=self._first_fetch)
        self.call_after_refresh(release_orm)

    def on_screen_suspend(self) -> None:
        # a dialog's save refreshes through app.data_changed(); another area or screen may take long
        self._away = not isinstance(self.app.screen, ModalScreen)

    def on_screen_resume(self) -> None:
        if self._away and self.table.total is not None:  # back again: what is due has moved on
            self._away = False
            self.refresh_data()

    @property
    def table(self) -> KeysetTable:
        return self.query_one("#inbox-list", KeysetTable)

    # --- whose tasks, which section ------------------------------------------------------------

    @property
    def assignee_id(self) -> int | None:
        if self.scope == MINE:
            return self.app.actor.user_id
        return None if self.scope == TEAM else int(self.scope)

    def scope_label(self) -> str:
        if self.scope == MINE:
            return "mine"
        return "whole team" if self.scope == TEAM else f"{self.scope_login}'s"

    def _show_bar(self) -> None:
        counts = None if self.counts is None else {**self.counts, sections.PLANNED: self.planned or 0}
        self.query_one(SectionBar).show(section=self.section, counts=counts, scope_label=self.scope_label())

    def fetcher(self):
        """What the table calls (in a thread) for a page of the section. The rows come first; then
        the table asks for its total, which brings every section's count in one query for the bar."""
        app, section, assignee_id = self.app, self.section, self.assignee_id
        zone, now, scope = get_zone(app.actor.timezone), app.now(), self.scope

        first = section == "overdue" and scope == MINE and assignee_id is not None

        def fetch(*, after, before, limit, with_total):
            if first and after is None and before is None and not with_total:
                # the first page as the app opens: no ORM needed (None once the start is over)
                page = first_overdue(app.db, assignee_id=assignee_id, now=now, limit=limit)
                if page is not None:
                    return page
            with _session(app.db) as session:
                from crm_tui.services import inbox, tasks

                page = inbox.inbox_page(session, section=section, assignee_id=assignee_id, zone=zone, now=now,
                                        after=after, before=before, limit=limit)
                if with_total:
                    fresh = tasks.inbox_counts(session, assignee_id=assignee_id, zone=zone, now=now)
                    planned = inbox.planned_count(session, user_id=assignee_id, now=now)
                    page.total = planned if section == sections.PLANNED else fresh[section]
                    self.post_message(SectionsCounted(fresh, planned, scope, section))
            return page
        return fetch

    @on(SectionsCounted)
    def _counted(self, counted: SectionsCounted) -> None:
        counts, planned, section = counted.counts, counted.planned, counted.section
        if counted.scope != self.scope:
            return
        self.counts, self.planned = counts, planned
        if self._auto_pick and section == self.section:
            self._auto_pick = False
            found = {**counts, sections.PLANNED: planned}
            first = next((name for name in ("overdue", "today", "upcoming", sections.PLANNED) if found[name]),
                         self.section)
            if first != self.section:
                self.show_section(first)
                return
        if section == self.section == "overdue" and not counts.get("today"):
            self.table.empty_text = NOTHING_DUE  # "→ shows what is due today" would lead to nothing
            self.table.refresh()
        self._show_bar()

    def reload(self, *, keep_position: bool = False, fetch=None) -> None:
        table = self.table
        layout = (self.scope != MINE, self.section == sections.PLANNED)
        if layout != self._columns:
            self._columns = layout
            team, planned = layout
            table.columns = (planned_columns if planned else inbox_columns)(self, team=team)
            table.notify_style_update()  # the column widths are worked out again
        table.noun = f"{sections.INBOX_SECTION_TITLES[self.section]} · {self.scope_label()}"
        table.empty_text = EMPTY[self.section]
        table.load(fetch or self.fetcher(), keep_position=keep_position)
        self._show_bar()

    def refresh_data(self) -> None:
        self.reload(keep_position=True)

    def show_section(self, section: str) -> None:
        self._auto_pick = False
        if section != self.section:
            self.section = section
            self.reload()
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.ON_A_TASK and self.section == sections.PLANNED:
            return False
        return super().check_action(action, parameters)

    def action_section(self, step: int) -> None:
        index = SECTIONS.index(self.section)
        self.show_section(SECTIONS[(index + step) % len(SECTIONS)])

    def set_scope(self, scope: str | int, login: str = "") -> None:
        self.scope, self.scope_login = scope, login
        self.counts = self.planned = None
        self._auto_pick = False
        self.reload()

    def action_toggle_team(self) -> None:
        self.set_scope(TEAM if self.scope == MINE else MINE)

    def action_pick_person(self) -> None:
        def picked(choice: tuple[str | int, str] | None) -> None:
            if choice is not None:
                self.set_scope(*choice)

        self.app.push_screen(PersonPicker(), picked)

    # --- how a row reads ----------------------------------------------------------------------

    @property
    def zone(self):
        """The user's zone, looked up once (rows are drawn many times)."""
        if self._zone is None:
            self._zone = get_zone(self.app.actor.timezone)
        return self._zone

    def when_text(self, task: TaskRead) -> str:
        now, zone = self.app.now(), self.zone
        if task.done_at is not None:
            return f"done {fmt.when(task.done_at, now, zone)}"
        if task.snoozed_until is not None and task.snoozed_until > now:
            local = in_zone(task.snoozed_until, zone)
            near = (local.date() - now.astimezone(zone).date()).days < 6
            return f"until {local:%a %H:%M}" if near else f"until {local:%d %b}"
        return sections.due_phrase(task.due_at, now)

    def highlighted(self) -> TaskRead | TaskRow | None:
        row = self.table.current_row
        if _is_task(row):
            return row
        if row is not None:  # a PlannedRead
            self.notify(f"A planned {row.kind} is not a task: it counts as contact when its time comes. "
                        "Enter opens what it is about.", severity="warning")
        else:
            self.notify("No task is highlighted.", severity="warning")
        return None

    # --- the actions ----------------------------------------------------------------------------

    def action_complete(self) -> None:
        task = self.highlighted()
        if task is not None:
            self._complete(task)

    @work(thread=True, group="inbox-action", exit_on_error=False)
    def _complete(self, task: TaskRead) -> None:
        app, tasks = self.app, _tasks()
        with _session(app.db, write=True) as session:
            if task.done_at is not None:  # x on a done task takes it back
                reopened = tasks.reopen_task(session, task_id=task.id, version=task.version, actor=app.actor,
                                             now=app.now())
                message = f"Reopened “{reopened.title}”."
            else:
                done, following = tasks.complete_task(session, task_id=task.id, version=task.version,
                                                       actor=app.actor, now=app.now())
                message = self._done_message(done, following)
        self.post_message(TaskWritten(message))  # after the commit, so the reload sees it

    def _done_message(self, done: TaskRead, following: TaskRead | None) -> str:
        if following is None or following.due_at is None:
            return f"Done: “{done.title}”."
        zone = get_zone(self.app.actor.timezone)
        return f"Done: “{done.title}”. Next one due {fmt.stamp(following.due_at, zone)}."

    @on(TaskWritten)
    def _task_written(self, written: TaskWritten) -> None:
        self._changed(written.text)

    def _changed(self, message: str) -> None:
        self.notify(message)
        self.app.data_changed()

    def action_snooze(self) -> None:
        task = self.highlighted()
        if task is None:
            return
        if task.done_at is not None:
            self.notify("That task is done; x reopens it.", severity="warning")
            return
        presets = _tasks().snooze_presets(now=self.app.now(), zone=get_zone(self.app.actor.timezone))
        from crm_tui.screens.inbox.dialogs import WhenForm  # the forms load when a dialog first opens

        self.app.push_screen(WhenForm(task, "snooze", presets), self._saved_when)

    def action_reschedule(self) -> None:
        task = self.highlighted()
        if task is None:
            return
        now, zone = self.app.now(), get_zone(self.app.actor.timezone)
        presets = [(label, when) for label, when in _tasks().snooze_presets(now=now, zone=zone) if label != "1 hour"]
        from crm_tui.screens.inbox.dialogs import WhenForm

        self.app.push_screen(WhenForm(task, "reschedule", presets), self._saved_when)

    def _saved_when(self, task: TaskRead | None) -> None:
        if task is None:
            return
        zone = get_zone(self.app.actor.timezone)
        if task.snoozed_until is not None:
            self._changed(f"Snoozed “{task.title}” until {fmt.stamp(task.snoozed_until, zone)}.")
        else:
            self._changed(f"“{task.title}” is now due {fmt.stamp(task.due_at, zone)}.")

    def action_assign(self) -> None:
        task = self.highlighted()
        if task is None:
            return

        def done(saved: TaskRead | None) -> None:
            if saved is not None:
                self._changed(f"Gave “{saved.title}” to {saved.assignee_login or 'nobody'}.")

        from crm_tui.screens.inbox.dialogs import AssignForm

        self.app.push_screen(AssignForm(task), done)

    def action_log_call(self) -> None:
        task = self.highlighted()
        if task is None:
            return
        if task.done_at is not None:
            self.notify("That task is done already.", severity="warning")
            return
        if not (task.contact_id or task.deal_id or task.company_id):
            self.notify("This task is about no contact, deal or company to log a call with; x completes it.",
                        severity="warning")
            return

        def done(result) -> None:
            if result:
                activity, follow, completed, following = result
                extra = f" Follow-up “{follow.title}” added." if follow is not None else ""
                self._changed(f"Logged the {activity.kind}. {self._done_message(completed, following)}{extra}")

        from crm_tui.screens.inbox.dialogs import LogAndCompleteForm

        self.app.push_screen(LogAndCompleteForm(task), done)

    def action_new_task(self) -> None:
        def done(task: TaskRead | None) -> None:
            if task is not None:
                self._changed(f"Added the task “{task.title}”.")

        from crm_tui.screens.forms import TaskForm

        self.app.push_screen(TaskForm(), done)

    @on(KeysetTable.Selected, "#inbox-list")
    def open_related(self, event: KeysetTable.Selected) -> None:
        """Enter: what the task (or the planned meeting) is about: the deal, else the contact, else
        the company."""
        task: TaskRead | PlannedRead = event.row
        if task.deal_id is not None:
            self.app.open_record("deal", task.deal_id)
        elif task.contact_id is not None:
            self.app.open_record("contact", task.contact_id)
        elif task.company_id is not None:
            self.app.open_record("company", task.company_id)
        else:
            what = "task" if _is_task(task) else task.kind
            self.notify(f"This {what} is not about a contact, deal or company.", severity="warning")


# --- whose tasks (the forms' dialogs are in dialogs.py: the forms load when one first opens) --------


class PersonPicker(ReportsWorkerErrors, ModalScreen[tuple[str | int, str] | None]):
    """Whose tasks the Inbox shows: mine, the whole team's, or one teammate's."""

    CSS_PATH = CSS
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="inbox_person.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="person-dialog"):
            yield Label("Whose tasks?", id="person-title")
            yield OptionList(Option("Mine", id=MINE), Option("Whole team", id=TEAM), id="person-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._load(self.app)

    @work(thread=True, exclusive=True, group="inbox-people", exit_on_error=False)
    def _load(self, app) -> None:
        with _session(app.db) as session:
            from crm_tui.services import users

            people = users.list_users(session, include_inactive=False)
        self.post_message(PeopleRead(people))

    @on(PeopleRead)
    def _loaded(self, read: PeopleRead) -> None:
        from crm_tui.screens.forms import _user_label  # loaded with the forms, after the Inbox's first frame

        people, me = read.people, self.app.actor.user_id
        self.logins = {u.id: u.login for u in people}
        self.query_one(OptionList).add_options([Option(_user_label(u), id=str(u.id)) for u in people if u.id != me])

    @on(OptionList.OptionSelected, "#person-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        choice = event.option.id
        if choice in (MINE, TEAM):
            self.dismiss((choice, ""))
        else:
            user_id = int(choice)
            self.dismiss((user_id, self.logins.get(user_id, f"#{user_id}")))


def _is_task(row) -> bool:
    """A task's row (a TaskRead, or the TaskRow of the first frame), not a planned activity's."""
    return row is not None and hasattr(row, "origin")
