"""`crm product`: the product catalog: add, list, show, edit, price, archive."""

from __future__ import annotations

import typer

from crm_tui.cli import output
from crm_tui.cli.archiving import add_archive_commands
from crm_tui.cli.context import state
from crm_tui.errors import InvalidInput
from crm_tui.services import products

app = typer.Typer(name="product", help="The product catalog: add, list, show, edit, price, archive.",
                  no_args_is_help=True)

REF_HELP = "The product's SKU (any case) or #id."
VERSION_HELP = "The version you last saw; refuse the change if the product changed since."
PRICE_HELP = "A price with its currency: 120USD, '110 EUR', €99 (repeat for more currencies)."
CURRENCY_HELP = "The currency of a --price given without one."
TAX_HELP = "Tax rate in percent: 20%, 7.5."


def _prices(prices: list[str], currency: str | None) -> list[str]:
    if currency and not prices:
        raise InvalidInput("--currency goes with a --price (e.g. --price 120 --currency USD)")
    return [p if not currency else f"{p} {currency}" if p.strip()[-1:].isdigit() else p for p in prices]


def _prices_text(prices) -> str:
    return ", ".join(f"{products.money_text(p.unit_price_minor, p.currency)} {p.currency}" for p in prices)


def _json(p: products.ProductRead) -> dict:
    return {"id": p.id, "sku": p.sku, "name": p.name, "description": p.description, "unit": p.unit,
            "tax_rate": products.tax_text(p.tax_rate_bp), "tax_rate_bp": p.tax_rate_bp,
            "prices": {x.currency: {"amount": products.money_text(x.unit_price_minor, x.currency).replace(",", ""),
                                    "minor": x.unit_price_minor} for x in p.prices},
            "archived": p.archived, "version": p.version, "created_at": p.created_at, "updated_at": p.updated_at}


def _done(p: products.ProductRead, what: str, as_json: bool) -> None:
    if as_json:
        output.emit_json(_json(p))
    else:
        priced = f" ({_prices_text(p.prices)})" if p.prices else ""
        output.say(f"{what} product #{p.id} {p.sku} {p.name}{priced} (version {p.version})")


@app.command("add")
def add(
    ctx: typer.Context,
    sku: str = typer.Argument(..., help="The SKU (product code), unique in any case."),
    name: str = typer.Argument(..., help="The product's name."),
    price: list[str] = typer.Option([], "--price", "-p", help=PRICE_HELP),
    currency: str | None = typer.Option(None, "--currency", help=CURRENCY_HELP),
    unit: str | None = typer.Option(None, "--unit", help="What one is: unit, hour, seat, month."),
    tax: str | None = typer.Option(None, "--tax", help=TAX_HELP),
    description: str | None = typer.Option(None, "--description"),
    as_json: output.Json = False,
) -> None:
    """Add a product with its prices: crm product add AB-1 'Consulting hour' --price 120USD --price 110EUR."""
    with state(ctx).write() as (session, actor):
        found = products.create_product(session, sku=sku, name=name, description=description, unit=unit,
                                        tax_rate=tax, prices=_prices(price, currency), locale=actor.locale,
                                        actor=actor)
    _done(found, "added", as_json)


@app.command("list")
def list_(
    ctx: typer.Context,
    search: str | None = typer.Option(None, "--search", "-s", help="Names or SKUs that start with this."),
    archived: bool = typer.Option(False, "--archived", help="List archived products instead."),
    sort: str = typer.Option("name", "--sort", help="name or sku."),
    limit: output.Limit = 50,
    after: output.After = None,
    as_json: output.Json = False,
) -> None:
    """List products, a page at a time."""
    with state(ctx).read() as (session, _actor):
        page = products.list_products(session, query=search, archived=archived, sort=sort, after=after, limit=limit,
                                      with_total=True)
    if as_json:
        output.emit_json({"items": [{"id": r.id, "sku": r.sku, "name": r.name, "unit": r.unit,
                                     "tax_rate_bp": r.tax_rate_bp, "archived": r.archived,
                                     "prices": {x.currency: x.unit_price_minor for x in r.prices}}
                                    for r in page.items],
                          "next_cursor": page.next_cursor, "total": page.total})
        return
    output.table(["ID", "SKU", "Name", "Unit", "Tax", "Prices"],
                 [(r.id, r.sku, r.name, r.unit, products.tax_text(r.tax_rate_bp), _prices_text(r.prices))
                  for r in page.items])
    output.more_hint(page, shown=len(page.items))


