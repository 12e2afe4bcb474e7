"""The product catalog: products (SKU, name, unit, tax rate) and their price in each currency the
team sells in; create, edit, archive, price, look up by SKU, list by keyset and pick as you type.

Prices are integer minor units (money.parse_amount), tax rates integer basis points (20% is 2000).
A price change is a change of its product: it bumps the product's version and is audited on it, so
one version check guards a product and its price list alike.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from crm_tui.clock import resolve_now
from crm_tui.errors import Duplicate, InvalidInput, NotFound
from crm_tui.models import Product, ProductPrice
from crm_tui.models.product import BASIS_POINTS
from crm_tui.services import money, permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, apply_changes, audit, check_version, flush, get_or_404, lock_names
from crm_tui.services.paging import Page, SortKey, keyset_page

ENTITY = "product"
EDIT = "product.edit"
# the list and the picker read the tables' columns (Core), not the entities': no ORM step per statement
_P = Product.__table__.c
_PP = ProductPrice.__table__.c
SORTS = {
    "name": SortKey(_P.name_key, _P.id),
    "sku": SortKey(_P.sku_key, _P.id),
}
MAX_SKU = 64
MAX_DESCRIPTION = 5000
MAX_PICK = 50


class NoPrice(InvalidInput):
    """A product has no price in the currency asked for."""

    def __init__(self, message: str, *, sku: str, currency: str, see: str | None = None) -> None:
        super().__init__(message, see=see)
        self.sku = sku
        self.currency = currency


@dataclass(frozen=True, slots=True)
class Price:
    currency: str
    unit_price_minor: int


@dataclass(frozen=True)
class ProductRead:
    id: int
    sku: str
    name: str
    description: str
    unit: str
    tax_rate_bp: int
    archived: bool
    version: int
    created_at: datetime
    updated_at: datetime
    prices: tuple[Price, ...] = ()

    def price(self, currency: str) -> int | None:
        return next((p.unit_price_minor for p in self.prices if p.currency == currency), None)


@dataclass(frozen=True, slots=True)
class ProductRow:
    """One line of the product list."""

    id: int
    sku: str
    name: str
    unit: str
    tax_rate_bp: int
    archived: bool
    prices: tuple[Price, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ProductChoice:
    """One product a picker offers."""

    id: int
    sku: str
    name: str
    unit: str
    archived: bool = False

    @property
    def label(self) -> str:
        return f"{self.sku} · {self.name}"


# --- reading what people type ------------------------------------------------------------------


def sku_key(sku: str) -> str:
    """A SKU as it is matched: stripped and casefolded, so "ab-1" finds "AB-1"."""
    return (sku or "").strip().casefold()


def _check_sku(sku: str) -> str:
    text = v.required_text(sku, "SKU", max_length=MAX_SKU)
    if any(ch.isspace() for ch in text):
        raise InvalidInput(f"invalid SKU {text!r}: a SKU has no spaces")
    return text


_TAX = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*%?\s*$")


def parse_tax_rate(value: str | int | Decimal | None) -> int:
    """A tax rate in basis points: "20%", "20" and "7.5 %" are percent (2000, 2000, 750); an int is
    basis points already. From 0% to 100%, in steps of 0.01%."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    if isinstance(value, bool):
        raise InvalidInput(f"invalid tax rate {value!r}")
    if isinstance(value, int):
        bp = value
    else:
        match = _TAX.match(str(value))
        if match is None:
            raise InvalidInput(f"invalid tax rate {value!r}: give a percent such as 20% or 7.5%")
        try:
            percent = Decimal(match[1].replace(",", "."))
        except InvalidOperation:
            raise InvalidInput(f"invalid tax rate {value!r}: give a percent such as 20% or 7.5%") from None
        scaled = percent * 100
        if scaled != scaled.to_integral_value():
            raise InvalidInput(f"invalid tax rate {value!r}: at most two decimal places (e.g. 7.25%)")
        bp = int(scaled)
    if not 0 <= bp <= BASIS_POINTS:
        raise InvalidInput(f"invalid tax rate {value!r}: between 0% and 100%")
    return bp


