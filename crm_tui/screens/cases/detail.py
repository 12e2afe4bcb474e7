"""One case, on the one detail screen (screens/detail.py): a card (number, subject, status,
priority, assignee, team, customer, SLA), then tabs: the thread of public entries and internal notes,
oldest first, as a conversation reads; the Customer's other cases and open deals, the Surveys sent
for it, and its History. The keys work the case: r reply, N or i internal note, a assign,
p priority, s status (resolve, close, reopen), M merge another case into it, L link a deal."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static, TabPane

from crm_tui.clock import get_zone
from crm_tui.errors import CrmError
from crm_tui.models.case import INTERNAL, STATUS_LABELS
from crm_tui.screens.case_rows import case_columns
from crm_tui.screens.cases.forms import (
    AssignForm, CaseCard, LinkDealForm, MergeForm, NoteForm, PriorityForm, ReplyForm, StatusForm, read_card,
)
from crm_tui.screens.detail import DetailScreen, history_columns, paged, tab_keys
from crm_tui.services import audit, cases, sla, surveys
from crm_tui.shapes import Page
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable

EDIT = "case.edit"


def _who(entry) -> str:
    """Who wrote an entry: the teammate's login, else the customer (their name, or "customer")."""
    for name in ("author_login", "contact_name"):
        if value := getattr(entry, name, None):
            return value
    return "customer" if getattr(entry, "direction", "out") == "in" else "—"


def _mark(entry) -> str:
    """ "✎" an internal note, "←" from the customer, "→" to the customer."""
    if entry.visibility == INTERNAL:
        return "✎"
    return "←" if getattr(entry, "direction", "out") == "in" else "→"


def entry_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("When", lambda e: fmt.stamp(e.created_at, zone), width=16),
        Column("", _mark, width=1, min_width=1),
        Column("Who", _who, width=12),
        Column("", lambda e: "internal" if e.visibility == INTERNAL else "", width=8),
        Column("Entry", lambda e: " ".join((e.body or "").split()), ratio=1),
    ]


def open_deal_columns() -> list[Column]:
    return [
        Column("Open deal", lambda d: d.title, ratio=3),
        Column("Amount", lambda d: fmt.money(d.amount_minor, d.currency or "") if d.currency else "—", width=14,
               align="right"),
        Column("Owner", lambda d: d.owner_login or "—", width=10),
    ]


def survey_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("Sent", lambda s: fmt.stamp(s.sent_at, zone), width=16),
        Column("Kind", lambda s: s.kind.upper(), width=5),
        Column("Score", lambda s: "—" if s.score is None else str(s.score), width=5, align="right"),
        Column("Answered", lambda s: fmt.stamp(s.responded_at, zone) if s.responded_at else "not yet", width=16),
        Column("Comment", lambda s: " ".join((s.comment or "").split()), ratio=1),
    ]


def _one_page(call):
    """A fetch for a short list read in one go (no paging): the first page only."""
    def fetch(*, after, before, limit, with_total):
        if after is not None or before is not None:
            return Page([])
        return Page(list(call()))
    return fetch


