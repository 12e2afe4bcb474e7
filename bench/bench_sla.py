"""SLA scan benchmark (issue 23): 200k cases with nothing due, and the scans that must find that
out quickly, each beside baselines measured in the same run: a bare `SELECT 1` round trip and a
bare `SELECT count(*) FROM cases` (what touching every case costs).

Measured: `services/sla.scan(now)` (breached only), `scan(now, within_minutes=60)` (what the
"breaching soon" queue asks), the workflow engine's candidate queries of the `sla_breached` and
`sla_due` triggers (with their anti-join on workflow_firings), and one whole engine run of the two
SLA rules (`workflows.runner.run(only=...)`: scan, nothing to fire).

    .venv/bin/python bench/bench_sla.py [--cases 200000] [--samples 50] [--db URL]

Without --db it builds a SQLite file in a temp dir; with `--db postgresql+psycopg://...` it loads
an empty database of that URL (migrated first; ANALYZE after the load, as autovacuum would). The
cases are Core bulk inserts: 70% resolved or closed (no next target), 10% waiting on the customer
(paused: no next target), 20% open with their next target 2 hours to 30 days ahead. Target: a scan
with nothing due < 1 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text  # noqa: E402

from crm_tui.db import open_database  # noqa: E402
from crm_tui.models.case import Case  # noqa: E402
from crm_tui.services import sla  # noqa: E402
from crm_tui.workflows import runner  # noqa: E402
from crm_tui.workflows.rules import parse_rules  # noqa: E402
from crm_tui.workflows.triggers import candidates  # noqa: E402

TARGET_S = 1.0
NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
BATCH = 10_000
RULES = """
[[rule]]
name = "sla-warning"
trigger = { type = "sla_due", within_minutes = 60 }
actions = [ { type = "notify", to = "owner", title = "#{case.id} due {case.due}" } ]