def tax_text(bp: int) -> str:
    """2000 -> "20%", 750 -> "7.5%"."""
    return f"{(Decimal(bp) / 100).normalize():f}%"


_CODE_FIRST = re.compile(r"^\s*([A-Za-z]{3})(?![A-Za-z])")
_CODE_LAST = re.compile(r"(?<![A-Za-z])([A-Za-z]{3})\s*$")


def parse_price(text: str, currency: str | None = None, *, locale: str | None = None) -> tuple[str, int]:
    """(currency, minor units) from "120 USD", "USD 120", "110EUR", "€110", or "120" with `currency`."""
    raw = (text or "").strip()
    if not raw:
        raise InvalidInput("no price given: write it as 120 USD")
    found = _CODE_FIRST.match(raw) or _CODE_LAST.search(raw)
    code = found[1] if found else next((c for s, c in money._SYMBOL_CODES.items() if s in raw), None)
    if code is None:
        code = currency
    elif currency and money.currency_code(code) != money.currency_code(currency):
        raise InvalidInput(f"price {raw!r} is in {code.upper()}, not {currency.upper()}")
    if not code:
        raise InvalidInput(f"price {raw!r} has no currency: write it as {raw} USD (or give --currency)")
    code = money.currency_code(code)
    return code, money.parse_amount(raw, code, locale=locale)


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "sku" in values:
        out["sku"] = _check_sku(values["sku"])
        out["sku_key"] = sku_key(out["sku"])
    if "name" in values:
        out["name"] = v.required_text(values["name"], "product name", max_length=200)
        out["name_key"] = v.fold(out["name"])[:200]
    if "description" in values:
        out["description"] = v.optional_text(values["description"], "description", max_length=MAX_DESCRIPTION,
                                             multiline=True) or ""
    if "unit" in values:
        out["unit"] = v.optional_text(values["unit"], "unit", max_length=20) or "unit"
    if "tax_rate" in values:
        out["tax_rate_bp"] = parse_tax_rate(values["tax_rate"])
    return out


def _prices(values: Any, *, locale: str | None = None) -> dict[str, int]:
    """{currency: minor} from {"USD": "120"} or ["120 USD", "110 EUR"]; one price per currency."""
    if not values:
        return {}
    pairs = (values.items() if isinstance(values, dict) else ((None, p) for p in values))
    found: dict[str, int] = {}
    for currency, amount in pairs:
        if isinstance(amount, (int, Decimal)) and not isinstance(amount, bool):
            code, minor = money.currency_code(currency or ""), money.parse_amount(amount, currency or "")
        else:
            code, minor = parse_price(str(amount), currency, locale=locale)
        if code in found:
            raise InvalidInput(f"two prices in {code}: give one price per currency")
        found[code] = minor
    return found


# --- writing ---------------------------------------------------------------------------------


def _refuse_duplicate(session: Session, key: str, sku: str, *, editing: int | None = None) -> None:
    lock_names(session, f"product-sku:{key}")
    row = session.execute(select(Product.id, Product.sku, Product.archived).where(Product.sku_key == key)).first()
    if row is None or row.id == editing:
        return
    state = " (archived)" if row.archived else ""
    found = f"a product with SKU {row.sku} already exists: #{row.id}{state}"
    raise Duplicate(f"{found}; choose another SKU (crm product show {row.sku})", entity=ENTITY, existing_id=row.id,
                    existing_label=row.sku, found=found)


def _flush(session: Session, label: str, key: str) -> None:
    try:
        flush(session, ENTITY, label)
    except IntegrityError:
        # a teammate took the SKU between the check and the write (SQLite holds the file; PG the lock)
        raise InvalidInput(f"a product with SKU {label} was just added by someone else; choose another SKU") from None


