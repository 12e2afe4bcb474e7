"""Five OS processes running the engine at the same moment on one database (SQLite file and
PostgreSQL): every expected task exists exactly once, and every firing is recorded once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.models import Notification, Task, WorkflowFiring
from crm_tui.services import deals, tasks
from tests.unit import proc_workers
from tests.unit.test_workflow_engine import DEAL_EVENTS, LEADS, OVERDUE, STALE, _deal, seed_team

pytestmark = pytest.mark.slow
PROCESSES = 5
RULES = STALE.replace(', stage = "New"', "") + DEAL_EVENTS + LEADS + OVERDUE


def run_engine(url: str, text: str, now, barrier, queue) -> None:
    """Child process: parse the rules, wait for the siblings, run the engine once."""
    from datetime import timezone

    from crm_tui.db import open_database
    from crm_tui.workflows import runner
    from crm_tui.workflows.rules import parse_rules

    try:
        db = open_database(url, migrate=False)
        rules = parse_rules(text)
        barrier.wait(timeout=60)
        report = runner.run(db, rules=rules, now=now, zone=timezone.utc)
        db.dispose()
        queue.put((len(report.fired), report.skipped, [f.error for f in report.failed]))
    except BaseException as exc:  # noqa: BLE001 - the parent asserts on what we report
        queue.put((0, 0, [f"{type(exc).__name__}: {exc}"]))


def test_five_processes_at_once_fire_each_occurrence_once(db, db_url, actor, now):
    from crm_tui.services import contacts
    from crm_tui.services.common import system_actor

    seed_team(db, actor, now)
    day = timedelta(days=1)
    made = [_deal(db, actor, now - 20 * day, title=f"Deal {i}") for i in range(12)]
    with db.write() as s:
        for deal in made[:3]:
            deals.mark_won(s, deal_id=deal.id, actor=actor, now=now - day)
        for deal in made[3:5]:
            deals.mark_lost(s, deal_id=deal.id, reason="price", actor=actor, now=now - day)
        for i in range(6):
            contacts.create_contact(s, data={"first_name": f"Lead{i}", "source": "web"}, actor=system_actor("import"),
                                    now=now - day)
        for i in range(4):
            tasks.create_task(s, data={"title": f"Late {i}", "due_at": now - 8 * day}, actor=actor, now=now - 9 * day)
    # 7 stale + 3 won + 2 lost + 6 leads + 4 late (the new-lead call tasks are not late)
    expected_firings = 7 + 3 + 2 + 6 + 4

    reports = proc_workers.run_in_processes(run_engine, [(db_url, RULES, now)] * PROCESSES, timeout=180)

    assert [e for _, _, errors in reports for e in errors] == []
    assert sum(fired for fired, _, _ in reports) == expected_firings
    with db.read() as s:
        firings = s.scalar(select(func.count()).select_from(WorkflowFiring))
        per_title = s.execute(select(Task.title, Task.deal_id, Task.contact_id, func.count())
                              .where(Task.origin == "rule")
                              .group_by(Task.title, Task.deal_id, Task.contact_id)).all()
        notes = s.scalar(select(func.count()).select_from(Notification))
    assert firings == expected_firings
    assert [row for row in per_title if row[-1] != 1] == []
    assert len(per_title) == 7 + 3 + 2 + 6  # stale, kick-off, win-back and lead calls: one task each
    assert notes == 4  # one per late task, to the one manager
