"""Case service benchmark: the queues, their live counts, a search and a thread page at 200k cases
(and --entries thread entries), each beside a bare SELECT of a page by primary key in the same run.

    .venv/bin/python bench/bench_cases.py [--cases 200000] [--entries 2000000] [--out DIR] [--db URL]
                                          [--samples 100]

Loads 2,000 contacts and N cases straight through Core inserts (about 15% in the backlog: new,
open or waiting; the rest resolved or closed; a third of the backlog with an SLA target in the next
day; assignees among 20 support users in 3 teams), then measures, each through the services as the
app calls them (a session open, the statements, the rows turned into shapes):

- each queue's first page (list_cases, 50 rows) for a support user, and a next page of "all";
- queue_counts (every queue and every team, as the app's queue bar shows them);
- a search (a word of the subjects, a customer's name) and a number;
- sales' "all" (the own scope: its accounts' cases and those assigned to it);
- a case's thread, first page (entries).

beside the baseline: `SELECT id, subject, status FROM cases WHERE id < ? ORDER BY id DESC LIMIT 50`
sent raw through the driver. Target: every p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_foundation import p50, p95, print_table, verdict  # noqa: E402

from crm_tui.db import open_database  # noqa: E402
from crm_tui.models import Case, CaseEntry, Contact, User  # noqa: E402
from crm_tui.services import cases, users  # noqa: E402

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
SEED = 1
TARGET_P95_MS = 100.0
WORDS = ("printer invoice login password refund crash slow export import licence upgrade billing email "
         "sync report dashboard mobile outage error timeout").split()
TEAMS = ("Support", "Billing", "Tier 2")
BATCH = 10_000


def load(url: str, n: int, n_entries: int) -> None:
    database = open_database(url)
    rng = random.Random(SEED)
    try:
        with database.write() as session:
            admin = users.actor_for(session, login="ann", now=NOW)
            if session.scalar(select(func.count()).select_from(Case)) >= n:
                return
            for i in range(20):
                users.create_user(session, data={"login": f"agent{i}", "role": "support", "team": TEAMS[i % 3]},
                                  actor=admin, now=NOW)
            users.create_user(session, data={"login": "sam", "role": "sales"}, actor=admin, now=NOW)
        started = time.perf_counter()
        with database.write() as session:
            agents = list(session.scalars(select(User.id).where(User.role == "support")))
            sam = session.scalar(select(User.id).where(User.login == "sam"))
            session.execute(insert(Contact), [
                {"first_name": f"Customer{i}", "last_name": rng.choice(WORDS).capitalize(),
                 "full_name": f"Customer{i}", "sort_name": f"customer{i}", "email": f"c{i}@example.com",
                 "owner_id": sam if i % 50 == 0 else None, "created_at": NOW, "updated_at": NOW}
                for i in range(2000)])
            contact_ids = list(session.scalars(select(Contact.id)))
        made = 0
        while made < n:
            rows = []
            for _ in range(min(BATCH, n - made)):
                made += 1
                opened = NOW - timedelta(minutes=(n - made) * 3)
                backlog = rng.random() < 0.15
                status = rng.choice(("new", "open", "open", "waiting")) if backlog else rng.choice(
                    ("resolved", "closed", "closed"))
                due = NOW + timedelta(minutes=rng.randrange(-600, 1440)) if backlog and status != "waiting" \
                    and rng.random() < 0.33 else None
                rows.append({"subject": f"{rng.choice(WORDS)} {rng.choice(WORDS)} problem {made}",
                             "contact_id": rng.choice(contact_ids), "channel": "email",
                             "priority": rng.choice(("low", "normal", "normal", "high", "urgent")),
                             "status": status, "assignee_id": rng.choice(agents + [None]),
                             "team": rng.choice(TEAMS), "created_at": opened, "updated_at": opened,
                             "sla_next_at": due, "resolved_at": None if backlog else opened + timedelta(hours=5),
                             "paused_minutes": 0, "version": 1})
            with database.write() as session:
                session.execute(insert(Case), rows)
        with database.read() as session:
            first, last = session.execute(select(func.min(Case.id), func.max(Case.id))).one()
        done = 0
        while done < n_entries:
            rows = []
            for _ in range(min(BATCH * 5, n_entries - done)):
                done += 1
                case_id = first + (done % (last - first + 1))
                at = NOW - timedelta(minutes=(n_entries - done))
                rows.append({"case_id": case_id, "visibility": "public" if done % 4 else "internal",
                             "direction": "in" if done % 2 else "out", "body": f"entry {done} " * 8,
                             "created_at": at, "updated_at": at, "version": 1})
            with database.write() as session:
                session.execute(insert(CaseEntry), rows)
        print(f"  loaded {n:,} cases, {n_entries:,} entries in {time.perf_counter() - started:.1f} s", flush=True)
        with database.engine.connect() as conn:
            if database.engine.dialect.name == "postgresql":
                # as autovacuum leaves a settled table: its visibility map set, so index-only scans are
                conn.commit()
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
            else:
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
        with database.write() as session:
            agent = users.actor_for(session, login="agent0", now=NOW)
            sam = users.actor_for(session, login="sam", now=NOW)
            lo, hi = session.execute(select(func.min(Case.id), func.max(Case.id))).one()
        sqlite = database.engine.dialect.name == "sqlite"
        raw_sql = "SELECT id, subject, status FROM cases WHERE id < :k ORDER BY id DESC LIMIT 50"

        def baseline() -> float:
            with database.read() as session:
                k = rng.randrange(lo + 100, hi)
                return _ms(lambda: session.connection().exec_driver_sql(
                    raw_sql.replace(":k", "?" if sqlite else "%(k)s"), (k,) if sqlite else {"k": k}).all())

        def ours(call) -> float:
            with database.read() as session:
                return _ms(lambda: call(session))

        def queue(name, **kw):
            return lambda s: cases.list_cases(s, actor=agent, queue=name, limit=50, now=NOW, **kw)

        def next_all(s):
            cursor = cases.list_cases(s, actor=agent, queue="all", limit=50, now=NOW).next_cursor
            cases.list_cases(s, actor=agent, queue="all", after=cursor, limit=50, now=NOW)

        def search(s):
            cases.list_cases(s, actor=agent, queue="all", search=rng.choice(WORDS), limit=50, now=NOW)

        def number(s):
            found = cases.list_cases(s, actor=agent, queue="all", search=f"#{rng.randrange(lo, hi)}", now=NOW)
            assert len(found.items) >= 1

        def thread(s):
            cases.entries(s, rng.randrange(lo, hi), actor=agent, limit=50)

        base = [baseline() for _ in range(samples)]
        checks = [(f"queue {q}: first page", queue(q)) for q in ("mine", "unassigned", "soon", "waiting", "open",
                                                                 "all")]
        checks += [("queue team Support: first page", queue("team", team="Support")),
                   ("queue all: next page", next_all),
                   ("queue_counts (every queue and team)",
                    lambda s: cases.queue_counts(s, actor=agent, now=NOW)),
                   ("search a word (subject or customer)", search), ("search a number", number),
                   ("sales: all (own scope)", lambda s: cases.list_cases(s, actor=sam, queue="all", now=NOW)),
                   ("sales: queue_counts (own scope)", lambda s: cases.queue_counts(s, actor=sam, now=NOW)),
                   ("thread: first page", thread)]
        for name, call in checks:
            ours(call)  # warm
            times = [ours(call) for _ in range(samples)]
            rows.append((f"{label} {name} p95", f"{p95(times):.2f} ms (p50 {p50(times):.2f})",
                         f"{p95(base):.2f} ms", f"{p95(times) / p95(base):.1f}x", f"<= {TARGET_P95_MS:.0f} ms",
                         verdict(p95(times) <= TARGET_P95_MS)))
    finally:
        database.dispose()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--entries", type=int, default=2_000_000)
    parser.add_argument("--out", type=Path, default=None, help="directory for the SQLite file (default: a temp dir)")
    parser.add_argument("--db", default=None, help="also measure this database (e.g. postgresql+psycopg://...)")
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        targets = [("sqlite", f"sqlite:///{work / 'cases.db'}")]
        if args.db:
            targets.append(("pg", args.db))
        rows = []
        for label, url in targets:
            print(f"{label}: loading {args.cases:,} cases", flush=True)
            load(url, args.cases, args.entries)
            rows += measure(url, args.samples, label)
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
