"""One contact: every field, then tabs for the interaction timeline (newest first, paged), deals,
open tasks, sequences (E enrols, s stops the highlighted enrolment) and the history of changes.
The contact actions work here too."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static, TabPane

from crm_tui.clock import get_zone
from crm_tui.models.schemas import ContactRead
from crm_tui.screens.base import SHELL_CSS, Outcome
from crm_tui.screens.case_rows import case_columns, cases_tab_fetch
from crm_tui.screens.contacts.actions import ContactActions
from crm_tui.screens.detail import (
    DetailScreen,
    deal_columns,
    history_columns,
    paged,
    tab_keys,
    task_columns,
    timeline_columns,
)
from crm_tui.services import activities, audit, contacts, deals, sequences, tasks
from crm_tui.shapes import Page
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable


def sequence_columns(app) -> list[Column]:
    """A contact's enrolments: the sequence, its status (or why it stopped), the next step and when."""
    zone = get_zone(app.actor.timezone)
    return [
        Column("Sequence", lambda r: r.sequence, ratio=2),
        Column("Status", lambda r: f"stopped: {(r.stop_reason or '').replace('_', ' ')}" if r.status == "stopped"
               else r.status, width=22),
        Column("Next", lambda r: f"step {r.next_position}" if r.next_position else "—", width=7),
        Column("Due", lambda r: fmt.when(r.next_due_at, app.now(), zone) if r.next_position else "—", width=16),
    ]


