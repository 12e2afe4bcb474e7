"""The Companies area: search as you type over a windowed list of accounts (with their contact
counts), sorts, and new, edit, archive and undo; Enter opens the account view."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Static

from crm_tui.models.schemas import CompanyRead, CompanyRow
from crm_tui.screens.base import AreaScreen, Outcome, SearchableList
from crm_tui.screens.bulk import BulkEditing
from crm_tui.screens.companies.form import CSS, CompanyForm
from crm_tui.screens.forms import ConfirmScreen
from crm_tui.services import companies
from crm_tui.services.paging import Page
from crm_tui.widgets.keyset_table import Column, KeysetTable

SORT_LABELS = {"name": "name", "created": "newest"}


@dataclass(frozen=True, slots=True)
class CompanyListRow:
    """One line of the company list: the company and how many contacts it has."""

    id: int
    name: str
    domain: str | None
    industry: str | None
    owner_login: str | None
    contacts: int

    @classmethod
    def of(cls, row: CompanyRow, contacts: int) -> CompanyListRow:
        return cls(row.id, row.name, row.domain, row.industry, row.owner_login, contacts)


def company_columns() -> list[Column]:
    return [
        Column("Name", lambda r: r.name, ratio=3, min_width=12),
        Column("Domain", lambda r: r.domain or "", ratio=2, min_width=8, hide_below=60),
        Column("Industry", lambda r: r.industry or "", ratio=2, min_width=8, hide_below=90),
        Column("Contacts", lambda r: f"{r.contacts:,}", width=8, align="right"),
        Column("Owner", lambda r: r.owner_login or "", width=8, hide_below=50),
    ]


class CompaniesScreen(SearchableList, BulkEditing, AreaScreen):
    BULK_KIND = "company"
    AREA = "companies"
    CSS_PATH = CSS
    BINDINGS = [
        Binding("slash", "focus_search", "Search", id="companies.search"),
        Binding("down", "focus_list", "To list", show=False, id="companies.to_list"),
        Binding("escape", "focus_list", "To list", show=False, id="companies.escape"),
        Binding("s", "cycle_sort", "Sort", id="companies.sort"),
        Binding("n", "new_company", "New", id="companies.new"),
        Binding("e", "edit_company", "Edit", id="companies.edit"),
        Binding("a", "archive", "Archive", id="companies.archive"),
        Binding("u", "unarchive", "Undo archive", show=False, id="companies.unarchive"),
    ]
    NEEDS = {"new_company": "company.edit", "edit_company": "company.edit", "archive": "company.edit",
             "unarchive": "company.edit"}

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.sort = "name"
        self._last_archived: int | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        with Horizontal(id="company-search-bar"):
            yield Input(placeholder="Search company name or domain…  ( / )", id="company-search")
        yield Static(id="company-list-line", markup=False)  # it quotes the search text as typed
        yield KeysetTable(company_columns(), noun="companies", id="company-list", marking=True)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.reload()
        self.table.focus()

    @property
    def table(self) -> KeysetTable:
        return self.query_one("#company-list", KeysetTable)

    # --- the list ---------------------------------------------------------------------------

    def fetcher(self):
        """What the table calls (in a thread): one page of companies, plus their contact counts."""
        db, query, sort = self.app.db, self.query_text or None, self.sort

        def fetch(*, after, before, limit, with_total) -> Page[CompanyListRow]:
            with db.read() as session:
                page = companies.list_companies(session, query=query, sort=sort, after=after, before=before,
                                                limit=limit, with_total=with_total)
                counts = companies.contact_counts(session, company_ids=[r.id for r in page.items])
            return Page([CompanyListRow.of(r, counts[r.id]) for r in page.items], page.next_cursor,
                        page.prev_cursor, page.total)
        return fetch

    def reload(self) -> None:
        table = self.table
        table.empty_text = (f"No companies match “{self.query_text}”. Press n for a new company, / to search again."
                            if self.query_text else "No companies yet. Press n to add the first one.")
        table.load(self.fetcher())
        line = f"sorted by {SORT_LABELS.get(self.sort, self.sort)}"
        if self.query_text:
            line += f" · matching “{self.query_text}”"
        self.query_one("#company-list-line", Static).update(line)

    def refresh_data(self) -> None:
        self.table.reload()

    @on(KeysetTable.Selected, "#company-list")
    def open_company(self, event: KeysetTable.Selected) -> None:
        self.app.open_record("company", event.row.id)

    # --- search and sort ----------------------------------------------------------------------

    @on(Input.Changed, "#company-search")
    def search_changed(self, event: Input.Changed) -> None:
        self.search_typed(event.value)

    @on(Input.Submitted, "#company-search")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.submit_search(event.value)

    def action_focus_search(self) -> None:
        self.query_one("#company-search", Input).focus()

    def action_focus_list(self) -> None:
        self.table.focus()

    def action_cycle_sort(self) -> None:
        order = list(companies.SORTS)
        self.sort = order[(order.index(self.sort) + 1) % len(order)]
        self.reload()

    # --- new, edit, archive ---------------------------------------------------------------------

    def _highlighted(self) -> CompanyListRow | None:
        row = self.table.current_row
        if row is None:
            self.notify("No company is highlighted.", severity="warning")
        return row

    def action_new_company(self) -> None:
        def done(company: CompanyRead | None) -> None:
            if company is not None:
                self.notify(f"Added {company.name}.")
                self.app.data_changed()

        self.app.push_screen(CompanyForm(), done)

    def action_edit_company(self) -> None:
        if (row := self._highlighted()) is not None:
            self._load_for_edit(row.id)

    @work(thread=True, group="company-action", exit_on_error=False)
    def _load_for_edit(self, company_id: int) -> Outcome:
        with self.app.db.read() as session:
            company = companies.get_company(session, company_id=company_id)
        return Outcome(self._edit, company)

    def _edit(self, company: CompanyRead) -> None:
        def done(saved: CompanyRead | None) -> None:
            if saved is not None:
                self.notify(f"Saved {saved.name}.")
                self.app.data_changed()

        self.app.push_screen(CompanyForm(company), done)

    def action_archive(self) -> None:
        row = self._highlighted()
        if row is None:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._set_archived(row.id, True)

        self.app.push_screen(ConfirmScreen(f"Archive {row.name}? It leaves the company list (its contacts and "
                                         "deals stay). u undoes it.", "Archive"), answer)

    def action_unarchive(self) -> None:
        if self._last_archived is None:
            self.notify("Nothing to undo: archive a company first.", severity="warning")
            return
        self._set_archived(self._last_archived, False)

    @work(thread=True, group="company-action", exit_on_error=False)
    def _set_archived(self, company_id: int, archived: bool) -> Outcome:
        with self.app.db.write() as session:
            company = companies.set_company_archived(session, company_id=company_id, archived=archived,
                                                     actor=self.app.actor, now=self.app.now())
        return Outcome(self._archived, company)

    def _archived(self, company: CompanyRead) -> None:
        if company.archived:
            self._last_archived = company.id
            self.notify(f"Archived {company.name}. Press u to undo.")
        else:
            self._last_archived = None
            self.notify(f"{company.name} is back in the list.")
        self.app.data_changed()