def create_product(session: Session, *, sku: str, name: str, actor: Actor, description: str | None = None,
                   unit: str | None = None, tax_rate: str | int | Decimal | None = None,
                   prices: dict[str, Any] | list[str] | None = None, locale: str | None = None,
                   now: datetime | None = None) -> ProductRead:
    """Add a product with its prices (`{"USD": "120"}` or `["120 USD", "110 EUR"]`). A SKU another
    product has in any spelling is refused as a Duplicate."""
    now = resolve_now(now)
    permissions.require(session, actor, EDIT)
    values = _clean({"sku": sku, "name": name, "description": description, "unit": unit, "tax_rate": tax_rate})
    price_list = _prices(prices, locale=locale)
    _refuse_duplicate(session, values["sku_key"], values["sku"])
    product = Product(**values, created_at=now, updated_at=now)
    session.add(product)
    _flush(session, values["sku"], values["sku_key"])
    for code, minor in price_list.items():
        session.add(ProductPrice(product_id=product.id, currency=code, unit_price_minor=minor, created_at=now,
                                 updated_at=now))
    session.flush()
    summary = f"{product.sku} {product.name}" + "".join(f"; {code} {money_text(m, code)}" for code, m in
                                                         price_list.items())
    audit(session, actor=actor, entity=ENTITY, entity_id=product.id, action="create", now=now, summary=summary)
    return read_product(session, product)


def update_product(session: Session, *, product_id: int, actor: Actor, version: int | None = None,
                   sku: str | None = None, name: str | None = None, description: str | None = None,
                   unit: str | None = None, tax_rate: str | int | Decimal | None = None,
                   prices: dict[str, Any] | list[str] | None = None, remove_prices: list[str] | None = None,
                   locale: str | None = None, now: datetime | None = None) -> ProductRead:
    """Change the fields given (None: unchanged), set `prices` and drop `remove_prices` (currency
    codes), in one version-checked, audited change."""
    now = resolve_now(now)
    product = get_or_404(session, Product, product_id, ENTITY)
    permissions.require(session, actor, EDIT)
    check_version(session, product, version, ENTITY, f"product {product.sku}")
    given = {k: val for k, val in (("sku", sku), ("name", name), ("description", description), ("unit", unit),
                                   ("tax_rate", tax_rate)) if val is not None}
    values = _clean(given)
    price_list = _prices(prices, locale=locale)
    removed = [money.currency_code(c) for c in (remove_prices or [])]
    if "sku_key" in values and values["sku_key"] != product.sku_key:
        _refuse_duplicate(session, values["sku_key"], values["sku"], editing=product.id)
    changes = apply_changes(product, values)
    changes.pop("name_key", None)
    changes.pop("sku_key", None)
    with session.no_autoflush:  # one edit, one new version: the product is written once, below
        changes.update(_write_prices(session, product, price_list, removed, now))
    if changes:
        product.updated_at = now
        flag_modified(product, "updated_at")  # a price change alone is a new version of the product too
        _flush(session, product.sku, product.sku_key)
        audit(session, actor=actor, entity=ENTITY, entity_id=product.id, action="update", now=now, changes=changes)
    return read_product(session, product)


def _write_prices(session: Session, product: Product, prices: dict[str, int], removed: list[str],
                  now: datetime) -> dict[str, tuple[Any, Any]]:
    """Set and remove prices; {"price EUR": (old, new)} for the audit trail."""
    both = set(prices) & set(removed)
    if both:
        raise InvalidInput(f"both a price and its removal given for {', '.join(sorted(both))}")
    current = {p.currency: p for p in session.scalars(select(ProductPrice).where(
        ProductPrice.product_id == product.id))}
    for code in removed:
        if code not in current:
            raise NoPrice(f"{product.sku} has no price in {code} to remove", sku=product.sku, currency=code)
    changes: dict[str, tuple[Any, Any]] = {}
    for code, minor in prices.items():
        row = current.get(code)
        if row is None:
            session.add(ProductPrice(product_id=product.id, currency=code, unit_price_minor=minor, created_at=now,
                                     updated_at=now))
            changes[f"price {code}"] = (None, money_text(minor, code))
        elif row.unit_price_minor != minor:
            changes[f"price {code}"] = (money_text(row.unit_price_minor, code), money_text(minor, code))
            row.unit_price_minor, row.updated_at = minor, now
    for code in removed:
        changes[f"price {code}"] = (money_text(current[code].unit_price_minor, code), None)
        session.delete(current[code])
    return changes


