"""The app's hook: the engine runs in a thread at start (and on each tick), the user's
notifications come up as toasts, and a broken rule is one warning naming it, not a crash."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_tui.app import CrmApp
from crm_tui.models import Task, WorkflowRuleset
from crm_tui.services import tasks
from tests.tui.conftest import settle

GRAB_ALL = """
[[rule]]
name = "grab"
trigger = { type = "task_overdue", days = 1 }
actions = [ { type = "create_task", title = "Draft rule fired", due = "+1h" } ]
"""
RULES = """
[[rule]]
name = "nag"
trigger = { type = "task_overdue", days = 1 }
conditions = [ { field = "origin", op = "=", value = "manual" } ]
actions = [
    { type = "notify", to = "owner", title = "Overdue: {task.title}", body = "{task.days_overdue} days late" },
    { type = "create_task", title = "Sort out {task.title}", due = "+1h" },
]

[[rule]]
name = "typo"
trigger = { type = "deal_stale", dayz = 3 }
actions = [ { type = "notify", title = "x" } ]
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_engine_runs_in_the_app_and_notifications_become_toasts(db, actor, now):
    # a rules file in the config dir is a draft: the app runs what is published in the database
    (Path(os.environ["CRM_CONFIG_DIR"])).mkdir(parents=True, exist_ok=True)
    (Path(os.environ["CRM_CONFIG_DIR"]) / "workflows.toml").write_text(GRAB_ALL, encoding="utf-8")
    with db.write() as s:
        # published by an older crm that knew the setting 'dayz': this one reports it and runs the rest
        s.add(WorkflowRuleset(text=RULES, digest="0" * 64, rule_count=2, published_by=actor.login,
                              published_at=now - timedelta(days=5)))
        tasks.create_task(s, data={"title": "Send quote", "due_at": now - timedelta(days=3)}, actor=actor,
                          now=now - timedelta(days=4))
    clock = {"now": now}
    app = CrmApp(db, actor, clock=lambda: clock["now"], welcome=False, inbox_refresh_s=None, workflow_interval_s=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        toasts = [(n.title, n.message) for n in app._notifications]
        assert ("Overdue: Send quote", "3 days late") in toasts
        [warning] = [m for t, m in toasts if t == "Workflow rules"]
        assert "line 13, rule 'typo': unknown setting 'dayz'" in warning

        # a later tick: a second task has fallen overdue; the first one does not nag again
        with db.write() as s:
            tasks.create_task(s, data={"title": "Call Bo", "due_at": now}, actor=actor, now=now)
        clock["now"] = now + timedelta(days=2)
        app.run_workflows()
        await settle(app, pilot)
        toasts = [(n.title, n.message) for n in app._notifications]
        assert [t for t, _ in toasts if t.startswith("Overdue")] == ["Overdue: Send quote", "Overdue: Call Bo"]
        assert len([t for t, _ in toasts if t == "Workflow rules"]) == 1  # said once, not every tick
    with db.read() as s:
        made = list(s.scalars(select(Task.title).where(Task.rule_name == "nag").order_by(Task.id)))
        assert not list(s.scalars(select(Task.id).where(Task.title == "Draft rule fired")))  # the draft never ran
    assert made == ["Sort out Send quote", "Sort out Call Bo"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_rules_file_nobody_published_is_named_once_and_runs_nothing(db, actor, now):
    """Rules written before they had to be published (or a draft) do not run; the app says so once."""
    (Path(os.environ["CRM_CONFIG_DIR"])).mkdir(parents=True, exist_ok=True)
    (Path(os.environ["CRM_CONFIG_DIR"]) / "workflows.toml").write_text(GRAB_ALL, encoding="utf-8")
    with db.write() as s:
        tasks.create_task(s, data={"title": "Send quote", "due_at": now - timedelta(days=3)}, actor=actor,
                          now=now - timedelta(days=4))
    app = CrmApp(db, actor, clock=lambda: now, welcome=False, inbox_refresh_s=None, workflow_interval_s=0)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        app.run_workflows()
        await settle(app, pilot)
        warnings = [m for n in app._notifications if n.title == "Workflow rules" for m in [n.message]]
        assert len(warnings) == 1 and "workflows.toml is not published" in warnings[0]
        assert "crm workflows publish" in warnings[0]
    with db.read() as s:
        assert not list(s.scalars(select(Task.id).where(Task.title == "Draft rule fired")))
