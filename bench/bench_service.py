"""Service-desk reports benchmark: each report's compute time (p50 and p95) at 200k cases and 2M thread
entries, beside a plain SELECT count(*) FROM cases measured in the same run.

    .venv/bin/python bench/bench_service.py [--db URL] [--samples 15] [--cases 200000] [--entries 2000000]

The data comes from bench/cases_data.py (bench/out/cases.db by default, built on first use and reused;
with --db, that database: an empty one is filled first, a PostgreSQL one is created if missing).
Each report runs for this month (by day), this quarter (by week) and this year (by month), as a
manager sees it (every case), and for this quarter as a seller (the cases of their accounts only,
the `case.view` "own" scope). Target: p95 < 300 ms each.
"""

from __future__ import annotations

import argparse
import sys
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from bench_foundation import _ms, p50, p95, print_table, verdict
from cases_data import NOW, cases_database, ensure_database
from crm_tui.db import Database
from crm_tui.models import User
from crm_tui.services import reports, users

ZONE = ZoneInfo("America/New_York")
TARGET_MS = 300.0
PERIODS = ("this-month", "this-quarter", "this-year")
SERVICE = tuple(name for name, spec in reports.REPORTS.items() if spec.needs == "case.view")


def measure(url: str, samples: int) -> list[tuple]:
    database = Database(url)
    rows = []
    try:
        with database.write() as session:
            seller = session.scalar(select(User.login).where(User.role == "sales").order_by(User.id).limit(1))
            sales_actor = users.actor_for(session, login=seller, now=NOW)
        with database.read() as session:
            counts = {name: session.scalar(text(f"SELECT count(*) FROM {name}"))
                      for name in ("cases", "case_entries", "surveys")}
            print("rows: " + ", ".join(f"{n:,} {name}" for name, n in counts.items()), flush=True)
            baseline = [_ms(lambda: session.execute(text("SELECT count(*) FROM cases")).scalar())
                        for _ in range(samples)]
            base = f"count(*) cases p50 {p50(baseline):.1f} / p95 {p95(baseline):.1f} ms"
            runs = [(name, preset, None) for preset in PERIODS for name in SERVICE]
            runs += [(name, "this-quarter", sales_actor) for name in SERVICE]
            for name, preset, actor in runs:
                period = reports.preset_period(preset, now=NOW, zone=ZONE)

                def run(name=name, period=period, actor=actor):
                    return reports.run_report(session, name=name, period=period, zone=ZONE, currency="USD",
                                              now=NOW, actor=actor)
                run()  # warm the page cache once
                times = [_ms(run) for _ in range(samples)]
                who = f", as {actor.login} (own)" if actor else ""
                rows.append((f"{name} ({preset}{who})", f"p50 {p50(times):.1f} / p95 {p95(times):.1f} ms", base,
                             f"{p95(times) / p95(baseline):.2f}x", f"p95 < {TARGET_MS:g} ms",
                             verdict(p95(times) < TARGET_MS)))
    finally:
        database.dispose()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="database URL (default: bench/out/cases.db)")
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--entries", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    if args.db:
        ensure_database(args.db)
    url = cases_database(args.db, cases=args.cases, entries=args.entries)
    database = Database(url)
    if database.dialect == "postgresql":  # statistics, and the visibility map autovacuum would have left
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE cases"))
    with database.engine.connect() as conn:  # statistics for the indexes a migration added since the build
        conn.execute(text("ANALYZE"))
        conn.commit()
    print(f"crm-tui service reports benchmark ({database.dialect}), team zone {ZONE.key}, clock {NOW:%Y-%m-%d}",
          flush=True)
    database.dispose()
    print_table(measure(url, args.samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
