"""`crm company purchases`: what a company has bought (its won deals' items), newest first, and per product."""

from __future__ import annotations

import typer

from crm_tui.cli import output
from crm_tui.cli.context import state
from crm_tui.services import companies, deal_items, purchases


def company_purchases(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="Company id, name or domain."),
    limit: output.Limit = 50,
    after: output.After = None,
    as_json: output.Json = False,
) -> None:
    """What a company has bought: its won deals' items, newest first, and the totals per product."""
    st = state(ctx)
    with st.read() as (session, _actor):
        company = companies.resolve_company(session, ref)
        page = purchases.company_purchases(session, company_id=company.id, after=after, limit=limit)
        by_product = purchases.company_purchases_by_product(session, company_id=company.id)
    if as_json:
        output.emit_json({"company_id": company.id, "items": page.items, "next_cursor": page.next_cursor,
                          "by_product": by_product})
        return
    if not page.items:
        output.say(f"{company.name} has bought nothing yet (no won deal with items)")
        return
    output.table(["Product", "Qty", "Total", "Deals", "Last bought"],
                 [(f"{p.sku} · {p.name}", deal_items.format_quantity(p.quantity_milli),
                   output.money(p.total_minor, p.currency), p.deals, output.local_time(p.last_at, st.zone))
                  for p in by_product], title=f"{company.name}: bought, per product")
    output.table(["Won", "Deal", "Product", "Qty", "Amount"],
                 [(output.local_time(p.won_at, st.zone), f"#{p.deal_id} {p.deal_title}", f"{p.sku} · {p.name}",
                   deal_items.format_quantity(p.quantity_milli), output.money(p.total_minor, p.currency))
                  for p in page.items], title="Purchases, newest first")
    output.more_hint(page, shown=len(page.items))