def set_price(session: Session, *, product_id: int, currency: str, amount: str | int | Decimal, actor: Actor,
              version: int | None = None, locale: str | None = None, now: datetime | None = None) -> ProductRead:
    """Set the product's price in one currency (add it to the price list, or change it)."""
    code = money.currency_code(currency)
    return update_product(session, product_id=product_id, actor=actor, version=version, prices={code: amount},
                          locale=locale, now=now)


def remove_price(session: Session, *, product_id: int, currency: str, actor: Actor, version: int | None = None,
                 now: datetime | None = None) -> ProductRead:
    """Take a currency off the product's price list (deals already priced keep their price)."""
    return update_product(session, product_id=product_id, actor=actor, version=version, remove_prices=[currency],
                          now=now)


def set_product_archived(session: Session, *, product_id: int, archived: bool, actor: Actor,
                         version: int | None = None, now: datetime | None = None) -> ProductRead:
    """Archive a product (it leaves the pickers and the list; deals and quotes keep it) or bring it back."""
    now = resolve_now(now)
    product = get_or_404(session, Product, product_id, ENTITY)
    permissions.require(session, actor, EDIT)
    check_version(session, product, version, ENTITY, f"product {product.sku}")
    if product.archived != archived:
        product.archived, product.updated_at = archived, now
        flush(session, ENTITY, f"product {product.sku}")
        audit(session, actor=actor, entity=ENTITY, entity_id=product.id, action="archive" if archived else "unarchive",
              now=now, changes={"archived": (not archived, archived)})
    return read_product(session, product)


# --- reading ---------------------------------------------------------------------------------


def money_text(minor: int, currency: str) -> str:
    """A price as the CLI and the audit trail write it: "1,200.00" (the currency beside it)."""
    return money.input_text(minor, currency)


def _price_lists(session: Session, ids: list[int]) -> dict[int, tuple[Price, ...]]:
    found: dict[int, list[Price]] = {i: [] for i in ids}
    if ids:
        for r in session.execute(select(_PP.product_id, _PP.currency, _PP.unit_price_minor)
                                 .where(_PP.product_id.in_(ids))
                                 .order_by(_PP.product_id, _PP.currency)):
            found[r.product_id].append(Price(r.currency, r.unit_price_minor))
    return {i: tuple(p) for i, p in found.items()}


def read_product(session: Session, product: Product) -> ProductRead:
    return ProductRead(id=product.id, sku=product.sku, name=product.name, description=product.description or "",
                       unit=product.unit, tax_rate_bp=product.tax_rate_bp, archived=product.archived,
                       version=product.version, created_at=product.created_at, updated_at=product.updated_at,
                       prices=_price_lists(session, [product.id])[product.id])


def get_product(session: Session, *, product_id: int) -> ProductRead:
    return read_product(session, get_or_404(session, Product, product_id, ENTITY))


def get_by_sku(session: Session, *, sku: str) -> ProductRead:
    """A product by its SKU in any spelling ("ab-1" finds "AB-1"); NotFound naming it otherwise."""
    key = sku_key(sku)
    product = session.scalars(select(Product).where(Product.sku_key == key)).first() if key else None
    if product is None:
        raise NotFound(f"no product with SKU {sku.strip()!r}", see="crm product list --search " + (sku.strip() or "X"))
    return read_product(session, product)


def find_product(session: Session, ref: str | int) -> ProductRead:
    """A product by SKU (any spelling), else by id ("12" or "#12")."""
    text = str(ref).strip()
    key = sku_key(text)
    product = session.scalars(select(Product).where(Product.sku_key == key)).first() if key else None
    if product is not None:
        return read_product(session, product)
    digits = text.removeprefix("#")
    if digits.isascii() and digits.isdigit():
        found = session.get(Product, int(digits)) if len(digits) < 19 else None
        if found is not None:
            return read_product(session, found)
    raise NotFound(f"no product with SKU {text!r}", see="crm product list --search " + (text or "X"))


