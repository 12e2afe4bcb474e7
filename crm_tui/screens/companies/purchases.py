"""The company screen's Purchases tab: what the account has bought (its won deals' items), newest
first and paged by keyset, with the products it bought most summed on a line under them; enter
opens the deal. The company screen takes it in with its base class (`PurchasesTab`), one
`yield from` in its tabs and one entry in its fetchers."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.content import Content
from textual.widgets import Static, TabPane

from crm_tui.clock import get_zone
from crm_tui.screens.base import Outcome
from crm_tui.screens.detail import DetailScreen, paged
from crm_tui.services import deal_items, purchases
from crm_tui.services.purchases import ProductPurchases
from crm_tui.widgets import fmt
from crm_tui.widgets.keyset_table import Column, KeysetTable

TABLE = "company-purchases"
SUMMARY = "company-purchases-summary"
TOP = 3  # products named on the summary line


def purchase_columns(app) -> list[Column]:
    zone = get_zone(app.actor.timezone)
    return [
        Column("Won", lambda p: fmt.stamp(p.won_at, zone)[:10] if p.won_at else "—", width=10),
        Column("Product", lambda p: f"{p.sku} · {p.name}", ratio=2),
        Column("Qty", lambda p: deal_items.format_quantity(p.quantity_milli), width=6, align="right"),
        Column("Amount", lambda p: fmt.money(p.total_minor, p.currency), width=12, align="right"),
        Column("Deal", lambda p: p.deal_title, ratio=1, hide_below=70),
    ]


class PurchasesSummary(Static):
    DEFAULT_CSS = """
    PurchasesSummary { height: 1; padding: 0 1; text-overflow: ellipsis; }
    """


def summary_text(top: list[ProductPurchases]) -> Content:
    if not top:
        return Content("")
    parts = [f"{p.sku} ×{deal_items.format_quantity(p.quantity_milli)} {fmt.money(p.total_minor, p.currency)}"
             for p in top[:TOP]]
    return Content.from_markup("[dim]Bought most[/dim] $parts", parts=" · ".join(parts))


class PurchasesTab(DetailScreen):
    """What the company screen gets from the Purchases tab."""

    def compose_purchases_tab(self) -> ComposeResult:
        with TabPane("Purchases", id="company-tab-purchases"):
            yield KeysetTable(purchase_columns(self.app), noun="purchases", id=TABLE, counted=False,
                              empty_text="Nothing bought yet: no won deal of theirs has items.")
            yield PurchasesSummary("", id=SUMMARY)

    def purchases_fetchers(self) -> dict:
        cid = self.record_id
        return {TABLE: paged(self.app.db, lambda s, **k: purchases.company_purchases(s, company_id=cid, **k))}

    @on(KeysetTable.Loaded, f"#{TABLE}")
    def _purchases_loaded(self, _event: KeysetTable.Loaded) -> None:
        self._read_top_products()

    @work(thread=True, exclusive=True, group="company-purchases-top", exit_on_error=False)
    def _read_top_products(self) -> Outcome:
        with self.app.db.read() as session:
            top = purchases.company_purchases_by_product(session, company_id=self.record_id, limit=TOP)
        return Outcome(self._show_top, top)

    def _show_top(self, top: list[ProductPurchases]) -> None:
        self.query_one(f"#{SUMMARY}", Static).update(summary_text(top))

    @on(KeysetTable.Selected, f"#{TABLE}")
    def _open_purchase(self, event: KeysetTable.Selected) -> None:
        event.stop()
        self.app.open_record("deal", event.row.deal_id)
