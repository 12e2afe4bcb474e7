"""Deals list benchmark (issue 20): 20k deals (open, won, lost, a few archived), one page of the deals
list through the service, each beside the same query in raw SQL measured in the same run, with the
plans the database chose printed for each.

    .venv/bin/python bench/bench_deals.py [--deals 20000] [--samples 200] [--db URL]

Without --db it builds a SQLite file in a temp dir; with `--db postgresql+psycopg://...` it loads an
empty database of that URL (it is migrated first) and measures there. Measures: the first page by
title; a page by amount from the middle of the list (after a cursor); a filtered page (won or
lost, one owner, closing in a half year, an amount floor) by close date; the same with its total
(the app asks for the total after the rows are painted: no target).
"Raw" is the statement a person would write by hand for the same rows (the same joins, the keyset
bound as a row comparison), run through the same session with its parameters bound; the two are sampled in turn, so a busy
machine's load falls on both alike. Target: a page p95 < 20 ms. The ratio is printed beside it: a
page the database reads in 0.2 ms shows the fixed cost (about 0.7 ms) of building the statement and
the rows in Python, which a bigger page or a filter hides.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402

from crm_tui.db import open_database  # noqa: E402
from crm_tui.models import Company, Deal, User  # noqa: E402
from crm_tui.services import deal_list, pipelines, users  # noqa: E402
from crm_tui.services import validation as v  # noqa: E402

TARGET_P95_MS = 20.0
NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
PAGE = 50


def build(url: str, n: int):
    db = open_database(url)
    rng = random.Random(20)
    with db.write() as s:
        actor = users.actor_for(s, login="bench", now=NOW)
        owners = [actor.user_id]
        for i in range(4):
            s.execute(insert(User).values(login=f"seller{i}", name=f"Seller {i}", email=f"s{i}@x.test", role="sales",
                                          active=True, created_at=NOW, updated_at=NOW, version=1))
        owners = [row[0] for row in s.execute(text("SELECT id FROM users ORDER BY id"))]
        s.execute(insert(Company), [{"name": f"Company {i}", "name_key": f"company {i}", "created_at": NOW,
                                     "updated_at": NOW, "version": 1, "archived": False} for i in range(500)])
        company_ids = [row[0] for row in s.execute(text("SELECT id FROM companies"))]
        pipeline = pipelines.default_pipeline(s)
        stages = {kind: [st.id for st in pipeline.stages if st.kind == kind] for kind in ("open", "won", "lost")}
        rows = []
        for i in range(n):
            status = rng.choices(["open", "won", "lost"], [70, 15, 15])[0]
            created = NOW - timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1440))
            close = date(2026, 1, 1) + timedelta(days=rng.randint(0, 730)) if rng.random() < 0.9 else None
            title = f"Company {i % 500} – deal {i}"
            rows.append({
                "title": title, "title_key": v.fold(title), "company_id": rng.choice(company_ids),
                "pipeline_id": pipeline.id, "stage_id": rng.choice(stages[status]), "owner_id": rng.choice(owners),
                "amount_minor": rng.randint(1, 5000) * 1000, "currency": "USD", "expected_close": close,
                "status": status, "stage_entered_at": created, "closed_at": created if status != "open" else None,
                "custom": {"segment": rng.choice(["smb", "mid", "enterprise"])} if rng.random() < 0.1 else {},
                "archived": rng.random() < 0.02, "created_at": created, "updated_at": created, "version": 1,
            })
        for start in range(0, n, 5000):
            s.execute(insert(Deal), rows[start:start + 5000])
        s.execute(text("ANALYZE"))
    return db, actor, owners


RAW_SELECT = """
SELECT d.id, d.title, c.name AS company_name, st.name AS stage_name, u.login AS owner_login, d.amount_minor,
       d.currency, d.status, d.expected_close, d.stage_entered_at
