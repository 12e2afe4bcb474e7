"""The deals list beside the board (`v` switches): every deal, open, won, lost or archived, searched,
filtered and sorted over the one paged-window engine (a KeysetTable), and saved as a shared list."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList
from textual.widgets.option_list import Option

from crm_tui.errors import CrmError
from crm_tui.models.schemas import DealRead, DealRow, SavedViewRead
from crm_tui.screens.base import SHELL_CSS, AreaScreen, Outcome, ReportsWorkerErrors, SearchableList
from crm_tui.screens.bulk import BulkEditing
from crm_tui.screens.field_sorts import FieldSorts
from crm_tui.screens.saved_lists import SaveViewForm
from crm_tui.screens.forms import CSS as FORMS_CSS
from crm_tui.screens.forms import DealForm, FormScreen, _field, _input
from crm_tui.services import deal_list, views
from crm_tui.services.lookup import Choice
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable
from crm_tui.widgets.picker import ME, NOBODY, Picker
from crm_tui.widgets.text_line import Line

SEARCH_HINT = "Search deal titles…  ( / )"
ALL_DEALS = "All deals"
CLOSED_MARK = {"won": " ✓", "lost": " ✗"}


def deal_columns() -> list[Column]:
    """At 80 columns the title has the room (a deal's title usually names its company); the company
    and the owner show from 100 and 110. A won or lost deal's stage carries a mark."""
    return [
        Column("Deal", lambda r: r.title, ratio=3, min_width=16),
        Column("Company", lambda r: r.company_name or "", ratio=2, min_width=10, hide_below=100),
        Column("Stage", lambda r: r.stage_name + CLOSED_MARK.get(r.status, ""), width=13),
        Column("Amount", lambda r: fmt.money(r.amount_minor, r.currency), width=13, align="right"),
        Column("Close", lambda r: r.expected_close.isoformat() if r.expected_close else "—", width=10),
        Column("Owner", lambda r: r.owner_login or "", width=8, hide_below=110),
    ]


class DealsListScreen(SearchableList, BulkEditing, FieldSorts, AreaScreen):
    """The Pipeline area's table: pushed over the board by `v`, and `v` again goes back to it."""

    AREA = "pipeline"
    BULK_KIND = "deal"
    FIELD_SORT_KIND = "deal"
    CSS_PATH = "deals.tcss"
    AUTO_FOCUS = "#deal-list"
    BINDINGS = [
        Binding("v", "board", "Board", id="deals.board"),
        Binding("slash", "focus_search", "Search", id="deals.search"),
        Binding("down", "focus_list", "To list", show=False, id="deals.to_list"),
        Binding("escape", "focus_list", "To list", show=False, id="deals.escape"),
        Binding("s", "cycle_sort", "Sort", id="deals.sort"),
        Binding("f", "filters", "Filter", id="deals.filter"),
        Binding("l", "lists", "Lists", id="deals.lists"),
        Binding("S", "save_view", "Save list", show=False, id="deals.save_view"),
        Binding("x", "clear", "Clear", show=False, id="deals.clear"),
        Binding("n", "new_deal", "New", show=False, id="deals.new_deal"),
    ]
    NEEDS = {"new_deal": "deal.edit"}

    def __init__(self, *, filters: dict | None = None, sort: str = "title", name: str = ALL_DEALS) -> None:
        super().__init__()
        self.query_text = ""
        self.filters: dict = dict(filters or {})
        self.texts: dict[str, Any] = {}  # the filter form as typed, to show it again
        self.sort = sort
        self.view_name = name

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Input(placeholder=SEARCH_HINT, id="deal-search")
        yield Line(id="deal-filter-line")
        table = KeysetTable(deal_columns(), noun="deals", id="deal-list", marking=True,
                            empty_text=self._empty_text())
        self._first_fetch = self.fetcher()
        table.preload(self._first_fetch, here=self.app.db.local_reads)
        yield self.focused_at_start(table)
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.table.load(self._first_fetch)
        self._describe()

    @property
    def table(self) -> KeysetTable:
        return self.query_one("#deal-list", KeysetTable)

    # --- the list ---------------------------------------------------------------------------

    def bulk_filters(self) -> dict:
        """`*` marks every deal these filters (and the search) match: the same WHERE as the list."""
        return views.resolve_filters(self.filters, self.app.actor)

    def fetcher(self):
        """What the table calls (in a thread) for one page of the current search, filters and sort."""
        db, query, sort = self.app.db, self.query_text or None, self.sort
        filters = views.resolve_filters(self.filters, self.app.actor)

        def fetch(*, after, before, limit, with_total):
            with db.read() as session:
                return deal_list.list_deals(session, query=query, filters=filters, sort=sort, after=after,
                                            before=before, limit=limit, with_total=with_total)
        return fetch

    def _narrowed(self) -> bool:
        return bool(self.query_text) or any(value not in (None, False, [], {}) for value in self.filters.values())

    def _empty_text(self) -> str:
        if self._narrowed():
            return "No deals match. x clears the search and filters; l shows the saved lists."
        return "No deals yet. Press n for a new deal, or v for the board."

    def reload(self) -> None:
        self.table.empty_text = self._empty_text()
        self.table.load(self.fetcher())
        self._describe()

    def refresh_data(self) -> None:
        self.forget_field_sorts()
        if self.is_mounted:
            self.table.reload()

    def _describe(self) -> None:
        f = self.filters
        parts = [f"sorted by {self.sort_label(deal_list.SORT_LABELS)}"]
        if f.get("status"):
            parts.append("/".join(f["status"]))
        if f.get("archived"):
            parts.append("archived")
        if f.get("owner_id") in (views.ME, self.app.actor.user_id):
            parts.append("mine")
        elif f.get("owner_id") is not None:
            parts.append(f"owner {self.texts.get('owner') or '#' + str(f['owner_id'])}")
        if f.get("unowned"):
            parts.append("no owner")
        for key, label in (("stage_ids", "stage"), ("company_id", "company"), ("contact_id", "contact")):
            if f.get(key):
                parts.append(f"{label} {self.texts.get(_TEXT_OF[key]) or f[key]}")
        if f.get("tag"):
            parts.append(f"#{f['tag']}")
        if f.get("close_from") or f.get("close_to"):
            parts.append(f"closing {f.get('close_from') or '…'}–{f.get('close_to') or '…'}")
        if f.get("amount_min") is not None or f.get("amount_max") is not None:
            parts.append(f"amount {self.texts.get('amount_min') or '…'}–{self.texts.get('amount_max') or '…'}")
        if f.get("custom"):
            custom = f["custom"]
            parts.append(", ".join(custom if isinstance(custom, list) else [f"{k}={v}" for k, v in custom.items()]))
        if self.query_text:
            parts.append(f"matching “{self.query_text}”")
        line = Text.assemble((self.view_name, "bold"), *(f" · {part}" for part in parts),
                             ("  v board · l lists", "dim"))
        self.query_one("#deal-filter-line", Line).update(line)

    @on(KeysetTable.Selected, "#deal-list")
    def open_deal(self, event: KeysetTable.Selected) -> None:
        self.app.open_record("deal", event.row.id)

    def highlighted_deal_id(self) -> int | None:
        row = self.table.current_row
        return row.id if isinstance(row, DealRow) else None

    # --- keys -------------------------------------------------------------------------------

    def action_board(self) -> None:
        self.app.pop_screen()

    def action_deals_table(self) -> None:
        """(The palette's "Deals list": here already.)"""
        self.table.focus()

    @on(Input.Changed, "#deal-search")
    def search_changed(self, event: Input.Changed) -> None:
        self.search_typed(event.value)

    @on(Input.Submitted, "#deal-search")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.submit_search(event.value)

    def action_focus_search(self) -> None:
        self.query_one("#deal-search", Input).focus()

    def action_focus_list(self) -> None:
        self.table.focus()

    def action_clear(self) -> None:
        search = self.query_one("#deal-search", Input)
        with search.prevent(Input.Changed):
            search.value = ""
        self.query_text, self.filters, self.texts, self.sort, self.view_name = "", {}, {}, "title", ALL_DEALS
        self.reload()

    def action_cycle_sort(self) -> None:
        self.cycle_sort(list(deal_list.SORTS))  # then the typed custom fields

    def action_filters(self) -> None:
        def apply(result: tuple[dict, dict] | None) -> None:
            if result is not None:
                self.filters, self.texts = result
                self.view_name = "Filtered" if self.filters else ALL_DEALS
                self.reload()

        self.app.push_screen(DealFilterForm(self.texts), apply)

    def action_new_deal(self) -> None:
        def created(deal: DealRead | None) -> None:
            if deal is not None:
                self.notify(f"Added {deal.title} in {deal.pipeline_name} › {deal.stage_name}.")
                self.app.data_changed()

        self.app.push_screen(DealForm(), created)

    # --- saved lists ------------------------------------------------------------------------

    def action_lists(self) -> None:
        def chosen(view: SavedViewRead | None) -> None:
            if view is not None:
                self.apply_view(view)

        self.app.push_screen(DealListsPicker(), chosen)

    def apply_view(self, view: SavedViewRead) -> None:
        self.view_name, self.query_text = view.name, view.query or ""
        self.filters, self.texts, self.sort = dict(view.filters), {}, view.sort
        search = self.query_one("#deal-search", Input)
        with search.prevent(Input.Changed):
            search.value = self.query_text
        self.reload()
        self.table.focus()

    def action_save_view(self) -> None:
        data = {"entity": "deal", "query": self.query_text,
                "filters": views.resolve_filters(self.filters, self.app.actor), "sort": self.sort}

        def saved(view) -> None:
            if view is not None:
                self.view_name = view.name
                self._describe()
                self.notify(f"Saved the list “{view.name}” for the team.")

        self.app.push_screen(SaveViewForm(data), saved)


_TEXT_OF = {"stage_ids": "stages", "company_id": "company", "contact_id": "contact"}


class DealFilterForm(FormScreen[tuple[dict, dict] | None]):
    """The deals list's filters, typed as `crm deal list` takes them; names are resolved on apply."""

    HINT = "^s apply · ^r reset · esc cancel"
    BINDINGS = [Binding("ctrl+r", "reset", "Reset", id="deal_filter.reset")]
    FIELDS = (
        ("status", "Status", "open, won, lost (any if empty)"),
        ("pipeline", "Pipeline", "type to find (any if empty)"),
        ("stages", "Stage", "type to find, e.g. Proposal"),
        ("owner", "Owner", "me, nobody, or a name"),
        ("company", "Company", "type to find a name or domain"),
        ("tag", "Tag", "the contact's tag, e.g. vip"),
        ("close_from", "Close from", "e.g. today, 2027-01-01"),
        ("close_to", "Close to", "e.g. end of month, +30d"),
        ("amount_min", "Amount ≥", "e.g. 10,000"),
        ("amount_max", "Amount ≤", ""),
        ("custom", "Fields", "custom: segment=smb, region"),
    )

    # the fields that name a record: pickers (what is chosen or typed is read as the CLI reads it)
    PICKERS: ClassVar[dict[str, tuple[str, tuple[Choice, ...]]]] = {
        "pipeline": ("pipeline", ()), "stages": ("stage", ()), "owner": ("user", (ME, NOBODY)),
        "company": ("company", ()),
    }

    def __init__(self, texts: dict[str, Any]) -> None:
        super().__init__()
        self.texts = dict(texts)

    def on_mount(self) -> None:
        for key in self.PICKERS:
            if text := self.texts.get(key):
                picker = self.query_one(f"#filter-{key}-picker", Picker)
                with picker.input.prevent(Input.Changed):
                    picker.input.value = text

    @on(Picker.Changed, "#filter-pipeline-picker")
    def _pipeline_chosen(self, event: Picker.Changed) -> None:
        """The stage picker offers the chosen pipeline's stages (every pipeline's when none is)."""
        event.stop()
        self.query_one("#filter-stages-picker", Picker).set_within(event.choice.id if event.choice else None)

    def form_title(self) -> str:
        return "Filter deals"

    def compose_buttons(self) -> ComposeResult:
        yield Button("Apply", id=self.part("save"), variant="primary", compact=True)
        yield Button("Cancel", id=self.part("cancel"), compact=True)

    def compose_fields(self) -> ComposeResult:
        for key, label, placeholder in self.FIELDS:
            if key in self.PICKERS:
                kind, extras = self.PICKERS[key]
                yield _field(label, Picker(kind, id=f"filter-{key}", extras=extras, placeholder=placeholder))
            else:
                yield _field(label, _input(f"filter-{key}", self.texts.get(key) or "", placeholder=placeholder))
        yield _field("", Checkbox("Archived deals instead", bool(self.texts.get("archived")), id="filter-archived",
                                  compact=True))

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: self.query_one(f"#filter-{key}", Input).value for key, _, _ in self.FIELDS}
        out["archived"] = self.query_one("#filter-archived", Checkbox).value
        return out

    def action_reset(self) -> None:
        self.dismiss(({}, {}))

    @work(thread=True, exclusive=True, group="form", exit_on_error=False)
    def _save(self, app: App, values: dict[str, Any], now: datetime) -> Outcome:
        """Reads only: names to ids, dates and amounts read as the CLI reads them."""
        typed = {**values, "stages": [values["stages"]], "custom": [values["custom"]]}
        try:
            with app.db.read() as session:
                filters = deal_list.parse_filters(session, actor=app.actor, now=now,
                                                  currency=app.settings.currency, **typed)
        except CrmError as exc:
            return Outcome(self.report_rejected, exc.message)
        except Exception as exc:  # noqa: BLE001 - a form reports a failure, it never takes the app down
            return Outcome(self.report_failure, exc)
        texts = {key: value for key, value in values.items() if value}
        return Outcome(self.report_saved, (filters, texts))


