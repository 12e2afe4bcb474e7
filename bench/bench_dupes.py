"""The duplicate scan on the 100k database: contacts and companies, each beside baselines measured
in the same run (reading the table once, and comparing every pair in Python, timed on a sample and
extrapolated), and how many of the duplicates planted in a copy of the database it finds.

    .venv/bin/python bench/bench_dupes.py [--db bench/out/ours.db] [--plant 1000] [--runs 3]

The database is copied first (with `crm backup`'s online backup, timed beside a plain file copy)
and duplicates are planted in the copy; bench/out/ours.db itself is only read."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rapidfuzz import fuzz
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_tui import p50, print_table, verdict  # noqa: E402
from crm_tui.db import Database, open_database  # noqa: E402
from crm_tui.models import Company, Contact, ContactEmail, ContactPhone  # noqa: E402
from crm_tui.services import backup, contacts, dedupe  # noqa: E402
from crm_tui.services.common import system_actor  # noqa: E402

TARGET_CONTACT_SCAN_S = 5.0
SAMPLE_PAIRS = 200_000


def plant(db, n: int, seed: int = 7) -> dict[str, set[tuple[int, int]]]:
    """n duplicates of existing contacts: a third share an email, a third a phone, a third are the
    same person at the same company with a typo in the name. Returns the planted pairs. Written
    with Core inserts (the derived columns from the contacts service), in one transaction."""
    rng = random.Random(seed)
    planted: dict[str, set[tuple[int, int]]] = {"email": set(), "phone": set(), "name": set()}
    with db.write() as s:
        top = s.scalar(select(func.max(Contact.id)))
        next_id = top + 1
        for i in range(n):
            kind = ("email", "phone", "name")[i % 3]
            while True:
                row = s.execute(select(Contact.id, Contact.first_name, Contact.last_name, Contact.email,
                                       Contact.phone, Contact.company_id, Contact.company_key, Contact.created_at)
                                .where(Contact.id == rng.randint(1, top))).first()
                if row and (kind == "email" and row.email or kind == "phone" and row.phone or (
                        kind == "name" and row.company_id and len(row.first_name) > 3)):
                    break
            first, emails, phones, company_id = row.first_name, [], [], None
            if kind == "email":
                first, emails = first[:1] + ".", [row.email]
            elif kind == "phone":
                phones = [row.phone]
            else:
                cut = rng.randrange(1, len(first))
                first, company_id = first[:cut] + first[cut + 1:], row.company_id
            values = contacts.derived_fields(first, row.last_name, None, emails, phones)
            s.execute(insert(Contact), [{
                "id": next_id, "first_name": first, "last_name": row.last_name, **values, "company_id": company_id,
                "company_key": row.company_key if company_id else None, "lifecycle": "lead", "custom": {},
                "archived": False, "version": 1, "created_at": row.created_at, "updated_at": row.created_at}])
            if emails:
                s.execute(insert(ContactEmail), [{"contact_id": next_id, "email": emails[0], "position": 0}])
            if phones:
                s.execute(insert(ContactPhone), [{"contact_id": next_id, "phone": phones[0], "position": 0}])
            planted[kind].add((row.id, next_id))
            next_id += 1
    return planted


def timed(fn, runs: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def read_table(db, model, columns) -> int:
    with db.read() as s:
        n = 0
        for _ in s.execute(select(*columns).execution_options(yield_per=5000)):
            n += 1
        return n


def all_pairs_estimate(db, n: int) -> float:
    """Seconds to score every pair of n names with rapidfuzz in a Python loop, from a timed sample."""
    with db.read() as s:
        names = [f"{a} {b}" for a, b in s.execute(select(Contact.first_name, Contact.last_name).limit(2000))]
    start, done = time.perf_counter(), 0
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            fuzz.token_sort_ratio(a, b)
            done += 1
            if done >= SAMPLE_PAIRS:
                break
        if done >= SAMPLE_PAIRS:
            break
    per_pair = (time.perf_counter() - start) / done
    return per_pair * n * (n - 1) / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/ours.db", help="The 100k SQLite database (only read).")
    parser.add_argument("--plant", type=int, default=999, help="Duplicates to plant in the copy.")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    source = Path(args.db)
    if not source.is_file():
        print(f"{source} is missing; build it with bench/bench_foundation.py --out bench/out", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        source_db = Database(f"sqlite:///{source}")  # as it is: no upgrade of the bench's file
        start = time.perf_counter()
        copy = backup.backup_sqlite(source_db, Path(tmp) / "dupes.db", actor=system_actor("bench"))
        copy_s = time.perf_counter() - start
        source_db.dispose()
        start = time.perf_counter()
        shutil.copyfile(source, Path(tmp) / "plain-copy.db")  # the baseline: the file's bytes, no consistency
        cp_s = time.perf_counter() - start
        (Path(tmp) / "plain-copy.db").unlink()
        db = open_database(f"sqlite:///{copy.path}")
        planted = plant(db, args.plant)
        with db.read() as s:
            n_contacts = s.scalar(select(func.count()).select_from(Contact))
            n_companies = s.scalar(select(func.count()).select_from(Company))
        print(f"copy of {source} ({copy.bytes / 1e6:.0f} MB): {n_contacts:,} contacts "
              f"(with {args.plant} planted duplicates), {n_companies:,} companies; load {os.getloadavg()[0]:.1f}\n")

        def scan(kind):
            with db.read() as s:
                return dedupe.find_duplicates(s, kind=kind, max_pairs=100_000)
        contact_times, found = timed(lambda: scan("contact"), args.runs)
        company_times, company_scan = timed(lambda: scan("company"), args.runs)
        read_contacts, _ = timed(lambda: read_table(db, Contact, (Contact.id, Contact.first_name, Contact.last_name,
                                                                   Contact.company_id)), args.runs)
        read_companies, _ = timed(lambda: read_table(db, Company, (Company.id, Company.name_key)), args.runs)
        brute = all_pairs_estimate(db, n_contacts)
        db.dispose()

    pairs = {(p.a_id, p.b_id) for p in found.pairs}
    recall = {kind: sum((min(a, b), max(a, b)) in pairs for a, b in got) / max(1, len(got))
              for kind, got in planted.items()}
    scan_s = p50(contact_times)
    rows = [
        (f"contact dupes scan, {n_contacts:,} contacts (p50 of {args.runs})", f"{scan_s:.2f} s",
         f"reading the table once {p50(read_contacts):.2f} s", f"{scan_s / p50(read_contacts):.1f}x",
         f"< {TARGET_CONTACT_SCAN_S:g} s", verdict(scan_s < TARGET_CONTACT_SCAN_S)),
        ("  vs every pair in Python (rapidfuzz, extrapolated)", f"{scan_s:.2f} s", f"{brute / 3600:.1f} h",
         f"1/{brute / scan_s:,.0f}", "", ""),
        ("crm backup (online backup API + quick_check)", f"{copy_s:.1f} s",
         f"copying the file {cp_s:.1f} s", f"{copy_s / cp_s:.1f}x", "", ""),
        (f"company dupes scan, {n_companies:,} companies", f"{p50(company_times):.2f} s",
         f"reading the table once {p50(read_companies):.2f} s",
         f"{p50(company_times) / p50(read_companies):.1f}x", "", ""),
    ]
    print_table(rows)
    print(f"\ncontacts: {len(found.pairs):,} pairs in {found.blocks:,} blocks, {found.compared:,} name comparisons "
          f"(all pairs would be {n_contacts * (n_contacts - 1) // 2:,})")
    print("planted duplicates found: " + ", ".join(f"{kind} {share:.0%}" for kind, share in recall.items()))
    print(f"companies: {len(company_scan.pairs):,} pairs in {company_scan.blocks:,} blocks, "
          f"{company_scan.compared:,} name comparisons")
    return 0


if __name__ == "__main__":
    sys.exit(main())
