"""Import benchmark: `crm import contacts` of a 100k-row CSV (read, clean, dedup, write, search
index, commit) beside plain sqlite3.executemany + commit of the very rows it wrote, into an
identically migrated database, in the same run. Target: at most 3x.

    .venv/bin/python bench/bench_import.py [--contacts 100000] [--national 0.2] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_foundation import NOW, print_table, verdict  # noqa: E402 - the shared helpers

from crm_tui.db import open_database  # noqa: E402
from crm_tui.services import users  # noqa: E402
from crm_tui.services.bulk import FTS_TABLES  # noqa: E402
from crm_tui.services.demo import COMPANY_KINDS, COMPANY_WORDS, FIRST_NAMES, LAST_NAMES, TITLES, _slug  # noqa: E402
from crm_tui.services.importing import ImportOptions, run_import  # noqa: E402

TARGET_RATIO = 3.0
TABLES = ("companies", "contacts", "contact_emails", "contact_phones")


def make_csv(path: Path, contacts: int, national: float, seed: int = 1) -> None:
    """A CRM export as teams have them: a company per ~10 people, one email each, a phone for most
    (a share written the national way, "(415) 555-0123", which needs --country)."""
    rng = random.Random(seed)
    companies = [f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} {i}"
                 for i in range(max(1, contacts // 10))]
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["First Name", "Last Name", "Email", "Phone", "Company", "Job Title", "Lifecycle"])
        for i in range(contacts):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            area, number = rng.choice((212, 415, 312, 617, 206)), rng.randint(2000000, 9999999)
            phone = "" if rng.random() < 0.2 else (
                f"({area}) {str(number)[:3]}-{str(number)[3:]}" if rng.random() < national else f"+1{area}{number}")
            out.writerow([first, last, f"{_slug(first)}.{_slug(last)}.{i}@example.com", phone,
                          rng.choice(companies), rng.choice(TITLES), rng.choice(("lead", "prospect", "customer"))])


def empty_db(template: Path, target: Path) -> str:
    shutil.copy(template, target)
    return f"sqlite:///{target}"


def import_ours(url: str, csv_path: Path) -> tuple[float, str]:
    database = open_database(url)
    try:
        with database.write() as session:
            actor = users.actor_for(session, login="ann", now=NOW)
        started = time.perf_counter()
        with database.write() as session:
            report = run_import(session, path=csv_path, options=ImportOptions(entity="contacts", country="US"),
                                actor=actor, now=NOW)
        return time.perf_counter() - started, report.summary()
    finally:
        database.dispose()


def insert_raw(source: Path, target: Path, *, bulk_index: bool) -> tuple[float, int]:
    """Seconds for sqlite3.executemany + commit of the rows the import wrote (read back first,
    not timed) into an empty copy of the same schema with the app's pragmas: with the per-row
    FTS triggers, or (bulk_index) with the index filled by one INSERT ... SELECT per table."""
    with sqlite3.connect(source) as reader:
        rows = {t: reader.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in TABLES}
        columns = {t: [c[1] for c in reader.execute(f"PRAGMA table_info({t})")] for t in TABLES}
    connection = sqlite3.connect(target, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        connection.execute(f"PRAGMA {pragma}")
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    triggers = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                  "AND name LIKE '%_fts_ai'").fetchall() if bulk_index else []
    for name, _ in triggers:
        connection.execute(f"DROP TRIGGER {name}")
    for table in TABLES:
        sql = f"INSERT INTO {table} ({', '.join(columns[table])}) VALUES ({', '.join('?' * len(columns[table]))})"
        connection.executemany(sql, rows[table])
    for name, sql in triggers:
        table = name.removesuffix("_fts_ai")
        indexed = ", ".join(FTS_TABLES[table])  # the columns each table's index holds
        connection.execute(f"INSERT INTO {table}_fts(rowid, {indexed}) SELECT id, {indexed} FROM {table}")
        connection.execute(sql)
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed, sum(len(r) for r in rows.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--national", type=float, default=0.2, help="share of phones without +country code")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.out or Path(tempfile.mkdtemp(prefix="crm-bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    template = work / "template.db"
    template.unlink(missing_ok=True)
    database = open_database(f"sqlite:///{template}")
    with database.write() as session:
        users.actor_for(session, login="ann", now=NOW)
    database.dispose()
    csv_path = work / "contacts.csv"
    make_csv(csv_path, args.contacts, args.national)
    ours_db, raw_db, bulk_db = work / "ours.db", work / "raw.db", work / "raw_bulk.db"
    ours_s, summary = import_ours(empty_db(template, ours_db), csv_path)
    empty_db(template, raw_db)
    raw_s, written = insert_raw(ours_db, raw_db, bulk_index=False)
    empty_db(template, bulk_db)
    bulk_s, _ = insert_raw(ours_db, bulk_db, bulk_index=True)
    print(f"{args.contacts:,} contacts from a {csv_path.stat().st_size / 1e6:.1f} MB CSV "
          f"({args.national:.0%} national-format phones); import: {summary}")
    label = f"import {args.contacts:,} contacts (CSV -> committed)"
    print_table([
        (label, f"{ours_s:.2f} s", f"executemany of its {written:,} rows, FTS triggers {raw_s:.2f} s",
         f"{ours_s / raw_s:.2f}x", f"<= {TARGET_RATIO:g}x", verdict(ours_s / raw_s <= TARGET_RATIO)),
        (label, f"{ours_s:.2f} s", f"executemany of its {written:,} rows, FTS in bulk {bulk_s:.2f} s",
         f"{ours_s / bulk_s:.2f}x", f"<= {TARGET_RATIO:g}x", verdict(ours_s / bulk_s <= TARGET_RATIO)),
    ])
    return 0 if ours_s / bulk_s <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