class EntryScreen(ModalScreen[None]):
    """One thread entry, whole: who, when, public or internal, and its text."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="case_entry.close")]
    DEFAULT_CSS = """
    EntryScreen { align: center middle; background: $background 60%; }
    #case-entry { width: 76; max-width: 100%; height: auto; max-height: 100%; border: round $accent;
                  background: $surface; padding: 0 1; }
    #case-entry-head { color: $text-muted; }
    #case-entry-scroll { height: auto; max-height: 18; }
    """

    def __init__(self, head: str, body: str) -> None:
        super().__init__()
        self.head, self.body = head, body

    def compose(self) -> ComposeResult:
        with Vertical(id="case-entry"):
            yield Static(self.head, id="case-entry-head", markup=False)
            with VerticalScroll(id="case-entry-scroll"):
                yield Static(self.body or "(empty)", id="case-entry-body", markup=False)

    def action_dismiss(self) -> None:
        self.dismiss(None)


class CaseDetailScreen(DetailScreen):
    AREA = "cases"
    KIND = "case"
    CSS_PATH = "cases.tcss"
    AUTO_FOCUS = "#case-thread"
    OPENS = {"case-others": "case", "case-deals": "deal"}
    BINDINGS = [
        Binding("r", "reply", "Reply", id="case.reply"),
        Binding("N,i", "note", "Note", id="case.note"),
        Binding("a", "assign", "Assign", id="case.assign"),
        Binding("p", "priority", "Priority", id="case.priority"),
        Binding("s", "status", "Status", id="case.status"),
        Binding("M", "merge", "Merge", show=False, id="case.merge"),
        Binding("L", "link_deal", "Link deal", show=False, id="case.link_deal"),
        Binding("c", "open_contact", "Contact", show=False, id="case.contact"),
        Binding("o", "open_company", "Company", show=False, id="case.company"),
        Binding("m", "reply", "Email", show=False, id="case.email"),
        *tab_keys("case", shown=False),
    ]
    NEEDS = {"reply": EDIT, "note": EDIT, "assign": EDIT, "priority": EDIT, "status": EDIT, "merge": EDIT,
             "link_deal": EDIT}

    def __init__(self, case_id: int) -> None:
        super().__init__(case_id)
        self.card: CaseCard | None = None

    @property
    def case_id(self) -> int:
        return self.record_id

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "complete_task":  # DetailScreen's x: a case has no Tasks tab
            return False
        return super().check_action(action, parameters)

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Thread", id="case-tab-thread"):
            yield KeysetTable(entry_columns(self.app), noun="entries", id="case-thread", counted=False,
                              empty_text="Nothing on the thread yet. r replies to the customer, N adds a note.")
        with TabPane("Customer", id="case-tab-customer"):
            yield KeysetTable(case_columns(self.app, with_customer=False), noun="other cases", id="case-others",
                              counted=False, empty_text="No other cases from this customer.")
            yield KeysetTable(open_deal_columns(), noun="open deals", id="case-deals", counted=False,
                              empty_text="No open deals with this customer.")
        with TabPane("Surveys", id="case-tab-surveys"):
            yield KeysetTable(survey_columns(self.app), noun="surveys", id="case-surveys", counted=False,
                              empty_text="No survey sent yet: the CSAT survey goes out when the case is resolved.")
        with TabPane("History", id="case-tab-history"):  # History stays the last tab everywhere
            yield KeysetTable(history_columns(self.app), noun="changes", id="case-history", counted=False,
                              empty_text="No changes recorded.")

    def fetchers(self) -> dict:
        db, actor, cid = self.app.db, self.app.actor, self.case_id

        def thread(*, after, before, limit, with_total):
            with db.read() as session:
                return cases.entries(session, cid, actor=actor, after=after, before=before, limit=limit)

        def context(read_part):  # the customer's other cases, or their open deals: each its own read
            def read():
                with db.read() as session:
                    return read_part(session, cid, actor=actor)
            return _one_page(read)

        def for_case():
            with db.read() as session:
                cases.get_case(session, cid, actor=actor)  # case.view: surveys.for_case leaves it to the caller
                return surveys.for_case(session, cid)

        return {
            "case-thread": thread,
            "case-others": context(cases.other_cases),
            "case-deals": context(cases.open_deals),
            "case-surveys": _one_page(for_case),
            "case-history": paged(db, lambda s, **k: audit.list_events(s, entity="case", entity_id=cid, **k)),
        }

    # --- the card -------------------------------------------------------------------------------

    def read_card(self, session) -> tuple[CaseCard]:
        return (read_card(session, self.case_id, self.app.actor),)

    def show_card(self, card: CaseCard) -> None:
        self.card = card
        c, now, zone = card.case, self.app.now(), get_zone(self.app.actor.timezone)
        status = STATUS_LABELS.get(c.status, c.status)
        customer = " · ".join(x for x in (card.contact, card.company) if x) or "—"
        merged = f"  [reverse] merged into #{card.merged_into} [/]" if card.merged_into else ""
        # the markup is ours; each $value goes in as plain text, never read as markup
        text = Content.from_markup(
            "[b]#$number $subject[/b]  [reverse] $status [/]  [b]$priority[/b]" + merged
            + "\n[dim]Customer[/dim] $customer   [dim]Channel[/dim] $channel"
            + ("   [dim]Category[/dim] $category" if c.category else "")
            + "\n[dim]Assignee[/dim] $assignee   [dim]Team[/dim] $team"
            + ("   [dim]Deal[/dim] $deal" if card.deal else "")
            + "\n[dim]SLA[/dim] $sla   [dim]Opened[/dim] $opened"
            + ("   [dim]First response[/dim] $first" if c.first_response_at else ""),
            number=str(c.id), subject=c.subject, status=status, priority=c.priority, customer=customer,
            channel=c.channel.replace("_", " "), category=c.category or "", assignee=card.assignee or "unassigned",
            team=c.team or "—", deal=card.deal or "", sla=sla.describe(c, now=now),
            opened=fmt.stamp(c.created_at, zone), first=fmt.stamp(c.first_response_at, zone))
        self.query_one("#case-card", Static).update(text)

    # --- opening --------------------------------------------------------------------------------

    @on(KeysetTable.Selected, "#case-thread")
    def _open_entry(self, event: KeysetTable.Selected) -> None:
        e = event.row
        zone = get_zone(self.app.actor.timezone)
        kind = "internal note" if e.visibility == INTERNAL else ("from the customer" if e.direction == "in"
                                                                 else "to the customer")
        self.app.push_screen(EntryScreen(f"{fmt.stamp(e.created_at, zone)} · {_who(e)} · {kind}", e.body or ""))

    def action_open_contact(self) -> None:
        if self.card is None or self.card.case.contact_id is None:
            self.notify("This case has no contact.", severity="warning")
            return
        self.app.open_record("contact", self.card.case.contact_id)

    def action_open_company(self) -> None:
        if self.card is None or self.card.case.company_id is None:
            self.notify("This case has no company.", severity="warning")
            return
        self.app.open_record("company", self.card.case.company_id)

    # --- the changes: each a form over the case as read (its version), written in the form's worker

    def _change(self, form_class, done: str, then=None) -> None:
        if self.card is None:
            return

        def saved(result) -> None:
            if result is not None:
                self.notify(done.format(case=self.card.title if self.card else ""), title="Case")
                self.app.data_changed()
                if then is not None:
                    then()

        self.app.push_screen(form_class(self.card), saved)

    def action_reply(self) -> None:
        self._change(ReplyForm, "Reply queued to the customer on {case}.", self._send_outbox)

    def _send_outbox(self) -> None:
        """After the reply's commit, the outbox sends it (kept queued while the server is down or
        email is off: the app's next run sends it)."""
        from crm_tui.workflows.email import smtp_settings

        try:
            smtp = smtp_settings(self.app.settings)
        except CrmError:
            smtp = None
        if smtp is not None:
            self._send(smtp)

    @work(thread=True, exclusive=True, group="case-outbox", exit_on_error=False)
    def _send(self, smtp) -> None:
        from crm_tui.workflows.email import send_queued

        send_queued(self.app.db, smtp, now=self.app.now())

    def action_compose_email(self) -> None:  # m, from DetailScreen: on a case, a reply
        self.action_reply()

    def action_note(self) -> None:
        self._change(NoteForm, "Added an internal note to {case}.")

    def action_assign(self) -> None:
        self._change(AssignForm, "Assigned {case}.")

    def action_priority(self) -> None:
        self._change(PriorityForm, "Changed the priority of {case}.")

    def action_status(self) -> None:
        self._change(StatusForm, "Changed the status of {case}.")

    def action_merge(self) -> None:
        self._change(MergeForm, "Merged into {case}.")

    def action_link_deal(self) -> None:
        self._change(LinkDealForm, "Linked a deal to {case}.")
