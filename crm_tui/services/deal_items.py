"""A deal's line items: add, edit, remove and list them; each write re-totals the deal.

- **The deal's amount is its items' total**: the sum of each line's net (after discount) plus its
  tax, `SUM(net_minor + tax_minor)` in SQL, the same figure a quote shows as its "total". Each line
  is rounded half-even on its own (services/line_math.py), so the lines add up to the amount.
- A deal without items keeps its manual amount. Removing the last item leaves the amount as it was
  (the last total); from then on a person may edit it by hand again. While a deal has items, a
  manual amount (or currency) edit is refused (services/deals.update_deal).
- A unit price is the price list's in the deal's currency. Setting another one needs the
  `deal.price_override` permission and marks the item `price_overridden`. A product without a
  price in the deal's currency cannot be added (the error names the currency).
- Every write needs `deal.edit` on the deal (the same per-record gate as a deal edit), bumps the
  deal's version (a stale `deal_version` raises the conflict, and the deal row is locked while it is
  re-totalled, so two people adding items at once both count), and writes audit events: one for the
  item ("deal_item") and one on the deal, so the deal's History tab shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from crm_tui.clock import resolve_now
from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Deal
from crm_tui.models.product import DealItem, Product
from crm_tui.services import line_math, money, permissions, products
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, audit, check_version, flush, get_or_404, is_id
from crm_tui.services.paging import Page, SortKey, keyset_page

ENTITY = "deal_item"
MAX_ITEMS = 1000  # items one deal may hold: a list of them is read whole
MAX_QUANTITY_MILLI = 10**12  # a billion units


@dataclass(frozen=True, slots=True)
class DealItemRead:
    id: int
    deal_id: int
    product_id: int
    sku: str
    name: str
    unit: str
    position: int
    description: str
    quantity_milli: int
    unit_price_minor: int
    price_overridden: bool
    discount_kind: str | None
    discount_value: int
    tax_rate_bp: int
    gross_minor: int
    discount_minor: int
    net_minor: int
    tax_minor: int
    total_minor: int
    currency: str
    version: int


@dataclass(frozen=True, slots=True)
class DealItems:
    """A deal's items in position order, with their totals (summed in SQL) and the deal's version."""

    deal_id: int
    currency: str
    deal_version: int
    amount_minor: int
    items: tuple[DealItemRead, ...]
    totals: line_math.Totals


# --- reading what people type ------------------------------------------------------------------


def parse_quantity(value: str | int | Decimal) -> int:
    """ "2", "2.5", 3 -> thousandths of a unit; more than zero, at most three decimals."""
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise InvalidInput(f"invalid quantity {value!r}: type a number such as 2 or 2.5") from None
    if not number.is_finite():
        raise InvalidInput(f"invalid quantity {value!r}: type a number such as 2 or 2.5")
    if number <= 0:
        raise InvalidInput(f"the quantity must be more than zero (got {value})")
    milli = number.scaleb(3)
    if milli != milli.to_integral_value():
        raise InvalidInput(f"a quantity has at most 3 decimal places (got {value})")
    if milli > MAX_QUANTITY_MILLI:
        raise InvalidInput(f"quantity {value} is too large")
    return int(milli)


def format_quantity(quantity_milli: int) -> str:
    """2500 -> "2.5", 2000 -> "2"."""
    text = f"{Decimal(quantity_milli).scaleb(-3):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_discount(value: str | None, currency: str, *, locale: str | None = None) -> tuple[str | None, int]:
    """ "10%" -> ("percent", 1000 basis points); "15" or "15.50" -> ("amount", minor units);
    "" or None or "0" -> (None, 0): no discount."""
    text = (value or "").strip()
    if not text or text in ("0", "0%"):
        return None, 0
    if text.endswith("%"):
        body = text[:-1].strip().replace(",", ".")
        try:
            number = Decimal(body)
        except InvalidOperation:
            raise InvalidInput(f"invalid discount {value!r}: type a percent such as 10% or an amount") from None
        if not number.is_finite() or number < 0:
            raise InvalidInput(f"invalid discount {value!r}: type a percent such as 10% or an amount")
        if number > 100:
            raise InvalidInput(f"a discount of {body}% is over 100%")
        bp = number.scaleb(2)
        if bp != bp.to_integral_value():
            raise InvalidInput(f"a percent discount has at most 2 decimal places (got {value})")
        return (line_math.PERCENT, int(bp)) if bp else (None, 0)
    amount = money.parse_amount(text, currency, locale=locale)
    return (line_math.AMOUNT, amount) if amount else (None, 0)


def format_discount(kind: str | None, value: int, currency: str) -> str:
    if kind == line_math.PERCENT:
        return f"{Decimal(value).scaleb(-2).normalize():f}%"
    if kind == line_math.AMOUNT:
        return v.format_money(value, currency)
    return ""


# --- products and prices (services/products.py) --------------------------------------------------


def _product(session: Session, sku_or_product_id: str | int) -> Product:
    """A product by its SKU (any spelling) or its id (services/products.find_product's rule)."""
    key = products.sku_key(str(sku_or_product_id))
    found = session.scalars(select(Product).where(Product.sku_key == key)).first() if key else None
    return found or session.get(Product, products.find_product(session, sku_or_product_id).id)


def _list_price(session: Session, product: Product, currency: str) -> int:
    """The price list's price in `currency`; NoPrice (an InvalidInput naming the currency) otherwise."""
    return products.price_for(session, product.id, currency)


# --- the deal ------------------------------------------------------------------------------------


def _deal_for_write(session: Session, actor: Actor, deal_id: int, deal_version: int | None) -> Deal:
    """The deal, locked for the rest of the transaction (PostgreSQL; SQLite's BEGIN IMMEDIATE holds
    the file), checked against the version the caller saw, and the caller's right to edit it."""
    deal = session.get(Deal, deal_id, with_for_update=True, populate_existing=True) if is_id(deal_id, session, Deal) else None
    if deal is None:
        raise NotFound(f"no deal with id {deal_id}")
    permissions.require(session, actor, "deal.edit", owner=deal.owner_id)
    check_version(session, deal, deal_version, "deal", f"deal {deal.title!r}")
    return deal


def _totals(session: Session, deal_id: int) -> line_math.Totals:
    row = session.execute(select(
        func.coalesce(func.sum(DealItem.net_minor + DealItem.discount_minor), 0),
        func.coalesce(func.sum(DealItem.discount_minor), 0), func.coalesce(func.sum(DealItem.net_minor), 0),
        func.coalesce(func.sum(DealItem.tax_minor), 0), func.count(DealItem.id),
    ).where(DealItem.deal_id == deal_id)).one()
    return line_math.Totals(*(int(x) for x in row))


def _retotal(session: Session, deal: Deal, actor: Actor, now: datetime, action: str, summary: str) -> None:
    """Set the deal's amount to its items' total (a SUM in SQL), bump its version, audit it. With no
    items left the amount stays as it was."""
    session.flush()
    totals = _totals(session, deal.id)
    old = deal.amount_minor
    if totals.count:
        deal.amount_minor = totals.total_minor
    deal.updated_at = now
    flag_modified(deal, "updated_at")  # the version moves even when the amount does not
    flush(session, "deal", f"deal {deal.title!r}")
    if old != deal.amount_minor:
        summary += (f"; amount {v.format_money(old, deal.currency)} → "
                    f"{v.format_money(deal.amount_minor, deal.currency)}")
    audit(session, actor=actor, entity="deal", entity_id=deal.id, action=action, now=now, summary=summary)


def _compute(item: DealItem) -> None:
    try:
        figures = line_math.line(quantity_milli=item.quantity_milli, unit_price_minor=item.unit_price_minor,
                                 discount_kind=item.discount_kind, discount_value=item.discount_value,
                                 tax_rate_bp=item.tax_rate_bp)
    except line_math.LineError as exc:
        raise InvalidInput(str(exc)) from None
    item.net_minor, item.discount_minor, item.tax_minor = figures.net_minor, figures.discount_minor, figures.tax_minor


def _price(session: Session, actor: Actor, deal: Deal, product: Product, unit_price: str | int | Decimal | None,
           ) -> tuple[int, bool]:
    """(unit price in minor units, whether it is overridden): the list price unless one is given."""
    listed = _list_price(session, product, deal.currency)
    if unit_price is None or (isinstance(unit_price, str) and not unit_price.strip()):
        return listed, False
    price = money.parse_amount(unit_price, deal.currency, locale=actor.locale)
    if price != listed:
        permissions.require(session, actor, "deal.price_override")
    return price, price != listed


def _line_text(item: DealItem, product: Product, currency: str) -> str:
    return (f"{format_quantity(item.quantity_milli)} × {product.sku} at "
            f"{v.format_money(item.unit_price_minor, currency)}")


def add_item(session: Session, actor: Actor, deal_id: int, *, sku_or_product_id: str | int,
             quantity: str | int | Decimal = 1, unit_price: str | int | Decimal | None = None,
             discount: str | None = None, description: str | None = None, deal_version: int | None = None,
             now: datetime | None = None) -> DealItemRead:
    """Add a line for a product (by SKU or id) at the price list's price in the deal's currency."""
    now = resolve_now(now)
    deal = _deal_for_write(session, actor, deal_id, deal_version)
    product = _product(session, sku_or_product_id)
    if product.archived:
        raise InvalidInput(f"product {product.sku} is archived; unarchive it to sell it")
    count, last = session.execute(select(func.count(DealItem.id), func.max(DealItem.position))
                                  .where(DealItem.deal_id == deal.id)).one()
    if count >= MAX_ITEMS:
        raise InvalidInput(f"a deal holds at most {MAX_ITEMS} items")
    quantity_milli = parse_quantity(quantity)
    price, overridden = _price(session, actor, deal, product, unit_price)
    kind, value = parse_discount(discount, deal.currency, locale=actor.locale)
    item = DealItem(deal_id=deal.id, product_id=product.id, position=(last or 0) + 1,
                    description=v.optional_text(description, "description", max_length=500) or "",
                    quantity_milli=quantity_milli, unit_price_minor=price, price_overridden=overridden,
                    discount_kind=kind, discount_value=value, tax_rate_bp=product.tax_rate_bp,
                    created_at=now, updated_at=now)
    _compute(item)
    session.add(item)
    flush(session, ENTITY, "item")
    text = _line_text(item, product, deal.currency)
    audit(session, actor=actor, entity=ENTITY, entity_id=item.id, action="create", now=now,
          summary=f"deal #{deal.id}: {text}")
    _retotal(session, deal, actor, now, "item_add", f"item added: {text}")
    return _read_one(session, item.id)


def _item_of(session: Session, deal_id: int, item_id: int) -> DealItem:
    item = get_or_404(session, DealItem, item_id, "deal item")
    if item.deal_id != deal_id:
        raise NotFound(f"deal #{deal_id} has no item {item_id}", see=f"crm deal item list {deal_id}")
    return item


_UNSET = object()


def edit_item(session: Session, actor: Actor, deal_id: int, *, item_id: int, version: int | None,
              quantity: str | int | Decimal | None = None, unit_price: str | int | Decimal | None = None,
              discount: str | None | object = _UNSET, description: str | None = None,
              deal_version: int | None = None, now: datetime | None = None) -> DealItemRead:
    """Change a line; only what is given changes (discount "" removes it). `version`: the item's
    version the caller saw (a stale one raises the conflict)."""
    now = resolve_now(now)
    deal = _deal_for_write(session, actor, deal_id, deal_version)
    item = _item_of(session, deal.id, item_id)
    product = session.get(Product, item.product_id)
    check_version(session, item, version, ENTITY, f"item {item.id} ({product.sku})")
    values: dict = {}
    if quantity is not None:
        values["quantity_milli"] = parse_quantity(quantity)
    if unit_price is not None:
        values["unit_price_minor"], values["price_overridden"] = _price(session, actor, deal, product, unit_price)
    if discount is not _UNSET:
        values["discount_kind"], values["discount_value"] = parse_discount(discount, deal.currency,
                                                                           locale=actor.locale)
    if description is not None:
        values["description"] = v.optional_text(description, "description", max_length=500) or ""
    changed = {}
    for name, new in values.items():
        old = getattr(item, name)
        if old != new:
            setattr(item, name, new)
            changed[name] = (old, new)
    if not changed:
        return _read_one(session, item.id)
    _compute(item)
    item.updated_at = now
    flush(session, ENTITY, f"item {item.id}")
    audit(session, actor=actor, entity=ENTITY, entity_id=item.id, action="update", now=now, changes=changed)
    what = ", ".join(name.removesuffix("_minor").removesuffix("_milli").replace("_", " ") for name in changed)
    _retotal(session, deal, actor, now, "item_edit", f"item {item.id} ({product.sku}) changed: {what}")
    return _read_one(session, item.id)


def remove_item(session: Session, actor: Actor, deal_id: int, *, item_id: int, version: int | None = None,
                deal_version: int | None = None, now: datetime | None = None) -> DealItemRead:
    """Take a line off the deal; the deal is re-totalled (the last one leaves the amount as it was)."""
    now = resolve_now(now)
    deal = _deal_for_write(session, actor, deal_id, deal_version)
    item = _item_of(session, deal.id, item_id)
    product = session.get(Product, item.product_id)
    check_version(session, item, version, ENTITY, f"item {item.id} ({product.sku})")
    gone = _read_one(session, item.id)
    text = _line_text(item, product, deal.currency)
    session.delete(item)
    flush(session, ENTITY, f"item {item.id}")
    audit(session, actor=actor, entity=ENTITY, entity_id=gone.id, action="delete", now=now,
          summary=f"deal #{deal.id}: {text}")
    _retotal(session, deal, actor, now, "item_remove", f"item removed: {text}")
    return gone


# --- reading ------------------------------------------------------------------------------------


_ITEM = DealItem.__table__.c


def _select():
    # plain columns, not ORM objects: a list of 200 items reads in a fraction of the time
    return (select(_ITEM.id, _ITEM.deal_id, _ITEM.product_id, _ITEM.position, _ITEM.description,
                   _ITEM.quantity_milli, _ITEM.unit_price_minor, _ITEM.price_overridden, _ITEM.discount_kind,
                   _ITEM.discount_value, _ITEM.tax_rate_bp, _ITEM.net_minor, _ITEM.discount_minor, _ITEM.tax_minor,
                   _ITEM.version, Product.sku, Product.name, Product.unit, Deal.currency)
            .join(Product, Product.id == _ITEM.product_id).join(Deal, Deal.id == _ITEM.deal_id))


def _read(r) -> DealItemRead:
    return DealItemRead(
        id=r.id, deal_id=r.deal_id, product_id=r.product_id, sku=r.sku, name=r.name, unit=r.unit,
        position=r.position, description=r.description, quantity_milli=r.quantity_milli,
        unit_price_minor=r.unit_price_minor, price_overridden=bool(r.price_overridden),
        discount_kind=r.discount_kind, discount_value=r.discount_value, tax_rate_bp=r.tax_rate_bp,
        gross_minor=r.net_minor + r.discount_minor, discount_minor=r.discount_minor, net_minor=r.net_minor,
        tax_minor=r.tax_minor, total_minor=r.net_minor + r.tax_minor, currency=r.currency, version=r.version)


def _read_one(session: Session, item_id: int) -> DealItemRead:
    return _read(session.execute(_select().where(_ITEM.id == item_id)).one())


def get_item(session: Session, *, deal_id: int, item_id: int) -> DealItemRead:
    return _read_one(session, _item_of(session, deal_id, item_id).id)


def list_items(session: Session, actor: Actor | None, deal_id: int) -> DealItems:
    """A deal's items (at most MAX_ITEMS, in position order) and their totals."""
    deal = get_or_404(session, Deal, deal_id, "deal")
    rows = session.execute(_select().where(_ITEM.deal_id == deal_id)
                           .order_by(_ITEM.position, _ITEM.id).limit(MAX_ITEMS)).all()
    return DealItems(deal_id=deal.id, currency=deal.currency, deal_version=deal.version,
                     amount_minor=deal.amount_minor, items=tuple(_read(r) for r in rows),
                     totals=_totals(session, deal_id))


def item_count(session: Session, *, deal_id: int) -> int:
    return session.scalar(select(func.count(DealItem.id)).where(DealItem.deal_id == deal_id)) or 0


ITEM_ORDER = SortKey(_ITEM.position, _ITEM.id)


def items_page(session: Session, *, deal_id: int, after: str | None = None, before: str | None = None,
               limit: int = 50, with_total: bool = False) -> Page[DealItemRead]:
    """A deal's items in position order, a page at a time (keyset on position, id): the app's Items tab."""
    get_or_404(session, Deal, deal_id, "deal")
    rows, next_, prev_ = keyset_page(session, _select().where(_ITEM.deal_id == deal_id), ITEM_ORDER,
                                     row_key=lambda r: (r.position, r.id), after=after, before=before,
                                     limit=limit)
    total = item_count(session, deal_id=deal_id) if with_total else None
    return Page([_read(r) for r in rows], next_, prev_, total)


def deal_totals(session: Session, *, deal_id: int) -> DealItems:
    """The deal's totals and amount without its items (the Items tab's totals line)."""
    deal = get_or_404(session, Deal, deal_id, "deal")
    return DealItems(deal_id=deal.id, currency=deal.currency, deal_version=deal.version,
                     amount_minor=deal.amount_minor, items=(), totals=_totals(session, deal_id))