def price_for(session: Session, product_id: int, currency: str) -> int:
    """The product's list price in `currency`, in minor units; NoPrice ("AB-1 has no price in EUR")
    when its price list has none."""
    code = money.currency_code(currency)
    price = session.scalar(select(ProductPrice.unit_price_minor).where(ProductPrice.product_id == product_id,
                                                                       ProductPrice.currency == code))
    if price is not None:
        return price
    sku = session.scalar(select(Product.sku).where(Product.id == product_id))
    if sku is None:
        raise NotFound(f"no product with id {product_id}")
    have = session.scalars(select(ProductPrice.currency).where(ProductPrice.product_id == product_id)
                           .order_by(ProductPrice.currency)).all()
    priced = f" (it has {', '.join(have)})" if have else " (it has no prices)"
    raise NoPrice(f"{sku} has no price in {code}{priced}", sku=sku, currency=code,
                  see=f"crm product price {sku} AMOUNT {code}")


def _prefix(column: Any, prefix: str):
    """`column` starts with `prefix`: an index range scan (keys are casefolded; collation C on PG)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


def _search_keys(query: str | None) -> dict[str, str] | None:
    """{"name": prefix, "sku": prefix} a search matches on, by the column they start."""
    text = (query or "").strip()
    if not text:
        return None
    return {"name": v.fold(text)[:200], "sku": sku_key(text)[:MAX_SKU]}


def search_conditions(query: str | None) -> list:
    """The conditions a search matches on, any one of them: the name starts with it, or the SKU does."""
    keys = _search_keys(query)
    if keys is None:
        return []
    return [_prefix(SORTS[name].column, prefix) for name, prefix in keys.items()]


# A search branch on the column the list is not sorted by (the SKU of a list by name) cannot walk an
# index in the list's order. When it matches at most this many products, they are read off their
# own index and sorted (a bounded sort); when it matches more, the list's own index is walked in
# order, testing each row, and LIMIT stops it after a page (matches are dense: about
# N / CROSS_SORT_MAX rows are read per row found). Never a sort of every match.
CROSS_SORT_MAX = 1000


@functools.cache
def _count_upto(name: str, archived: bool, n: int) -> Any:
    """How many live (or archived) products' `name` column starts with :lo (below :hi), counting at
    most n + 1: a range scan of that many rows. Built once: its parameters are bound at each call."""
    column = SORTS[name].column
    some = select(_P.id).where(column >= bindparam("lo"), column < bindparam("hi"),
                               _P.archived.is_(archived)).limit(n + 1).subquery()
    return select(func.count()).select_from(some)


def _has_more(session: Session, name: str, prefix: str, archived: bool, n: int) -> bool:
    """Whether more than `n` live (or archived) products' `name` column starts with `prefix`."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return session.scalar(_count_upto(name, archived, n), {"lo": prefix, "hi": upper}) > n


def _search_branches(session: Session, keys: dict[str, str], sort: str, archived: bool) -> list:
    """The search's conditions for keyset_page (any_of), each walkable without sorting every match."""
    branches = []
    for name, prefix in keys.items():
        column = SORTS[name].column
        if name != sort and _has_more(session, name, prefix, archived, CROSS_SORT_MAX):
            # `|| ''` keeps the planner off this column's index: it walks the sort index instead
            column = column.concat("")
        branches.append(_prefix(column, prefix))
    return branches


def _price_text() -> Any:
    """The row's price list as one string, "EUR:11000,USD:12000" (any order), from a correlated
    subquery: the page and its prices in one statement, one unique-index probe per row."""
    pair = _PP.currency.concat(":").concat(cast(_PP.unit_price_minor, String))
    return (select(func.aggregate_strings(pair, ",")).where(_PP.product_id == _P.id)
            .scalar_subquery().label("prices"))


