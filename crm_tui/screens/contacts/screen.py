"""The Contacts area: search as you type, filters, sorts and smart lists over a windowed list that
stays instant at 100k contacts, and the actions a seller takes on the highlighted contact."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from crm_tui.clock import get_zone
from crm_tui.screens.base import AreaScreen, Outcome, SearchableList
from crm_tui.screens.bulk import BulkEditing
from crm_tui.screens.contacts.actions import ContactActions
from crm_tui.screens.field_sorts import FieldSorts
from crm_tui.services import start
from crm_tui.shapes import ContactRow
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable
from crm_tui.widgets.plain import PlainRow
from crm_tui.widgets.text_line import Line, late_input

SORT_LABELS = {"name": "name", "company": "company", "last_contacted": "last contacted", "created": "newest"}
SEARCH_HINT = "Search name, email, phone, company…  ( / )"
SIDEBAR_FROM = 100  # columns: narrower, the Lists sidebar shows only when v opens it
TYPE_AHEAD_S = 0.15  # after the first frame, the time a key typed at launch takes to be handled
# The list's first page is painted before SQLAlchemy and the models have loaded (services/start.py
# reads it on the start's plain connection); the services (contacts, users, views), the filter
# forms and the dialogs are imported where they are first used, after the first frame.


def contact_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("Name", lambda r: r.full_name or "(no name)", ratio=3, min_width=12),
        Column("Company", lambda r: r.company_name or "", ratio=2, min_width=8),
        Column("Email", lambda r: r.email or "", ratio=3, min_width=10, hide_below=70),
        Column("Phone", lambda r: r.phone or "", width=16, hide_below=110),
        Column("Stage", lambda r: r.lifecycle, width=9),
        Column("Owner", lambda r: r.owner_login or "", width=8, hide_below=90),
        Column("Contacted", lambda r: fmt.when(r.last_contacted_at, app.now(), zone), width=11),
    ]


NO_CONTACTS = "No contacts yet. Press n for a new contact."
NO_MATCH = "No contacts match. Press x to clear the search, n for a new contact."


class ContactsScreen(SearchableList, ContactActions, BulkEditing, FieldSorts, AreaScreen):
    AREA = "contacts"
    BULK_KIND = "contact"
    FIELD_SORT_KIND = "contact"
    CSS_PATH = "contacts.tcss"
    AUTO_FOCUS = "#contact-list"
    BINDINGS = [
        Binding("slash", "focus_search", "Search", id="contacts.search"),
        Binding("down", "focus_list", "To list", show=False, id="contacts.to_list"),
        Binding("escape", "focus_list", "To list", show=False, id="contacts.escape"),
        Binding("s", "cycle_sort", "Sort", id="contacts.sort"),
        Binding("f", "filters", "Filter", id="contacts.filter"),
        Binding("v", "toggle_views", "Lists", id="contacts.views"),
        Binding("S", "save_view", "Save list", show=False, id="contacts.save_view"),
        Binding("x", "clear", "Clear", show=False, id="contacts.clear"),
        # on the saved list highlighted in the Lists panel (only while the panel has the focus)
        Binding("r", "change_view('rename')", "Rename list", show=False, id="contacts.rename_view"),
        Binding("U", "change_view('update')", "Update list to this search", show=False, id="contacts.update_view"),
        Binding("D,delete", "change_view('delete')", "Delete list", show=False, id="contacts.delete_view"),
        *ContactActions.ACTION_BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.filters: dict = {}
        self.sort = "name"
        self.view_name = "All contacts"
        self._views: list = []
        self._logins: dict[int, str] = {}
        start.hold_orm()  # a worker loading the ORM meanwhile would slow the first frame (released on mount)

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        # The first frame draws what a person looks at first, the rows; the search box and the
        # Lists sidebar come a frame later, each where its place was kept (nothing moves):
        # - the search box is a line of text until the real Input replaces it after the first
        #   frame (or at once, on /). An Input is the costliest widget of the screen to set up.
        # - the sidebar mounts when its lists arrive (after the first rows); until then the body
        #   keeps its width free (class -lists-pending).
        yield Line(SEARCH_HINT, id="search-wait")
        yield Line(id="filter-line")
        with PlainRow(id="contacts-body", classes="-lists-pending" if self._sidebar_shown() else ""):
            table = KeysetTable(contact_columns(self.app), noun="contacts", id="contact-list", marking=True,
                                empty_text=NO_CONTACTS)
            self._first_fetch = self.fetcher()
            # the first page is fetched while the screen mounts (on the spot, from a local database)
            table.preload(self._first_fetch, here=self.app.db.local_reads)
            yield self.focused_at_start(table)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.table.load(self._first_fetch)
        self._describe()
        self.call_after_refresh(self.search_box)
        # the ORM may load once the first frame is drawn and the keys typed ahead of it are handled
        # (`crm`, then 3 at once: the Pipeline's first frame comes before it too)
        self.call_after_refresh(lambda: self.set_timer(TYPE_AHEAD_S, start.release_orm))

    def on_resize(self) -> None:
        self._show_sidebar()

    def _sidebar_shown(self) -> bool:
        width = self.size.width if self.is_mounted else self.app.size.width
        return width >= SIDEBAR_FROM or self.has_class("views-open")

    def _show_sidebar(self) -> None:
        shown = self._sidebar_shown()
        found = self.query("#views")
        for box in found:
            box.display = shown
        self.query_one("#contacts-body").set_class(shown and not found, "-lists-pending")

    def _views_list(self) -> OptionList:
        """The Lists sidebar, mounted in the place kept for it the first time it is needed."""
        found = self.query("#views")
        if found:
            return found.first(OptionList)
        option_list = OptionList(id="views")
        option_list.border_title = "Lists"
        self.query_one("#contacts-body").mount(option_list, before=self.table)
        self._show_sidebar()
        return option_list

    def search_box(self) -> Input:
        """The search Input, put in place of the line that stood for it if it isn't there yet."""
        return late_input(self, "search", SEARCH_HINT)

    @property
    def table(self) -> KeysetTable:
        return self.query_one(KeysetTable)

    # --- the list ---------------------------------------------------------------------------

    def fetcher(self):
        """What the table calls (in a thread) for one page of the current search."""
        db, query, sort, now = self.app.db, self.query_text or None, self.sort, self.app.now()
        chosen, actor = dict(self.filters), self.app.actor
        plain = query is None and not chosen and sort == "name"

        def fetch(*, after, before, limit, with_total):
            if plain and after is None and before is None and not with_total:
                # the first page as the app opens: no ORM needed (None once the start is over)
                page = start.first_contacts(db, limit=limit)
                if page is not None:
                    return page
            start.load_orm()
            from crm_tui.services import contacts, views

            filters = views.resolve_filters(chosen, actor)
            with db.read() as session:
                return contacts.list_contacts(session, query=query, filters=filters, sort=sort, after=after,
                                              before=before, limit=limit, with_total=with_total, now=now)
        return fetch

    def reload(self) -> None:
        self.table.load(self.fetcher())
        self._describe()

    def bulk_filters(self) -> dict:
        from crm_tui.services import views  # loaded with the ORM, after the first frame (see above)

        return views.resolve_filters(self.filters, self.app.actor)

    def refresh_data(self) -> None:
        self.forget_field_sorts()
        self.table.reload()
        self.load_views()

    def _describe(self) -> None:
        parts = [f"sorted by {self.sort_label(SORT_LABELS)}"]
        f = self.filters
        if f.get("lifecycle"):
            parts.append("stage " + "/".join(f["lifecycle"]))
        if f.get("owner_id") is not None:
            start.load_orm()
            from crm_tui.services.views import ME

            if f["owner_id"] in (ME, self.app.actor.user_id):
                parts.append("mine")
            else:
                parts.append(f"owner {self._logins.get(f['owner_id'], f['owner_id'])}")
        if f.get("unowned"):
            parts.append("no owner")
        if f.get("tag"):
            parts.append(f"#{f['tag']}")
        if f.get("source"):
            parts.append(f"source {f['source']}")
        if f.get("never_contacted"):
            parts.append("never contacted")
        if f.get("do_not_email"):
            parts.append("do not email")
        if f.get("not_contacted_days"):
            parts.append(f"not contacted in {f['not_contacted_days']}d")
        if f.get("created_within_days"):
            parts.append(f"added in {f['created_within_days']}d")
        if f.get("custom"):
            custom = f["custom"]
            parts += [f"{k}={v}" for k, v in custom.items()] if isinstance(custom, dict) else list(custom)
        if f.get("archived"):
            parts.append("archived")
        if self.query_text:
            parts.append(f"matching “{self.query_text}”")
        # plain text, not markup: a list's name or the search may hold "[" (one line: no layout pass)
        line = Text.assemble((self.view_name, "bold"), *(f" · {part}" for part in parts))
        self.query_one("#filter-line", Line).update(line)
        narrowed = bool(self.query_text) or any(value for value in f.values())
        self.table.empty_text = NO_MATCH if narrowed else NO_CONTACTS  # "x to clear" only when there is

    def highlighted_contact_id(self) -> int | None:
        row = self.table.current_row
        return row.id if isinstance(row, ContactRow) else None

    @on(KeysetTable.Loaded, "#contact-list")
    def _list_loaded(self) -> None:
        if not self._views:  # the sidebar's counts wait until the first rows are in
            self.load_views()

    @on(KeysetTable.Selected, "#contact-list")
    def open_contact(self, event: KeysetTable.Selected) -> None:
        self.app.open_record("contact", event.row.id)

    # --- search -----------------------------------------------------------------------------

    @on(Input.Changed, "#search")
    def search_changed(self, event: Input.Changed) -> None:
        self.search_typed(event.value)

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.submit_search(event.value)

    def action_focus_search(self) -> None:
        self.search_box().focus()

    def action_focus_list(self) -> None:
        self.table.focus()

    def action_clear(self) -> None:
        self.search_box().value = ""
        self.query_text, self.filters, self.sort, self.view_name = "", {}, "name", "All contacts"
        self.reload()

    def action_cycle_sort(self) -> None:
        self.cycle_sort(list(SORT_LABELS))  # then the typed custom fields

    def action_filters(self) -> None:
        start.load_orm()
        from crm_tui.screens.contacts.filters import ContactFilterForm

        def apply(filters: dict | None) -> None:
            if filters is not None:
                self.filters = filters
                self.view_name = "Filtered"
                self.reload()

        self.app.push_screen(ContactFilterForm(self.filters), apply)

    # --- smart lists --------------------------------------------------------------------------

    def action_toggle_views(self) -> None:
        views_list = self._views_list()
        self.toggle_class("views-open")
        views_list.display = not views_list.display
        if views_list.display:
            views_list.focus()
        else:
            self.table.focus()

    @work(thread=True, exclusive=True, group="contact-views", exit_on_error=False)
    def load_views(self) -> Outcome:
        start.load_orm()
        from crm_tui.services import users, views

        with self.app.db.read() as session:
            found = views.contact_views(session, actor=self.app.actor)
            counts = views.view_counts(session, views=found, actor=self.app.actor, now=self.app.now())
            logins = {u.id: u.login for u in users.list_users(session)}
        return Outcome(self._show_views, found, counts, logins)

    def _show_views(self, found: list, counts: dict[int, int], logins: dict[int, str]) -> None:
        self._views, self._logins = found, logins
        option_list = self._views_list()
        highlighted = option_list.highlighted
        option_list.clear_options()
        # a list's name goes in as plain text, never read as markup ("[/b]" would end the app)
        option_list.add_options([Option(Content.from_markup("$name  [dim]$count[/dim]", name=v.name,
                                                            count=f"{counts.get(v.id, 0):,}"), id=str(v.id))
                                 for v in found])
        if highlighted is not None and highlighted < len(found):
            option_list.highlighted = highlighted
        self._describe()

    @on(OptionList.OptionSelected, "#views")
    def view_selected(self, event: OptionList.OptionSelected) -> None:
        view = next((v for v in self._views if str(v.id) == event.option.id), None)
        if view is None:
            return
        self.apply_view(view)
        self.table.focus()

    def apply_view(self, view) -> None:
        self.view_name, self.query_text = view.name, view.query or ""
        self.filters, self.sort = dict(view.filters), view.sort
        search = self.search_box()
        with search.prevent(Input.Changed):
            search.value = self.query_text
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "change_view" and not self._views_focused():
            return None  # listed by help, and does nothing until the Lists panel has the focus
        return super().check_action(action, parameters)

    def _views_focused(self) -> bool:
        found = self.query("#views")
        return bool(found) and self.focused is found.first()

    def action_change_view(self, change: str) -> None:
        """Rename, update or delete the saved list highlighted in the Lists panel (the built-in
        lists stay as they are)."""
        option = self._views_list().highlighted_option
        view = next((v for v in self._views if option is not None and str(v.id) == option.id), None)
        if view is None:
            return
        start.load_orm()
        from crm_tui.screens.contacts.filters import RenameViewForm
        from crm_tui.screens.forms import ConfirmScreen
        from crm_tui.services import views

        if view.id < 0:
            self.notify(f"“{view.name}” is built in: it cannot be renamed, changed or deleted. "
                        "S saves the current list as a new one.", severity="warning")
            return
        if change == "rename":
            def renamed(saved) -> None:
                if saved is not None:
                    if self.view_name == view.name:
                        self.view_name = saved.name
                    self.notify(f"Renamed the list “{view.name}” to “{saved.name}”.")
                    self.load_views()
            self.app.push_screen(RenameViewForm(view), renamed)
        elif change == "update":
            def update(yes: bool | None) -> None:
                if yes:
                    self._write_view("update", view, {"query": self.query_text, "sort": self.sort,
                                                      "filters": views.resolve_filters(self.filters, self.app.actor)})
            self.app.push_screen(ConfirmScreen(f"Replace the search, filters and sort of “{view.name}” with the "
                                               "ones shown now?", "Update"), update)
        elif change == "delete":
            def delete(yes: bool | None) -> None:
                if yes:
                    self._write_view("delete", view, {})
            shared = " for everyone it is shared with" if view.shared else ""
            self.app.push_screen(ConfirmScreen(f"Delete the list “{view.name}”{shared}? Its contacts stay.",
                                               "Delete"), delete)

    @work(thread=True, exclusive=True, group="contact-view-change", exit_on_error=False)
    def _write_view(self, change: str, view, shown: dict) -> Outcome:
        start.load_orm()
        from crm_tui.services import views

        with self.app.db.write() as session:
            if change == "update":
                views.update_view(session, view_id=view.id, version=view.version, actor=self.app.actor,
                                  now=self.app.now(), **shown)
            else:
                views.delete_view(session, view_id=view.id, actor=self.app.actor, now=self.app.now())
        done = "Updated" if change == "update" else "Deleted"
        return Outcome(self._view_written, f"{done} the list “{view.name}”.")

    def _view_written(self, message: str) -> None:
        self.notify(message)
        self.load_views()

    def action_save_view(self) -> None:
        start.load_orm()
        from crm_tui.screens.contacts.filters import SaveViewForm
        from crm_tui.services import views

        data = {"entity": "contact", "query": self.query_text,
                "filters": views.resolve_filters(self.filters, self.app.actor), "sort": self.sort}

        def saved(view) -> None:
            if view is not None:
                self.view_name = view.name
                self.notify(f"Saved the list “{view.name}” for the team.")
                self.load_views()

        self.app.push_screen(SaveViewForm(data), saved)

    # --- the actions' hooks ---------------------------------------------------------------------

    def after_change(self, contact=None) -> None:
        self.app.data_changed()
