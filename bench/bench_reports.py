"""Reports benchmark: each report's compute time (p50 and p95) on the large database, beside a plain
SELECT count(*) over activities measured in the same run.

    .venv/bin/python bench/bench_reports.py [--db bench/out/ours.db] [--activities 1000000] [--samples 15]
                                            [--keep DIR]

It works on a copy of the database (in a temp dir), so the shared file is never migrated or changed:
the copy gets the goals table and the reports' indexes if the file predates them, and is topped up
to --activities activities (copies of existing ones, so the spread over time stays the same) to
match the 1M of the brief. With --keep DIR the copy is made in DIR and kept, and a copy already
there is reused (topped up and indexed again if it needs it).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, inspect, select, text

from bench_foundation import _ms, p50, p95, print_table, verdict
from crm_tui.db import Database
from crm_tui.models import Activity, Contact, Deal, Goal
from crm_tui.services import reports

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # the clock the large set was built around
ZONE = ZoneInfo("America/New_York")
TARGET_MS = 300.0
PERIODS = ("this-quarter", "this-year")


def prepare(source: Path, workdir: Path, activities: int) -> Path:
    copy = workdir / "reports.db"
    started = time.perf_counter()
    if not copy.exists():
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)  # a consistent copy even if the file is in WAL mode
    database = Database(f"sqlite:///{copy}")
    try:
        if not inspect(database.engine).has_table("goals"):  # a file built before the reports migration
            Goal.__table__.create(database.engine)
        with database.engine.begin() as conn:
            have = conn.scalar(select(func.count()).select_from(Activity))
            columns = [c.name for c in Activity.__table__.columns if c.name != "id"]
            while have < activities:
                batch = min(have, activities - have)
                names = ", ".join(columns)
                conn.execute(text(f"INSERT INTO activities ({names}) SELECT {names} FROM activities "
                                  f"ORDER BY id LIMIT {batch}"))
                have += batch
            for model in (Activity, Contact, Deal):  # the indexes migration 0004 adds
                for index in model.__table__.indexes:
                    index.create(conn, checkfirst=True)
            conn.execute(text("ANALYZE"))
    finally:
        database.dispose()
    print(f"copied and prepared {copy} in {time.perf_counter() - started:.1f} s", flush=True)
    return copy


def measure(url: str, samples: int) -> list[tuple]:
    database = Database(url)
    rows = []
    try:
        with database.read() as session:
            counts = {name: session.scalar(text(f"SELECT count(*) FROM {name}"))
                      for name in ("contacts", "deals", "activities", "tasks")}
            print("rows: " + ", ".join(f"{n:,} {name}" for name, n in counts.items()), flush=True)
            baseline = [_ms(lambda: session.execute(text("SELECT count(*) FROM activities")).scalar())
                        for _ in range(samples)]
            base = f"count(*) activities p50 {p50(baseline):.1f} / p95 {p95(baseline):.1f} ms"
            for preset in PERIODS:
                period = reports.preset_period(preset, now=NOW, zone=ZONE)
                for name in reports.REPORTS:
                    def run(name=name, period=period):
                        return reports.run_report(session, name=name, period=period, zone=ZONE, currency="USD",
                                                  now=NOW)
                    run()  # warm the page cache once
                    times = [_ms(run) for _ in range(samples)]
                    rows.append((f"{name} ({preset})", f"p50 {p50(times):.1f} / p95 {p95(times):.1f} ms", base,
                                 f"{p95(times) / p95(baseline):.2f}x", f"p95 < {TARGET_MS:g} ms",
                                 verdict(p95(times) < TARGET_MS)))
    finally:
        database.dispose()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("bench/out/ours.db"), help="the large SQLite file (read only)")
    parser.add_argument("--activities", type=int, default=1_000_000, help="top the copy up to this many activities")
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="make (or reuse) the prepared copy in this directory and keep it")
    args = parser.parse_args(argv)
    if not args.db.exists():
        print(f"{args.db} is missing: build it with bench/bench_foundation.py --out bench/out", file=sys.stderr)
        return 1
    print(f"crm-tui reports benchmark (SQLite {sqlite3.sqlite_version}), team zone {ZONE.key}, clock {NOW:%Y-%m-%d}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        copy = prepare(args.db, args.keep, args.activities)
        print_table(measure(f"sqlite:///{copy}", args.samples))
        return 0
    with tempfile.TemporaryDirectory(prefix="crm-bench-reports-") as workdir:
        copy = prepare(args.db, Path(workdir), args.activities)
        print_table(measure(f"sqlite:///{copy}", args.samples))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
