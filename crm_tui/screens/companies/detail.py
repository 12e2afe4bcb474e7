"""One company as an account: its fields and deal totals, then tabs for the timeline of the company
and all its contacts and deals, its contacts, its deals, its open tasks and its history of changes."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Static, TabbedContent, TabPane

from crm_tui.clock import get_zone
from crm_tui.models.schemas import CompanyRead
from crm_tui.screens.companies.form import CSS, CompanyForm
from crm_tui.screens.forms import ContactForm, DealForm, LogActivityForm, TaskForm
from crm_tui.screens.companies.purchases import PurchasesTab
from crm_tui.screens.case_rows import case_columns, cases_tab_fetch
from crm_tui.screens.detail import KIND_MARK, counted, deal_columns, history_columns, paged, tab_keys
from crm_tui.services import audit, companies, contacts, deals
from crm_tui.services.deals import DealSummary
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable

# (pane id, table id, tab label)
TABS = (("company-tab-timeline", "company-timeline", "Timeline"),
        ("company-tab-contacts", "company-contacts", "Contacts"),
        ("company-tab-deals", "company-deals", "Deals"),
        ("company-tab-tasks", "company-tasks", "Tasks"),
        ("company-tab-cases", "company-cases", "Cases"),
        ("company-tab-history", "company-history", "History"))


def timeline_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("When", lambda a: fmt.stamp(a.occurred_at, zone), width=16),
        Column("", lambda a: KIND_MARK.get(a.kind, "·"), width=1, min_width=1),
        Column("Contact", lambda a: a.contact_name or "", ratio=1, min_width=8),
        Column("What", lambda a: " · ".join(x for x in (a.subject, a.outcome) if x) or a.kind, ratio=3),
        Column("Notes", lambda a: a.body or "", ratio=2, hide_below=100),
        Column("By", lambda a: a.user_login or "", width=8, hide_below=70),
    ]


def contact_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("Name", lambda r: r.full_name or "(no name)", ratio=3, min_width=12),
        Column("Email", lambda r: r.email or "", ratio=3, min_width=10, hide_below=60),
        Column("Phone", lambda r: r.phone or "", width=16, hide_below=100),
        Column("Stage", lambda r: r.lifecycle, width=9),
        Column("Contacted", lambda r: fmt.when(r.last_contacted_at, app.now(), zone), width=11),
    ]


def task_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("Due", lambda t: fmt.when(t.due_at, app.now(), zone), width=16),
        Column("Task", lambda t: t.title, ratio=3),
        Column("For", lambda t: t.related or "", ratio=2, hide_below=70),
        Column("Who", lambda t: t.assignee_login or "", width=8),
    ]


def deal_totals(summary: DealSummary) -> str:
    """ "open 3 · $1,250.50 + €400.00   won 1 · $5,000.00" (currencies are never added together)."""
    parts = []
    for status in ("open", "won", "lost"):
        if n := summary.count(status):
            money = " + ".join(fmt.money(amount, currency) for currency, amount in summary.amounts(status).items())
            parts.append(f"{status} {n} · {money}")
    return "   ".join(parts) or "none yet"


class CompanyDetailScreen(PurchasesTab):  # the Purchases tab: screens/companies/purchases.py
    AREA = "companies"
    KIND = "company"
    CSS_PATH = CSS
    TIMELINE = "company-timeline"
    TASKS = "company-tasks"
    OPENS = {"company-contacts": "contact", "company-deals": "deal", "company-cases": "case"}
    BINDINGS = [
        Binding("e", "edit", "Edit", id="company.edit"),
        Binding("l", "log", "Log activity", id="company.log"),
        Binding("n", "new_contact", "New contact", show=False, id="company.new_contact"),
        Binding("d", "new_deal", "New deal", show=False, id="company.new_deal"),
        Binding("t", "new_task", "New task", show=False, id="company.new_task"),
        Binding("u", "undo", "Undo delete", show=False, id="company.undo"),
        *tab_keys("company"),
    ]
    NEEDS = {"edit": "company.edit", "log": "activity.log", "new_contact": "contact.edit", "new_deal": "deal.edit",
             "new_task": "task.edit"}

    def __init__(self, company_id: int) -> None:
        super().__init__(company_id)
        self.company: CompanyRead | None = None
        self.summary: DealSummary | None = None

    @property
    def company_id(self) -> int:
        return self.record_id

    def compose_tabs(self) -> ComposeResult:
        with TabPane("Timeline", id="company-tab-timeline"):
            yield KeysetTable(timeline_columns(self.app), noun="activities", id="company-timeline",
                              empty_text="No calls, emails, meetings or notes with them yet. Press l to log one.")
        with TabPane("Contacts", id="company-tab-contacts"):
            yield KeysetTable(contact_columns(self.app), noun="contacts", id="company-contacts",
                              empty_text="No contacts at this company yet. Press n to add one.")
        with TabPane("Deals", id="company-tab-deals"):
            yield KeysetTable(deal_columns(self.app), noun="deals", id="company-deals",
                              empty_text="No deals with this company yet. Press d to create one.")
        with TabPane("Tasks", id="company-tab-tasks"):
            yield KeysetTable(task_columns(self.app), noun="open tasks", id="company-tasks",
                              empty_text="No open tasks for them, their contacts or their deals. Press t to add one.")
        yield from self.compose_purchases_tab()
        if self.app.may("case.view"):
            with TabPane("Cases", id="company-tab-cases"):
                yield KeysetTable(case_columns(self.app), noun="cases", id="company-cases", counted=False,
                                  empty_text="No support cases for this company or its contacts.")
        with TabPane("History", id="company-tab-history"):  # History stays the last tab everywhere
            yield KeysetTable(history_columns(self.app), noun="changes", id="company-history", counted=False,
                              empty_text="No changes recorded.")

    def fetchers(self) -> dict:
        db, cid, now = self.app.db, self.company_id, self.app.now()
        return {
            "company-timeline": counted(db, lambda s, **k: companies.company_timeline(s, company_id=cid, **k)),
            "company-contacts": counted(db, lambda s, **k: contacts.list_contacts(s, filters={"company_id": cid},
                                                                                  now=now, **k)),
            "company-deals": counted(db, lambda s, **k: deals.list_deals(s, company_id=cid, sort="created", **k)),
            "company-tasks": counted(db, lambda s, **k: companies.company_tasks(s, company_id=cid, **k)),
            "company-history": paged(db, lambda s, **k: audit.list_events(s, entity="company", entity_id=cid, **k)),
            **self.purchases_fetchers(),
            **({"company-cases": cases_tab_fetch(self.app, company_id=cid)} if self.app.may("case.view") else {}),
        }

    # --- the card -------------------------------------------------------------------------------

    def read_card(self, session) -> tuple[CompanyRead, DealSummary]:
        return (companies.get_company(session, company_id=self.company_id),
                deals.company_deal_summary(session, company_id=self.company_id))

    def show_card(self, company: CompanyRead, summary: DealSummary) -> None:
        self.company, self.summary = company, summary
        c = company
        about = " · ".join(x for x in (c.domain, c.industry, c.size and f"{c.size} people") if x)
        notes = (c.notes or "").strip().splitlines()
        # the markup is ours; each $value goes in as plain text, never read as markup
        card = Content.from_markup(
            "[b]$name[/b]" + ("  [dim]part of[/dim] $parent" if c.parent_name else "") + ("  $about" if about else "")
            + ("  [reverse] archived [/]" if c.archived else "")
            + "\n[dim]Owner[/dim] $owner   [dim]Address[/dim] $address"
            + "\n[dim]Notes[/dim] $note" + (" …" if len(notes) > 1 else "")
            + "\n[dim]Deals[/dim] $deals",
            name=c.name, about=about, parent=c.parent_name or "", owner=c.owner_login or "—", address=" ".join((c.address or "—").split()),
            note=notes[0] if notes else "—", deals=deal_totals(summary))
        self.query_one("#company-card", Static).update(card)

    # --- each tab's count -------------------------------------------------------------------------

    @on(KeysetTable.Loaded)
    def _count_in_tab(self, event: KeysetTable.Loaded) -> None:
        for pane_id, table_id, label in TABS:
            if event.table.id == table_id and event.table.counted:
                self.query_one(TabbedContent).get_tab(pane_id).label = f"{label} {event.total:,}"

    def action_undo(self) -> None:
        if not self.undo_activity_delete():
            self.notify("Nothing to undo: delete an activity first.", severity="warning")

    # --- actions ----------------------------------------------------------------------------------

    def action_edit(self) -> None:
        if self.company is None:
            return

        def done(saved: CompanyRead | None) -> None:
            if saved is not None:
                self.notify(f"Saved {saved.name}.")
                self.app.data_changed()

        self.app.push_screen(CompanyForm(self.company), done)

    def action_log(self) -> None:
        name = self.company.name if self.company else "the company"

        def done(result) -> None:
            if result:
                activity, task = result
                extra = f"; follow-up due {task.due_at:%a %d %b}" if task is not None and task.due_at else ""
                self.notify(f"Logged a {activity.kind} for {name}{extra}.")
                self.app.data_changed()

        self.app.push_screen(LogActivityForm(company_id=self.company_id), done)

    # --- records for this company (n, d, t): the forms open with the company chosen ---------------

    def _created(self, what: str):
        def done(saved) -> None:
            if saved is not None:
                self.notify(f"Added {what} {getattr(saved, 'full_name', None) or getattr(saved, 'title', '')}.")
                self.app.data_changed()
        return done

    def action_new_contact(self) -> None:
        company = (self.company_id, self.company.name) if self.company else (self.company_id, f"#{self.company_id}")
        self.app.push_screen(ContactForm(company=company), self._created("the contact"))

    def action_new_deal(self) -> None:
        self.app.push_screen(DealForm(company_id=self.company_id), self._created("the deal"))

    def action_new_task(self) -> None:
        self.app.push_screen(TaskForm(company_id=self.company_id), self._created("the task"))