@app.command("show")
def show(ctx: typer.Context, ref: str = typer.Argument(..., help=REF_HELP), as_json: output.Json = False) -> None:
    """Show a product and its price list."""
    st = state(ctx)
    with st.read() as (session, _actor):
        p = products.find_product(session, ref)
    if as_json:
        output.emit_json(_json(p))
        return
    output.details([
        ("SKU", p.sku), ("Name", p.name), ("Description", p.description), ("Unit", p.unit),
        ("Tax", products.tax_text(p.tax_rate_bp)), ("Archived", "yes" if p.archived else None),
        ("Prices", _prices_text(p.prices) or "none"),
        ("Updated", output.local_time(p.updated_at, st.zone)), ("Version", p.version),
    ], title=f"Product #{p.id}")


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    sku: str | None = typer.Option(None, "--sku", help="A new SKU."),
    name: str | None = typer.Option(None, "--name"),
    description: str | None = typer.Option(None, "--description", help='The description ("" to clear).'),
    unit: str | None = typer.Option(None, "--unit"),
    tax: str | None = typer.Option(None, "--tax", help=TAX_HELP),
    price: list[str] = typer.Option([], "--price", "-p", help="Set a price: " + PRICE_HELP),
    currency: str | None = typer.Option(None, "--currency", help=CURRENCY_HELP),
    remove_price: list[str] = typer.Option([], "--remove-price", metavar="CURRENCY",
                                           help="Take this currency off the price list (repeat for more)."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Change a product's fields and prices; only the options given change."""
    with state(ctx).write() as (session, actor):
        found = products.find_product(session, ref)
        found = products.update_product(session, product_id=found.id, sku=sku, name=name, description=description,
                                        unit=unit, tax_rate=tax, prices=_prices(price, currency),
                                        remove_prices=remove_price, locale=actor.locale, version=version,
                                        actor=actor)
    _done(found, "updated", as_json)


@app.command("price")
def price_(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help=REF_HELP),
    amount: str | None = typer.Argument(None, help="The price, e.g. 110 or 1,200.50 (or 110EUR)."),
    currency: str | None = typer.Argument(None, help="Its currency: EUR, USD."),
    remove: str | None = typer.Option(None, "--remove", metavar="CURRENCY", help="Remove the price in this currency."),
    version: int | None = typer.Option(None, "--version", help=VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Set a product's price in one currency (crm product price AB-1 110 EUR), or --remove one."""
    if (amount is None) == (remove is None):
        raise InvalidInput("give a price (crm product price SKU 110 EUR) or --remove CURRENCY")
    with state(ctx).write() as (session, actor):
        found = products.find_product(session, ref)
        if remove is not None:
            found = products.remove_price(session, product_id=found.id, currency=remove, version=version,
                                          actor=actor)
        else:
            found = products.update_product(session, product_id=found.id, prices=_prices([amount], currency),
                                            locale=actor.locale, version=version, actor=actor)
    _done(found, "priced", as_json)


add_archive_commands(
    app, noun="product", ref_help=REF_HELP, version_help=VERSION_HELP,
    find=lambda session, ref: products.find_product(session, ref),
    set_archived=lambda session, record_id, archived, actor, version: products.set_product_archived(
        session, product_id=record_id, archived=archived, actor=actor, version=version),
    label=lambda record: f"{record.sku} {record.name}")
