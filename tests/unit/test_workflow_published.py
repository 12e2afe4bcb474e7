"""Published rules (issue 8): only a role with workflow.admin publishes the team's rules, invalid
rules are refused with nothing written, the same text again changes nothing, every publish is
audited, and the engine runs the newest published rules when it is given none."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Forbidden, InvalidInput
from crm_tui.models import AuditEvent, Task, WorkflowRuleset
from crm_tui.services import contacts, users
from crm_tui.workflows import published, runner

FIRST = """
[[rule]]
name = "call-leads"
trigger = { type = "lead_created" }
actions = [ { type = "create_task", title = "Call {contact.name}", due = "+1d", assignee = "owner" } ]
"""
SECOND = FIRST.replace("Call {contact.name}", "Ring {contact.name}").replace("call-leads", "ring-leads")
UNKNOWN_STAGE = """
[[rule]]
name = "won-ish"
trigger = { type = "deal_entered_stage", stage = "Nowhere" }
actions = [ { type = "notify", title = "x" } ]
"""


def _rows(db) -> tuple[int, int]:
    with db.read() as s:
        return (s.scalar(select(func.count()).select_from(WorkflowRuleset)),
                s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity == "workflow_rules")))


def test_publishing_needs_the_right_and_valid_rules(db, actor, now):
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "role": "sales"}, actor=actor, now=now)
    with db.read() as s:
        sam = users.actor_for(s, login="sam", now=now)
        assert published.current(s) is None and published.rules_in_force(s)[0].rules == []

    with pytest.raises(Forbidden, match="needs the admin role"), db.write() as s:
        published.publish(s, text=FIRST, actor=sam, now=now)
    with pytest.raises(InvalidInput, match=r"^not published: line 2, rule 'won-ish': no stage named 'Nowhere'"), \
            db.write() as s:
        published.publish(s, text=UNKNOWN_STAGE, actor=actor, now=now)
    with pytest.raises(InvalidInput, match="not published: line 1: not valid TOML"), db.write() as s:
        published.publish(s, text="[[rule]\nname=", actor=actor, now=now)
    assert _rows(db) == (0, 0)

    with db.write() as s:
        first, changed = published.publish(s, text=FIRST, actor=actor, source="/home/ann/workflows.toml", now=now)
    assert changed and first.rule_count == 1 and first.published_by == actor.login
    with db.write() as s:
        again, changed = published.publish(s, text=FIRST, actor=actor, now=now)
    assert not changed and again.id == first.id and _rows(db) == (1, 1)
    with db.write() as s:
        second, changed = published.publish(s, text=SECOND, actor=actor, now=now)
    assert changed and _rows(db) == (2, 2)
    with db.read() as s:
        rules, found = published.rules_in_force(s)
        assert found.id == second.id and [r.name for r in rules.rules] == ["ring-leads"]
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "workflow_rules")
                          .order_by(AuditEvent.id.desc())).first()
        assert (event.actor, event.action, event.field) == (actor.login, "publish", "rules")
        assert event.old_value.startswith(first.digest[:12]) and event.new_value.startswith(second.digest[:12])


def test_the_engine_runs_the_newest_published_rules(db, actor, now):
    with db.write() as s:
        contacts.create_contact(s, data={"first_name": "Lee", "owner_id": actor.user_id}, actor=actor, now=now)
    assert runner.run(db, now=now).fired == []  # nothing published: nothing runs
    with db.write() as s:
        published.publish(s, text=FIRST, actor=actor, now=now)
        published.publish(s, text=SECOND, actor=actor, now=now)
    report = runner.run(db, now=now, runner="ann@test")
    assert [f.rule for f in report.fired] == ["ring-leads"]
    with db.read() as s:
        assert list(s.scalars(select(Task.title))) == ["Ring Lee"]
