"""First run on an empty CRM: load demo data (with progress) or start empty with a hint."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, ProgressBar, Static
from textual.worker import WorkerState

from crm_tui.screens.base import SHELL_CSS, Outcome, ReportsWorkerErrors, WorkProgress
from crm_tui.services import demo

DEMO_CONTACTS = 2_000
DEMO_SEED = 1


class WelcomeScreen(ReportsWorkerErrors, ModalScreen[bool]):
    """Dismisses with True when demo data was loaded."""

    CSS_PATH = SHELL_CSS

    BINDINGS = [
        Binding("d", "demo", "Load demo data", id="welcome.demo"),
        Binding("e,escape", "empty", "Start empty", id="welcome.empty"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="welcome"):
            yield Static("[b]Welcome to crm-tui[/b]", id="welcome-title")
            yield Static(
                "This CRM is empty. You can look around with demo data first "
                f"({DEMO_CONTACTS:,} contacts with companies, deals, calls and tasks), or start with your own.\n\n"
                "Starting empty? Press [b]n[/b] on the contact list for a new contact, or bring a "
                "spreadsheet in with [b]crm import[/b]. Press [b]?[/b] anywhere for the keys, "
                "[b]ctrl+p[/b] for every command.",
                id="welcome-text")
            yield ProgressBar(total=None, show_eta=False, id="welcome-progress")
            with Horizontal(id="welcome-buttons"):
                yield Button("Load demo data (d)", variant="primary", id="demo")
                yield Button("Start empty (e)", id="empty")

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False

    @on(Button.Pressed, "#demo")
    def action_demo(self) -> None:
        self.query_one("#welcome-buttons").display = False
        self.query_one(ProgressBar).display = True
        self.load()

    @on(Button.Pressed, "#empty")
    def action_empty(self) -> None:
        self.dismiss(False)

    @work(thread=True, exclusive=True, group="welcome-demo", exit_on_error=False)
    def load(self) -> Outcome:
        def progress(table: str, done: int, total: int) -> None:
            self.post_message(WorkProgress(done, total, table))

        with self.app.db.write() as session:
            demo.load_demo(session, contacts=DEMO_CONTACTS, seed=DEMO_SEED, actor=self.app.actor,
                           now=self.app.now(), progress=progress)
        return Outcome(self._loaded)

    @on(WorkProgress)
    def _progress(self, progress: WorkProgress) -> None:
        done, total = progress.done, progress.total
        self.query_one(ProgressBar).update(total=total, progress=done)
        self.query_one("#welcome-text", Static).update(f"Loading demo {progress.what}: {done:,} of {total:,}…")

    def _loaded(self) -> None:
        self.app.notify("Demo data loaded. Press ? for the keys.")
        self.dismiss(True)
        self.app.data_changed()

    def on_worker_state_changed(self, event) -> None:
        # Textual calls ReportsWorkerErrors' handler as well (handlers run down the class ancestry)
        if event.state == WorkerState.ERROR:
            self.query_one("#welcome-buttons").display = True
            self.query_one(ProgressBar).display = False