FROM deals d JOIN stages st ON st.id = d.stage_id
LEFT OUTER JOIN companies c ON c.id = d.company_id LEFT OUTER JOIN users u ON u.id = d.owner_id
"""


def timed(ours, raw, samples: int) -> tuple[list[float], list[float]]:
    """Both, one sample of each in turn: on a busy machine the load falls on both alike."""
    ours(), raw()  # warm: compiled-statement caches, pages in the database's cache
    out: tuple[list[float], list[float]] = ([], [])
    for _ in range(samples):
        for fn, into in ((ours, out[0]), (raw, out[1])):
            start = time.perf_counter()
            fn()
            into.append((time.perf_counter() - start) * 1000)
    return out


def p50(values):
    return sorted(values)[len(values) // 2]


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-deals-")
    url = args.db or f"sqlite:///{tmp}/deals.db"
    started = time.perf_counter()
    db, actor, owners = build(url, args.deals)
    dialect = db.engine.dialect.name
    print(f"{args.deals:,} deals on {dialect} built in {time.perf_counter() - started:.1f}s; "
          f"load average {os.getloadavg()[0]:.2f}; {args.samples} samples each")

    seller = owners[1]
    filters = {"status": ["won", "lost"], "owner_id": seller, "close_from": "2026-03-01", "close_to": "2026-08-31",
               "amount_min": 500_000}
    with db.read() as s:
        middle = deal_list.list_deals(s, sort="amount", limit=PAGE)
        for _ in range(args.deals // (2 * PAGE)):
            middle = deal_list.list_deals(s, sort="amount", limit=PAGE, after=middle.next_cursor)
        cursor = middle.next_cursor
        cursor_row = s.execute(text("SELECT amount_minor, id FROM deals WHERE id = :id"),
                               {"id": middle.items[-1].id}).one()

    cases = [
        ("first page, by title", dict(sort="title"),
         RAW_SELECT + "WHERE d.archived = false ORDER BY d.title_key, d.id LIMIT 51", {}),
        ("middle page, by amount", dict(sort="amount", after=cursor),
         RAW_SELECT + "WHERE d.archived = false AND (d.amount_minor, d.id) < (:v, :id) "
                      "ORDER BY d.amount_minor DESC, d.id DESC LIMIT 51",
         {"v": cursor_row[0], "id": cursor_row[1]}),
        ("filtered page, by close date", dict(sort="close", filters=filters),
         RAW_SELECT + "WHERE d.archived = false AND d.owner_id = :o AND d.status IN ('won', 'lost') "
                      "AND d.expected_close >= :f AND d.expected_close <= :t AND d.amount_minor >= 500000 "
                      "AND d.expected_close IS NOT NULL ORDER BY d.expected_close, d.id LIMIT 51",
         {"o": seller, "f": date(2026, 3, 1), "t": date(2026, 8, 31)}),
    ]
    rows = []
    with db.read() as s:
        for label, kwargs, raw, params in cases:
            ours, base = timed(lambda kwargs=kwargs: deal_list.list_deals(s, limit=PAGE, **kwargs),
                               lambda raw=raw, params=params: s.execute(text(raw), params).all(), args.samples)
            got = [r.id for r in deal_list.list_deals(s, limit=PAGE, **kwargs).items]
            want = [r.id for r in s.execute(text(raw), params).all()][:PAGE]
            assert got == want, f"{label}: the service's rows differ from raw SQL's"
            rows.append((label, ours, base, True))
            explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
            plan = [str(r[-1]) if dialect == "sqlite" else r[0] for r in s.execute(text(explain + raw), params)]
            print(f"\n{label}: plan of the raw statement\n  " + "\n  ".join(plan))
        ours, base = timed(
            lambda: deal_list.list_deals(s, limit=PAGE, sort="close", filters=filters, with_total=True),
            lambda: (s.execute(text(cases[2][2]), cases[2][3]).all(), s.execute(text(
            "SELECT count(*) FROM deals d WHERE d.archived = false AND d.owner_id = :o AND d.status IN ('won', 'lost') "
            "AND d.expected_close >= :f AND d.expected_close <= :t AND d.amount_minor >= 500000"), cases[2][3]).one()),
            args.samples)
        rows.append(("filtered page + total", ours, base, False))

    print(f"\n{'measure':32} {'ours p50/p95 ms':>18} {'raw p50 ms':>11} {'ratio':>6}  target")
    for label, ours, base, aimed in rows:
        ratio = p50(ours) / p50(base)
        target = (f"p95 < {TARGET_P95_MS:.0f} ms  {'PASS' if p95(ours) < TARGET_P95_MS else 'MISS'}" if aimed
                  else "—")
        print(f"{label:32} {p50(ours):8.2f} /{p95(ours):7.2f} {p50(base):11.2f} {ratio:6.2f}  {target}")
    db.dispose()


if __name__ == "__main__":
    main()
