"""The app's areas and records, defined once. Adding an area is one `Area` entry in AREAS: the app's
modes and number keys (app.py), the area bar (widgets/area_bar.py reads the app's AREAS), the
command palette (commands.py) and help (the keys are the app's bindings) all follow it.

RECORDS maps a kind of record ("contact", "company", "deal") to the area it belongs to and the
screen that shows it, so that a screen asks the app to open a record (`app.open_record(kind, id)`)
and never imports another screen package. TOOLS are the screens reached from the palette only.
Every screen here is imported when first opened, not at start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from textual.screen import Screen


@dataclass(frozen=True, slots=True)
class Command:
    """A palette entry run on its area's screen (the detail open there, else the list): `action` is
    one of that screen's actions."""

    name: str
    action: str
    help: str
    needs: str | None = None  # the permission it takes; None: everyone


@dataclass(frozen=True, slots=True)
class Area:
    mode: str  # the app mode's name, and the AREA of its screens
    key: str
    title: str
    screen: Callable[[], type[Screen]]  # imported when the area is first opened
    needs: tuple[str, ...] = ()  # the role needs one of these permissions to open it; (): everyone
    commands: tuple[Command, ...] = ()


def lazy(module: str, name: str, *, orm: bool = True) -> Callable[[], type[Screen]]:
    """The screen class `name` of `module`, imported on first use (start-up stays lean); with `orm`,
    once the ORM has loaded (services.start.load_orm: one thread at a time imports it). The screens
    of Contacts, the Pipeline and the Inbox paint their first frame before the ORM loads, so they wait for nothing."""
    def load() -> type[Screen]:
        if orm:
            from crm_tui.services.start import load_orm

            load_orm()
        return getattr(import_module(module), name)
    return load


@dataclass(frozen=True, slots=True)
class Record:
    kind: str
    area: str  # the area it opens in (the area bar says where you are)
    screen: Callable[[], type[Screen]]  # takes the record's id


@dataclass(frozen=True, slots=True)
class Tool:
    """A palette entry that opens a screen (settings, data care)."""

    name: str
    screen: Callable[[], type[Screen]]
    args: tuple[Any, ...]
    help: str
    needs: str | None = None


AREAS: tuple[Area, ...] = (
    Area("contacts", "1", "Contacts", lazy("crm_tui.screens.contacts.screen", "ContactsScreen", orm=False), commands=(
        Command("New contact", "new_contact", "Add a contact (n on the list)", "contact.edit"),
        Command("New deal", "new_deal", "A deal for the highlighted contact", "deal.edit"),
        Command("Log a call", "log('call')", "Log a call with the highlighted contact", "activity.log"),
        Command("Add a task", "add_task", "A task for the highlighted contact", "task.edit"),
        Command("Enrol in a sequence", "enrol", "Enrol the highlighted contact in a sequence (E)", "activity.log"),
    )),
    Area("companies", "2", "Companies", lazy("crm_tui.screens.companies.screen", "CompaniesScreen"), commands=(
        Command("New company", "new_company", "Add a company", "company.edit"),
    )),
    Area("pipeline", "3", "Pipeline", lazy("crm_tui.screens.pipeline.board", "PipelineScreen", orm=False), commands=(
        Command("Deals list", "deals_table", "Every deal in a table: sort, filter, won, lost, archived (v)"),
    )),
    Area("inbox", "4", "Inbox", lazy("crm_tui.screens.inbox.screen", "InboxScreen", orm=False)),
    Area("reports", "5", "Reports", lazy("crm_tui.screens.reports.screen", "ReportsScreen"), needs=("report.view", "report.sources", "case.view")),
    Area("products", "6", "Products", lazy("crm_tui.screens.products.screen", "ProductsScreen"), commands=(
        Command("New product", "new_product", "Add a product to the catalog", "product.edit"),
    )),
    Area("cases", "7", "Cases", lazy("crm_tui.screens.cases.screen", "CasesScreen", orm=False), needs=("case.view",), commands=(
        Command("New case", "new_case", "Open a support case (n on the list)", "case.edit"),
        Command("Case queues and lists", "lists", "Mine, unassigned, breaching soon, waiting, per team; saved lists (l)"),
        Command("Filter cases", "filters", "By status, priority, category, assignee (f)"),
        Command("Reply to the customer", "reply", "On the case open: email through the outbox (r)", "case.edit"),
        Command("Internal note", "note", "On the case open: a note the customer never sees (N)", "case.edit"),
        Command("Assign the case", "assign", "On the case open: assignee and team (a)", "case.edit"),
        Command("Change the case's status", "status", "On the case open: resolve, close, reopen (s)", "case.edit"),
    )),
)

RECORDS: dict[str, Record] = {r.kind: r for r in (
    Record("contact", "contacts", lazy("crm_tui.screens.contacts.detail", "ContactDetailScreen")),
    Record("company", "companies", lazy("crm_tui.screens.companies.detail", "CompanyDetailScreen")),
    Record("deal", "pipeline", lazy("crm_tui.screens.pipeline.deal", "DealDetailScreen")),
    Record("case", "cases", lazy("crm_tui.screens.cases.detail", "CaseDetailScreen")),
)}

TOOLS: tuple[Tool, ...] = (
    Tool("Find duplicate contacts", lazy("crm_tui.screens.settings.duplicates", "DuplicatesScreen"), ("contact",),
         "Same email, phone and name, similar names", "contact.edit"),
    Tool("Find duplicate companies", lazy("crm_tui.screens.settings.duplicates", "DuplicatesScreen"), ("company",),
         "Same domain, similar names", "company.edit"),
    Tool("Import a file (CSV, XLSX, vCard)", lazy("crm_tui.screens.settings.imports", "ImportScreen"), (),
         "Contacts, companies, deals, activities, tasks", "import.run"),
    Tool("Mail triage", lazy("crm_tui.screens.mail.triage", "TriageScreen"), (),
         "Addresses of captured mail that matched no contact: make, link or ignore them"),
    Tool("Settings: roles and permissions", lazy("crm_tui.screens.settings.roles", "RoleSettingsScreen"), (),
         "What each role may do (admins change it)"),
    Tool("Settings: users", lazy("crm_tui.screens.settings.users", "UserSettingsScreen"), (),
         "Add, edit and deactivate users, change their roles", "user.admin"),
    Tool("Settings: custom fields", lazy("crm_tui.screens.settings.fields", "FieldSettingsScreen"), (),
         "Typed fields of contacts, companies and deals (admins define them)"),
    Tool("Sequences", lazy("crm_tui.screens.sequences.screen", "SequencesScreen"), (),
         "Email and task steps contacts go through, with their funnel: add, edit, archive, enrol, stop"),
    Tool("Settings: email templates", lazy("crm_tui.screens.settings.templates", "TemplateSettingsScreen"), (),
         "The team's and your own, with merge fields; preview one for a contact"),
    Tool("Settings: SLAs", lazy("crm_tui.screens.settings.sla", "SlaSettingsScreen"), (),
         "SLA policies' targets per priority, business hours and holidays (read only; crm sla changes them)",
         "case.view"),
)

# screens that a shared screen opens without importing their package (app.open_view(name, ...))
VIEWS: dict[str, Callable[[], type[Screen]]] = {
    "email_thread": lazy("crm_tui.screens.mail.thread", "ThreadScreen"),  # Enter on an email on a timeline
}

BY_MODE: dict[str, Area] = {area.mode: area for area in AREAS}
