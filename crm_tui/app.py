"""The Textual app: the areas of crm_tui/areas.py as app modes (Contacts, Companies, Pipeline, Inbox,
Reports), opening any record for a screen that asks (`open_record`), the command palette, help,
themes, the Inbox count, and the first-run welcome."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState, get_current_worker

from crm_tui.clock import get_zone, utcnow
from crm_tui.compat import StyleWorkOnce, is_exiting
from crm_tui.config import Settings
from crm_tui.commands import CrmCommands
from crm_tui.db import Database
from crm_tui.errors import Conflict, CrmError
from crm_tui.areas import AREAS, BY_MODE, RECORDS, VIEWS
from crm_tui.services import grants
from crm_tui.services.start import load_orm, orm_loaded
from crm_tui.shapes import Actor
from crm_tui.widgets.control_codes import StripControlCodes
from crm_tui.widgets.keys import KeysInOrder

if TYPE_CHECKING:
    from crm_tui.workflows.runner import Tick

INBOX_REFRESH_S = 60
LISTENER_GROUP = "live-listen"  # the one worker that runs for the app's whole life (PostgreSQL's LISTEN)
DARK, LIGHT = "textual-dark", "textual-light"
_STRIP_CONTROL_CODES = StripControlCodes()  # one instance: Textual caches filtered lines by filter



class CrmApp(KeysInOrder, StyleWorkOnce, App[None]):
    TITLE = "crm-tui"
    ENABLE_COMMAND_PALETTE = True
    AREAS = AREAS  # the area bar reads them here
    # each area's screen module (and the services it uses) is imported when the area is first opened
    MODES = {area.mode: (lambda area=area: area.screen()()) for area in AREAS}
    DEFAULT_MODE = AREAS[0].mode
    BINDINGS = [
        *(Binding(area.key, f"area({area.mode!r})", area.title, show=False, id=f"app.{area.mode}") for area in AREAS),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False, id="app.theme"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]
    COMMAND_PALETTE_BINDING = "ctrl+p"
    COMMANDS = App.COMMANDS | {CrmCommands}

    inbox_due: reactive[int] = reactive(0)
    inbox_overdue: reactive[int] = reactive(0)

    def __init__(self, db: Database, actor: Actor, *, settings: Settings | None = None,
                 clock: Callable[[], datetime] | None = None,
                 welcome: bool = True, inbox_refresh_s: float | None = INBOX_REFRESH_S,
                 workflow_interval_s: float | None = None, live_refresh_s: float | None = None,
                 mail_sync_s: float | None = None,
                 theme: str | None = None, remember_theme: Callable[[str], None] | None = None) -> None:
        super().__init__()
        # the theme chosen at the last launch (config.read_theme), and where a new choice is kept
        self._start_theme, self._remember_theme = theme, remember_theme
        self.db = db
        # who acts (services.users.resolve_actor, as for every command) and the config file as the
        # CLI read it once at start: screens and the engine read these, never the file
        self.actor = actor
        self.settings = settings if settings is not None else Settings()
        self._clock = clock or utcnow
        self._welcome = welcome
        self._inbox_refresh_s = inbox_refresh_s
        # the workflow engine: None leaves it off (tests), 0 runs it at start only
        self._workflow_interval_s = workflow_interval_s
        self._workflows_busy = False
        self._workflow_errors_shown: set[str] = set()
        # mail sync on a timer ([mail] sync_minutes; workflows/mail_sync.py): None leaves it off
        self._mail_sync_s = mail_sync_s
        self._mail_busy = False
        self._due_seen_at: datetime | None = None  # the end of the last "what fell due" look
        self._inbox_looks = self._inbox_shown = 0  # the count shown is from the latest look
        # live refresh (teammates' changes): None leaves it off (tests that don't test it)
        self._live_refresh_s = live_refresh_s
        self._live = None  # the watcher of crm_tui/live.py
        self._live_busy = False
        self.live_generation = 0  # one more for every change seen from elsewhere
        self._screen_generation: WeakKeyDictionary[Screen, int] = WeakKeyDictionary()
        # The first frame's key bar and area bar show what the role may do by default (no query
        # stands before it); the role's stored permissions are read right after it and replace
        # these if an admin changed them. The services check every change themselves either way.
        self._capabilities: dict[str, str] = grants.role_defaults(actor)

    # --- the shared services of every screen -------------------------------------------------

    def now(self) -> datetime:
        """The app's clock (frozen in tests); pass it to every service call."""
        return self._clock()

    # --- what the person's role lets them do ------------------------------------------------

    @property
    def capabilities(self) -> dict[str, str]:
        """{action: scope} for the signed-in user: the role's defaults until the stored permissions
        are read (after the first frame), then those; read again when a teammate's change lands,
        since an admin may have changed the role."""
        return self._capabilities

    def _read_capabilities(self) -> dict[str, str]:
        load_orm()  # it loads after the first frame
        from crm_tui.services import permissions

        with self.db.read() as session:
            return permissions.capabilities(session, self.actor)

    def may(self, action: str) -> bool:
        """Whether the user may do `action` on some records (all, or their own). It decides which keys
        and areas are shown; the services decide each change, record by record."""
        return self.capabilities.get(action, grants.NONE) != grants.NONE

    def may_open(self, mode: str) -> bool:
        """Whether the role may open the area (one of the permissions it needs, if it needs any)."""
        needs = BY_MODE[mode].needs
        return not needs or any(self.may(action) for action in needs)

    def set_capabilities(self, found: dict[str, str]) -> None:
        """A newer reading of the role's permissions: keys and areas follow it at once."""
        if found == self._capabilities:
            return
        self._capabilities = found
        for screen in self.screen_stack:
            screen.refresh_bindings()
            for bar in screen.query("AreaBar"):
                bar.refresh()
        if not self.may_open(self.current_mode):
            self.switch_mode(self.DEFAULT_MODE)

    def get_css_variables(self) -> dict[str, str]:
        """The theme's CSS variables, worked out once per theme: Textual works them out again (the
        theme's whole colour system, about half a millisecond) each time an area's screen is first
        made, to see whether the stylesheet needs them anew."""
        theme = self.current_theme
        made = getattr(self, "_css_variables_for", None)
        if made is None or made[0] is not theme:
            made = self._css_variables_for = (theme, super().get_css_variables())
        self.theme_variables = made[1]
        return dict(made[1])

    def get_line_filters(self):
        """Textual's filters, then the one that keeps control characters off the terminal."""
        return [*super().get_line_filters(), _STRIP_CONTROL_CODES]

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every toast, the screens' and widgets' too (theirs come here), is plain text: toasts quote
        people's text (names, titles, errors that echo them), which as markup ended the app ("[/b]")
        or lost words ("[red]"). None of the app's toasts is styled with markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        start = self._start_theme
        # set before the theme is: only a new choice is written
        self._start_theme = start if start in self.available_themes else DARK
        self.theme = self._start_theme
        # the Inbox count, the first-run check and the rules wait for the first frame: their
        # queries would hold up the first screen's own
        self.call_after_refresh(self._start_background_work)

    def _start_background_work(self) -> None:
        if self._going():  # quit (ctrl+q) before the first frame was drawn
            return
        # the first frame is drawn: the ORM loads, in one thread (services/start.py load_orm); the
        # work below follows it. Until it has loaded, an area opened at once (Pipeline) still reads
        # its first page on the start's plain connection.
        if orm_loaded():
            self._start_workers()
        else:
            self._load_orm()

    class OrmLoaded(Message):
        """SQLAlchemy, the models and the shared services are loaded (posted from a worker's thread)."""

    @work(thread=True, exclusive=True, group="load-orm", exit_on_error=False)
    def _load_orm(self) -> None:
        load_orm()
        self.post_message(self.OrmLoaded())

    def on_crm_app_orm_loaded(self, _event: OrmLoaded) -> None:
        if not self._going():
            self._start_workers()

    def _going(self) -> bool:
        """Quitting, or closed: what a worker hands back now goes nowhere (its screens are going)."""
        return is_exiting(self) or not self.is_running

    def _start_workers(self) -> None:
        # the start's plain connection closes (a first page still being read on it finishes first):
        # every read from now on goes through the ORM
        self.db.end_quick_reads()
        self._reread_capabilities()
        self.refresh_inbox_count()
        if self._inbox_refresh_s:
            self.set_interval(self._inbox_refresh_s, lambda: self.refresh_inbox_count(tick=True))
        if self._welcome:
            self.check_first_run()
        if self._workflow_interval_s is not None:
            self.run_workflows()
            if self._workflow_interval_s > 0:
                self.set_interval(self._workflow_interval_s, self.run_workflows)
        if self._live_refresh_s:
            self.start_live_refresh(self._live_refresh_s)
        if self._mail_sync_s:
            self.set_interval(self._mail_sync_s, self.sync_mail)

    def on_unmount(self) -> None:
        if self._live is not None:
            self._live.close()
            self._live = None

    def action_area(self, mode: str) -> None:
        if not self.may_open(mode):
            load_orm()
            from crm_tui.services import permissions

            area = BY_MODE[mode]
            with self.db.read() as session:
                why = permissions.refuse_area(session, self.actor, area.title, area.needs)
            self.notify(why, title="Not for your role", severity="warning")
            return
        if self.current_mode != mode:
            self.switch_mode(mode)
        elif len(self.screen_stack) > 1 and not isinstance(self.screen, ModalScreen):
            # the area's own key over a screen opened in it (a record, the import): back to the area
            if getattr(self.screen, "running", False):
                self.notify("Wait for it to finish, or press esc when it has.", title="Still running")
            else:
                self.pop_screen()

    # --- navigation: screens ask the app, they never import one another ---------------------

    def open_record(self, kind: str, record_id: int, *, in_its_area: bool = False) -> None:
        """Open a contact, company or deal (crm_tui/areas.py RECORDS) over the screen shown, or,
        `in_its_area`, in the record's own area first (the palette's "go to")."""
        record = RECORDS[kind]
        if in_its_area:
            self.action_area(record.area)
        self.push_screen(record.screen()(record_id))

    def open_view(self, name: str, *args: Any, callback: Callable[[Any], object] | None = None,
                  **kwargs: Any) -> None:
        """Open one of crm_tui/areas.py VIEWS (an email's thread, say) over the screen shown: a
        shared screen asks for it by name, and never imports the package it lives in."""
        self.push_screen(VIEWS[name]()(*args, **kwargs), callback)

    def watch_theme(self, theme: str) -> None:
        """A theme chosen (ctrl+t, or the palette's "Change theme") is the next launch's too."""
        if self._remember_theme is not None and theme != self._start_theme:
            self._start_theme = theme
            self._remember_theme(theme)

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_help(self) -> None:
        from crm_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    # --- background work --------------------------------------------------------------------

    def refresh_inbox_count(self, *, tick: bool = False) -> None:
        """The count beside Inbox in the bar, and a toast naming each of the user's tasks that fell
        due since the last look. On a timer tick the Inbox on screen reloads too (a rule on a
        teammate's machine may have added tasks)."""
        now = self.now()
        since, self._due_seen_at = self._due_seen_at, now
        self._inbox_looks += 1
        self._count_inbox(now, since if since is not None and since < now else None, tick, self._inbox_looks)

    # not exclusive: a cancelled look would lose its window of tasks that fell due
    @work(thread=True, group="inbox-count", exit_on_error=False)
    def _count_inbox(self, now: datetime, since: datetime | None, tick: bool, look: int) -> None:
        from crm_tui.services import tasks

        with self.db.read() as session:
            counts = tasks.task_counts(session, assignee_id=self.actor.user_id,
                                       zone=get_zone(self.actor.timezone), now=now)
            fell_due = (tasks.due_between(session, assignee_id=self.actor.user_id, since=since, until=now)
                        if since is not None else ([], 0))
        self.post_message(self.InboxCounted(counts["overdue"], counts["today"], look, fell_due, tick))

    @dataclass
    class InboxCounted(Message):
        """The user's overdue and due-today tasks, and those that fell due since the last look."""

        overdue: int
        today: int
        look: int  # which look this is (a late, older one loses)
        fell_due: tuple[list, int]  # (the tasks to name, how many fell due in all)
        tick: bool  # a timer's look: the Inbox on screen reloads too

    def on_crm_app_inbox_counted(self, counted: InboxCounted) -> None:
        if self._going():
            return
        if counted.look >= self._inbox_shown:  # a late, older look loses
            self._inbox_shown = counted.look
            self.inbox_overdue = counted.overdue
            self.inbox_due = counted.overdue + counted.today
        tick, (shown, total) = counted.tick, counted.fell_due
        for task in shown:
            about = f" ({task.related})" if task.related else ""
            self.notify(f"{task.title}{about}", title="Task due", timeout=10)
        if total > len(shown):
            self.notify(f"and {total - len(shown)} more: see the Inbox (4)", title="Tasks due", timeout=10)
        if tick and self.current_mode == "inbox":  # the Inbox's own screen is its mode's first
            self.screen_stack[0].refresh_data()

    @work(thread=True, exclusive=True, group="first-run", exit_on_error=False)
    def check_first_run(self) -> None:
        from crm_tui.services import contacts

        with self.db.read() as session:
            empty = not contacts.list_contacts(session, limit=1, now=self.now()).items
        if empty:
            self.post_message(self.FoundEmpty())

    class FoundEmpty(Message):
        """The first-run check found no contact: the welcome offers demo data."""

    def on_crm_app_found_empty(self, _event: FoundEmpty) -> None:
        if self._going():
            return
        from crm_tui.screens.welcome import WelcomeScreen

        self.push_screen(WelcomeScreen())

    def run_workflows(self) -> None:
        """Run the workflow engine in a thread (at start and on the timer); a tick that finds the
        previous run still going is skipped."""
        if not self._workflows_busy:
            self._workflows_busy = True
            self._run_workflows(self.now())

    @work(thread=True, group="workflows", exit_on_error=False)
    def _run_workflows(self, now: datetime) -> None:
        from crm_tui.workflows.runner import app_tick

        try:
            tick = app_tick(self.db, actor=self.actor, now=now, settings=self.settings)
        finally:
            self._workflows_busy = False
        self.post_message(self.WorkflowsRan(tick))

    @dataclass
    class WorkflowsRan(Message):
        """One run of the workflow engine: its notifications and its report."""

        tick: Tick

    def on_crm_app_workflows_ran(self, ran: WorkflowsRan) -> None:
        if self._going():
            return
        tick = ran.tick
        for note in tick.notifications:
            self.notify(note.body or (f"from rule {note.rule}" if note.rule else ""), title=note.title, timeout=10)
        problems = [str(e) for e in tick.report.rule_errors]
        problems += [f"rule {f.rule!r} failed on {f.label}: {f.error}" for f in tick.report.failed]
        for problem in problems:
            if problem not in self._workflow_errors_shown:
                self._workflow_errors_shown.add(problem)
                self.notify(problem, title="Workflow rules", severity="warning", timeout=10)
        if tick.report.changed or tick.notifications:
            self.data_changed()

    def sync_mail(self) -> None:
        """Sync the user's mailbox in a thread (on the timer); a tick that finds the last still going skips."""
        if not self._mail_busy:
            self._mail_busy = True
            self._sync_mail(self.now())

    @work(thread=True, group="mail-sync", exit_on_error=False)
    def _sync_mail(self, now: datetime) -> None:
        from crm_tui.workflows.mail_sync import app_sync

        try:
            report = app_sync(self.db, actor=self.actor, settings=self.settings, now=now)
        finally:
            self._mail_busy = False
        self.post_message(self.MailSynced(report))

    @dataclass
    class MailSynced(Message):
        """One timer sync of the user's mailbox: what it stored, or why it could not."""

        report: Any

    def on_crm_app_mail_synced(self, synced: MailSynced) -> None:
        if self._going():
            return
        report = synced.report
        if report.error and report.error not in self._workflow_errors_shown:
            self._workflow_errors_shown.add(report.error)
            self.notify(report.error, title="Mail sync", severity="warning", timeout=10)
        if report.total.stored:
            self.data_changed()

    def data_changed(self) -> None:
        """Something was saved: refresh what every area shows of it."""
        self.refresh_inbox_count()
        for screen in self.screen_stack:
            refresh = getattr(screen, "refresh_data", None)
            if refresh is not None:
                refresh()

    # --- live refresh: what teammates save shows up without a keypress -----------------------

    class ChangedElsewhere(Message):
        """Another process committed to the database (posted from a watcher's thread)."""

    def start_live_refresh(self, interval_s: float) -> None:
        """SQLite: look at data_version every interval (in a worker). PostgreSQL: a worker LISTENs."""
        from crm_tui.live import watcher_for

        self._live = watcher_for(self.db, lambda: self.post_message(self.ChangedElsewhere()), interval_s=interval_s)
        if self._live is None:
            return
        self.screen_change_signal.subscribe(self, self._screen_shown)
        if self._live.polled:
            self.set_interval(interval_s, self._poll_changes)
        else:
            self._listen(self._live)

    @work(thread=True, group=LISTENER_GROUP, exit_on_error=False)
    def _listen(self, listener) -> None:
        """PostgreSQL's LISTEN, for the app's whole life: cancelled as the app closes (Textual
        cancels its workers), it returns within live.IDLE_WAIT_S, so the app's exit never waits
        on a thread blocked on the socket."""
        worker = get_current_worker()
        listener.run(stopped=lambda: worker.is_cancelled)

    def _poll_changes(self) -> None:
        if not self._live_busy and self._live is not None:  # a slow look still going: skip this tick
            self._live_busy = True
            self._look_for_changes(self._live)

    @work(thread=True, group="live-refresh", exit_on_error=False)
    def _look_for_changes(self, watcher) -> None:
        try:
            changed = watcher.check()
        finally:
            self._live_busy = False
        if changed:
            self.post_message(self.ChangedElsewhere())

    def on_crm_app_changed_elsewhere(self, _event: ChangedElsewhere) -> None:
        self.live_changed()

    def live_changed(self) -> None:
        """A teammate saved something: reload what is on screen now (each screen's refresh_data keeps
        its cursor and scroll); a screen out of sight reloads when it is shown again."""
        self.live_generation += 1
        self.refresh_inbox_count()
        self._reread_capabilities()
        shown = self._shown_screens()
        for mode in self.MODES:
            try:
                stack = self.get_screen_stack(mode)
            except KeyError:  # an area not opened yet
                continue
            for screen in stack:
                if screen in shown:
                    self._refresh_screen(screen)
                else:
                    self._screen_generation.setdefault(screen, self.live_generation - 1)

    @work(thread=True, exclusive=True, group="capabilities", exit_on_error=False)
    def _reread_capabilities(self) -> None:
        self.post_message(self.CapabilitiesRead(self._read_capabilities()))

    @dataclass
    class CapabilitiesRead(Message):
        """The role's stored permissions, {action: scope}."""

        found: dict[str, str]

    def on_crm_app_capabilities_read(self, read: CapabilitiesRead) -> None:
        if not self._going():
            self.set_capabilities(read.found)

    def _screen_shown(self, _screen: Screen) -> None:
        for screen in self._shown_screens():
            seen = self._screen_generation.get(screen)
            if seen is None:  # new since the last change: it loads fresh data itself
                self._screen_generation[screen] = self.live_generation
            elif seen < self.live_generation:
                self._refresh_screen(screen)

    def _shown_screens(self) -> list[Screen]:
        """The screen on top, and those under it that show through its dialogs."""
        shown = []
        for screen in reversed(self.screen_stack):
            shown.append(screen)
            if not isinstance(screen, ModalScreen):
                break
        return shown

    def _refresh_screen(self, screen: Screen) -> None:
        self._screen_generation[screen] = self.live_generation
        refresh = getattr(screen, "refresh_data", None)
        if refresh is not None and screen.is_mounted and getattr(screen, "LIVE_REFRESH", True):
            refresh()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.report_worker_failure(event)

    def report_worker_failure(self, event: Worker.StateChanged) -> None:
        """The one place a failed database call turns into a message on screen, never a crash
        (screens hand their workers' failures here: see screens/base.py ReportsWorkerErrors)."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, Conflict):
            # a teammate changed the record: say so, and show what it is now, so the next try
            # starts from their version
            self.notify(error.message, title="Changed by someone else", severity="error")
            self.data_changed()
        elif isinstance(error, CrmError):
            self.notify(error.message, title="Not done", severity="error")
        else:
            self.notify(f"{error.__class__.__name__}: {error}", title="Something went wrong", severity="error",
                        timeout=10)


def run_app(*, db: Database, actor: Actor, settings: Settings) -> None:
    """Run the app on an open database, as the acting user the CLI resolved (services.users.resolve_actor,
    the same rule as every command), with the config file's settings the CLI loaded."""
    minutes = settings.workflow_interval_minutes
    from crm_tui import config

    mail = settings.mail  # (workflows/mail_sync.interval_s says the same; it would load the ORM before the first frame)
    mail_sync_s = mail.sync_minutes * 60 if mail is not None and mail.imap is not None and mail.sync_minutes else None
    CrmApp(db, actor, settings=settings, workflow_interval_s=minutes * 60 if minutes else None,
           live_refresh_s=settings.live_refresh_seconds or None, mail_sync_s=mail_sync_s,
           theme=config.read_theme(), remember_theme=config.save_theme).run()
