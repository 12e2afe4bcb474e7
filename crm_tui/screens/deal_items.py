"""The deal screen's Items tab: the deal's line items (qty, unit price, discount, tax, net) with the
totals under them; i adds one (a product picker), enter edits the highlighted one, d removes it
(asked first). Every write goes through services/deal_items.py, which re-totals the deal.

The deal screen takes it in with its base class (`DealItemsTab`), one `yield from` in its tabs and
one entry in its fetchers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.widgets import Input, Static, TabPane

from crm_tui.errors import InvalidInput
from crm_tui.screens.base import Outcome
from crm_tui.screens.detail import DetailScreen, counted
from crm_tui.screens.forms import ConfirmScreen, FormScreen, _field, _input, pick_id, picked
from crm_tui.services import deal_items, money
from crm_tui.services.common import Actor
from crm_tui.services.deal_items import DealItemRead, DealItems
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable
from crm_tui.widgets.product_picker import product_picker

TABLE = "deal-items"
TOTALS = "deal-items-totals"


def item_columns(app) -> list[Column]:
    return [
        Column("Product", lambda i: f"{i.sku} · {i.name}" + (f" — {i.description}" if i.description else ""),
               ratio=1),
        Column("Qty", lambda i: deal_items.format_quantity(i.quantity_milli), width=6, align="right"),
        Column("Unit price", lambda i: fmt.money(i.unit_price_minor, i.currency) + ("*" if i.price_overridden else ""),
               width=11, align="right"),
        Column("Disc.", lambda i: deal_items.format_discount(i.discount_kind, i.discount_value, i.currency),
               width=8, align="right"),
        Column("Tax", lambda i: fmt.money(i.tax_minor, i.currency), width=9, align="right", hide_below=70),
        Column("Net", lambda i: fmt.money(i.net_minor, i.currency), width=11, align="right"),
    ]


def totals_text(listed: DealItems) -> Content:
    t, cur = listed.totals, listed.currency
    if not t.count:
        return Content.from_markup("[dim]No items: the deal's amount is set by hand. Press i to add one.[/dim]")
    return Content.from_markup(
        "[dim]Subtotal[/dim] $sub  [dim]Discount[/dim] $disc  [dim]Tax[/dim] $tax  [b]Total $total[/b]",
        sub=fmt.money(t.subtotal_minor, cur), disc=fmt.money(t.discount_minor, cur), tax=fmt.money(t.tax_minor, cur),
        total=fmt.money(t.total_minor, cur))


class ItemsTotals(Static):
    """The line under the items: subtotal, discount, tax and the total (the deal's amount)."""

    DEFAULT_CSS = """
    ItemsTotals { height: 1; padding: 0 1; text-overflow: ellipsis; }
    """


class DealItemsTab(DetailScreen):
    """What the deal screen gets from the Items tab: the pane, its fetch, its keys and their forms."""

    BINDINGS = [
        Binding("i", "add_item", "Add item", show=False, id="deal.item_add"),  # the tab says so
        Binding("d,delete", "remove_item", "Remove item", show=False, id="deal.item_remove"),
    ]

    def compose_items_tab(self) -> ComposeResult:
        with TabPane("Items", id="tab-deal-items"):
            yield KeysetTable(item_columns(self.app), noun="items", id=TABLE, counted=False,
                              empty_text="No items on this deal. Press i to add one.")
            yield ItemsTotals("", id=TOTALS)

    def items_fetchers(self) -> dict:
        did = self.record_id
        return {TABLE: counted(self.app.db, lambda s, **k: deal_items.items_page(s, deal_id=did, **k))}

    # -- the totals line, read whenever the list is

    @on(KeysetTable.Loaded, f"#{TABLE}")
    def _items_loaded(self, _event: KeysetTable.Loaded) -> None:
        self._read_totals()

    @work(thread=True, exclusive=True, group="deal-items-totals", exit_on_error=False)
    def _read_totals(self) -> Outcome:
        with self.app.db.read() as session:
            listed = deal_items.deal_totals(session, deal_id=self.record_id)
        return Outcome(self._show_totals, listed)

    def _show_totals(self, listed: DealItems) -> None:
        self.query_one(f"#{TOTALS}", Static).update(totals_text(listed))

    # -- keys

    def _highlighted_item(self) -> DealItemRead | None:
        table = self.query_one(f"#{TABLE}", KeysetTable)
        return table.current_row if self.focused is table else None

    def action_add_item(self) -> None:
        self.app.push_screen(ItemForm(self.record_id), self._item_saved)

    @on(KeysetTable.Selected, f"#{TABLE}")
    def _edit_selected(self, event: KeysetTable.Selected) -> None:
        event.stop()
        self.app.push_screen(ItemForm(self.record_id, event.row), self._item_saved)

    def action_remove_item(self) -> None:
        item = self._highlighted_item()
        if item is None:
            self.notify("Highlight an item on the Items tab, then press d.", severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._remove_item(item)

        self.app.push_screen(ConfirmScreen(f"Remove {deal_items.format_quantity(item.quantity_milli)} × {item.sku} "
                                           "from this deal? The deal is re-totalled.", "Remove"), answer)

    @work(thread=True, exclusive=True, group="deal-items-write", exit_on_error=False)
    def _remove_item(self, item: DealItemRead) -> Outcome:
        with self.app.db.write() as session:
            gone = deal_items.remove_item(session, self.app.actor, self.record_id, item_id=item.id,
                                          version=item.version, now=self.app.now())
        return Outcome(self._item_saved, gone, "Removed")

    def _item_saved(self, item: DealItemRead | None, verb: str = "Saved") -> None:
        if item is not None:
            self.notify(f"{verb} {item.sku}; the deal is re-totalled.")
            self.app.data_changed()


class ItemForm(FormScreen[DealItemRead | None]):
    """Add an item (a product picker, the quantity, a price other than the list's, a discount) or
    edit one (the product stays)."""

    FORM_ID = "form"

    def __init__(self, deal_id: int, item: DealItemRead | None = None) -> None:
        super().__init__()
        self.deal_id = deal_id
        self.item = item

    def form_title(self) -> str:
        return f"Edit item · {self.item.sku} · {self.item.name}" if self.item else "Add an item to the deal"

    def compose_fields(self) -> ComposeResult:
        item = self.item
        if item is None:
            yield _field("Product", product_picker("product"))
        yield _field("Quantity", _input("quantity", deal_items.format_quantity(item.quantity_milli) if item else "1"))
        price = money.input_text(item.unit_price_minor, item.currency, locale=self.app.actor.locale) if item else ""
        yield _field("Unit price", _input("unit_price", price, placeholder="the price list's"))
        discount = _discount_text(item, self.app.actor.locale) if item else ""
        yield _field("Discount", _input("discount", discount, placeholder="10% or an amount"))
        yield _field("Note", _input("description", item.description if item else ""))

    def values(self) -> dict[str, Any]:
        text = {id_: self.query_one(f"#{id_}", Input).value.strip()
                for id_ in ("quantity", "unit_price", "discount", "description")}
        if self.item is None:
            text["product"] = picked(self, "product")
        return text

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> DealItemRead:
        item = self.item
        if item is None:
            if not values["product"]:
                raise InvalidInput("choose a product")
            product_id = pick_id(session, "product", values["product"])
            return deal_items.add_item(session, actor, self.deal_id, sku_or_product_id=product_id,
                                       quantity=values["quantity"], unit_price=values["unit_price"] or None,
                                       discount=values["discount"], description=values["description"], now=now)
        shown_price = money.input_text(item.unit_price_minor, item.currency, locale=actor.locale)
        return deal_items.edit_item(
            session, actor, self.deal_id, item_id=item.id, version=item.version, quantity=values["quantity"],
            unit_price=values["unit_price"] if values["unit_price"] != shown_price else None,
            discount=values["discount"], description=values["description"], now=now)


def _discount_text(item: DealItemRead, locale: str | None) -> str:
    if item.discount_kind == "amount":
        return money.input_text(item.discount_value, item.currency, locale=locale)
    return deal_items.format_discount(item.discount_kind, item.discount_value, item.currency)
