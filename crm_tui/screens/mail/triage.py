"""Mail · Triage: the addresses of captured mail that matched no contact, a page at a time, and
what a person does with each, through the same service as `crm mail triage`
(services/mail_capture/triage.py): l makes a lead, c a contact, k links it to an existing contact,
i ignores the address, D its whole domain."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from crm_tui.clock import get_zone, in_zone
from crm_tui.errors import InvalidInput
from crm_tui.screens.base import AreaScreen, Outcome, plain_cell
from crm_tui.screens.forms import ConfirmScreen, FormScreen, _field
from crm_tui.services import lookup
from crm_tui.services.common import Actor
from crm_tui.services.mail_capture import triage
from crm_tui.widgets.picker import Picker

PAGE = 100
COLUMNS = ("Address", "Name", "Mail", "Last", "Subject")
EMPTY = ("Triage is empty: every captured message matched a contact.\n\n"
         "Mail comes in with `crm mail sync` (IMAP) and `crm mail ingest` (files, mutt, aerc).")


class LinkForm(FormScreen[int | None]):
    """Link an address in Triage to an existing contact: it becomes one of their emails."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def form_title(self) -> str:
        return f"Link {self.address} to a contact"

    def compose_fields(self) -> ComposeResult:
        yield _field("Contact", Picker("contact", id="contact"))

    def values(self) -> dict[str, Any]:
        picker = self.query_one("#contact-picker", Picker)
        return {"contact": (picker.chosen_id, picker.text)}

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> int:
        chosen, typed = values["contact"]
        if chosen is None:
            if not typed:
                raise InvalidInput("pick the contact to link the address to")
            chosen = lookup.resolve(session, kind="contact", text=typed).id
        return triage.link_contact(session, address=self.address, contact_id=chosen, actor=actor, now=now)


class TriageScreen(AreaScreen):
    """Pushed from the command palette ("Mail triage")."""

    CSS_PATH = "triage.tcss"
    AUTO_FOCUS = "#triage-table"
    BINDINGS = [
        Binding("l", "make('lead')", "Lead", id="triage.lead"),
        Binding("c", "make('prospect')", "Contact", id="triage.contact"),
        Binding("k", "link", "Link", id="triage.link"),
        Binding("i", "ignore(False)", "Ignore", id="triage.ignore"),
        Binding("D", "ignore(True)", "Ignore domain", id="triage.ignore_domain"),
        Binding("]", "page(1)", "Next page", id="triage.next"),
        Binding("[", "page(-1)", "Previous page", show=False, id="triage.previous"),
        Binding("escape", "back", "Back", id="triage.back"),
    ]
    NEEDS: ClassVar[dict[str, str]] = {"make": "contact.edit", "link": "contact.edit", "ignore": "contact.edit"}

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[triage.TriageRow] = []
        self.cursors: list[str | None] = [None]  # where each page shown so far starts
        self.next_cursor: str | None = None
        self.total = 0

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("Triage", id="triage-line")
        yield DataTable(id="triage-table", cursor_type="row", zebra_stripes=True)
        yield Static(EMPTY, id="triage-empty", markup=False)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.query_one("#triage-empty").display = False
        self.refresh_data()

    def refresh_data(self) -> None:
        self._load(self.cursors[-1])

    @work(thread=True, exclusive=True, group="triage-load", exit_on_error=False)
    def _load(self, after: str | None) -> Outcome:
        with self.app.db.read() as session:
            page = triage.triage_page(session, after=after, limit=PAGE)
            total = triage.triage_count(session)
        return Outcome(self._show, page, total)

    def _show(self, page, total: int) -> None:
        self.rows, self.next_cursor, self.total = page.items, page.next_cursor, total
        zone = get_zone(self.app.actor.timezone)
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for r in self.rows:
            table.add_row(*(plain_cell(v) for v in (r.address, r.name, r.messages,
                                                    in_zone(r.last_at, zone).strftime("%Y-%m-%d %H:%M"),
                                                    r.last_subject)), key=r.address)
        if self.rows:
            table.move_cursor(row=min(row, len(self.rows) - 1), animate=False)
        empty = not self.rows and len(self.cursors) == 1
        table.display = not empty
        self.query_one("#triage-empty").display = empty
        where = f"page {len(self.cursors)} · " if len(self.cursors) > 1 or self.next_cursor else ""
        self.query_one("#triage-line", Static).update(
            f"Triage — {total:,} address(es) · {where}l lead · c contact · k link · i ignore · D domain")

    def _current(self) -> triage.TriageRow | None:
        if not self.rows:
            return None
        return self.rows[min(self.query_one(DataTable).cursor_row, len(self.rows) - 1)]

    def action_page(self, step: int) -> None:
        if step > 0 and self.next_cursor:
            self.cursors.append(self.next_cursor)
        elif step < 0 and len(self.cursors) > 1:
            self.cursors.pop()
        else:
            return
        self.query_one(DataTable).move_cursor(row=0, animate=False)
        self.refresh_data()

    def action_make(self, lifecycle: str) -> None:
        if (row := self._current()) is not None:
            self._write("make", row.address, lifecycle)

    def action_ignore(self, domain: bool) -> None:
        row = self._current()
        if row is None:
            return
        what = f"every address at {row.address.rpartition('@')[2]}" if domain else row.address
        self.app.push_screen(ConfirmScreen(f"Never triage mail of {what}?", "Ignore"),
                             lambda yes: self._write("ignore", row.address, domain) if yes else None)

    @on(DataTable.RowSelected)
    def action_link(self) -> None:
        row = self._current()
        if row is not None:
            self.app.push_screen(LinkForm(row.address), lambda n: self._done(f"Linked {row.address}: {n} message(s)")
                                 if n is not None else None)

    @work(thread=True, exclusive=True, group="triage-save", exit_on_error=False)
    def _write(self, what: str, address: str, arg: Any) -> Outcome:
        actor, now = self.app.actor, self.app.now()
        with self.app.db.write() as session:
            if what == "make":
                contact_id, linked = triage.create_contact(session, address=address, lifecycle=arg, actor=actor,
                                                           now=now)
                return Outcome(self._done, f"Added {address} as a {arg} (#{contact_id}); {linked} message(s) linked")
            gone = triage.ignore(session, value=address, domain=arg, actor=actor, now=now)
        return Outcome(self._done, f"Ignoring {'its domain' if arg else address}; {gone} address(es) left Triage")

    def _done(self, message: str) -> None:
        self.notify(message, title="Triage")
        self.app.data_changed()

    def action_back(self) -> None:
        self.app.pop_screen()
