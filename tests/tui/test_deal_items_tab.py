"""The deal screen's Items tab through the real app: the items and totals show; i adds one with the
product picker, enter edits the highlighted one, d removes it after asking; each re-totals the deal."""

from __future__ import annotations

from sqlalchemy import select
from textual.widgets import Input, Static, TabbedContent

from crm_tui.models import Deal
from crm_tui.models.product import DealItem
from crm_tui.screens.deal_items import ItemForm
from crm_tui.screens.forms import ConfirmScreen
from crm_tui.screens.pipeline.deal import DealDetailScreen
from crm_tui.services import deal_items, deals, products
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle


def seed_items(db, actor, now) -> int:
    with db.write() as s:
        products.create_product(s, sku="WID-1", name="Widget", tax_rate="20", prices={"USD": "19.99"}, actor=actor,
                                now=now)
        products.create_product(s, sku="GAD-2", name="Gadget", prices={"USD": "100"}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Anvils", "amount": "10"}, actor=actor, now=now)
        deal_items.add_item(s, actor, deal.id, sku_or_product_id="WID-1", quantity="2.5", discount="10%", now=now)
    return deal.id


def _db_state(db, deal_id):
    with db.read() as s:
        amount = s.scalar(select(Deal.amount_minor).where(Deal.id == deal_id))
        items = s.execute(select(DealItem.quantity_milli, DealItem.net_minor).where(DealItem.deal_id == deal_id)
                          .order_by(DealItem.position)).all()
    return amount, [tuple(r) for r in items]


def _rows(table: KeysetTable) -> list[str]:
    return [" ".join(table.render_line(y).text.split()) for y in range(1, len(table.visible_rows()) + 1)]


async def open_items_tab(app, pilot, deal_id: int) -> KeysetTable:
    await settle(app, pilot)
    app.push_screen(DealDetailScreen(deal_id))
    await settle(app, pilot)
    for _ in range(3):
        await pilot.press("right_square_bracket")
    await settle(app, pilot)
    assert app.screen.query_one(TabbedContent).active == "tab-deal-items"
    table = app.screen.query_one("#deal-items", KeysetTable)
    assert app.focused is table
    return table


async def test_items_tab_adds_edits_and_removes(db, actor, now):
    deal_id = seed_items(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(100, 30)) as pilot:
        table = await open_items_tab(app, pilot, deal_id)
        assert _rows(table) == ["WID-1 · Widget 2.5 $19.99 10% $9.00 $44.98"]
        totals = str(app.screen.query_one("#deal-items-totals", Static).render())
        assert "Subtotal $49.98" in totals and "Total $53.98" in totals

        await pilot.press("i")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ItemForm)
        form.query_one("#product", Input).value = "gad-2"
        form.query_one("#quantity", Input).value = "2"
        form.query_one("#discount", Input).value = "15"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen)
        assert _db_state(db, deal_id) == (5398 + 18_500, [(2500, 4498), (2000, 18_500)])
        assert len(_rows(table)) == 2
        assert "Total $238.98" in str(app.screen.query_one("#deal-items-totals", Static).render())
        assert "$238.98" in str(app.screen.query_one("#deal-card", Static).render())

        await pilot.press("down", "enter")  # edit the Gadget line
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ItemForm) and form.item.sku == "GAD-2"
        assert form.query_one("#discount", Input).value == "15.00"
        form.query_one("#quantity", Input).value = "3"
        form.query_one("#discount", Input).value = "50%"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert _db_state(db, deal_id) == (5398 + 15_000, [(2500, 4498), (3000, 15_000)])

        app.screen.query_one("#deal-items", KeysetTable).focus()
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        amount, items = _db_state(db, deal_id)
        assert len(items) == 1 and amount in (5398, 15_000)


async def test_a_refused_item_says_why_in_the_form(db, actor, now):
    deal_id = seed_items(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(100, 30)) as pilot:
        await open_items_tab(app, pilot, deal_id)
        await pilot.press("i")
        await settle(app, pilot)
        form = app.screen
        form.query_one("#product", Input).value = "GAD-2"
        form.query_one("#quantity", Input).value = "0"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        assert "quantity must be more than zero" in str(form.query_one("#form-error").render())
        assert _db_state(db, deal_id)[1] == [(2500, 4498)]


async def test_company_purchases_tab_lists_won_items_and_opens_the_deal(db, actor, now):
    from crm_tui.screens.companies.detail import CompanyDetailScreen
    from crm_tui.services import companies

    deal_id = seed_items(db, actor, now)
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        deals.update_deal(s, deal_id=deal_id, changes={"company_id": acme.id}, actor=actor, now=now)
        deal_items.add_item(s, actor, deal_id, sku_or_product_id="GAD-2", quantity=2, now=now)
        deals.mark_won(s, deal_id=deal_id, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.push_screen(CompanyDetailScreen(acme.id))
        await settle(app, pilot)
        for _ in range(4):
            await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert app.screen.query_one(TabbedContent).active == "company-tab-purchases"
        table = app.screen.query_one("#company-purchases", KeysetTable)
        rows = _rows(table)
        assert len(rows) == 2 and "GAD-2 · Gadget 2 $200.00" in rows[0] and "WID-1 · Widget 2.5 $53.98" in rows[1]
        summary = str(app.screen.query_one("#company-purchases-summary", Static).render())
        assert "GAD-2 ×2 $200.00 · WID-1 ×2.5 $53.98" in summary
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen) and app.screen.record_id == deal_id
