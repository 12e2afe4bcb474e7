"""Foundation benchmark: demo bulk load, keyset page fetch and contact search on the large set,
each beside a baseline measured in the same run.

    .venv/bin/python bench/bench_foundation.py [--contacts 100000] [--out DIR] [--db URL]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select, text

from crm_tui.db import open_database
from crm_tui.models import Company, Contact
from crm_tui.services import contacts as contact_service
from crm_tui.services import bulk, demo, users
from crm_tui.services.paging import Cursor

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
SEED = 1
TARGET_LOAD_RATIO = 3.0
TARGET_PAGE_P95_MS = 5.0
TARGET_SEARCH_P95_MS = 30.0


# --- 1. bulk load ---------------------------------------------------------------------------


def load_ours(url: str, contacts: int) -> tuple[float, int]:
    """Seconds for load_demo (generation, inserts, search index, commit) and the rows it wrote."""
    database = open_database(url)
    try:
        with database.write() as session:
            actor = users.actor_for(session, login="ann", now=NOW)
        with database.read() as session:
            before = _row_count(session)
        started = time.perf_counter()
        with database.write() as session:
            demo.load_demo(session, contacts=contacts, seed=SEED, actor=actor, now=NOW)
        elapsed = time.perf_counter() - started
        with database.read() as session:
            return elapsed, _row_count(session) - before
    finally:
        database.dispose()


def _row_count(session) -> int:
    return sum(session.scalar(select(func.count()).select_from(t)) for t in demo.TABLES.values())


def load_raw(path: Path, contacts: int) -> tuple[float, int]:
    """Seconds for plain sqlite3 executemany + commit of the same rows (generation not timed)
    into an identically migrated database, FTS triggers and all, with the app's pragmas."""
    database = open_database(f"sqlite:///{path}")
    with database.write() as session:
        actor = users.actor_for(session, login="ann", now=NOW)
        ctx = demo.demo_context(session, actor)
    database.dispose()
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL", "cache_size=-262144"):
        connection.execute(f"PRAGMA {pragma}")
    timed, rows_written = 0.0, 0
    connection.execute("BEGIN IMMEDIATE")
    for table_name, rows in demo.demo_rows(ctx, contacts=contacts, seed=SEED, now=NOW):
        table = demo.TABLES[table_name]
        tuples = bulk.sqlite_tuples(table, rows)
        columns = [c.name for c in table.columns]
        sql = f"INSERT INTO {table_name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        started = time.perf_counter()
        connection.executemany(sql, tuples)
        timed += time.perf_counter() - started
        rows_written += len(tuples)
    started = time.perf_counter()
    connection.execute("COMMIT")
    timed += time.perf_counter() - started
    connection.close()
    return timed, rows_written


# --- 2. keyset page fetch -------------------------------------------------------------------

ORDERS = {
    # the logical order of each sort, as paging.py walks it: values first, then NULLs by id
    "name": ([Contact.sort_name.asc(), Contact.id.asc()], Contact.sort_name),
    "last_contacted": ([Contact.last_contacted_at.is_(None), Contact.last_contacted_at.desc(), Contact.id.desc()],
                       Contact.last_contacted_at),
}
OFFSET_SQL = (
    "SELECT c.id, c.full_name, co.name, c.email, c.phone, c.lifecycle, u.login, c.last_contacted_at, c.created_at "
    "FROM contacts c LEFT JOIN companies co ON co.id = c.company_id LEFT JOIN users u ON u.id = c.owner_id "
    "WHERE c.archived = false ORDER BY {order} LIMIT 50 OFFSET :offset"
)
OFFSET_ORDER = {
    "name": "c.sort_name, c.id",
    "last_contacted": "c.last_contacted_at IS NULL, c.last_contacted_at DESC, c.id DESC",
}


def page_fetch(session, sort: str, samples: int, rng: random.Random) -> tuple[list[float], list[float]]:
    """(keyset ms, OFFSET ms) for pages of 50 starting at the same random positions."""
    order, column = ORDERS[sort]
    keys = session.execute(select(column, Contact.id).where(Contact.archived.is_(False)).order_by(*order)).all()
    positions = [rng.randrange(1, max(2, len(keys) - 50)) for _ in range(samples)]
    ours, baseline = [], []
    sql = text(OFFSET_SQL.format(order=OFFSET_ORDER[sort]))
    for position in positions:
        value, id_ = keys[position - 1]
        cursor = Cursor(value, id_).encode()
        ours.append(_ms(lambda: contact_service.list_contacts(session, sort=sort, after=cursor, limit=50)))
        baseline.append(_ms(lambda: session.execute(sql, {"offset": position}).all()))
    return ours, baseline


# --- 3. search ------------------------------------------------------------------------------