def _parse_prices(text: str | None) -> tuple[Price, ...]:
    if not text:
        return ()
    pairs = sorted(p.split(":") for p in text.split(","))
    return tuple(Price(code, int(minor)) for code, minor in pairs)


def list_products(session: Session, *, query: str | None = None, archived: bool = False, sort: str = "name",
                  after: str | None = None, before: str | None = None, limit: int = 50,
                  with_total: bool = False) -> Page[ProductRow]:
    """One page of products by name (or SKU), keyset; `query`: the name or the SKU starts with it."""
    if sort not in SORTS:
        raise InvalidInput(f"invalid sort {sort!r}: choose one of {', '.join(SORTS)}")
    key = SORTS[sort]
    conditions = [_P.archived.is_(archived)]
    keys = _search_keys(query)
    any_of = _search_branches(session, keys, sort, archived) if keys else []
    # a plain page reads its prices in its own statement (one probe per row); a search page, whose
    # branch may sort up to CROSS_SORT_MAX matches before its LIMIT, reads them after: one query
    stmt = select(_P.id, _P.sku, _P.name, _P.unit, _P.tax_rate_bp, _P.archived, key.column.label("sort_value"),
                  *([] if any_of else [_price_text()])).where(*conditions)
    rows, next_, prev_ = keyset_page(session, stmt, key, row_key=lambda r: (r.sort_value, r.id), after=after,
                                     before=before, limit=limit, any_of=any_of)
    if any_of:
        prices = _price_lists(session, [r.id for r in rows])
        items = [ProductRow(r.id, r.sku, r.name, r.unit, r.tax_rate_bp, r.archived, prices[r.id]) for r in rows]
    else:
        items = [ProductRow(r.id, r.sku, r.name, r.unit, r.tax_rate_bp, r.archived, _parse_prices(r.prices))
                 for r in rows]
    total = None
    if with_total:
        where = [*conditions, or_(*search_conditions(query))] if keys else conditions
        total = session.scalar(select(func.count()).select_from(Product).where(*where))
    return Page(items, next_, prev_, total)


def lookup(session: Session, *, query: str, limit: int = 8, include_archived: bool = False) -> list[ProductChoice]:
    """Up to `limit` products for a picker: the SKU typed exactly first, then names that start with
    it, then SKUs that do. Each part is one bounded index range scan: instant at any catalog size."""
    limit = max(1, min(limit, MAX_PICK))
    text = (query or "").strip()
    cols = (_P.id, _P.sku, _P.name, _P.unit, _P.archived)
    live = [] if include_archived else [_P.archived.is_(False)]
    if not text:
        rows = session.execute(select(*cols).where(*live).order_by(_P.name_key, _P.id).limit(limit)).all()
        return [ProductChoice(*r) for r in rows]
    key, name = sku_key(text)[:MAX_SKU], v.fold(text)[:200]
    found: dict[int, ProductChoice] = {}
    walks = [
        select(*cols).where(_P.sku_key == key, *live),
        select(*cols).where(_prefix(_P.name_key, name), *live).order_by(_P.name_key, _P.id),
        select(*cols).where(_prefix(_P.sku_key, key), *live).order_by(_P.sku_key),
    ]
    for stmt in walks:
        for r in session.execute(stmt.limit(limit)).all():
            found.setdefault(r.id, ProductChoice(*r))
        if len(found) >= limit:
            break
    return list(found.values())[:limit]


def pick_one(session: Session, *, ref: str) -> ProductRead:
    """The product a person named in a field: its SKU (any spelling) or id, else the only product
    whose name or SKU starts with it; several are an error listing some."""
    try:
        return find_product(session, ref)
    except NotFound:
        pass
    choices = lookup(session, query=ref, limit=6)
    if len(choices) == 1:
        return get_product(session, product_id=choices[0].id)
    if not choices:
        raise NotFound(f"no product {ref.strip()!r}", see="crm product list --search " + (ref.strip() or "X"))
    names = ", ".join(c.label for c in choices[:5])
    raise InvalidInput(f"{ref.strip()!r} matches several products: {names}; give the SKU")
