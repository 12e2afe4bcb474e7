"""The Products area: the catalog as a keyset-paged list (name or SKU search as you type), new and
edit in the product form, archive with a yes/no and undo, and the archived products on `v`."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Input, Static

from crm_tui.screens.base import AreaScreen, Outcome, SearchableList
from crm_tui.screens.forms import ConfirmScreen
from crm_tui.screens.products.form import CSS, ProductForm
from crm_tui.services import products
from crm_tui.services.paging import Page
from crm_tui.widgets.keyset_table import Column, KeysetTable

SORT_LABELS = {"name": "name", "sku": "SKU"}
EDIT = "product.edit"


def _prices(row: products.ProductRow) -> str:
    return ", ".join(f"{products.money_text(p.unit_price_minor, p.currency)} {p.currency}" for p in row.prices)


def product_columns() -> list[Column]:
    return [
        Column("SKU", lambda r: r.sku, ratio=1, min_width=8),
        Column("Name", lambda r: r.name, ratio=3, min_width=12),
        Column("Unit", lambda r: r.unit, width=6, hide_below=60),
        Column("Tax", lambda r: products.tax_text(r.tax_rate_bp), width=6, align="right", hide_below=70),
        Column("Prices", _prices, ratio=2, min_width=10),
    ]


class ProductsScreen(SearchableList, AreaScreen):
    AREA = "products"
    CSS_PATH = CSS
    BINDINGS = [
        Binding("slash", "focus_search", "Search", id="products.search"),
        Binding("down", "focus_list", "To list", show=False, id="products.to_list"),
        Binding("escape", "focus_list", "To list", show=False, id="products.escape"),
        Binding("s", "cycle_sort", "Sort", id="products.sort"),
        Binding("v", "toggle_archived", "Archived", id="products.archived"),
        Binding("n", "new_product", "New", id="products.new"),
        Binding("e", "edit_product", "Edit", id="products.edit"),
        Binding("a", "archive", "Archive", id="products.archive"),
        Binding("u", "unarchive", "Undo archive", show=False, id="products.unarchive"),
    ]
    NEEDS = {"new_product": EDIT, "edit_product": EDIT, "archive": EDIT, "unarchive": EDIT}

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.sort = "name"
        self.archived = False
        self._last_archived: int | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        with Horizontal(id="product-search-bar"):
            yield Input(placeholder="Search name or SKU…  ( / )", id="product-search")
        yield Static(id="product-list-line", markup=False)  # it quotes the search text as typed
        yield KeysetTable(product_columns(), noun="products", id="product-list")
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        self.reload()
        self.table.focus()

    @property
    def table(self) -> KeysetTable:
        return self.query_one("#product-list", KeysetTable)

    # --- the list ---------------------------------------------------------------------------

    def fetcher(self):
        """What the table calls (in a thread): one page of products."""
        db, query, sort, archived = self.app.db, self.query_text or None, self.sort, self.archived

        def fetch(*, after, before, limit, with_total) -> Page[products.ProductRow]:
            with db.read() as session:
                return products.list_products(session, query=query, sort=sort, archived=archived, after=after,
                                              before=before, limit=limit, with_total=with_total)
        return fetch

    def reload(self) -> None:
        table = self.table
        if self.query_text:
            table.empty_text = (f"No {'archived ' if self.archived else ''}product's name or SKU starts with "
                                f"“{self.query_text}”. / to search again.")
        elif self.archived:
            table.empty_text = "No archived products. v shows the catalog."
        else:
            table.empty_text = "No products yet. Press n to add the first one (or crm import products FILE)."
        table.load(self.fetcher())
        line = ("archived products" if self.archived else "the catalog") + \
            f" · sorted by {SORT_LABELS.get(self.sort, self.sort)}"
        if self.query_text:
            line += f" · name or SKU starting “{self.query_text}”"
        self.query_one("#product-list-line", Static).update(line)

    def refresh_data(self) -> None:
        self.table.reload()

    @on(KeysetTable.Selected, "#product-list")
    def open_product(self, event: KeysetTable.Selected) -> None:
        if self.app.may("product.edit"):
            self._load_for_edit(event.row.id)

    # --- search, sort, archived ---------------------------------------------------------------

    @on(Input.Changed, "#product-search")
    def search_changed(self, event: Input.Changed) -> None:
        self.search_typed(event.value)

    @on(Input.Submitted, "#product-search")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.submit_search(event.value)

    def action_focus_search(self) -> None:
        self.query_one("#product-search", Input).focus()

    def action_focus_list(self) -> None:
        self.table.focus()

    def action_cycle_sort(self) -> None:
        order = list(products.SORTS)
        self.sort = order[(order.index(self.sort) + 1) % len(order)]
        self.reload()

    def action_toggle_archived(self) -> None:
        self.archived = not self.archived
        self.reload()

    # --- new, edit, archive ---------------------------------------------------------------------

    def _highlighted(self) -> products.ProductRow | None:
        row = self.table.current_row
        if row is None:
            self.notify("No product is highlighted.", severity="warning")
        return row

    def action_new_product(self) -> None:
        def done(product: products.ProductRead | None) -> None:
            if product is not None:
                self.notify(f"Added {product.sku} {product.name}.")
                self.app.data_changed()

        self.app.push_screen(ProductForm(), done)

    def action_edit_product(self) -> None:
        if (row := self._highlighted()) is not None:
            self._load_for_edit(row.id)

    @work(thread=True, group="product-action", exit_on_error=False)
    def _load_for_edit(self, product_id: int) -> Outcome:
        with self.app.db.read() as session:
            product = products.get_product(session, product_id=product_id)
        return Outcome(self._edit, product)

    def _edit(self, product: products.ProductRead) -> None:
        def done(saved: products.ProductRead | None) -> None:
            if saved is not None:
                self.notify(f"Saved {saved.sku} {saved.name}.")
                self.app.data_changed()

        self.app.push_screen(ProductForm(product), done)

    def action_archive(self) -> None:
        row = self._highlighted()
        if row is None:
            return
        if self.archived:  # on the archived list, a brings it back
            self._set_archived(row.id, False)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._set_archived(row.id, True)

        self.app.push_screen(ConfirmScreen(f"Archive {row.sku} {row.name}? It leaves the catalog and the pickers "
                                           "(deals and quotes keep it). u undoes it.", "Archive"), answer)

    def action_unarchive(self) -> None:
        if self._last_archived is None:
            self.notify("Nothing to undo: archive a product first.", severity="warning")
            return
        self._set_archived(self._last_archived, False)

    @work(thread=True, group="product-action", exit_on_error=False)
    def _set_archived(self, product_id: int, archived: bool) -> Outcome:
        with self.app.db.write() as session:
            product = products.set_product_archived(session, product_id=product_id, archived=archived,
                                                    actor=self.app.actor, now=self.app.now())
        return Outcome(self._archived, product)

    def _archived(self, product: products.ProductRead) -> None:
        if product.archived:
            self._last_archived = product.id
            self.notify(f"Archived {product.sku}. Press u to undo.")
        else:
            self._last_archived = None
            self.notify(f"{product.sku} is back in the catalog.")
        self.app.data_changed()
