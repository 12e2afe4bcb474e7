"""Product catalog benchmark: the product list and the picker at 50k products, each beside a bare
SELECT of a page by primary key in the same run.

    .venv/bin/python bench/bench_products.py [--products 50000] [--out DIR] [--db URL] [--samples 200]

Loads the catalog through `crm import products` (services.importing.run_import: a CSV of N products,
SKUs P-000001.., half with a second currency), timed for information. Then measures, each through the
services as the app calls them (a session open, the statement, the rows turned into shapes):

- the list's first page (list_products, 50 rows by name) and a next page (from a random cursor);
- a search page (name or SKU prefix, 1 to 3 letters), the worst prefix, "p", which every SKU has, and
  SKU prefixes 50k to 100 products have (p-0 .. p-0123);
- the picker's lookup (products.lookup, 8 rows) for 1 to 4 letters typed;

beside the baseline: `SELECT ... FROM products WHERE id > ? ORDER BY id LIMIT 50` sent raw through
the driver. Target: every p95 <= 50 ms ("instant").
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_foundation import p50, p95, print_table, verdict  # noqa: E402

from crm_tui.db import open_database  # noqa: E402
from crm_tui.models import Product  # noqa: E402
from crm_tui.services import products, users  # noqa: E402
from crm_tui.services.importing.run import ImportOptions, run_import  # noqa: E402
from crm_tui.shapes import Cursor  # noqa: E402

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
SEED = 1
TARGET_P95_MS = 50.0
WORDS = ("alpha anvil basic cable cloud data desk edge field gold hub ink iron lamp lite max micro net nova "
         "office pack plus power pro quick rack scan seat smart solar star steel suite team tool ultra unit "
         "vault wave web zen").split()
NOUNS = ("adapter bundle card case charger console cover dock drive filter kit licence meter module monitor "
         "panel plan printer router sensor server service setup stand station subscription support switch "
         "training upgrade").split()


def _csv(path: Path, n: int) -> None:
    rng = random.Random(SEED)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("sku,name,unit,tax,price_USD,price_EUR\n")
        for i in range(1, n + 1):
            name = f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} {rng.choice(NOUNS)} {i}"
            usd = rng.randrange(100, 500_000)
            eur = f"{usd * 92 // 100 / 100:.2f}" if i % 2 else ""
            fh.write(f"P-{i:06d},{name},{rng.choice(('unit', 'hour', 'seat', 'month'))},20%,{usd / 100:.2f},{eur}\n")


def load(url: str, n: int, work: Path) -> None:
    database = open_database(url)
    try:
        with database.write() as session:
            actor = users.actor_for(session, login="ann", now=NOW)
            have = session.scalar(select(func.count()).select_from(Product))
        if have >= n:
            return
        path = work / f"products_{n}.csv"
        _csv(path, n)
        started = time.perf_counter()
        with database.write() as session:
            report = run_import(session, path=path, options=ImportOptions(entity="products"), actor=actor, now=NOW)
        print(f"  imported {report.created:,} products in {time.perf_counter() - started:.1f} s "
              f"({report.created / (time.perf_counter() - started):,.0f} rows/s)", flush=True)
        with database.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    finally:
        database.dispose()


def _ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def measure(url: str, samples: int, label: str) -> list[tuple]:
    database = open_database(url)
    rng = random.Random(SEED)
    rows = []
    try:
        with database.read() as session:
            n = session.scalar(select(func.count()).select_from(Product))
            keys = session.execute(select(Product.name_key, Product.id).order_by(Product.name_key, Product.id)).all()
        raw_sql = ("SELECT id, sku, name, unit, tax_rate_bp, archived FROM products WHERE id > :k "
                   "ORDER BY id LIMIT 50")

        def baseline() -> float:
            with database.read() as session:
                k = rng.randrange(0, n)
                return _ms(lambda: session.connection().exec_driver_sql(
                    raw_sql.replace(":k", "?" if database.engine.dialect.name == "sqlite" else "%(k)s"),
                    (k,) if database.engine.dialect.name == "sqlite" else {"k": k}).all())

        def ours(call) -> float:
            with database.read() as session:
                return _ms(lambda: call(session))

        def first(session):
            page = products.list_products(session, limit=50)
            assert len(page.items) == 50

        def next_page(session):
            key, id_ = keys[rng.randrange(0, n - 100)]
            page = products.list_products(session, limit=50, after=Cursor(key, id_).encode())
            assert len(page.items) == 50

        def prefix() -> str:
            word = rng.choice(WORDS)
            return word[:rng.randint(1, 3)]

        def search(session):
            products.list_products(session, query=prefix(), limit=50)

        def worst(session):
            page = products.list_products(session, query="p", limit=50)
            assert len(page.items) == 50

        def sku_search(session):
            # 50k, 10k, 1k and 100 SKUs match: the SKU branch of a list by name is walked in name
            # order (many) or sorted (a few, <= products.CROSS_SORT_MAX)
            page = products.list_products(session, query=rng.choice(("p-0", "p-01", "p-012", "p-0123")), limit=50)
            assert len(page.items) == 50

        def pick(session):
            word = rng.choice(WORDS + ["p-0", "p-01", "p-012"])
            found = products.lookup(session, query=word[:rng.randint(1, 4)], limit=8)
            assert found

        base = [baseline() for _ in range(samples)]
        for name, call in (("list: first page", first), ("list: next page", next_page),
                           ("list: search (1-3 letters)", search), ("list: search 'p' (every SKU)", worst),
                           ("list: search a SKU prefix (p-0..p-0123)", sku_search),
                           ("picker: lookup (1-4 letters)", pick)):
            ours(call)  # warm
            times = [ours(call) for _ in range(samples)]
            rows.append((f"{label} {name} p50", f"{p50(times):.2f} ms", f"{p50(base):.2f} ms",
                         f"{p50(times) / p50(base):.1f}x", "", ""))
            rows.append((f"{label} {name} p95", f"{p95(times):.2f} ms", f"{p95(base):.2f} ms",
                         f"{p95(times) / p95(base):.1f}x", f"<= {TARGET_P95_MS:.0f} ms",
                         verdict(p95(times) <= TARGET_P95_MS)))
        with database.read() as session:
            count = [_ms(lambda: products.list_products(session, limit=50, with_total=True)) for _ in range(20)]
        rows.append((f"{label} list: first page + count p95", f"{p95(count):.2f} ms", "", "", "", "info"))
    finally:
        database.dispose()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=None, help="directory for the SQLite file (default: a temp dir)")
    parser.add_argument("--db", default=None, help="also measure this database (e.g. postgresql+psycopg://...)")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        targets = [("sqlite", f"sqlite:///{work / 'products.db'}")]
        if args.db:
            targets.append(("pg", args.db))
        rows = []
        for label, url in targets:
            print(f"{label}: loading {args.products:,} products", flush=True)
            load(url, args.products, work)
            rows += measure(url, args.samples, label)
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
