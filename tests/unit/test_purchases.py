"""A company's purchase history: won (unarchived) deals' items only, newest first by keyset, and
summed per product and currency in SQL."""

from __future__ import annotations

from datetime import timedelta

from crm_tui.services import companies, deal_items, deals, products, purchases


def test_purchase_history(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        products.create_product(s, sku="A", name="Apple", prices={"USD": "1", "EUR": "2"}, actor=actor, now=now)
        products.create_product(s, sku="B", name="Banana", prices={"USD": "10"}, actor=actor, now=now)

        def deal(title, currency="USD", items=(), won_days_ago=None, lost=False, archived=False):
            d = deals.create_deal(s, data={"title": title, "company_id": acme.id, "currency": currency},
                                  actor=actor, now=now)
            for sku, qty in items:
                deal_items.add_item(s, actor, d.id, sku_or_product_id=sku, quantity=qty, now=now)
            if won_days_ago is not None:
                deals.mark_won(s, deal_id=d.id, actor=actor, now=now - timedelta(days=won_days_ago))
            if lost:
                deals.mark_lost(s, deal_id=d.id, reason="price", actor=actor, now=now)
            if archived:
                deals.set_deal_archived(s, deal_id=d.id, archived=True, actor=actor, now=now)
            return d.id

        old = deal("Old", items=[("A", 5), ("B", 1)], won_days_ago=30)
        new = deal("New", items=[("A", 2)], won_days_ago=1)
        euro = deal("Euro", "EUR", items=[("A", 1)], won_days_ago=10)
        deal("Open", items=[("B", 9)])
        deal("Lost", items=[("B", 9)], lost=True)
        deal("Gone", items=[("B", 9)], won_days_ago=2, archived=True)

    with db.read() as s:
        first = purchases.company_purchases(s, company_id=acme.id, limit=2)
        rest = purchases.company_purchases(s, company_id=acme.id, limit=2, after=first.next_cursor)
        by_product = purchases.company_purchases_by_product(s, company_id=acme.id)
    seen = [(p.deal_id, p.sku) for p in first.items + rest.items]
    assert seen == [(new, "A"), (euro, "A"), (old, "B"), (old, "A")]
    assert rest.next_cursor is None
    assert [(p.sku, p.currency, p.quantity_milli, p.total_minor, p.deals) for p in by_product] == [
        ("B", "USD", 1000, 1000, 1), ("A", "USD", 7000, 700, 2), ("A", "EUR", 1000, 200, 1)]