class DealListsPicker(ReportsWorkerErrors, ModalScreen[SavedViewRead | None]):
    """The built-in deal lists (open, mine, won, lost, archived) and the team's saved ones, with counts."""

    CSS_PATH = [SHELL_CSS, FORMS_CSS, "deals.tcss"]
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="deal_lists.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="deal-lists"):
            yield Label("[b]Deal lists[/b]  enter opens · esc cancels", id="deal-lists-title")
            yield OptionList(id="deal-lists-options")

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="deal-lists", exit_on_error=False)
    def load(self) -> Outcome:
        actor = self.app.actor
        with self.app.db.read() as session:
            found = views.deal_views(session, actor=actor)
            counts = {view.id: deal_list.count_deals(session, query=view.query or None,
                                                     filters=views.resolve_filters(view.filters, actor))
                      for view in found}
        return Outcome(self._show, found, counts)

    def _show(self, found: list[SavedViewRead], counts: dict[int, int]) -> None:
        self.found = found
        options = self.query_one("#deal-lists-options", OptionList)
        # a list's name is shown as typed, never read as markup
        options.add_options([Option(Content.from_markup("$name  [dim]$count[/dim]", name=view.name,
                                                        count=f"{counts.get(view.id, 0):,}"), id=str(view.id))
                             for view in found])
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#deal-lists-options")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(next((v for v in self.found if str(v.id) == event.option.id), None))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