class ContactDetailScreen(ContactActions, DetailScreen):
    CSS_PATH = SHELL_CSS
    AREA = "contacts"
    KIND = "contact"
    AUTO_FOCUS = "#timeline"
    TIMELINE = "timeline"
    TASKS = "tasks"
    OPENS = {"deals": "deal", "contact-cases": "case"}
    BINDINGS = [
        Binding("c", "open_company", "Company", show=False, id="contact.open_company"),
        Binding("s", "stop_sequence", "Stop sequence", show=False, id="contact.stop_sequence"),
        *tab_keys("detail"),
        *ContactActions.ACTION_BINDINGS,
    ]

    NEEDS = {"stop_sequence": "activity.log"}

    def __init__(self, contact_id: int) -> None:
        super().__init__(contact_id)
        self.contact: ContactRead | None = None

    @property
    def contact_id(self) -> int:
        return self.record_id

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Timeline", id="tab-timeline"):
            yield KeysetTable(timeline_columns(self.app), noun="activities", id="timeline", counted=False,
                              empty_text="No calls, emails, meetings or notes yet. Press l to log one.")
        with TabPane("Deals", id="tab-deals"):
            yield KeysetTable(deal_columns(self.app), noun="deals", id="deals", counted=False,
                              empty_text="No deals yet. Press d to create one.")
        with TabPane("Tasks", id="tab-tasks"):
            yield KeysetTable(task_columns(self.app), noun="open tasks", id="tasks", counted=False,
                              empty_text="No open tasks. Press t to add one.")
        with TabPane("Sequences", id="tab-sequences"):
            yield KeysetTable(sequence_columns(self.app), noun="enrolments", id="sequences", counted=False,
                              empty_text="In no sequence. Press E to enrol them in one.")
        if self.app.may("case.view"):
            with TabPane("Cases", id="tab-cases"):
                yield KeysetTable(case_columns(self.app, with_customer=False), noun="cases", id="contact-cases",
                                  counted=False, empty_text="No support cases from them.")
        with TabPane("History", id="tab-history"):
            yield KeysetTable(history_columns(self.app), noun="changes", id="history", counted=False,
                              empty_text="No changes recorded.")

    def fetchers(self) -> dict:
        db, cid, now = self.app.db, self.contact_id, self.app.now()
        return {
            "timeline": paged(db, lambda s, **k: activities.timeline(s, contact_id=cid, **k)),
            "deals": paged(db, lambda s, **k: deals.list_deals(s, contact_id=cid, sort="title", **k)),
            "tasks": paged(db, lambda s, **k: tasks.list_tasks(s, status="open", contact_id=cid, now=now, **k)),
            "sequences": self._sequences_fetch(),
            **({"contact-cases": cases_tab_fetch(self.app, contact_id=cid)} if self.app.may("case.view") else {}),
            "history": paged(db, lambda s, **k: audit.list_events(s, entity="contact", entity_id=cid, **k)),
        }

    def _sequences_fetch(self):
        """The contact's enrolments, the latest first: a short list (at most sequences.CONTACT_ROWS), one page."""
        db, actor, cid = self.app.db, self.app.actor, self.contact_id

        def fetch(*, after, before, limit, with_total):
            if after is not None or before is not None:
                return Page([])
            with db.read() as session:
                return Page(sequences.contact_sequences(session, actor, cid))
        return fetch

    def read_card(self, session) -> tuple[ContactRead]:
        return (contacts.get_contact(session, contact_id=self.contact_id),)

    def show_card(self, contact: ContactRead) -> None:
        self.contact = contact
        zone = get_zone(self.app.actor.timezone)
        c = contact
        title = " · ".join(x for x in (c.title, c.company_name) if x)
        # the markup is ours; each $value goes in as plain text, never read as markup
        card = Content.from_markup(
            "[b]$name[/b]" + ("  $title" if title else "") + ("  [reverse] archived [/]" if c.archived else "")
            + ("  [b reverse] do not email [/]" if c.do_not_email else "")
            + "\n[dim]Email[/dim] $emails   [dim]Phone[/dim] $phones"
            + "\n[dim]Stage[/dim] $lifecycle   [dim]Source[/dim] $source   [dim]Owner[/dim] $owner   "
            + "[dim]Last contacted[/dim] $contacted"
            + "\n[dim]Tags[/dim] $tags"
            + ("   [dim]Birthday[/dim] $birthday" if c.birthday else "")
            + ("\n" if c.address or c.social_urls else "")
            + ("[dim]Address[/dim] $address   " if c.address else "")
            + ("[dim]Profiles[/dim] $social" if c.social_urls else "")
            + ("\n[dim]About[/dim] $about" if c.description else ""),
            name=c.full_name or "(no name)", title=title, emails=", ".join(c.emails) or "—",
            phones=", ".join(c.phones) or "—", lifecycle=c.lifecycle, source=c.source or "—",
            owner=c.owner_login or "—", contacted=fmt.when(c.last_contacted_at, self.app.now(), zone),
            tags=" ".join("#" + t for t in c.tags) or "—", birthday=f"{c.birthday:%d %b %Y}" if c.birthday else "",
            address=" ".join((c.address or "").split()), social="  ".join(c.social_urls),
            about=" ".join((c.description or "").split()))
        # its custom fields at the card's end: the typed ones in their order ("—" when empty), then the rest
        for label, value in self.custom_rows:
            card += Content.from_markup("   [dim]$key[/dim] $value", key=label, value=" ".join(value.split()) or "—")
        self.query_one("#contact-card", Static).update(card)

    def show_custom(self, rows: list[tuple[str, str]]) -> None:
        """Shown in the card (show_card), not under it."""

    def action_open_company(self) -> None:
        if self.contact is None or self.contact.company_id is None:
            self.notify("No company: press e to set one.", severity="warning")
            return
        self.app.open_record("company", self.contact.company_id)

    def highlighted_contact_id(self) -> int | None:
        return self.contact_id

    # -- sequences (E enrols: ContactActions; s stops the enrolment highlighted on the Sequences tab)

    def action_stop_sequence(self) -> None:
        from crm_tui.screens.forms import ConfirmScreen

        table = self.focused
        row = table.current_row if isinstance(table, KeysetTable) and table.id == "sequences" else None
        if row is None:
            self.notify("Highlight an enrolment on the Sequences tab, then press s.", severity="warning")
            return
        if row.status != "active":
            self.notify(f"This enrolment in {row.sequence} is {row.status} already.", severity="warning")
            return
        self.app.push_screen(ConfirmScreen(f"Stop {row.contact}'s enrolment in {row.sequence}?", "Stop"),
                             lambda yes: self._stop_sequence(row) if yes else None)

    @work(thread=True, exclusive=True, group="contact-sequence", exit_on_error=False)
    def _stop_sequence(self, row) -> Outcome:
        with self.app.db.write() as session:
            done = sequences.stop(session, self.app.actor, row.id, now=self.app.now())
        return Outcome(self._sequence_stopped, done)

    def _sequence_stopped(self, done) -> None:
        self.notify(f"Stopped {done.contact}'s enrolment in {done.sequence}.", title="Sequences")
        self.app.data_changed()

    def after_change(self, contact: ContactRead | None = None) -> None:
        self.app.data_changed()

    def action_unarchive(self) -> None:
        """u undoes the last thing done here: an activity's delete, or the contact's archive."""
        if not self.undo_activity_delete():
            super().action_unarchive()
