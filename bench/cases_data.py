"""The service desk at scale, for the benches: 200k cases with 2M thread entries (and their CSAT and NPS
surveys) over two years, on a fresh database, in a minute or two.

    from cases_data import cases_database
    url = cases_database()                       # bench/out/cases.db, built once and reused
    url = cases_database("postgresql+psycopg://postgres@127.0.0.1:5432/bench_cases")

    .venv/bin/python bench/cases_data.py [--db URL] [--cases 200000] [--entries 2000000] [--rebuild]

A database that already holds the asked-for number of cases is reused as it is (the cache); an
empty one is migrated and filled. Rows go in by Core bulk inserts (services/bulk.py: straight through
the SQLite driver), on PostgreSQL by COPY. The data is seeded, so every build is the same: cases are
numbered in the order they were opened, spread evenly over the two years before NOW, with a
priority, category, agent and team, SLA due times (wall clock: first response 1/4/8/24 h, resolution
4/24/72/120 h by priority), a first response for almost all (a few late), resolution and closing for
the older ones; ~10 entries each on average; a CSAT survey for 40% of the resolved cases (half of
them answered) and 60k NPS surveys (a quarter answered). Other benches import `cases_database`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, func, make_url, select, text

from crm_tui.db import Database, open_database
from crm_tui.models import Company, Contact, User
from crm_tui.models.case import Case, CaseEntry, Survey, case_minutes
from crm_tui.services import bulk

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # the clock the other benches use
DEFAULT_PATH = Path(__file__).parent / "out" / "cases.db"
SEED = 23
DAYS = 730
TEAMS = ("Tier 1", "Tier 2", "Billing", "Enterprise")
AGENTS_PER_TEAM = 10
SALES = 20
COMPANIES = 5_000
CONTACTS = 20_000
NPS_SURVEYS = 60_000
CHUNK = 50_000
PRIORITIES = ("low",) * 20 + ("normal",) * 55 + ("high",) * 20 + ("urgent",) * 5
CATEGORIES = ("billing", "login", "bug", "how-to", "feature request", "outage", "data import", "integrations", None)
CHANNELS = ("email",) * 6 + ("phone", "web", "web", "chat", "in_person")
FIRST_H = {"low": 24, "normal": 8, "high": 4, "urgent": 1}
RESOLVE_H = {"low": 120, "normal": 72, "high": 24, "urgent": 4}
BODIES = ("Thanks, looking into it now.", "Could you send a screenshot?", "It still fails after the update.",
          "We have reset your password.", "Escalated to engineering.", "Customer confirmed the fix works.",
          "Invoice corrected and resent.", "Is there any update on this?")


def cases_database(url: str | None = None, *, cases: int = 200_000, entries: int = 2_000_000,
                   rebuild: bool = False, quiet: bool = False) -> str:
    """The URL of a database holding `cases` cases and `entries` entries: built if it is not there yet."""
    if url is None:
        DEFAULT_PATH.parent.mkdir(parents=True, exist_ok=True)
        if rebuild:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{DEFAULT_PATH}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{DEFAULT_PATH}"
    ensure_database(url)
    database = open_database(url)
    try:
        with database.read() as session:
            have = session.scalar(select(func.count()).select_from(Case))
            have_entries = session.scalar(select(func.count()).select_from(CaseEntry))
        if have == cases and have_entries == entries:
            if not quiet:
                print(f"reusing {database.display_url()}: {have:,} cases, {have_entries:,} entries", flush=True)
            return url
        if have:
            raise SystemExit(f"{database.display_url()} holds {have:,} cases, not {cases:,}: give an empty database "
                             f"(or --rebuild for the default file)")
        started = time.perf_counter()
        build(database, cases=cases, entries=entries)
        if not quiet:
            print(f"built {cases:,} cases and {entries:,} entries in {database.display_url()} in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    finally:
        database.dispose()
    return url


def ensure_database(url: str) -> None:
    """Create a PostgreSQL database named in `url` if it does not exist yet (SQLite files make themselves)."""
    target = make_url(url)
    if not target.get_backend_name().startswith("postgresql"):
        return
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}):
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def build(database: Database, *, cases: int, entries: int, seed: int = SEED) -> None:
    rng = random.Random(seed)
    with database.write() as session:
        start = {t.name: (session.scalar(select(func.max(t.c.id))) or 0) + 1
                 for t in (User.__table__, Company.__table__, Contact.__table__)}
        agents, teams, sales = _people(session, start["users"])
        companies = range(start["companies"], start["companies"] + COMPANIES)
        contacts = range(start["contacts"], start["contacts"] + CONTACTS)
        first_ids = {"companies": companies.start, "contacts": contacts.start, "activities": 1 << 62}
        with bulk.search_index_deferred(session, first_ids):  # one FTS5 insert per table, not a trigger a row
            _accounts(session, rng, companies, contacts, sales)
        bulk.reset_sequences(session, (User.__table__, Company.__table__, Contact.__table__))
    plan = _plan_cases(rng, cases, agents, teams, contacts, companies)
    with database.write() as session, bulk.large_page_cache(session):
        for chunk in _chunks(plan, CHUNK):
            _insert(session, Case.__table__, chunk)
        counts = _spread(rng, len(plan), entries)
        batch: list[dict] = []
        next_id = 1
        for case, n in zip(plan, counts, strict=True):
            for row in _entries(rng, case, n, next_id):
                batch.append(row)
            next_id += n
            if len(batch) >= CHUNK:
                _insert(session, CaseEntry.__table__, batch)
                batch = []
        if batch:
            _insert(session, CaseEntry.__table__, batch)
        _insert(session, Survey.__table__, list(_surveys(rng, plan, contacts)))
        bulk.reset_sequences(session, (Case.__table__, CaseEntry.__table__, Survey.__table__))
    with database.engine.connect() as conn:
        if database.engine.dialect.name == "postgresql":
            # as autovacuum leaves a settled table (bench_cases.py does the same): its visibility map
            # set, so that index-only scans read no heap; without it the queue counts took twice as long
            conn.commit()
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()


def _accounts(session, rng: random.Random, companies: range, contacts: range, sales: list[int]) -> None:
    _insert(session, Company.__table__, [
        {"id": i, "name": f"Customer {i}", "name_key": f"customer {i}", "owner_id": rng.choice(sales),
         "archived": False, "custom": {}, "search_text": f"customer {i}", **_stamps(NOW)} for i in companies])
    _insert(session, Contact.__table__, [
        {"id": i, "first_name": "Contact", "last_name": str(i), "full_name": f"Contact {i}",
         "sort_name": f"{i} contact", "company_id": companies[i % COMPANIES], "owner_id": rng.choice(sales),
         "lifecycle": "customer", "custom": {}, "archived": False, "do_not_email": False,
         "search_text": f"contact {i}", **_stamps(NOW)} for i in contacts])


def _stamps(when: datetime) -> dict:
    return {"version": 1, "created_at": when, "updated_at": when}


def _people(session, first_id: int) -> tuple[list[int], dict[int, str], list[int]]:
    rows, agents, teams, sales = [], [], {}, []
    uid = first_id
    for team in TEAMS:
        for k in range(AGENTS_PER_TEAM):
            rows.append({"id": uid, "login": f"agent{uid}", "name": f"Agent {team} {k}", "role": "support",
                         "active": True, "team": team, **_stamps(NOW)})
            agents.append(uid)
            teams[uid] = team
            uid += 1
    for k in range(SALES):
        rows.append({"id": uid, "login": f"seller{uid}", "name": f"Seller {k}", "role": "sales", "active": True, "team": None,
                     **_stamps(NOW)})
        sales.append(uid)
        uid += 1
    _insert(session, User.__table__, rows)
    return agents, teams, sales


def _insert(session, table, rows: list[dict]) -> None:
    if not rows:
        return
    if session.bind.dialect.name != "postgresql":
        bulk.insert_rows(session, table, rows)
        return
    columns = [c.name for c in table.columns if c.name in rows[0]]
    cursor = session.connection().connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_pg(row[c]) for c in columns])


def _pg(value):
    return json.dumps(value) if isinstance(value, dict) else value


def _chunks(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def _spread(rng: random.Random, n: int, total: int) -> list[int]:
    """n counts of at least 1 summing to `total`, uneven (a few long threads)."""
    counts = [1 + int(rng.expovariate(1 / max(1e-9, total / n - 1))) for _ in range(n)]
    diff = total - sum(counts)
    while diff:
        i = rng.randrange(n)
        if diff > 0:
            counts[i] += 1
            diff -= 1
        elif counts[i] > 1:
            counts[i] -= 1
            diff += 1
    return counts


def _plan_cases(rng: random.Random, n: int, agents: list[int], teams: dict[int, str], contacts: range,
                companies: range) -> list[dict]:
    first_day = NOW - timedelta(days=DAYS)
    step = DAYS * 86400 / n
    rows = []
    for i in range(n):
        created = first_day + timedelta(seconds=i * step + rng.random() * step)
        priority = rng.choice(PRIORITIES)
        assignee = rng.choice(agents) if rng.random() > 0.05 else None
        contact = rng.choice(contacts)
        first_due = created + timedelta(hours=FIRST_H[priority])
        res_due = created + timedelta(hours=RESOLVE_H[priority])
        first = created + timedelta(minutes=rng.lognormvariate(4.0, 1.1) * FIRST_H[priority] / 8)
        first = first if first < NOW and rng.random() > 0.02 else None
        resolved = created + timedelta(minutes=rng.lognormvariate(6.5, 1.2) * RESOLVE_H[priority] / 72)
        resolved = resolved if first is not None and resolved < NOW and resolved > first else None
        closed = resolved + timedelta(days=3) if resolved is not None and resolved + timedelta(days=3) < NOW else None
        status = ("closed" if closed else "resolved" if resolved else "open" if first else "new")
        if status == "open" and rng.random() < 0.2:
            status = "waiting"
        next_due = None if resolved else (first_due if first is None else res_due)
        rows.append({
            "id": i + 1, "subject": f"Case {i + 1}", "description": "", "contact_id": contact,
            "company_id": companies[contact % COMPANIES], "channel": rng.choice(CHANNELS),
            "category": rng.choice(CATEGORIES), "priority": priority, "status": status, "assignee_id": assignee,
            "team": teams.get(assignee) if assignee else rng.choice(TEAMS), "first_response_at": first,
            "resolved_at": resolved, "closed_at": closed, "first_response_due_at": first_due,
            "resolution_due_at": res_due, "sla_next_at": None if status == "waiting" else next_due,
            "paused_at": created if status == "waiting" else None, "paused_minutes": 0, **_stamps(created),
            **case_minutes(created, first, resolved),
        })
    return rows


def _entries(rng: random.Random, case: dict, n: int, first_id: int) -> Iterator[dict]:
    created = case["created_at"]
    end = case["resolved_at"] or NOW
    span = max(60.0, (end - created).total_seconds())
    for k in range(n):
        when = created + timedelta(seconds=span * k / n)
        inbound = k == 0 or rng.random() < 0.4
        internal = not inbound and rng.random() < 0.2
        yield {"id": first_id + k, "case_id": case["id"], "visibility": "internal" if internal else "public",
               "direction": "in" if inbound else "out", "author_id": None if inbound else case["assignee_id"],
               "contact_id": case["contact_id"] if inbound else None, "body": rng.choice(BODIES),
               **_stamps(when)}


SURVEY_BLANK = {c.name: None for c in Survey.__table__.columns}


def _surveys(rng: random.Random, plan: list[dict], contacts: range) -> Iterator[dict]:
    sid = 1
    for case in plan:
        if case["resolved_at"] is None or rng.random() > 0.4:
            continue
        answered = rng.random() < 0.5
        responded = case["resolved_at"] + timedelta(hours=rng.uniform(1, 72))
        answered = answered and responded < NOW
        yield {**SURVEY_BLANK, "id": sid, "kind": "csat", "case_id": case["id"], "contact_id": case["contact_id"],
               "user_id": case["assignee_id"], "team": case["team"], "token_hash": f"{sid:064x}",
               "sent_at": case["resolved_at"], "responded_at": responded if answered else None,
               "score": rng.choice((1, 2, 3, 4, 4, 5, 5, 5)) if answered else None, "via": "link" if answered else None}
        sid += 1
    first_day = NOW - timedelta(days=DAYS)
    for k in range(NPS_SURVEYS):
        sent = first_day + timedelta(days=DAYS * k / NPS_SURVEYS)
        responded = sent + timedelta(days=rng.uniform(0, 10))
        answered = rng.random() < 0.25 and responded < NOW
        yield {**SURVEY_BLANK, "id": sid, "kind": "nps", "run_key": f"nps-{sent:%Y-%m}", "contact_id": contacts[k % len(contacts)],
               "token_hash": f"{sid:064x}", "sent_at": sent, "responded_at": responded if answered else None,
               "score": rng.choice(range(11)) if answered else None, "via": "link" if answered else None}
        sid += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help=f"database URL (default: {DEFAULT_PATH})")
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--entries", type=int, default=2_000_000)
    parser.add_argument("--rebuild", action="store_true", help="start the default file afresh")
    args = parser.parse_args(argv)
    cases_database(args.db, cases=args.cases, entries=args.entries, rebuild=args.rebuild)
    return 0


if __name__ == "__main__":
    sys.exit(main())
