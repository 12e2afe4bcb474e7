"""The Products area and the product picker, driven through the real app with a pilot."""

from __future__ import annotations

from sqlalchemy import select
from textual.widgets import Input, Static, TextArea

from crm_tui.models import Product
from crm_tui.screens.forms import ConfirmScreen
from crm_tui.screens.products.form import ProductForm
from crm_tui.screens.products.screen import ProductsScreen
from crm_tui.services import lookup, products
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle


def _list(app) -> KeysetTable:
    return app.screen.query_one("#product-list", KeysetTable)


def _skus(app) -> list[str]:
    return [row.sku for row in _list(app).visible_rows()]


async def _to_products(app, pilot) -> None:
    await settle(app, pilot)
    await pilot.press("6")
    await settle(app, pilot)
    assert isinstance(app.screen, ProductsScreen)


async def test_empty_catalog_then_add_search_edit_archive_and_undo(db, actor, now):
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await _to_products(app, pilot)
        assert _skus(app) == [] and "No products yet" in _list(app).empty_text

        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, ProductForm)
        form = app.screen
        form.query_one("#product-sku", Input).value = "AB-1"
        form.query_one("#product-name", Input).value = "Consulting hour"
        form.query_one("#product-unit", Input).value = "hour"
        form.query_one("#product-tax", Input).value = "20%"
        form.query_one("#product-prices", Input).value = "120 USD; -5 EUR"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ProductForm)  # refused: one line under the fields, nothing written
        assert "must not be negative" in str(app.screen.query_one("#product-form-error").render())
        with db.read() as s:
            assert s.scalar(select(Product.id)) is None
        form.query_one("#product-prices", Input).value = "120 USD; 1,100.50 EUR"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ProductsScreen)
        with db.write() as s:
            p = products.get_by_sku(s, sku="ab-1")
            products.create_product(s, sku="CD-2", name="Licence", prices=["99 USD"], actor=actor, now=now)
        assert (p.unit, p.tax_rate_bp, {x.currency: x.unit_price_minor for x in p.prices}) == \
            ("hour", 2000, {"USD": 12000, "EUR": 110050})

        app.screen.refresh_data()
        await settle(app, pilot)
        assert _skus(app) == ["AB-1", "CD-2"] and _list(app).total == 2
        await pilot.press("slash", *"lic", "enter")
        await settle(app, pilot)
        assert _skus(app) == ["CD-2"]
        assert "starting “lic”" in str(app.screen.query_one("#product-list-line", Static).render())
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"ab-", "enter")  # by SKU
        await settle(app, pilot)
        assert _skus(app) == ["AB-1"]

        await pilot.press("e")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ProductForm)
        assert form.query_one("#product-prices", Input).value == "1,100.50 EUR; 120.00 USD"
        form.query_one("#product-prices", Input).value = "130 USD"
        form.query_one("#product-name", Input).value = "Senior hour"
        form.query_one("#product-description", TextArea).text = "Two lines\nof text"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ProductsScreen)
        with db.read() as s:
            p = products.get_by_sku(s, sku="AB-1")
        assert (p.name, p.description, [(x.currency, x.unit_price_minor) for x in p.prices], p.version) == \
            ("Senior hour", "Two lines\nof text", [("USD", 13000)], 2)

        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert _skus(app) == []
        await pilot.press("u")
        await settle(app, pilot)
        assert _skus(app) == ["AB-1"]
        await pilot.press("a", "y", "v")
        await settle(app, pilot)
        assert _skus(app) == ["AB-1"]  # the archived ones
        assert "archived products" in str(app.screen.query_one("#product-list-line", Static).render())


async def test_a_stale_edit_is_refused_not_overwritten(db, actor, now):
    with db.write() as s:
        p = products.create_product(s, sku="AB-1", name="Hour", actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await _to_products(app, pilot)
        await pilot.press("e")
        await settle(app, pilot)
        with db.write() as s:
            products.update_product(s, product_id=p.id, name="Theirs", actor=actor, now=now)
        app.screen.query_one("#product-name", Input).value = "Mine"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, ProductForm)
        assert "was changed" in str(app.screen.query_one("#product-form-error").render())
    with db.read() as s:
        assert products.get_product(s, product_id=p.id).name == "Theirs"


def test_the_picker_kind_finds_products_by_sku_or_name(db, actor, now):
    with db.write() as s:
        products.create_product(s, sku="AB-1", name="Consulting hour", actor=actor, now=now)
        products.create_product(s, sku="CAB-9", name="Cable", actor=actor, now=now)
    with db.read() as s:
        assert [c.label for c in lookup.pick(s, kind="product", query="ca")] == ["CAB-9 · Cable"]
        assert [c.label for c in lookup.pick(s, kind="product", query="c")] == ["CAB-9 · Cable",
                                                                                "AB-1 · Consulting hour"]
        assert lookup.resolve(s, kind="product", text="ab-1").label == "AB-1 · Consulting hour"
        assert lookup.label(s, kind="product", record_id=1).detail == "unit"
