"""The product form: a new product, or an edit of one (its fields and its price list in one line,
"120 USD; 110 EUR"), on the forms' one base (screens/forms.py FormScreen). An edit sends the version
it was read at: a teammate's save in between is refused as a conflict, never overwritten."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label, TextArea

from crm_tui.errors import InvalidInput
from crm_tui.screens.forms import FormScreen
from crm_tui.services import money, products
from crm_tui.services.common import Actor

CSS = "products.tcss"
PRICE_SEPARATOR = ";"


def _field(label: str, widget: Widget) -> Horizontal:
    return Horizontal(Label(label, classes="product-field-label"), widget, classes="product-field")


def prices_text(prices: tuple[products.Price, ...]) -> str:
    """A price list as the form shows it: "120.00 USD; 110.00 EUR"."""
    return f"{PRICE_SEPARATOR} ".join(f"{products.money_text(p.unit_price_minor, p.currency)} {p.currency}"
                                      for p in prices)


def read_prices(text: str, *, locale: str | None = None) -> dict[str, int]:
    """{currency: minor} from "120 USD; 110 EUR" (each price with its currency)."""
    found: dict[str, int] = {}
    for part in (p.strip() for p in text.split(PRICE_SEPARATOR)):
        if not part:
            continue
        code, minor = products.parse_price(part, locale=locale)
        if code in found:
            raise InvalidInput(f"two prices in {code}: give one price per currency")
        found[code] = minor
    return found


def _amounts(prices: dict[str, int]) -> dict[str, Decimal]:
    """Minor units back to exact amounts, as the service reads prices (never through text)."""
    return {c: Decimal(m).scaleb(-money.currency_digits(c)) for c, m in prices.items()}


class ProductForm(FormScreen["products.ProductRead | None"]):
    """New product, or edit one: SKU, name, unit, tax rate, prices and description."""

    CSS_PATH = CSS
    BINDINGS = [Binding("ctrl+s", "save", "Save", id="product_form.save")]
    FORM_ID = "product-form"
    ENTER_SAVES = False

    def __init__(self, product: products.ProductRead | None = None) -> None:
        super().__init__()
        self.product = product

    def form_title(self) -> str:
        return f"Edit product · {self.product.sku}" if self.product else "New product"

    def compose_fields(self) -> ComposeResult:
        yield _field("SKU", Input(id="product-sku", placeholder="a unique code, e.g. AB-100", compact=True))
        yield _field("Name", Input(id="product-name", compact=True))
        yield _field("Unit", Input(id="product-unit", placeholder="unit, hour, seat, month", compact=True))
        yield _field("Tax", Input(id="product-tax", placeholder="e.g. 20%", compact=True))
        yield _field("Prices", Input(id="product-prices", placeholder="e.g. 120 USD; 110 EUR", compact=True))
        yield _field("Description", TextArea(id="product-description", compact=True, soft_wrap=True))

    def on_mount(self) -> None:
        p = self.product
        if p is not None:
            for name, value in (("sku", p.sku), ("name", p.name), ("unit", p.unit),
                                ("tax", products.tax_text(p.tax_rate_bp)), ("prices", prices_text(p.prices))):
                self.query_one(f"#product-{name}", Input).value = value
            self.query_one("#product-description", TextArea).text = p.description
        self.query_one("#product-sku", Input).focus()

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: self.query_one(f"#product-{name}", Input).value.strip()
                                  for name in ("sku", "name", "unit", "tax", "prices")}
        values["description"] = self.query_one("#product-description", TextArea).text
        return values

    def write(self, session, values: dict[str, Any], *, actor: Actor, now: datetime) -> products.ProductRead:
        prices = read_prices(values["prices"], locale=actor.locale)
        if self.product is None:
            return products.create_product(session, sku=values["sku"], name=values["name"], unit=values["unit"],
                                           tax_rate=values["tax"] or None, description=values["description"],
                                           prices=_amounts(prices), actor=actor, now=now)
        p = self.product
        old = {x.currency: x.unit_price_minor for x in p.prices}
        return products.update_product(
            session, product_id=p.id, version=p.version, actor=actor, now=now,
            sku=values["sku"], name=values["name"], unit=values["unit"] or "unit",
            tax_rate=values["tax"] or 0, description=values["description"],
            prices=_amounts({c: m for c, m in prices.items() if old.get(c) != m}),
            remove_prices=[c for c in old if c not in prices])
