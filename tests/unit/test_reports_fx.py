"""Converted reports and the product and quote reports (issue 22), on the hand-made dataset of
test_reports.py plus items, quotes and rates whose right answers are worked out here, on SQLite and
PostgreSQL. The clock is Monday 2026-11-23 10:00 UTC, the team is in New York, the period 2026 Q4."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from crm_tui.models import Deal, Stage
from crm_tui.models.product import DealItem, Product, Quote
from crm_tui.services import fx, reports
from tests.conftest import seeded_fixtures
from tests.unit.test_reports import NY, Q4, build_dataset


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def build_sales(db, actor, now):
    """test_reports.py's dataset, plus rates, two products, items on the won deals and quotes."""
    dataset = build_dataset(db, actor, now)
    with db.write() as s:
        for base, quote, rate, day in (("EUR", "USD", "1.08", "2026-11-01"), ("EUR", "USD", "1.5", "2026-12-01"),
                                       ("USD", "JPY", "150", "2026-01-01")):
            fx.set_rate(s, actor=actor, base=base, quote=quote, rate=rate, valid_from=day, now=now)
        won = s.scalar(select(Stage.id).where(Stage.name == "Won"))
        pipeline_id = s.scalar(select(Stage.pipeline_id).where(Stage.id == won))

        def deal(title, owner, amount, currency, closed):
            row = Deal(title=title, title_key=title.lower(), pipeline_id=pipeline_id, stage_id=won, owner_id=owner,
                       amount_minor=amount, currency=currency, status="won", closed_at=closed, stage_entered_at=closed,
                       created_at=utc(2026, 10, 2), updated_at=closed)
            s.add(row)
            s.flush()
            return row.id
        dataset.deals["Nova"] = deal("Nova", dataset.bob, 150_000, "JPY", utc(2026, 12, 1, 12))  # future close: fine
        dataset.deals["Zeta"] = deal("Zeta", dataset.bob, 50_00, "GBP", utc(2026, 11, 10, 12))  # no GBP rate
        widget = Product(sku="A-1", sku_key="a-1", name="Widget", name_key="widget")
        gadget = Product(sku="B-2", sku_key="b-2", name="Gadget", name_key="gadget")
        s.add_all([widget, gadget])
        s.flush()
        for name, product, qty, net, discount in (
                ("Orion", widget, 3, 3000_00, 0), ("Orion", gadget, 1, 2000_00, 500_00),
                ("Lyra", widget, 1, 1000_00, 250_00), ("Pavo", gadget, 1, 900_00, 100_00),
                ("Nova", widget, 1, 150_000, 0), ("Zeta", gadget, 1, 50_00, 0),
                ("Vega", widget, 1, 777_00, 0),  # won Sep 30 in New York: before the quarter
                ("Hydra", widget, 1, 999_00, 0)):  # lost
            s.add(DealItem(deal_id=dataset.deals[name], product_id=product.id, quantity_milli=qty * 1000,
                           unit_price_minor=(net + discount) // qty, net_minor=net, discount_minor=discount))
        for seq, rev, name, status, created, sent, accepted, declined, expired in (
                (1, 1, "Orion", "accepted", utc(2026, 10, 5), utc(2026, 10, 6, 12), utc(2026, 10, 8, 12), None, None),
                (2, 1, "Lyra", "sent", utc(2026, 11, 10), utc(2026, 11, 11), None, None, None),
                (2, 2, "Lyra", "accepted", utc(2026, 11, 12), utc(2026, 11, 12, 12), utc(2026, 11, 16, 12), None, None),
                (3, 1, "Hydra", "declined", utc(2026, 11, 1, 12), utc(2026, 11, 2), None, utc(2026, 11, 5), None),
                (4, 1, "Gamma", "sent", utc(2026, 11, 20), utc(2026, 11, 21), None, None, None),
                (5, 1, "Beta", "expired", utc(2026, 9, 1), utc(2026, 9, 2), None, None, utc(2026, 10, 2, 12)),
                (6, 1, "Alpha", "draft", utc(2026, 11, 22), None, None, None, None)):
            s.add(Quote(deal_id=dataset.deals[name], year=2026, seq=seq, number=f"Q-2026-{seq:04d}", revision=rev,
                        status=status, currency="USD", created_at=created, updated_at=created, sent_at=sent,
                        accepted_at=accepted, declined_at=declined, expired_at=expired))
    return dataset


seeded_rows, db_url, data = seeded_fixtures(build_sales, "data")


def run(db, name, *, convert=False, owner_id=None):
    with db.read() as s:
        return reports.run_report(s, name=name, period=Q4, zone=NY, currency="USD", now=utc(2026, 11, 23, 10),
                                  convert=convert, owner_id=owner_id)


def values(report, key: str) -> dict:
    return {r.values[key]: r.values for r in report.table.rows}


def test_pipeline_per_currency_by_default_and_converted_on_asking(db, data):
    plain = run(db, "pipeline")
    assert values(plain, "stage")["Negotiation"]["amount_minor"] == 0  # Delta is in EUR: left out, and said
    assert any("not included: 1 in EUR" in n for n in plain.notes) and not plain.converted
    converted = run(db, "pipeline", convert=True)
    # Delta: 1,200.00 EUR, open, at today's rate (Nov 23: 1.08) = 1,296.00; weighted at 80%
    negotiation = values(converted, "stage")["Negotiation"]
    assert (negotiation["deals"], negotiation["amount_minor"]) == (1, 1296_00)
    assert converted.table.total["amount_minor"] == plain.table.total["amount_minor"] + 1296_00
    assert converted.converted and converted.heading.endswith("· USD, converted")
    assert converted.notes[-1].startswith("Converted to USD at the rate on each deal's close date")


def test_converted_won_amounts_use_the_close_day_rate_and_list_missing(db, data):
    revenue = run(db, "revenue", convert=True)
    won = {r.values["user"]: r.values["won_minor"] for r in revenue.table.rows}  # one row each: the quarter
    # ann: Orion 5,000.00 + Lyra 1,234.56 + Pavo 900.00 EUR won Nov 15 at 1.08 = 972.00
    # bob: Nova 150,000 JPY won Dec 1 at the inverse of USD/JPY 150 = 1,000.00; Zeta (GBP) has no rate
    assert won == {"ann": 5000_00 + 1234_56 + 972_00, "bob": 1000_00}
    missing = [n for n in revenue.notes if n.startswith("No rate")]
    assert missing == [f"No rate into USD on their date, so not in the amounts: 1 deal: #{data.deals['Zeta']} Zeta "
                       f"(GBP) (add one with `crm fx set`)."]


def test_revenue_by_product(db, data):
    report = run(db, "revenue-by-product")
    rows = values(report, "product")
    # Widget: Orion 3,000 + Lyra 1,000 + Nova 150,000 JPY = 1,000.00 USD; Gadget: Orion 2,000 + Pavo 972.00
    assert rows["A-1 · Widget"] == {"product": "A-1 · Widget", "deals": 3, "quantity": "5", "revenue_minor": 5000_00,
                                    "share": 62.7}
    assert rows["B-2 · Gadget"] == {"product": "B-2 · Gadget", "deals": 2, "quantity": "2", "revenue_minor": 2972_00,
                                    "share": 37.3}
    assert [r.values["product"] for r in report.table.rows] == ["A-1 · Widget", "B-2 · Gadget"]
    assert report.table.total["revenue_minor"] == 7972_00 and report.table.total["deals"] == 4
    assert any(f"#{data.deals['Zeta']} Zeta (GBP)" in n for n in report.notes)
    assert report.converted


def test_revenue_by_product_per_seller(db, data):
    report = run(db, "revenue-by-product-seller")
    got = [(r.values["seller"], r.values["product"], r.values["deals"], r.values["revenue_minor"])
           for r in report.table.rows]
    assert got == [("ann", "A-1 · Widget", 2, 4000_00), ("ann", "B-2 · Gadget", 2, 2972_00),
                   ("bob", "A-1 · Widget", 1, 1000_00)]
    only_bob = run(db, "revenue-by-product-seller", owner_id=data.bob)
    assert [(r.values["seller"], r.values["revenue_minor"]) for r in only_bob.table.rows] == [("bob", 1000_00)]


def test_average_discount_per_seller(db, data):
    report = run(db, "discounts")
    rows = values(report, "seller")
    # ann: gross 3,000 + 2,500 + 1,250 + 1,080 (1,000 EUR) = 7,830.00, discount 500 + 250 + 108 = 858.00
    assert rows["ann"] == {"seller": "ann", "deals": 3, "lines": 4, "discounted": 3, "gross_minor": 7830_00,
                           "discount_minor": 858_00, "avg_discount": 11.0}
    # bob: Nova's line (no discount); Zeta's line has no rate: a line, not in the money
    assert rows["bob"] == {"seller": "bob", "deals": 2, "lines": 2, "discounted": 0, "gross_minor": 1000_00,
                           "discount_minor": 0, "avg_discount": 0.0}
    assert report.table.total["avg_discount"] == 9.7  # 858 / 8,830


def test_quotes_report(db, data):
    report = run(db, "quotes")
    rows = values(report, "name")
    keys = ("created", "sent", "accepted", "declined", "expired", "acceptance", "days_to_accept")
    # Q2's two revisions count once; Q5 was made and sent in September, expired in October
    assert [rows["All quotes"][k] for k in keys] == [5, 4, 2, 1, 1, 50.0, 3.0]
    assert [rows["ann"][k] for k in keys] == [3, 2, 2, 0, 1, 66.7, 3.0]
    assert [rows["bob"][k] for k in keys] == [2, 2, 0, 1, 0, 0.0, None]


def test_new_reports_in_the_catalogue():
    for name in ("revenue-by-product", "revenue-by-product-seller", "quotes", "discounts"):
        assert name in reports.REPORTS
