"""`crm deal item`: a deal's line items; add, list, edit and remove (the deal's amount is their total)."""

from __future__ import annotations

import typer

from crm_tui.cli import output, params
from crm_tui.cli.context import state
from crm_tui.services import deal_items

app = typer.Typer(name="item", help="A deal's line items: add, list, edit, remove.", no_args_is_help=True)

DEAL_HELP = "Deal id."
ITEM_HELP = "Item id (see `crm deal item list DEAL`)."
DISCOUNT_HELP = 'A percent ("10%") or an amount in the deal\'s currency ("15"); "" removes it.'
PRICE_HELP = "Unit price in the deal's currency; the price list's by default (another needs deal.price_override)."
DEAL_VERSION_HELP = "The deal's version you last saw; refuse the change if the deal changed since."


def _say_item(verb: str, item: deal_items.DealItemRead, amount_minor: int) -> None:
    output.say(f"{verb} item {item.id} on deal #{item.deal_id}: {deal_items.format_quantity(item.quantity_milli)} × "
               f"{item.sku} at {output.money(item.unit_price_minor, item.currency)} = "
               f"{output.money(item.total_minor, item.currency)}; deal amount "
               f"{output.money(amount_minor, item.currency)}")


@app.command("add")
def add(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=DEAL_HELP, parser=params.record_id),
    sku: str = typer.Argument(..., help="Product SKU (any case) or id."),
    qty: str = typer.Option("1", "--qty", "-q", help="Quantity, e.g. 2 or 2.5."),
    discount: str | None = typer.Option(None, "--discount", "-d", help=DISCOUNT_HELP),
    price: str | None = typer.Option(None, "--price", help=PRICE_HELP),
    description: str | None = typer.Option(None, "--description", help="A note on the line."),
    deal_version: int | None = typer.Option(None, "--deal-version", help=DEAL_VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Add a product to a deal; the deal's amount becomes its items' total."""
    with state(ctx).write() as (session, actor):
        item = deal_items.add_item(session, actor, deal_id, sku_or_product_id=sku, quantity=qty, unit_price=price,
                                   discount=discount, description=description, deal_version=deal_version)
        amount = deal_items.list_items(session, actor, deal_id).amount_minor
    if as_json:
        output.emit_json(item)
    else:
        _say_item("added", item, amount)


@app.command("list")
def list_(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=DEAL_HELP, parser=params.record_id),
    as_json: output.Json = False,
) -> None:
    """A deal's items with quantity, unit price, discount, tax, net and the totals."""
    with state(ctx).read() as (session, actor):
        listed = deal_items.list_items(session, actor, deal_id)
    t, cur = listed.totals, listed.currency
    if as_json:
        output.emit_json({"deal_id": listed.deal_id, "currency": cur, "deal_version": listed.deal_version,
                          "amount_minor": listed.amount_minor, "items": listed.items,
                          "totals": {"subtotal_minor": t.subtotal_minor, "discount_minor": t.discount_minor,
                                     "net_minor": t.net_minor, "tax_minor": t.tax_minor,
                                     "total_minor": t.total_minor, "count": t.count}})
        return
    if not listed.items:
        output.say(f"deal #{deal_id} has no items; its amount is set by hand "
                   f"({output.money(listed.amount_minor, cur)})")
        return
    output.table(
        ["Item", "SKU", "Product", "Qty", "Unit price", "Discount", "Tax", "Net", "Total"],
        [(i.id, i.sku, i.name + (f" — {i.description}" if i.description else ""),
          deal_items.format_quantity(i.quantity_milli),
          output.money(i.unit_price_minor, cur) + (" *" if i.price_overridden else ""),
          deal_items.format_discount(i.discount_kind, i.discount_value, cur), output.money(i.tax_minor, cur),
          output.money(i.net_minor, cur), output.money(i.total_minor, cur)) for i in listed.items],
        title=f"Deal #{deal_id} items")
    output.say(f"subtotal {output.money(t.subtotal_minor, cur)}, discount {output.money(t.discount_minor, cur)}, "
               f"net {output.money(t.net_minor, cur)}, tax {output.money(t.tax_minor, cur)}, "
               f"total {output.money(t.total_minor, cur)} ({t.count} items)")
    if any(i.price_overridden for i in listed.items):
        output.say("* a price other than the price list's")


@app.command("edit")
def edit(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=DEAL_HELP, parser=params.record_id),
    item_id: int = typer.Argument(..., help=ITEM_HELP, parser=params.record_id),
    qty: str | None = typer.Option(None, "--qty", "-q", help="Quantity, e.g. 2 or 2.5."),
    discount: str | None = typer.Option(None, "--discount", "-d", help=DISCOUNT_HELP),
    price: str | None = typer.Option(None, "--price", help=PRICE_HELP),
    description: str | None = typer.Option(None, "--description", help="A note on the line."),
    version: int | None = typer.Option(None, "--version", help="The item's version you last saw."),
    deal_version: int | None = typer.Option(None, "--deal-version", help=DEAL_VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Change an item; only the options given change."""
    extra = {} if discount is None else {"discount": discount}
    with state(ctx).write() as (session, actor):
        item = deal_items.edit_item(session, actor, deal_id, item_id=item_id, version=version, quantity=qty,
                                    unit_price=price, description=description, deal_version=deal_version, **extra)
        amount = deal_items.list_items(session, actor, deal_id).amount_minor
    if as_json:
        output.emit_json(item)
    else:
        _say_item("updated", item, amount)


@app.command("remove")
def remove(
    ctx: typer.Context,
    deal_id: int = typer.Argument(..., help=DEAL_HELP, parser=params.record_id),
    item_id: int = typer.Argument(..., help=ITEM_HELP, parser=params.record_id),
    version: int | None = typer.Option(None, "--version", help="The item's version you last saw."),
    deal_version: int | None = typer.Option(None, "--deal-version", help=DEAL_VERSION_HELP),
    as_json: output.Json = False,
) -> None:
    """Take an item off a deal (the last one leaves the deal's amount as it was)."""
    with state(ctx).write() as (session, actor):
        gone = deal_items.remove_item(session, actor, deal_id, item_id=item_id, version=version,
                                      deal_version=deal_version)
        amount = deal_items.list_items(session, actor, deal_id).amount_minor
    if as_json:
        output.emit_json({"removed": gone, "deal_amount_minor": amount})
    else:
        output.say(f"removed item {gone.id} ({gone.sku}) from deal #{deal_id}; deal amount "
                   f"{output.money(amount, gone.currency)}")
