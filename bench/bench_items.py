"""Deal items benchmark (issue 22): a deal with 200 line items; adding one more through the service
(find the product by SKU, its list price, the line's half-even math, the insert, the deal locked,
re-totalled by a SUM in SQL, its version bumped, two audit rows, the commit), beside a baseline
measured in the same run: a bare INSERT of one deal_items row in its own transaction and commit.
Also measured: removing an item (re-totalled the same way) and reading the 200 items with their
totals (the Items tab's and `crm deal item list`'s read).

    .venv/bin/python bench/bench_items.py [--items 200] [--samples 200] [--products 5000] [--db URL]

Without --db it builds a SQLite file in a temp dir; with `--db postgresql+psycopg://...` it loads an
empty database of that URL (migrated first). Each timed add is undone, untimed, by a remove (and each
baseline row by a DELETE), so every sample sees a deal of --items items; the kinds are sampled in
turn, so a busy machine's load falls on all alike. Target: add + re-total p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, insert  # noqa: E402

from crm_tui.db import open_database  # noqa: E402
from crm_tui.models.product import DealItem, Product, ProductPrice  # noqa: E402
from crm_tui.services import deal_items, deals, line_math, users  # noqa: E402

TARGET_P95_MS = 50.0
NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)


def build(url: str, n_items: int, n_products: int):
    db = open_database(url)
    with db.write() as s:
        actor = users.actor_for(s, login="bench", now=NOW)
        s.execute(insert(Product), [{"sku": f"SKU-{i:05d}", "sku_key": f"sku-{i:05d}", "name": f"Product {i}",
                                     "name_key": f"product {i}", "tax_rate_bp": (i % 3) * 1000, "archived": False,
                                     "created_at": NOW, "updated_at": NOW, "version": 1} for i in range(n_products)])
        ids = {sku: pid for pid, sku in s.execute(Product.__table__.select().with_only_columns(
            Product.id, Product.sku))}
        s.execute(insert(ProductPrice), [{"product_id": pid, "currency": "USD", "unit_price_minor": 1000 + pid * 7,
                                          "created_at": NOW, "updated_at": NOW, "version": 1}
                                         for pid in ids.values()])
        deal = deals.create_deal(s, data={"title": "Big order"}, actor=actor, now=NOW)
        rows = []
        for i in range(n_items):
            pid = ids[f"SKU-{i % n_products:05d}"]
            price, qty, tax = 1000 + pid * 7, 1000 + (i % 7) * 500, (i % 3) * 1000
            line = line_math.line(quantity_milli=qty, unit_price_minor=price, discount_kind="percent",
                                  discount_value=500, tax_rate_bp=tax)
            rows.append({"deal_id": deal.id, "product_id": pid, "position": i + 1, "description": "",
                         "quantity_milli": qty, "unit_price_minor": price, "price_overridden": False,
                         "discount_kind": "percent", "discount_value": 500, "tax_rate_bp": tax,
                         "net_minor": line.net_minor, "discount_minor": line.discount_minor,
                         "tax_minor": line.tax_minor, "created_at": NOW, "updated_at": NOW, "version": 1})
        s.execute(insert(DealItem), rows)
    with db.write() as s:  # one more through the service: the deal's amount is the items' total from here
        first = deal_items.add_item(s, actor, deal.id, sku_or_product_id="SKU-00001", quantity=1, now=NOW)
        deal_items.remove_item(s, actor, deal.id, item_id=first.id, now=NOW)
    return db, actor, deal.id, ids


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    url = args.db or f"sqlite:///{os.path.join(tempfile.mkdtemp(prefix='bench-items-'), 'items.db')}"
    db, actor, deal_id, ids = build(url, args.items, args.products)
    backend = db.engine.dialect.name if hasattr(db, "engine") else url.split(":")[0]
    times: dict[str, list[float]] = {"add + re-total (service)": [], "remove + re-total (service)": [],
                                     "baseline: bare INSERT + commit": [], f"list {args.items} items + totals": []}
    skus = list(ids)
    for i in range(args.samples):
        sku = skus[(i * 37) % len(skus)]
        t0 = time.perf_counter()
        with db.write() as s:
            item = deal_items.add_item(s, actor, deal_id, sku_or_product_id=sku, quantity="2", discount="10%",
                                       now=NOW)
        t1 = time.perf_counter()
        with db.write() as s:
            deal_items.remove_item(s, actor, deal_id, item_id=item.id, now=NOW)
        t2 = time.perf_counter()
        with db.write() as s:
            new_id = s.execute(insert(DealItem).values(
                deal_id=deal_id, product_id=ids[sku], position=10_000 + i, description="", quantity_milli=2000,
                unit_price_minor=1000, price_overridden=False, discount_kind=None, discount_value=0, tax_rate_bp=0,
                net_minor=2000, discount_minor=0, tax_minor=0, created_at=NOW, updated_at=NOW, version=1)
            ).inserted_primary_key[0]
        t3 = time.perf_counter()
        with db.write() as s:
            s.execute(delete(DealItem).where(DealItem.id == new_id))
        t4 = time.perf_counter()
        with db.read() as s:
            listed = deal_items.list_items(s, actor, deal_id)
        t5 = time.perf_counter()
        assert len(listed.items) == args.items and listed.amount_minor == listed.totals.total_minor
        times["add + re-total (service)"].append((t1 - t0) * 1000)
        times["remove + re-total (service)"].append((t2 - t1) * 1000)
        times["baseline: bare INSERT + commit"].append((t3 - t2) * 1000)
        times[f"list {args.items} items + totals"].append((t5 - t4) * 1000)
    print(f"deal items on {backend}: a deal of {args.items} items, {args.products} products, {args.samples} samples")
    base = statistics.median(times["baseline: bare INSERT + commit"])
    for name, values in times.items():
        print(f"  {name:34s} p50 {p(values, 50):7.2f} ms  p95 {p(values, 95):7.2f} ms  "
              f"({statistics.median(values) / base:5.1f}x baseline p50)")
    add_p95 = p(times["add + re-total (service)"], 95)
    verdict = "PASS" if add_p95 < TARGET_P95_MS else "MISS"
    print(f"target: add + re-total p95 < {TARGET_P95_MS:.0f} ms: {add_p95:.2f} ms {verdict}")
    db.dispose()
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
