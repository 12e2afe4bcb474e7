"""Quotes' test data: a deal with line items, written straight into deal_items with the deal's
amount their total (what the items service keeps; these tests need only rows to copy)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from crm_tui.models import Deal, DealItem, Product
from crm_tui.services import companies, contacts, deals, users


def add_items(session, deal_id: int, n: int = 2, *, price_minor: int = 10_000, tax_bp: int = 2000,
              discount_bp: int = 0, prefix: str = "SKU") -> None:
    """`n` lines of quantity 2 at `price_minor`, with a percent discount and tax computed as the
    items service does (half-even per line; here every value divides exactly)."""
    for i in range(1, n + 1):
        product = Product(sku=f"{prefix}-{deal_id}-{i}", sku_key=f"{prefix}-{deal_id}-{i}".lower(),
                          name=f"Widget {i}", name_key=f"widget {i}", tax_rate_bp=tax_bp)
        session.add(product)
        session.flush()
        gross = 2 * price_minor
        discount = gross * discount_bp // 10_000
        net = gross - discount
        session.add(DealItem(deal_id=deal_id, product_id=product.id, position=i, quantity_milli=2000,
                             unit_price_minor=price_minor, discount_kind="percent" if discount_bp else None,
                             discount_value=discount_bp, tax_rate_bp=tax_bp, net_minor=net,
                             discount_minor=discount, tax_minor=net * tax_bp // 10_000))
    session.flush()
    # the deal's amount is its items' total (net + tax), as the items service keeps it
    total = session.scalar(select(func.sum(DealItem.net_minor + DealItem.tax_minor)).where(DealItem.deal_id == deal_id))
    session.execute(update(Deal).where(Deal.id == deal_id).values(amount_minor=total, version=Deal.version + 1)
                    .execution_options(synchronize_session=False))
    session.expire_all()


def deal_with_items(db, actor, now, *, n: int = 2, discount_bp: int = 0, currency: str = "USD",
                    title: str = "Acme renewal"):
    """Ann (with an email address), Acme, Lee Park and a deal with `n` items: (deal, lee)."""
    with db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"name": "Ann Admin", "email": "ann@team.example"},
                          actor=actor, now=now)
        acme = companies.create_company(s, data={"name": f"Acme {title}"}, actor=actor, now=now)
        lee = contacts.create_contact(s, data={"first_name": "Lee", "last_name": "Park",
                                               "emails": [f"lee{acme.id}@acme.com"], "company_id": acme.id},
                                      actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": title, "amount": "100", "contact_id": lee.id,
                                          "currency": currency}, actor=actor, now=now)
        add_items(s, deal.id, n, discount_bp=discount_bp)
    return deal, lee
