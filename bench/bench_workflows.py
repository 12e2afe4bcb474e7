"""Workflow engine benchmark on the 100k-contact database (a copy: bench/out/ours.db is never written).

    .venv/bin/python bench/bench_workflows.py [--db bench/out/ours.db] [--samples 5] [--firings 1000]

Prints, each beside a baseline measured in the same run:
- a run of the shipped example rules (all 8 triggers) with nothing to fire, after the database
  has caught up (every current occurrence already has its firing), vs a plain COUNT over the
  contacts; target < 1 s;
- a run that fires N times (a stale-deal rule creating one task per deal), vs N bare
  `tasks.create_task` calls, each in its own write transaction like a firing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timezone
from pathlib import Path

from sqlalchemy import func, insert, inspect, literal, select, text
from sqlmodel import SQLModel

import crm_tui.models  # noqa: F401 - registers every table
from crm_tui.clock import utcnow
from crm_tui.db import open_database
from crm_tui.models import Contact, Task
from crm_tui.models.workflow import WorkflowFiring
from crm_tui.services import tasks
from crm_tui.workflows import runner
from crm_tui.workflows.rules import example_text, parse_rules
from crm_tui.workflows.triggers import candidates

TARGET_IDLE_S = 1.0
UTC = timezone.utc


def bring_up_to_models(db) -> list[str]:
    """The bench database may predate tables or columns of the current models (it is built once
    by bench_foundation.py): add what is missing, so the engine can run on it."""
    added = []
    engine = db.engine
    names = set(inspect(engine).get_table_names())
    missing = [t for t in SQLModel.metadata.sorted_tables if t.name not in names]
    if missing:
        SQLModel.metadata.create_all(engine, tables=missing)
        added += [t.name for t in missing]
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in names:
                continue
            have = {c["name"] for c in inspect(conn).get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    kind = column.type.compile(engine.dialect)
                    default = " DEFAULT '{}'" if "JSON" in kind.upper() else (" DEFAULT 0" if not column.nullable else "")
                    conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}{default}'))
                    added.append(f"{table.name}.{column.name}")
    return added


def catch_up(db, rules, now) -> int:
    """Record a firing for every occurrence that matches now, in one INSERT ... SELECT per rule:
    the state of a database whose engine has been running all along."""
    total = 0
    with db.write() as session:
        for rule in rules.rules:
            stmt = candidates(rule.trigger, rule.name, [c.sql() for c in rule.conditions], now=now, zone=UTC)
            sub = stmt.subquery()
            rows = select(literal(rule.name), literal(rule.trigger.entity), sub.c.id, sub.c.occurrence_at,
                          sub.c.occurrence_key, literal(now, WorkflowFiring.fired_at.type), literal("done"), literal(1))
            result = session.execute(insert(WorkflowFiring).from_select(
                ["rule", "entity", "entity_id", "occurrence_at", "occurrence_key", "fired_at", "status", "attempts"],
                rows))
            total += result.rowcount
    return total


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench/out/ours.db")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--firings", type=int, default=1000)
    args = parser.parse_args()
    source = Path(args.db)
    if not source.exists():
        print(f"{source} is missing: build it with bench/bench_foundation.py --out bench/out", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-wf-"))
    try:
        copy = work / "bench.db"
        shutil.copy(source, copy)
        db = open_database(f"sqlite:///{copy}")
        added = bring_up_to_models(db)
        now = utcnow()
        with db.read() as s:
            sizes = {m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in (Contact, Task)}
        print(f"bench_workflows on a copy of {source} ({sizes['contacts']:,} contacts); load {os.getloadavg()[0]:.2f}"
              + (f"; added to the copy: {', '.join(added)}" if added else ""))

        rules = parse_rules(example_text())
        caught = catch_up(db, rules, now)
        idle = [timed(lambda: runner.run(db, rules=rules, now=now, zone=UTC)) for _ in range(args.samples)]
        check = runner.run(db, rules=rules, now=now, zone=UTC)
        assert not check.fired and not check.failed, (check.fired[:3], check.failed[:3])

        def count_contacts():
            with db.read() as s:
                s.scalar(select(func.count()).select_from(Contact))
        base = [timed(count_contacts) for _ in range(args.samples)]
        p50 = statistics.median(idle)
        verdict = "PASS" if p50 < TARGET_IDLE_S else "MISS"
        print(f"run, nothing to fire ({len(rules.rules)} rules, {caught:,} occurrences already fired): "
              f"p50 {p50 * 1000:.0f} ms, max {max(idle) * 1000:.0f} ms  | baseline COUNT(*) contacts p50 "
              f"{statistics.median(base) * 1000:.0f} ms  | target < {TARGET_IDLE_S:.0f} s: {verdict}")

        busy = parse_rules(f"""
[[rule]]
name = "bench-stale"
limit = {args.firings}
trigger = {{ type = "deal_stale", days = 1 }}
actions = [ {{ type = "create_task", title = "Follow up with {{contact.name}} on {{deal.title}}", due = "+1d" }} ]
""")
        report = None

        def fire():
            nonlocal report
            report = runner.run(db, rules=busy, now=now, zone=UTC)
        elapsed = timed(fire)
        assert len(report.fired) == args.firings and not report.failed, (len(report.fired), report.failed[:3])
        actor = runner.system_actor("bench")

        def bare():
            for i in range(args.firings):
                with db.write() as s:
                    tasks.create_task(s, data={"title": f"bare {i}", "due_at": now}, actor=actor, now=now)
        baseline = timed(bare)
        print(f"run with {args.firings:,} firings (one task each): {elapsed:.2f} s, "
              f"{elapsed / args.firings * 1000:.1f} ms a firing  | baseline {args.firings:,} create_task "
              f"transactions {baseline:.2f} s ({elapsed / baseline:.1f}x)")
        db.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
