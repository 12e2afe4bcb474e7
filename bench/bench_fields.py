"""Custom-field benchmark: a page of contacts filtered (and sorted) by a typed custom field at 100k
contacts, beside the same SQL run raw in the same run.

    .venv/bin/python bench/bench_fields.py [--contacts 100000] [--out DIR] [--db URL] [--samples 200]

Builds the demo set (SQLite in a temp dir unless --out; with --db, also that database, loaded when
empty), gives every contact untyped `segment` and `seats` values (as an import with --custom
would), then promotes them to typed fields with services/fields.add_field, which checks every value
and creates the fields' expression indexes. Measured, each beside the same statement sent raw
(sqlite3 / the driver, no SQLAlchemy, no services) on the same database:

- a filter page: `list_contacts(filters={"custom": {"segment": X}})`, 50 rows in name order, first
  and later pages (random cursors), for a value held by 10%, 30% and 60% of the contacts;
- a range filter (seats >= N) and a sort by the field (custom.seats), keyset pages;
- the same filter with the count (with_total=True);
- the raw statement written with another JSON path spelling, which the field index does not
  match: what the filter costs without its index (information only).

Target: a custom-field filter page p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_foundation import p50, p95, print_table, verdict  # noqa: E402

from crm_tui.db import open_database  # noqa: E402
from crm_tui.models import Contact  # noqa: E402
from crm_tui.services import contacts, demo, fields, users  # noqa: E402

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
SEED = 1
TARGET_P95_MS = 50.0
SEGMENTS = {"enterprise": "10%", "mid": "30%", "smb": "60%"}

PAGE_SQL = (
    "SELECT contacts.id, contacts.full_name, co.name, contacts.email, contacts.phone, contacts.lifecycle, u.login, "
    "contacts.last_contacted_at, contacts.created_at, {sort} FROM contacts "
    "LEFT JOIN companies co ON co.id = contacts.company_id LEFT JOIN users u ON u.id = contacts.owner_id "
    "WHERE contacts.archived = false AND {where} {after} ORDER BY {sort}, contacts.id LIMIT 51"
)


def load(url: str, n: int) -> None:
    database = open_database(url)
    try:
        with database.write() as session:
            actor = users.actor_for(session, login="ann", now=NOW)
            empty = session.scalar(select(Contact.id).limit(1)) is None
        if empty:
            started = time.perf_counter()
            with database.write() as session:
                demo.load_demo(session, contacts=n, seed=SEED, actor=actor, now=NOW)
            print(f"  demo loaded in {time.perf_counter() - started:.1f} s", flush=True)
        with database.write() as session:
            if fields.field_map(session, "contact").get("segment") is None:
                _untyped_values(session)
                started = time.perf_counter()
                fields.add_field(session, kind="contact", key="segment", type="choice",
                                 options=list(SEGMENTS), actor=actor, now=NOW)
                fields.add_field(session, kind="contact", key="seats", type="number", actor=actor, now=NOW)
                print(f"  promoted segment and seats (checked, indexed) in {time.perf_counter() - started:.1f} s",
                      flush=True)
        if database.engine.dialect.name == "postgresql":
            with database.engine.connect() as conn:
                conn.execute(text("ANALYZE contacts"))
                conn.commit()
        else:
            with database.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    finally:
        database.dispose()


def _untyped_values(session) -> None:
    """Every contact gets a segment (10/30/60%) and a seat count, as untyped custom values."""
    if session.bind.dialect.name == "sqlite":
        session.execute(text(
            "UPDATE contacts SET custom = json_set(custom, '$.segment', CASE WHEN id % 10 = 0 THEN 'enterprise' "
            "WHEN id % 10 < 4 THEN 'mid' ELSE 'smb' END, '$.seats', (id * 7919) % 1000)"))
    else:
        session.execute(text(
            "UPDATE contacts SET custom = (CAST(custom AS jsonb) || jsonb_build_object('segment', CASE WHEN id % 10 = 0 "
            "THEN 'enterprise' WHEN id % 10 < 4 THEN 'mid' ELSE 'smb' END, 'seats', (id * 7919) % 1000))::json"))


def _ms(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _raw(session, sql: str, params: dict):
    """The statement through the DBAPI connection alone (no SQLAlchemy compile or rows)."""
    connection = session.connection().connection.driver_connection
    if session.bind.dialect.name == "sqlite":
        return lambda: connection.execute(sql.replace("%(", ":").replace(")s", ""), params).fetchall()
    return lambda: connection.execute(sql, params).fetchall()


def measure(url: str, samples: int, label: str) -> list[tuple]:
    database = open_database(url)
    rng = random.Random(SEED)
    out = []
    try:
        with database.read() as session:
            dialect = session.bind.dialect.name
            seg = fields.get_field(session, kind="contact", key="segment")
            seats = fields.get_field(session, kind="contact", key="seats")
            seg_sql = fields.value_sql(dialect, "contact", seg)
            seats_sql = fields.value_sql(dialect, "contact", seats)
            other_path = ("json_extract(contacts.custom, '$.segment')" if dialect == "sqlite"
                          else "(CAST(contacts.custom AS jsonb) ->> 'segment')")
            for value, share in SEGMENTS.items():
                filters = {"custom": {"segment": value}}
                # cursors to later pages: walk the list once, keep a sample of its cursors
                cursors, page = [None], contacts.list_contacts(session, filters=filters, limit=50)
                while page.next_cursor and len(cursors) < 40:
                    cursors.append(page.next_cursor)
                    page = contacts.list_contacts(session, filters=filters, limit=50, after=page.next_cursor)
                picks = [rng.choice(cursors) for _ in range(samples)]
                ours = [_ms(lambda c=c: contacts.list_contacts(session, filters=filters, limit=50, after=c))
                        for c in picks]
                # the raw statement: the same page, after the same (name, id) positions
                after_rows = [contacts.list_contacts(session, filters=filters, limit=50, after=c).items[0]
                              if c else None for c in picks[:samples]]
                raw = []
                for row in after_rows:
                    sort = session.scalar(select(Contact.sort_name).where(Contact.id == row.id)) if row else None
                    after = "AND (contacts.sort_name, contacts.id) >= (%(s)s, %(i)s)" if row else ""
                    sql = PAGE_SQL.format(sort="contacts.sort_name", where=f"{seg_sql} = %(v)s", after=after)
                    raw.append(_ms(_raw(session, sql, {"v": value, "s": sort, "i": row.id if row else 0})))
                out.append((f"{label} filter page segment={value} ({share})",
                            f"p50 {p50(ours):.2f} / p95 {p95(ours):.2f} ms",
                            f"raw SQL p50 {p50(raw):.2f} / p95 {p95(raw):.2f} ms", f"{p95(ours) / p95(raw):.2f}x",
                            f"p95 <= {TARGET_P95_MS:g} ms", verdict(p95(ours) <= TARGET_P95_MS)))
            # a range, and a sort by the field
            threshold = 990
            filters = {"custom": [f"seats>={threshold}"]}
            ours = [_ms(lambda: contacts.list_contacts(session, filters=filters, limit=50)) for _ in range(samples)]
            # the statement the service sends: on SQLite the range is marked unlikely() (see fields.condition)
            where = f"{seats_sql} >= %(v)s"
            sql = PAGE_SQL.format(sort="contacts.sort_name", where=f"unlikely({where})" if dialect == "sqlite" else where,
                                  after="")
            raw = [_ms(_raw(session, sql, {"v": threshold})) for _ in range(samples)]
            out.append((f"{label} filter page seats>={threshold} (1%)", f"p50 {p50(ours):.2f} / p95 {p95(ours):.2f} ms",
                        f"raw SQL p50 {p50(raw):.2f} / p95 {p95(raw):.2f} ms", f"{p95(ours) / p95(raw):.2f}x",
                        f"p95 <= {TARGET_P95_MS:g} ms", verdict(p95(ours) <= TARGET_P95_MS)))
            cursors, page = [None], contacts.list_contacts(session, sort="custom.seats", limit=50)
            while page.next_cursor and len(cursors) < 40:
                cursors.append(page.next_cursor)
                page = contacts.list_contacts(session, sort="custom.seats", limit=50, after=page.next_cursor)
            ours = [_ms(lambda c=rng.choice(cursors): contacts.list_contacts(session, sort="custom.seats", limit=50,
                                                                            after=c)) for _ in range(samples)]
            sql = PAGE_SQL.format(sort=seats_sql, where="true", after=f"AND ({seats_sql}, contacts.id) > (%(v)s, %(i)s)")
            raw = [_ms(_raw(session, sql, {"v": rng.randrange(0, 20), "i": 0})) for _ in range(samples)]
            out.append((f"{label} sort page by custom.seats", f"p50 {p50(ours):.2f} / p95 {p95(ours):.2f} ms",
                        f"raw SQL p50 {p50(raw):.2f} / p95 {p95(raw):.2f} ms", f"{p95(ours) / p95(raw):.2f}x",
                        f"p95 <= {TARGET_P95_MS:g} ms", verdict(p95(ours) <= TARGET_P95_MS)))
            # the count beside the page, and the filter without its index (information)
            filters = {"custom": {"segment": "enterprise"}}
            few = max(10, samples // 10)
            ours = [_ms(lambda: contacts.list_contacts(session, filters=filters, limit=50, with_total=True))
                    for _ in range(few)]
            count_sql = f"SELECT count(*) FROM contacts WHERE contacts.archived = false AND {seg_sql} = %(v)s"
            raw = [_ms(_raw(session, count_sql, {"v": "enterprise"})) for _ in range(few)]
            out.append((f"{label} page + count segment=enterprise", f"p50 {p50(ours):.2f} / p95 {p95(ours):.2f} ms",
                        f"raw count p50 {p50(raw):.2f} / p95 {p95(raw):.2f} ms", f"{p95(ours) / p95(raw):.2f}x", "",
                        ""))
            sql = PAGE_SQL.format(sort="contacts.sort_name", where=f"{other_path} = %(v)s", after="")
            slow = [_ms(_raw(session, sql.replace("LIMIT 51", "LIMIT 51 OFFSET 2000"), {"v": "enterprise"}))
                    for _ in range(few)]
            out.append((f"{label} (no index: raw, other JSON path)", f"p50 {p50(slow):.2f} / p95 {p95(slow):.2f} ms",
                        "", "", "", "info"))
            total = session.scalar(select(func.count()).select_from(Contact))
            out.insert(0, (f"{label} contacts", f"{total:,}", "", "", "", ""))
    finally:
        database.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=None, help="directory for the SQLite file (default: a temp dir)")
    parser.add_argument("--db", default=None, help="also measure this database URL (loaded when empty)")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="crm-bench-fields-"))
    out.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{out / 'fields.db'}"
    print(f"crm-tui custom-field benchmark: {args.contacts:,} contacts (SQLite file in {out})", flush=True)
    load(url, args.contacts)
    rows = measure(url, args.samples, "sqlite")
    if args.db:
        load(args.db, args.contacts)
        rows += measure(args.db, args.samples, "db")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
