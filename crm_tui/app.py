"""The Textual app: for now a first page of contacts, read in a worker (the screens issue
builds the full shell on this)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from crm_tui.db import Database, open_database
from crm_tui.models.schemas import ContactRow
from crm_tui.services import contacts, users
from crm_tui.services.common import Actor

PAGE = 50


class CrmApp(App[None]):
    TITLE = "crm-tui"
    CSS_PATH = "styles/app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("r", "reload", "Reload", id="app.reload"),
    ]

    @dataclass
    class ContactsLoaded(Message):
        rows: list[ContactRow]
        total: int

    def __init__(self, db: Database, actor: Actor) -> None:
        super().__init__()
        self.db = db
        self.actor = actor

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"{self.actor.login} · {self.db.display_url()}", id="status")
        yield DataTable(id="contacts", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Contacts"
        table = self.query_one(DataTable)
        table.add_columns("Name", "Company", "Email", "Stage", "Owner")
        self.action_reload()

    def action_reload(self) -> None:
        self.load_contacts()

    @work(thread=True, exclusive=True, group="contacts", exit_on_error=False)
    def load_contacts(self) -> None:
        with self.db.read() as session:
            page = contacts.list_contacts(session, limit=PAGE, with_total=True)
        self.post_message(self.ContactsLoaded(page.items, page.total or 0))

    def on_crm_app_contacts_loaded(self, message: ContactsLoaded) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in message.rows:
            table.add_row(row.full_name, row.company_name or "", row.email or "", row.lifecycle,
                          row.owner_login or "", key=str(row.id))
        shown = len(message.rows)
        hint = "" if message.total else " · no contacts yet: run `crm demo` or `crm contact add`"
        self.query_one("#status", Static).update(
            f"{self.actor.login} · {message.total:,} contacts (showing {shown}){hint}")

    def on_worker_state_changed(self, event) -> None:
        from textual.worker import WorkerState

        if event.state == WorkerState.ERROR:
            self.notify(str(event.worker.error), title="Could not load", severity="error")


def run_app(*, db_url: str, login: str) -> None:
    """Open the database, resolve the user (the first one becomes admin), and run the app."""
    db = open_database(db_url)
    try:
        with db.write() as session:
            actor = users.actor_for(session, login=login)
        CrmApp(db, actor).run()
    finally:
        db.dispose()
