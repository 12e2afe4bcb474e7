"""Import rows of products: one product per SKU (any spelling), with its prices: a "price" column in
the row's "currency" (else the run's --currency), and "price.EUR"-style columns (as `crm export
products` writes them: one row per product, a column per currency)."""

from __future__ import annotations

from sqlalchemy import bindparam, select, tuple_, update

from crm_tui.models import Product, ProductPrice
from crm_tui.services import money, products
from crm_tui.services import validation as v
from crm_tui.services.importing.fields import PRICE_PREFIX
from crm_tui.services.importing.match import batches
from crm_tui.services.importing.rows import Ctx, Kind, Row, audit_updates, stamps, text_field, update_columns
from crm_tui.services.importing.write import write_rows

_PRICES = ProductPrice.__table__


class ProductRows(Kind):
    table = Product.__table__
    label = "product"
    updatable = ("name", "name_key", "description", "unit", "tax_rate_bp")

    def clean(self, row: Row, ctx: Ctx) -> None:
        d = row.data
        d["sku"] = row.check("sku", products._check_sku)
        d["sku_key"] = products.sku_key(d["sku"]) if d["sku"] else None
        d["name"] = row.check("name", lambda t: v.required_text(t, "product name"))
        for name, label in (("sku", "SKU"), ("name", "name")):
            if row.text(name) is None:
                row.problems.append(("", "", f"a product needs its {label}"))
        d["name_key"] = v.fold(d["name"])[:200] if d["name"] else None
        d["description"] = text_field(row, "description", products.MAX_DESCRIPTION, multiline=True)
        d["unit"] = text_field(row, "unit", 20)
        d["tax_rate_bp"] = row.check("tax", products.parse_tax_rate)
        d["prices"] = self._prices(row, ctx)

    @staticmethod
    def _prices(row: Row, ctx: Ctx) -> dict[str, int]:
        """{currency: minor} from "price" (in the row's "currency", else the run's --currency) and
        from "price.EUR" columns."""
        found: dict[str, int] = {}
        if row.text("price") is not None:
            currency = row.check("currency", money.currency_code) if row.text("currency") else ctx.currency
            if currency is not None and (price := row.check(
                    "price", lambda t: products.parse_price(t, currency, locale=ctx.locale))) is not None:
                found[price[0]] = price[1]
        elif row.text("currency") is not None:
            row.problems.append((row.column("currency"), row.text("currency"), "a currency with no price"))
        for name in sorted(n for n in row.values if n.startswith(PRICE_PREFIX)):
            code = name[len(PRICE_PREFIX):]
            minor = row.check(name, lambda t: products.parse_price(t, code, locale=ctx.locale)[1])
            if minor is None:
                continue
            if code in found and found[code] != minor:
                row.problems.append((row.column(name), row.text(name), f"a second, different price in {code}"))
            found[code] = minor
        return found

    def keys(self, row: Row, ctx: Ctx) -> list[tuple]:
        return [("sku", row.data["sku_key"])] if row.data["sku_key"] else []

    def describe(self, key: tuple) -> str:
        return "same SKU"

    def existing(self, keys: dict[tuple, list[Row]], ctx: Ctx) -> dict[tuple, int]:
        found = {}
        for batch in batches(sorted(k[1] for k in keys)):
            for key, product_id in ctx.session.execute(select(Product.sku_key, Product.id)
                                                       .where(Product.sku_key.in_(batch))):
                found[("sku", key)] = product_id
        return found

    def insert(self, row: Row, ctx: Ctx, out: dict[str, list[dict]]) -> None:
        d = row.data
        out["products"].append({
            "id": row.target, "sku": d["sku"], "sku_key": d["sku_key"], "name": d["name"], "name_key": d["name_key"],
            "description": d["description"] or "", "unit": d["unit"] or "unit", "tax_rate_bp": d["tax_rate_bp"] or 0,
            "archived": False, **stamps(ctx)})
        for code, minor in sorted(d["prices"].items()):
            out["product_prices"].append({"id": ctx.ids.take("product_prices"), "product_id": row.target,
                                          "currency": code, "unit_price_minor": minor, **stamps(ctx)})

    def update(self, pairs: list[tuple[int, Row]], ctx: Ctx, write: bool) -> tuple[int, int]:
        """The fields through update_columns; then each row's price, set or added, audited on its product.
        A row is an update when it changes a field or a price of its product."""
        changes = _price_changes(pairs, ctx)
        touched: set[int] = set()
        update_columns(self.table, pairs, ctx, write, self.updatable, entity=self.label,
                       extra=lambda record, _changes: touched.add(record["id"]))
        updated = sum(1 for target, row in pairs if target in touched or any(
            (target, code) in changes for code in row.data["prices"]))
        if write and changes:
            _write_prices(ctx, changes)
        return updated, len(pairs) - updated


def _price_changes(pairs: list[tuple[int, Row]], ctx: Ctx) -> dict:
    """{(product, currency): (old minor or None, new minor, whether a price row exists)} for the
    prices that change."""
    wanted = {(target, code): minor for target, row in pairs for code, minor in row.data["prices"].items()}
    current: dict[tuple[int, str], int] = {}
    for batch in batches(sorted(wanted)):
        for product_id, code, minor in ctx.session.execute(
                select(ProductPrice.product_id, ProductPrice.currency, ProductPrice.unit_price_minor)
                .where(tuple_(ProductPrice.product_id, ProductPrice.currency).in_(batch))):
            current[(product_id, code)] = minor
    pending = ctx.pending.setdefault("product_prices", {})  # what earlier chunks of this run set
    rows = {}
    for key, minor in wanted.items():
        old = pending.get(key, current.get(key))
        if old != minor:
            rows[key] = (old, minor, key in current or key in pending)
            pending[key] = minor
    return rows


def _write_prices(ctx: Ctx, changes: dict) -> None:
    new, moved, events = [], [], {}
    for (product_id, code), (old, minor, exists) in sorted(changes.items()):
        if exists:
            moved.append({"_product": product_id, "_currency": code, "_minor": minor})
        else:
            new.append({"id": ctx.ids.take("product_prices"), "product_id": product_id, "currency": code,
                        "unit_price_minor": minor, **stamps(ctx)})
        events.setdefault(product_id, {})[f"price {code}"] = (
            None if old is None else products.money_text(old, code), products.money_text(minor, code))
    write_rows(ctx.session, {"product_prices": new})
    if moved:
        ctx.session.execute(update(_PRICES).where(_PRICES.c.product_id == bindparam("_product"),
                                                  _PRICES.c.currency == bindparam("_currency"))
                            .values(unit_price_minor=bindparam("_minor"), version=_PRICES.c.version + 1,
                                    updated_at=ctx.now), moved)
    table = Product.__table__
    ctx.session.execute(update(table).where(table.c.id == bindparam("_id"))
                        .values(version=table.c.version + 1, updated_at=ctx.now),
                        [{"_id": product_id} for product_id in sorted(events)])
    audit_updates(ctx, "product", [(pid, {k: old for k, (old, _new) in ev.items()},
                                    {k: new for k, (_old, new) in ev.items()}) for pid, ev in sorted(events.items())],
                  table.name)
