"""One contact: every field, then tabs for the interaction timeline (newest first, paged), deals,
open tasks and the history of changes. The contact actions work here too."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static, TabbedContent, TabPane

from crm_tui.clock import get_zone
from crm_tui.models.schemas import ContactRead
from crm_tui.screens.activity import ActivityOpener
from crm_tui.screens.base import SHELL_CSS, AreaScreen
from crm_tui.screens.contacts.actions import ContactActions
from crm_tui.services import activities, audit, contacts, deals, tasks
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable

KIND_MARK = {"call": "☎", "email": "✉", "meeting": "◷", "note": "✎", "stage_change": "→", "system": "·"}


def timeline_columns(app, *, with_contact: bool = False) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    columns = [
        Column("When", lambda a: fmt.stamp(a.occurred_at, zone), width=16),
        Column("", lambda a: KIND_MARK.get(a.kind, "·"), width=1, min_width=1),
        Column("What", lambda a: " · ".join(x for x in (a.subject, a.outcome) if x) or a.kind, ratio=3),
        Column("Notes", lambda a: a.body or "", ratio=2, hide_below=90),
        Column("By", lambda a: a.user_login or "", width=8, hide_below=70),
    ]
    if with_contact:
        columns.insert(2, Column("Contact", lambda a: a.contact_name or "", ratio=1))
    return columns


def deal_columns(app) -> list[Column]:
    return [
        Column("Deal", lambda d: d.title, ratio=3),
        Column("Stage", lambda d: d.stage_name, width=12),
        Column("Amount", lambda d: fmt.money(d.amount_minor, d.currency), width=14, align="right"),
        Column("Status", lambda d: d.status, width=6),
        Column("Close", lambda d: f"{d.expected_close:%Y-%m-%d}" if d.expected_close else "—", width=10,
               hide_below=70),
    ]


def task_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("Due", lambda t: fmt.when(t.due_at, app.now(), zone), width=16),
        Column("Task", lambda t: t.title, ratio=3),
        Column("For", lambda t: t.assignee_login or "", width=8),
    ]


def history_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("When", lambda e: fmt.stamp(e.at, zone), width=16),
        Column("Who", lambda e: e.who, width=14),  # "root (as bob)" when an admin acted as bob
        Column("Change", lambda e: _change(e), ratio=1),
    ]


def _change(event) -> str:
    """ "owner: ann → bob": an id field shows the names the service resolved, not the raw ids."""
    if event.field:
        return f"{event.field_label}: {event.old_shown or '—'} → {event.new_shown or '—'}"
    return " ".join(x for x in (event.action, event.new_value) if x)


def paged(db, call):
    """A KeysetTable fetch from a service list call that takes after/before/limit (no total)."""
    def fetch(*, after, before, limit, with_total):
        with db.read() as session:
            return call(session, after=after, before=before, limit=limit)
    return fetch


class ContactDetailScreen(ActivityOpener, ContactActions, AreaScreen):
    CSS_PATH = SHELL_CSS
    AREA = "contacts"
    AUTO_FOCUS = "#timeline"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="detail.back"),
        Binding("right_square_bracket", "next_tab", "Next tab", id="detail.next_tab"),
        Binding("left_square_bracket", "previous_tab", "Prev tab", show=False, id="detail.prev_tab"),
        *ContactActions.ACTION_BINDINGS,
    ]

    def __init__(self, contact_id: int) -> None:
        super().__init__()
        self.contact_id = contact_id
        self.contact: ContactRead | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Static("Loading…", id="contact-card")
        with TabbedContent(id="contact-tabs"):
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
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.refresh_data()
        self.query_one("#timeline", KeysetTable).focus()

    def refresh_data(self) -> None:
        db, cid, now = self.app.db, self.contact_id, self.app.now()
        self.load_card()
        self.query_one("#timeline", KeysetTable).load(
            paged(db, lambda s, **k: activities.timeline(s, contact_id=cid, **k)), keep_position=True)
        self.query_one("#deals", KeysetTable).load(
            paged(db, lambda s, **k: deals.list_deals(s, contact_id=cid, sort="title", **k)), keep_position=True)
        self.query_one("#tasks", KeysetTable).load(
            paged(db, lambda s, **k: tasks.list_tasks(s, status="open", contact_id=cid, now=now, **k)),
            keep_position=True)
        self.query_one("#history", KeysetTable).load(
            paged(db, lambda s, **k: audit.list_events(s, entity="contact", entity_id=cid, **k)), keep_position=True)

    @work(thread=True, exclusive=True, group="contact-card", exit_on_error=False)
    def load_card(self) -> None:
        with self.app.db.read() as session:
            contact = contacts.get_contact(session, contact_id=self.contact_id)
        self.app.call_from_thread(self._show_card, contact)

    def _show_card(self, contact: ContactRead) -> None:
        self.contact = contact
        zone = get_zone(self.app.actor.timezone)
        c = contact
        title = " · ".join(x for x in (c.title, c.company_name) if x)
        # the markup is ours; each $value goes in as plain text, never read as markup
        card = Content.from_markup(
            "[b]$name[/b]" + ("  $title" if title else "") + ("  [reverse] archived [/]" if c.archived else "")
            + "\n[dim]Email[/dim] $emails   [dim]Phone[/dim] $phones"
            + "\n[dim]Stage[/dim] $lifecycle   [dim]Source[/dim] $source   [dim]Owner[/dim] $owner   "
            + "[dim]Last contacted[/dim] $contacted"
            + "\n[dim]Tags[/dim] $tags",
            name=c.full_name or "(no name)", title=title, emails=", ".join(c.emails) or "—",
            phones=", ".join(c.phones) or "—", lifecycle=c.lifecycle, source=c.source or "—",
            owner=c.owner_login or "—", contacted=fmt.when(c.last_contacted_at, self.app.now(), zone),
            tags=" ".join("#" + t for t in c.tags) or "—")
        for key, value in (c.custom or {}).items():
            card += Content.from_markup("   [dim]$key[/dim] $value", key=key, value=str(value))
        self.query_one("#contact-card", Static).update(card)

    def highlighted_contact_id(self) -> int | None:
        return self.contact_id

    def after_change(self, contact: ContactRead | None = None) -> None:
        self.app.data_changed()

    def action_next_tab(self) -> None:
        self._step_tab(1)

    def action_previous_tab(self) -> None:
        self._step_tab(-1)

    def _step_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        panes = [pane.id for pane in tabs.query(TabPane)]
        index = (panes.index(tabs.active) + step) % len(panes)
        tabs.active = panes[index]
        tabs.get_pane(panes[index]).query_one(KeysetTable).focus()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        event.pane.query_one(KeysetTable).focus()

    @on(KeysetTable.Selected, "#timeline")
    def _open_activity(self, event: KeysetTable.Selected) -> None:
        self.open_activity(event.row)

    def action_unarchive(self) -> None:
        """u undoes the last thing done here: an activity's delete, or the contact's archive."""
        if not self.undo_activity_delete():
            super().action_unarchive()

    @on(KeysetTable.Selected, "#deals")
    def _open_deal(self, event: KeysetTable.Selected) -> None:
        from crm_tui.screens.deal_info import DealInfoScreen

        self.app.push_screen(DealInfoScreen(event.row.id))
