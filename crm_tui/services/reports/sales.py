"""The product and quote reports (issue 22): revenue by product, by product per seller, quotes, and
the average discount per seller. Each is a few GROUP BY statements over deal items and quotes;
money is converted into the report's currency (the team's) at the rate of each deal's close day
(services/conversion.py), and the lines of deals with no rate are listed in the notes, not added in.

Definitions (also in each report's notes):
- Revenue: the net (after discount, before tax) of the items of the deals won in the period.
- Quotes: each quote number counts once per event, whatever its revisions: created (its first
  revision made in the period), sent, accepted, declined and expired (the event's time in the
  period). Acceptance rate = accepted / (accepted + declined + expired), of the quotes decided in
  the period; a quote still out (sent, not yet decided) is in none of them. Days to acceptance:
  the average from sending to accepting, of the quotes accepted in the period.
- Average discount: the discounts given / the gross (net + discount) over the items of the
  deals won in the period, per deal owner: a weighted average, so a big line counts for more.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, join

from crm_tui.models import Deal
from crm_tui.models.product import QUANTITY_SCALE, DealItem, Product, Quote
from crm_tui.services.reports.bucketing import in_range
from crm_tui.services.reports.queries import (
    _days, _deal_conditions, _int, _logins, _pct, conversion_note, epoch_seconds, missing_rates_note,
)
from crm_tui.services import conversion
from crm_tui.services.reports.shapes import Column, Drill, Report, Row, Scope, Table

PRODUCT_ROWS = 100  # the products (or seller and product pairs) with the most revenue; the total has all


def _won_items(scope: Scope) -> list:
    start, end = scope.period.instants(scope.zone)
    return [*_deal_conditions(scope, currency=False), Deal.status == "won", in_range(Deal.closed_at, start, end)]


def _net(scope: Scope, column: Any = None) -> Any:
    return conversion.deal_amount(scope.currency, scope.today, DealItem.net_minor if column is None else column)


def _notes(session: Session, scope: Scope, conditions: list, *extra: str) -> list[str]:
    scope = replace(scope, convert=True)  # these reports always convert
    missing = missing_rates_note(session, scope, *conditions, amount=DealItem.net_minor, what="deal",
                                 source=join(DealItem, Deal, Deal.id == DealItem.deal_id))
    # the deals left out first: the app shows the first two lines of the notes
    return [*missing, conversion_note(scope).replace(" (today's for open deals)", ""), *extra]


def _item_rows(session: Session, scope: Scope, keys: list, conditions: list) -> tuple[list, dict]:
    """(keys..., deals, quantity_milli, net) per group, the most revenue first (at most
    PRODUCT_ROWS), and the totals of every group. Lines with no rate count nowhere (the notes list them)."""
    net = _net(scope)
    inner = (select(*(k.label(f"k{i}") for i, k in enumerate(keys)), Deal.id.label("deal_id"),
                    DealItem.quantity_milli.label("q"), net.label("net"))
             .select_from(DealItem).join(Deal, Deal.id == DealItem.deal_id).where(*conditions, net.is_not(None))
             .subquery())
    group = [inner.c[f"k{i}"] for i in range(len(keys))]
    revenue = func.sum(inner.c.net)
    per_group = (select(*group, func.count(func.distinct(inner.c.deal_id)).label("deals"),
                        func.sum(inner.c.q).label("q"), revenue.label("net")).group_by(*group))
    rows = session.execute(per_group.order_by(revenue.desc(), *group).limit(PRODUCT_ROWS)).all()
    deals, quantity, total = session.execute(
        select(func.count(func.distinct(inner.c.deal_id)), func.sum(inner.c.q), func.sum(inner.c.net))).one()
    groups = session.scalar(select(func.count()).select_from(per_group.subquery()))
    return rows, {"deals": _int(deals), "quantity": _int(quantity), "net": _int(total), "groups": _int(groups)}


def _products(session: Session, ids: set) -> dict[int, str]:
    known = {i for i in ids if i is not None}
    if not known:
        return {}
    return {i: f"{sku} · {name}" for i, sku, name in session.execute(
        select(Product.id, Product.sku, Product.name).where(Product.id.in_(known)))}


def _quantity(milli: Any) -> str:
    whole, rest = divmod(_int(milli), QUANTITY_SCALE)
    return f"{whole:,}" + (f".{rest:03d}".rstrip("0") if rest else "")


def _won_drill(scope: Scope, title: str, owner_id: int | None) -> Drill:
    return Drill("deal", title, status=("won",), pipeline_id=scope.pipeline_id, owner_id=owner_id,
                 closed=scope.period.instants(scope.zone))


def revenue_by_product_report(session: Session, scope: Scope) -> Report:
    """Net revenue of the items of the deals won in the period, per product."""
    conditions = _won_items(scope)
    found, totals = _item_rows(session, scope, [DealItem.product_id], conditions)
    names = _products(session, {r[0] for r in found})
    rows = [Row({"product": names.get(pid, f"#{pid}"), "deals": n, "quantity": _quantity(q), "revenue_minor": _int(a),
                 "share": _pct(_int(a), totals["net"])})
            for pid, n, q, a in found]
    total = {"product": "Total", "deals": totals["deals"], "quantity": "", "revenue_minor": totals["net"],
             "share": 100.0 if totals["net"] else None}
    columns = [Column("product", "Product"), Column("deals", "Deals", "int"), Column("quantity", "Qty"),
               Column("revenue_minor", "Revenue", "money"), Column("share", "Share %", "percent")]
    extra = ["Revenue: the items' net (after discount, before tax) of the deals won in the period."]
    if totals["groups"] > len(rows):
        extra.append(f"The {len(rows)} products with the most revenue of {totals['groups']:,}; the total has all.")
    return Report("revenue-by-product", "Revenue by product", scope.period, scope.currency, scope.owner_id,
                  scope.pipeline_id, [Table("products", "Won revenue per product", columns, rows, total)], None,
                  _notes(session, scope, conditions, *extra), converted=True)


def revenue_by_product_seller_report(session: Session, scope: Scope) -> Report:
    """The same per deal owner and product: who sells what."""
    conditions = _won_items(scope)
    found, totals = _item_rows(session, scope, [Deal.owner_id, DealItem.product_id], conditions)
    names, logins = _products(session, {r[1] for r in found}), _logins(session, {r[0] for r in found})
    rows = [Row({"seller": logins.get(owner, "?"), "product": names.get(pid, f"#{pid}"), "deals": n,
                 "quantity": _quantity(q), "revenue_minor": _int(a)},
                _won_drill(scope, f"Won by {logins.get(owner, '?')} {scope.period.label}", owner)
                if owner is not None else None)
            for owner, pid, n, q, a in found]
    rows.sort(key=lambda r: (r.values["seller"], -r.values["revenue_minor"], r.values["product"]))
    total = {"seller": "Total", "product": "", "deals": totals["deals"], "quantity": "",
             "revenue_minor": totals["net"]}
    columns = [Column("seller", "Seller"), Column("product", "Product"), Column("deals", "Deals", "int"),
               Column("quantity", "Qty"), Column("revenue_minor", "Revenue", "money")]
    extra = ["Revenue: the items' net of the deals won in the period, per deal owner (the seller)."]
    if totals["groups"] > len(rows):
        extra.append(f"The {len(rows)} seller and product pairs with the most revenue; the total has all.")
    return Report("revenue-by-product-seller", "Revenue by product per seller", scope.period, scope.currency,
                  scope.owner_id, scope.pipeline_id,
                  [Table("sellers", "Won revenue per seller and product", columns, rows, total)], None,
                  _notes(session, scope, conditions, *extra), converted=True)


def discount_report(session: Session, scope: Scope) -> Report:
    """Discounts given / gross, per deal owner, over the items of the deals won in the period."""
    conditions = _won_items(scope)
    inner = (select(Deal.owner_id.label("owner"), Deal.id.label("deal_id"),
                    _net(scope, DealItem.net_minor + DealItem.discount_minor).label("gross"),
                    _net(scope, DealItem.discount_minor).label("discount"),
                    case((DealItem.discount_minor > 0, 1), else_=0).label("discounted"))
             .select_from(DealItem).join(Deal, Deal.id == DealItem.deal_id).where(*conditions).subquery())
    # lines without a rate count as lines, not in the money (both sums skip them together)
    priced = inner.c.gross.is_not(None)
    found = session.execute(
        select(inner.c.owner, func.count(func.distinct(inner.c.deal_id)), func.count(), func.sum(inner.c.discounted),
               func.sum(case((priced, inner.c.gross))), func.sum(case((priced, inner.c.discount))))
        .group_by(inner.c.owner)).all()
    logins = _logins(session, {r[0] for r in found})
    rows = []
    for owner, deals, lines, discounted, gross, discount in sorted(found, key=lambda r: logins.get(r[0], "")):
        rows.append(Row({"seller": logins.get(owner, "?"), "deals": deals, "lines": lines,
                         "discounted": _int(discounted), "gross_minor": _int(gross), "discount_minor": _int(discount),
                         "avg_discount": _pct(_int(discount), _int(gross))},
                        _won_drill(scope, f"Won by {logins.get(owner, '?')} {scope.period.label}", owner)
                        if owner is not None else None))
    keys = ("deals", "lines", "discounted", "gross_minor", "discount_minor")
    total = {"seller": "Total", **{k: sum(r.values[k] for r in rows) for k in keys}}
    total["avg_discount"] = _pct(total["discount_minor"], total["gross_minor"])
    columns = [Column("seller", "Seller"), Column("deals", "Deals", "int"), Column("lines", "Lines", "int"),
               Column("discounted", "Disc. lines", "int"), Column("gross_minor", "Gross", "money"),
               Column("discount_minor", "Discount", "money"), Column("avg_discount", "Avg disc %", "percent")]
    extra = ["Average discount: the discounts given / the gross (net + discount) of the items of the deals won "
             "in the period, per deal owner (weighted by the lines' amounts)."]
    return Report("discounts", "Average discount per seller", scope.period, scope.currency, scope.owner_id,
                  scope.pipeline_id, [Table("sellers", "Discount per seller", columns, rows, total)], None,
                  _notes(session, scope, conditions, *extra), converted=True)


def quotes_report(session: Session, scope: Scope) -> Report:
    """Quotes created, sent, accepted, declined and expired in the period, the acceptance rate and the
    days from sending to acceptance: overall and per deal owner."""
    start, end = scope.period.instants(scope.zone)
    dialect = session.get_bind().dialect.name
    deal = _deal_conditions(scope, currency=False)

    def event(column: Any, *more: Any) -> Any:
        return case((and_(in_range(column, start, end), *more), Quote.number))

    accepted = and_(Quote.accepted_at.is_not(None), in_range(Quote.accepted_at, start, end))
    timed = and_(accepted, Quote.sent_at.is_not(None), Quote.accepted_at >= Quote.sent_at)
    seconds = epoch_seconds(Quote.accepted_at, dialect) - epoch_seconds(Quote.sent_at, dialect)
    inner = (select(Deal.owner_id.label("owner"),
                    event(Quote.created_at, Quote.revision == 1).label("created"),
                    event(Quote.sent_at).label("sent"), event(Quote.accepted_at).label("accepted"),
                    event(Quote.declined_at).label("declined"), event(Quote.expired_at).label("expired"),
                    case((timed, seconds)).label("s"))
             .select_from(Quote).join(Deal, Deal.id == Quote.deal_id)
             .where(*deal, or_(*(in_range(c, start, end) for c in (Quote.created_at, Quote.sent_at, Quote.accepted_at,
                                                                   Quote.declined_at, Quote.expired_at))))
             .subquery())
    kinds = ("created", "sent", "accepted", "declined", "expired")
    found = session.execute(
        select(inner.c.owner, *(func.count(func.distinct(inner.c[k])) for k in kinds),
               func.sum(inner.c.s), func.count(inner.c.s)).group_by(inner.c.owner)).all()
    overall = session.execute(
        select(*(func.count(func.distinct(inner.c[k])) for k in kinds), func.sum(inner.c.s), func.count(inner.c.s))
    ).one()
    logins = _logins(session, {r[0] for r in found})

    def values(name: str, counts: tuple, total_s: Any, timed_n: int) -> dict:
        c = dict(zip(kinds, (int(n) for n in counts), strict=True))
        decided = c["accepted"] + c["declined"] + c["expired"]
        return {"name": name, **c, "acceptance": _pct(c["accepted"], decided), "days_to_accept": _days(_int(total_s),
                                                                                                       timed_n)}
    rows = [Row(values("All quotes", overall[:5], overall[5], overall[6]))]
    for owner, *rest in sorted(found, key=lambda r: logins.get(r[0], "")):
        rows.append(Row(values(logins.get(owner, "?"), tuple(rest[:5]), rest[5], rest[6])))
    columns = [Column("name", "Seller"), *(Column(k, k.capitalize(), "int") for k in kinds),
               Column("acceptance", "Accept %", "percent"), Column("days_to_accept", "Days to acc.", "days")]
    notes = ["Each quote number counts once per event in the period, whatever its revisions. Accept % = accepted "
             "÷ (accepted + declined + expired); quotes still out count in none. Days to acc.: from sending to "
             "accepting, of the quotes accepted in the period."]
    return Report("quotes", "Quotes", scope.period, scope.currency, scope.owner_id, scope.pipeline_id,
                  [Table("quotes", "Quotes by seller (the deal's owner)", columns, rows)], None, notes)
