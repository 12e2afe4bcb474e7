"""The Companies area: search as you type over a windowed list of accounts (with their contact
counts), sorts, and new, edit, archive and undo; Enter opens the account view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from crm_tui.errors import Conflict, CrmError, Duplicate, InvalidInput, NotFound
from crm_tui.models.schemas import CompanyRead, CompanyRow, UserRead
from crm_tui.screens.base import AreaScreen, Outcome, ReportsWorkerErrors, SearchableList
from crm_tui.screens.conflict import ResolvesConflicts, put_select
from crm_tui.screens.forms import ConfirmScreen, offer_existing
from crm_tui.services import companies, users
from crm_tui.services.paging import Page
from crm_tui.widgets.keyset_table import Column, KeysetTable

CSS = "companies.tcss"
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


class CompaniesScreen(SearchableList, AreaScreen):
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
        yield KeysetTable(company_columns(), noun="companies", id="company-list")
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
        from crm_tui.screens.companies.detail import CompanyDetailScreen

        self.app.push_screen(CompanyDetailScreen(event.row.id))

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
    def _load_for_edit(self, company_id: int) -> None:
        with self.app.db.read() as session:
            company = companies.get_company(session, company_id=company_id)
        self.app.call_from_thread(self._edit, company)

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
    def _set_archived(self, company_id: int, archived: bool) -> None:
        with self.app.db.write() as session:
            company = companies.set_company_archived(session, company_id=company_id, archived=archived,
                                                     actor=self.app.actor, now=self.app.now())
        self.app.call_from_thread(self._archived, company)

    def _archived(self, company: CompanyRead) -> None:
        if company.archived:
            self._last_archived = company.id
            self.notify(f"Archived {company.name}. Press u to undo.")
        else:
            self._last_archived = None
            self.notify(f"{company.name} is back in the list.")
        self.app.data_changed()


# --- the company form ------------------------------------------------------------------------

TEXT_FIELDS = ("name", "domain", "industry", "size", "address")


def _field(label: str, widget: Widget) -> Horizontal:
    return Horizontal(Label(label, classes="company-field-label"), widget, classes="company-field")


def _selected(select: Select) -> Any | None:
    return None if select.is_blank() else select.value


class CompanyForm(ReportsWorkerErrors, ResolvesConflicts, ModalScreen[CompanyRead | None]):
    """New company, or edit one. An edit sends only the fields changed, with the version it was
    read at: if someone saved meanwhile, changes to different fields merge and the same field asks
    (screens/conflict.py); going back from that leaves it unsaved and offers to reload. It never
    overwrites silently."""

    CONFLICT_FIELDS: ClassVar[dict[str, str]] = {
        "name": "Name", "domain": "Domain", "industry": "Industry", "size": "Size", "address": "Address",
        "owner_id": "Owner", "notes": "Notes",
    }
    OWNER_SELECT = "#company-owner"

    CSS_PATH = CSS
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="company_form.save"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="company_form.reload"),
        Binding("escape", "cancel", "Cancel", id="company_form.cancel"),
    ]
    HINT = "tab next · ctrl+s save · esc cancel"
    CONFLICT_HINT = "ctrl+r reload theirs (drops your edits)"

    def __init__(self, company: CompanyRead | None = None) -> None:
        super().__init__()
        self.company = company
        self.saving = False
        self.conflicted = False
        self.allow_duplicate = False  # the person chose "save anyway" for a duplicate

    def compose(self) -> ComposeResult:
        c = self.company
        with Vertical(id="company-form"):
            yield Label(f"Edit company · {c.name}" if c else "New company", id="company-form-title", markup=False)
            with VerticalScroll(id="company-form-body", can_focus=False):
                yield _field("Name", Input(id="company-name", compact=True))
                yield _field("Domain", Input(id="company-domain", placeholder="e.g. example.com", compact=True))
                yield _field("Industry", Input(id="company-industry", compact=True))
                yield _field("Size", Input(id="company-size", placeholder="e.g. 11-50", compact=True))
                yield _field("Address", Input(id="company-address", compact=True))
                yield _field("Owner", self._owner_select())
                yield _field("Notes", TextArea(id="company-notes", compact=True, soft_wrap=True))
            yield Label("", id="company-form-error", markup=False)
            with Horizontal(id="company-form-footer"):
                yield Label(self.HINT, id="company-form-hint")
                yield Button("Reload", id="company-form-reload", compact=True)
                yield Button("Save", id="company-form-save", variant="primary", compact=True)
                yield Button("Cancel", id="company-form-cancel", compact=True)

    def _owner_select(self) -> Select:
        """Holds the current owner (a new company's: you) before the team is loaded, so an early
        save never clears it."""
        c, actor = self.company, self.app.actor
        owner_id, login = (c.owner_id, c.owner_login) if c else (actor.user_id, actor.login)
        if owner_id is None:
            return Select([], id="company-owner", prompt="(nobody)", compact=True)
        return Select([(login or f"#{owner_id}", owner_id)], id="company-owner", value=owner_id,
                      prompt="(nobody)", compact=True)

    def on_mount(self) -> None:
        if self.company is not None:
            self._fill(self.company)
        self.query_one("#company-form-reload").display = False
        self.query_one("#company-name", Input).focus()
        self._load_team(self.app, self.company.owner_id if self.company else None)

    def _fill(self, company: CompanyRead) -> None:
        for name in TEXT_FIELDS:
            self.query_one(f"#company-{name}", Input).value = getattr(company, name) or ""
        self.query_one("#company-notes", TextArea).text = company.notes or ""

    # -- the owner choices

    @work(thread=True, exclusive=True, group="company-form-load", exit_on_error=False)
    def _load_team(self, app: App, owner_id: int | None) -> Outcome:
        with app.db.read() as session:
            team = users.list_users(session, include_inactive=False)
            if owner_id is not None and all(u.id != owner_id for u in team):
                team.append(users.get_user(session, user_id=owner_id))  # a deactivated owner stays choosable
        return Outcome(self._show_team, team)

    def _show_team(self, team: list[UserRead]) -> None:
        owner = self.query_one("#company-owner", Select)
        chosen = _selected(owner)  # what is shown now: the stored owner, or the user's pick
        owner.set_options([(u.login, u.id) for u in team])
        if chosen is not None and any(u.id == chosen for u in team):
            owner.value = chosen

    # -- reading the form

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: self.query_one(f"#company-{name}", Input).value for name in TEXT_FIELDS}
        values["notes"] = self.query_one("#company-notes", TextArea).text
        values["owner_id"] = _selected(self.query_one("#company-owner", Select))
        return values

    def changes(self) -> dict[str, Any]:
        """The fields that differ from the company as it was read (blank and None are the same)."""
        values, c = self.values(), self.company
        changed = {name: value for name, value in values.items()
                   if name != "owner_id" and value.strip() != (getattr(c, name) or "")}
        if values["owner_id"] != c.owner_id:
            changed["owner_id"] = values["owner_id"]
        return changed

    # -- keys and buttons

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    @on(Button.Pressed, "#company-form-save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#company-form-reload")
    def _reload_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_reload()

    @on(Button.Pressed, "#company-form-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_cancel(self) -> None:
        if not self.saving:  # a write is under way: its outcome decides
            self.dismiss(None)

    def action_save(self) -> None:
        if self.saving:
            return
        if self.company is None:
            args = (None, None, {**self.values(), "_allow_duplicate": self.allow_duplicate})
        else:
            changes = self.changes()
            if not changes:
                self.dismiss(None)
                return
            args = (self.company.id, self.company.version, changes)
        self._set_saving(True)
        self.show_error("")
        self._save(self.app, *args, self.app.now())

    def action_reload(self) -> None:
        if self.company is not None and not self.saving:
            self._reload(self.app, self.company.id)

    # -- feedback

    def _set_saving(self, saving: bool) -> None:
        self.saving = saving
        self.query_one("#company-form-save", Button).disabled = saving
        hint = self.CONFLICT_HINT if self.conflicted else self.HINT
        self.query_one("#company-form-hint", Label).update("saving…" if saving else hint)

    def show_error(self, message: str) -> None:
        error = self.query_one("#company-form-error", Label)
        error.update(message)
        error.set_class(bool(message), "-shown")

    def _rejected(self, message: str) -> None:
        self._set_saving(False)
        self.show_error(message)

    def _conflict(self, error: Conflict) -> None:
        self.resolve_conflict(error)

    def _duplicate(self, error: Duplicate) -> None:
        """A company with that domain or name exists: say so; offer to open it or to save anyway."""
        offer_existing(self, error, self._rejected)

    # -- what the conflict resolution needs (screens/conflict.py)

    def conflict_rejected(self, message: str) -> None:
        self._set_saving(False)
        self.conflicted = True
        self.query_one("#company-form-reload").display = True
        self.show_error(f"{message[:1].upper()}{message[1:]}.")
        self.query_one("#company-form-hint", Label).update(self.CONFLICT_HINT)
        self.notify(message, title="Changed by someone else", severity="warning", timeout=8)

    def opened_record(self) -> CompanyRead:
        return self.company

    def record_values(self, company: CompanyRead) -> dict[str, Any]:
        values = {name: getattr(company, name) or "" for name in (*TEXT_FIELDS, "notes")}
        return {**values, "owner_id": company.owner_id}

    def form_values(self) -> dict[str, Any]:
        return {name: value.strip() if isinstance(value, str) else value for name, value in self.values().items()}

    def put_values(self, values: dict[str, Any], record: CompanyRead) -> None:
        for name in TEXT_FIELDS:
            self.query_one(f"#company-{name}", Input).value = values[name]
        self.query_one("#company-notes", TextArea).text = values["notes"]
        put_select(self.query_one("#company-owner", Select), values["owner_id"], record.owner_login)

    def fetch_current(self, session) -> CompanyRead:
        return companies.get_company(session, company_id=self.company.id)

    def rebase(self, record: CompanyRead) -> None:
        self.company = record
        self.query_one("#company-form-title", Label).update(f"Edit company · {record.name}")

    def save_again(self) -> None:
        self._set_saving(False)
        self.action_save()

    def conflict_took_theirs(self, record: CompanyRead) -> None:
        self._saved(record)

    def _failed(self, error: Exception) -> None:
        self._set_saving(False)
        message = error.message if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
        self.notify(message, title="Could not save", severity="error")

    def _saved(self, company: CompanyRead) -> None:
        self.saving = False
        self.dismiss(company)

    def _reloaded(self, company: CompanyRead) -> None:
        self.company = company
        self.conflicted = False
        self._fill(company)
        self.query_one("#company-form-hint", Label).update(self.HINT)
        self.query_one("#company-form-reload").display = False
        self.query_one("#company-form-title", Label).update(f"Edit company · {company.name}")
        self.show_error(f"Reloaded version {company.version}; make your change again.")

    # -- workers (no widgets in here)

    @work(thread=True, exclusive=True, group="company-form", exit_on_error=False)
    def _save(self, app: App, company_id: int | None, version: int | None, values: dict[str, Any],
              now: datetime) -> Outcome:
        try:
            with app.db.write() as session:
                if company_id is None:
                    allow_duplicate = values.pop("_allow_duplicate")
                    company = companies.create_company(session, data=values, actor=app.actor, now=now,
                                                       allow_duplicate=allow_duplicate)
                else:
                    company = companies.update_company(session, company_id=company_id, changes=values,
                                                       actor=app.actor, version=version, now=now)
        except Conflict as exc:
            return Outcome(self._conflict, exc)
        except Duplicate as exc:
            return Outcome(self._duplicate, exc)
        except (InvalidInput, NotFound) as exc:
            return Outcome(self._rejected, exc.message)
        except Exception as exc:  # noqa: BLE001 - a form reports a failure, it never takes the app down
            return Outcome(self._failed, exc)
        else:
            return Outcome(self._saved, company)

    @work(thread=True, exclusive=True, group="company-form-load", exit_on_error=False)
    def _reload(self, app: App, company_id: int) -> Outcome:
        with app.db.read() as session:
            company = companies.get_company(session, company_id=company_id)
        return Outcome(self._reloaded, company)