[[rule]]
name = "sla-breach"
trigger = { type = "sla_breached" }
actions = [ { type = "raise_priority" } ]
"""


def rows(n: int):
    rng = random.Random(23)
    for i in range(n):
        created = NOW - timedelta(minutes=rng.randrange(60, 365 * 24 * 60))
        kind = rng.random()
        row = {"subject": f"Case {i}", "description": "", "channel": "email", "priority": rng.choice(
            ("low", "normal", "high", "urgent")), "category": None, "team": rng.choice(("Desk", "Field", None)),
            "paused_minutes": 0, "version": 1, "created_at": created, "updated_at": created,
            "first_response_at": None, "resolved_at": None, "closed_at": None, "first_response_due_at": None,
            "resolution_due_at": None, "sla_next_at": None, "paused_at": None}
        if kind < 0.7:
            row.update(status=rng.choice(("resolved", "closed")), first_response_at=created + timedelta(hours=1),
                       resolved_at=created + timedelta(days=1), first_response_due_at=created + timedelta(hours=4),
                       resolution_due_at=created + timedelta(days=3))
        elif kind < 0.8:
            row.update(status="waiting", paused_at=NOW - timedelta(hours=3), first_response_at=created,
                       resolution_due_at=NOW + timedelta(days=2))
        else:
            due = NOW + timedelta(minutes=rng.randrange(120, 30 * 24 * 60))
            first = rng.random() < 0.5
            row.update(status="open", first_response_at=None if first else created,
                       first_response_due_at=due if first else created + timedelta(hours=4),
                       resolution_due_at=due + timedelta(days=1) if first else due, sla_next_at=due)
        yield row


def build(url: str, n: int):
    db = open_database(url)
    with db.write() as s:
        if s.scalar(select(func.count()).select_from(Case)):
            raise SystemExit("the database has cases already: give an empty one")
    batch = []
    for row in rows(n):
        batch.append(row)
        if len(batch) == BATCH:
            with db.write() as s:
                s.connection().execute(Case.__table__.insert(), batch)  # Core executemany, no ORM
            batch = []
    if batch:
        with db.write() as s:
            s.connection().execute(Case.__table__.insert(), batch)
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE cases"))
    return db


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def plan(db, stmt) -> str:
    """How the database reads a scan (to show it is the index range): SQLite's plan with bound
    parameters, as the services send them; PostgreSQL's EXPLAIN of the values."""
    with db.read() as s:
        dialect = s.get_bind().dialect
        if dialect.name == "sqlite":
            compiled = stmt.compile(dialect=dialect)
            params = compiled.construct_params()
            lines = [r[-1] for r in s.connection().connection.driver_connection.execute(
                "EXPLAIN QUERY PLAN " + str(compiled), tuple(params[k] for k in compiled.positiontup))]
        else:
            sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            lines = [r[0] for r in s.connection().exec_driver_sql("EXPLAIN " + sql)]
    return " | ".join(str(line).strip() for line in lines[:4])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    url = args.db or f"sqlite:///{os.path.join(tempfile.mkdtemp(prefix='bench-sla-'), 'sla.db')}"
    t0 = time.perf_counter()
    db = build(url, args.cases)
    backend = db.engine.dialect.name
    print(f"SLA scan on {backend}: {args.cases} cases loaded in {time.perf_counter() - t0:.1f} s, "
          f"{args.samples} samples each")
    rules = parse_rules(RULES)
    assert rules.errors == []
    breached, due = rules.rules[1], rules.rules[0]

    def engine_query(rule):
        with db.read() as s:
            return s.execute(candidates(rule.trigger, rule.name, [], now=NOW, zone=timezone.utc,
                                        limit=rule.limit)).all()

    def scan(within):
        with db.read() as s:
            return sla.scan(s, now=NOW, within_minutes=within)

    def bare(sql):
        with db.read() as s:
            return s.execute(text(sql)).all()

    def engine_run():
        report = None
        for name in ("sla-warning", "sla-breach"):
            report = runner.run(db, rules=rules, now=NOW, zone=timezone.utc, only=name)
            assert not report.fired and not report.failed, report
        return []

    kinds = {
        "baseline: SELECT 1": lambda: bare("SELECT 1"),
        "baseline: SELECT count(*) FROM cases": lambda: bare("SELECT count(*) FROM cases"),
        "sla.scan(now)": lambda: scan(0),
        "sla.scan(now, within 60 min)": lambda: scan(60),
        "engine query: sla_breached": lambda: engine_query(breached),
        "engine query: sla_due 60 min": lambda: engine_query(due),
        "engine run of both rules": engine_run,
    }
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for name, fn in kinds.items():  # warm up, and check nothing is due
        got = fn()
        if not name.startswith("baseline"):
            assert got == [], (name, got[:3])
    for _ in range(args.samples):
        for name, fn in kinds.items():  # in turn: a busy machine's load falls on all alike
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1000)
    one, count = (statistics.median(times[k]) for k in list(kinds)[:2])
    for name, values in times.items():
        print(f"  {name:38s} p50 {p(values, 50):8.2f} ms  p95 {p(values, 95):8.2f} ms  "
              f"({statistics.median(values) / one:6.1f}x SELECT 1, {statistics.median(values) / count:5.2f}x count(*))")
    stmt = (select(Case.id, Case.subject).where(Case.sla_next_at.is_not(None), Case.sla_next_at <= NOW)
            .order_by(Case.sla_next_at, Case.id).limit(sla.SCAN_LIMIT))
    print(f"  plan of sla.scan: {plan(db, stmt)}")
    print(f"  plan of sla_breached: {plan(db, candidates(breached.trigger, breached.name, [], now=NOW, zone=timezone.utc, limit=breached.limit))}")
    worst = max(p(times[k], 95) for k in kinds if not k.startswith("baseline") and not k.startswith("engine run"))
    verdict = "PASS" if worst < TARGET_S * 1000 else "MISS"
    print(f"target: a scan with nothing due < {TARGET_S:.0f} s: slowest scan p95 {worst:.2f} ms {verdict}")
    db.dispose()
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