def fragments(session, samples: int, rng: random.Random) -> list[str]:
    """Name, email and company fragments (3-6 characters) and whole words, taken from the data."""
    ids = session.scalars(select(Contact.id).order_by(Contact.id)).all()
    picked = rng.sample(ids, min(samples, len(ids)))
    found = {r.id: r for r in session.execute(select(Contact.id, Contact.sort_name, Contact.email, Company.name_key)
                                              .outerjoin(Company, Company.id == Contact.company_id)
                                              .where(Contact.id.in_(picked))).all()}
    rows = [found[i][1:] for i in picked]
    out = []
    for k, (name, email, company) in enumerate(rows):
        source = [name, (email or name).split("@")[0], company or name][k % 3]
        if k % 4 == 3:
            out.append(rng.choice(source.replace(".", " ").split()))
        else:
            size = rng.randint(3, 6)
            start = rng.randrange(max(1, len(source) - size + 1))
            out.append(source[start:start + size].strip(" .") or source)
    return out


def search(session, words: list[str]) -> tuple[list[float], list[float]]:
    like = text("SELECT id FROM contacts WHERE archived = false AND search_text LIKE :pattern ESCAPE '\\' "
                "ORDER BY sort_name, id LIMIT 50")
    ours, baseline = [], []
    for word in words:
        ours.append(_ms(lambda: contact_service.list_contacts(session, query=word, limit=50, with_total=False)))
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        baseline.append(_ms(lambda: session.execute(like, {"pattern": pattern}).all()))
    return ours, baseline


# --- running and reporting --------------------------------------------------------------------


def _ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def query_rows(url: str, samples: int, label: str) -> list[tuple]:
    database = open_database(url)
    rng = random.Random(SEED)
    out = []
    try:
        with database.read() as session:
            roundtrip = [_ms(lambda: session.execute(text("SELECT 1")).all()) for _ in range(samples)]
            out.append((f"{label} SELECT 1 round-trip", "", f"p50 {p50(roundtrip):.2f} ms", "", "", ""))
            for sort in ORDERS:
                ours, offset = page_fetch(session, sort, samples, rng)
                out.append((f"{label} keyset page 50, sort={sort}",
                            f"p50 {p50(ours):.2f} / p95 {p95(ours):.2f} ms",
                            f"OFFSET p50 {p50(offset):.2f} / p95 {p95(offset):.2f} ms",
                            f"{p95(ours) / p95(offset):.2f}x", f"p95 < {TARGET_PAGE_P95_MS:g} ms",
                            verdict(p95(ours) < TARGET_PAGE_P95_MS)))
            words = fragments(session, samples, rng)
            ours, like = search(session, words)
            out.append((f"{label} search ({len(words)} fragments)",
                        f"p50 {p50(ours):.2f} / p95 {p95(ours):.2f} ms",
                        f"LIKE p50 {p50(like):.2f} / p95 {p95(like):.2f} ms",
                        f"{p95(ours) / p95(like):.2f}x", f"p95 < {TARGET_SEARCH_P95_MS:g} ms",
                        verdict(p95(ours) < TARGET_SEARCH_P95_MS)))
    finally:
        database.dispose()
    return out


def print_table(rows: list[tuple]) -> None:
    header = ("measure", "ours", "baseline", "ratio", "target", "")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=None, help="directory for the SQLite files (default: a temp dir)")
    parser.add_argument("--db", default=None, help="also load and measure this (empty, migrated-or-new) database URL")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="crm-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    for name in ("ours.db", "raw.db"):
        for suffix in ("", "-wal", "-shm"):
            (out / f"{name}{suffix}").unlink(missing_ok=True)
    n = args.contacts
    print(f"crm-tui foundation benchmark: {n:,} contacts, {max(1, n // 10):,} companies, {max(1, n // 5):,} deals, "
          f"{5 * n:,} activities, {max(1, n // 5):,} tasks (SQLite {sqlite3.sqlite_version}, files in {out})",
          flush=True)
    ours_s, ours_rows = load_ours(f"sqlite:///{out / 'ours.db'}", n)
    raw_s, raw_rows = load_raw(out / "raw.db", n)
    rows = [("sqlite bulk load (load_demo)", f"{ours_rows / ours_s:,.0f} rows/s ({ours_rows:,} in {ours_s:.1f} s)",
             f"raw executemany {raw_rows / raw_s:,.0f} rows/s ({raw_s:.1f} s)", f"{ours_s / raw_s:.2f}x",
             f"<= {TARGET_LOAD_RATIO:g}x", verdict(ours_s / raw_s <= TARGET_LOAD_RATIO))]
    rows += query_rows(f"sqlite:///{out / 'ours.db'}", args.samples, "sqlite")
    if args.db:
        rows += pg_rows(args.db, n, args.samples)
    print_table(rows)
    return 0


def pg_rows(url: str, contacts: int, samples: int) -> list[tuple]:
    database = open_database(url)
    with database.read() as session:
        empty = session.scalar(select(Contact.id).limit(1)) is None
    database.dispose()
    rows = []
    if empty:
        seconds, written = load_ours(url, contacts)
        rows.append(("db bulk load (load_demo)", f"{written / seconds:,.0f} rows/s ({written:,} in {seconds:.1f} s)",
                     "", "", "", ""))
    return rows + query_rows(url, samples, "db")


if __name__ == "__main__":
    sys.exit(main())
