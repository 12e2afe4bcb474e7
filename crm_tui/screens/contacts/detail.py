"""One contact: every field, then tabs for the interaction timeline (newest first, paged), deals,
open tasks and the history of changes. The contact actions work here too."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static, TabPane

from crm_tui.clock import get_zone
from crm_tui.models.schemas import ContactRead
from crm_tui.screens.base import SHELL_CSS
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
from crm_tui.services import activities, audit, contacts, deals, tasks
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import KeysetTable


class ContactDetailScreen(ContactActions, DetailScreen):
    CSS_PATH = SHELL_CSS
    AREA = "contacts"
    KIND = "contact"
    AUTO_FOCUS = "#timeline"
    TIMELINE = "timeline"
    TASKS = "tasks"
    OPENS = {"deals": "deal"}
    BINDINGS = [
        Binding("c", "open_company", "Company", show=False, id="contact.open_company"),
        *tab_keys("detail"),
        *ContactActions.ACTION_BINDINGS,
    ]

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
        with TabPane("History", id="tab-history"):
            yield KeysetTable(history_columns(self.app), noun="changes", id="history", counted=False,
                              empty_text="No changes recorded.")

    def fetchers(self) -> dict:
        db, cid, now = self.app.db, self.contact_id, self.app.now()
        return {
            "timeline": paged(db, lambda s, **k: activities.timeline(s, contact_id=cid, **k)),
            "deals": paged(db, lambda s, **k: deals.list_deals(s, contact_id=cid, sort="title", **k)),
            "tasks": paged(db, lambda s, **k: tasks.list_tasks(s, status="open", contact_id=cid, now=now, **k)),
            "history": paged(db, lambda s, **k: audit.list_events(s, entity="contact", entity_id=cid, **k)),
        }

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

    def after_change(self, contact: ContactRead | None = None) -> None:
        self.app.data_changed()

    def action_unarchive(self) -> None:
        """u undoes the last thing done here: an activity's delete, or the contact's archive."""
        if not self.undo_activity_delete():
            super().action_unarchive()
