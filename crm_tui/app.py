"""The Textual app: five areas as app modes (Contacts, Companies, Pipeline, Inbox, Reports), the
command palette, help, themes, the Inbox count, and the first-run welcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.worker import Worker, WorkerState

from crm_tui.clock import get_zone, utcnow
from crm_tui.commands import CrmCommands
from crm_tui.db import Database, open_database
from crm_tui.errors import CrmError
from crm_tui.screens.areas import InboxScreen, PipelineScreen, ReportsScreen
from crm_tui.screens.companies import CompaniesScreen
from crm_tui.screens.contacts import ContactsScreen
from crm_tui.services import contacts, tasks, users
from crm_tui.services.common import Actor

INBOX_REFRESH_S = 60
DARK, LIGHT = "textual-dark", "textual-light"


class CrmApp(App[None]):
    TITLE = "crm-tui"
    CSS_PATH = "styles/app.tcss"
    ENABLE_COMMAND_PALETTE = True
    MODES = {
        "contacts": ContactsScreen,
        "companies": CompaniesScreen,
        "pipeline": PipelineScreen,
        "inbox": InboxScreen,
        "reports": ReportsScreen,
    }
    DEFAULT_MODE = "contacts"
    BINDINGS = [
        Binding("1", "area('contacts')", "Contacts", show=False, id="app.contacts"),
        Binding("2", "area('companies')", "Companies", show=False, id="app.companies"),
        Binding("3", "area('pipeline')", "Pipeline", show=False, id="app.pipeline"),
        Binding("4", "area('inbox')", "Inbox", show=False, id="app.inbox"),
        Binding("5", "area('reports')", "Reports", show=False, id="app.reports"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False, id="app.theme"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True),
    ]
    COMMAND_PALETTE_BINDING = "ctrl+p"
    COMMANDS = App.COMMANDS | {CrmCommands}

    inbox_due: reactive[int] = reactive(0)
    inbox_overdue: reactive[int] = reactive(0)

    def __init__(self, db: Database, actor: Actor, *, clock: Callable[[], datetime] | None = None,
                 welcome: bool = True, inbox_refresh_s: float | None = INBOX_REFRESH_S) -> None:
        super().__init__()
        self.db = db
        self.actor = actor
        self._clock = clock or utcnow
        self._welcome = welcome
        self._inbox_refresh_s = inbox_refresh_s

    # --- the shared services of every screen -------------------------------------------------

    def now(self) -> datetime:
        """The app's clock (frozen in tests); pass it to every service call."""
        return self._clock()

    def on_mount(self) -> None:
        self.theme = DARK
        self.refresh_inbox_count()
        if self._inbox_refresh_s:
            self.set_interval(self._inbox_refresh_s, self.refresh_inbox_count)
        if self._welcome:
            self.check_first_run()

    def action_area(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_help(self) -> None:
        from crm_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    # --- background work --------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="inbox-count", exit_on_error=False)
    def refresh_inbox_count(self) -> None:
        with self.db.read() as session:
            counts = tasks.task_counts(session, assignee_id=self.actor.user_id,
                                       zone=get_zone(self.actor.timezone), now=self.now())
        self.call_from_thread(self._set_inbox, counts["overdue"], counts["today"])

    def _set_inbox(self, overdue: int, today: int) -> None:
        self.inbox_overdue = overdue
        self.inbox_due = overdue + today

    @work(thread=True, exclusive=True, group="first-run", exit_on_error=False)
    def check_first_run(self) -> None:
        with self.db.read() as session:
            empty = not contacts.list_contacts(session, limit=1, now=self.now()).items
        if empty:
            self.call_from_thread(self._show_welcome)

    def _show_welcome(self) -> None:
        from crm_tui.screens.welcome import WelcomeScreen

        self.push_screen(WelcomeScreen())

    def data_changed(self) -> None:
        """Something was saved: refresh what every area shows of it."""
        self.refresh_inbox_count()
        for screen in self.screen_stack:
            refresh = getattr(screen, "refresh_data", None)
            if refresh is not None:
                refresh()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed database call turns into a message on screen, never a crash."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, CrmError):
            self.notify(error.message, title="Not done", severity="error")
        else:
            self.notify(f"{error.__class__.__name__}: {error}", title="Something went wrong", severity="error",
                        timeout=10)


def run_app(*, db_url: str, login: str) -> None:
    """Open the database, resolve the user (the first one becomes admin), and run the app."""
    db = open_database(db_url)
    try:
        with db.write() as session:
            actor = users.actor_for(session, login=login)
        CrmApp(db, actor).run()
    finally:
        db.dispose()
