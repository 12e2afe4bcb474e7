"""The SLA triggers and actions of the workflow engine, on SQLite and PostgreSQL: "sla_due" and
"sla_breached" fire once per target of a case (a new due time is a new occurrence), conditions on
case fields, and the actions assign_team (round robin, least loaded), raise_priority and notify
(the owner, a team), audited as the rule's system actor."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from sqlalchemy import select

from crm_tui.models import AuditEvent, Case, Notification, WorkflowFiring
from crm_tui.services import cases, sla, users
from crm_tui.workflows import runner
from crm_tui.workflows.checks import check_references
from crm_tui.workflows.rules import parse_rules

UTC = timezone.utc


def engine(db, text: str, now, **kwargs) -> runner.RunReport:
    rules = parse_rules(text)
    assert rules.errors == []
    return runner.run(db, rules=rules, now=now, zone=UTC, **kwargs)


def _setup(db, actor, now) -> dict:
    """24x7 UTC hours (business minutes are plain minutes), urgent 30m/4h, normal 2h/1d; the Desk
    team is amy and ben (support), mia manages."""
    ids = {}
    with db.write() as s:
        sla.set_hours(s, days="all", intervals=[("0:00", "24:00")], timezone="UTC", actor=actor, now=now)
        sla.add_policy(s, name="Standard", targets={"urgent": {"first": "30m", "resolve": "4h"},
                                                     "normal": {"first": "2h", "resolve": "1d"}}, actor=actor, now=now)
        for login, role, team in (("amy", "support", "Desk"), ("ben", "support", "Desk"), ("mia", "manager", None)):
            ids[login] = users.create_user(s, data={"login": login, "role": role, "team": team}, actor=actor,
                                           now=now).id
    return ids


def _case(db, actor, at, **kw) -> int:
    with db.write() as s:
        return cases.create_case(s, actor=actor, subject=kw.pop("subject", "Printer on fire"), now=at, **kw).id


def _get(db, case_id) -> Case:
    with db.read() as s:
        case = s.get(Case, case_id)
        s.expunge(case)
        return case


def _notes(db) -> list[tuple[int, str]]:
    with db.read() as s:
        return [tuple(r) for r in s.execute(select(Notification.user_id, Notification.title).order_by(Notification.id))]


WARN = """
[[rule]]
name = "warn"
trigger = { type = "sla_due", within_minutes = 30 }
actions = [ { type = "notify", to = "team", title = "#{case.id} {case.target} due {case.due} ({case.sla})" } ]
"""


def test_sla_due_fires_once_per_target_within_the_window(db, actor, now):
    ids = _setup(db, actor, now)
    first = _case(db, actor, now, team="Desk")  # first response due now+2h, resolution now+1d (8h)
    _case(db, actor, now)  # no team: nobody to notify, but it fires
    assert engine(db, WARN, now).fired == []  # 2h away
    at = now + timedelta(minutes=95)
    report = engine(db, WARN, at)
    assert [o.entity_id for o in report.fired] == [first, first + 1]
    assert report.fired[0].why.startswith("first response due at") and "in 25m" in report.fired[0].why
    assert _notes(db) == [(ids["amy"], f"#{first} first response due 2026-11-23 12:00 (first response due in 25m)"),
                          (ids["ben"], f"#{first} first response due 2026-11-23 12:00 (first response due in 25m)")]
    assert engine(db, WARN, at + timedelta(minutes=5)).fired == []  # exactly once
    # the first response is given: the resolution is the next target, and fires in its own window
    with db.write() as s:
        cases.add_entry(s, first, actor=actor, body="On it", now=at)
    assert engine(db, WARN, now + timedelta(hours=7, minutes=40)).fired[0].why.startswith("resolution due at")
    with db.read() as s:
        keys = s.execute(select(WorkflowFiring.entity_id, WorkflowFiring.occurrence_key)
                         .where(WorkflowFiring.rule == "warn").order_by(WorkflowFiring.id)).all()
    # the other case's first response is breached by then: not "due within", and not fired again
    assert [tuple(k) for k in keys] == [(first, "first"), (first + 1, "first"), (first, "resolution")]


ESCALATE = """
[[rule]]
name = "escalate"
trigger = { type = "sla_breached" }
conditions = [ { field = "priority", op = "!=", value = "urgent" } ]
actions = [
    { type = "raise_priority" },
    { type = "notify", to = "role:manager", title = "breached: #{case.id} now {case.priority}" },
]
"""


def test_sla_breached_raises_the_priority_once_and_restamps(db, actor, now):
    ids = _setup(db, actor, now)
    case_id = _case(db, actor, now, priority="low")  # low: no targets, never breaches
    normal = _case(db, actor, now)
    report = engine(db, ESCALATE, now + timedelta(hours=2, minutes=1))
    assert [(o.entity_id, o.actions) for o in report.fired] == [
        (normal, [f"case #{normal} priority normal -> high", "notify mia: 'breached: #2 now high'"
                  .replace("#2", f"#{normal}")])]
    case = _get(db, normal)
    # high has no targets in this policy: the case has no due times now
    assert (case.priority, case.sla_next_at) == ("high", None)
    assert _notes(db) == [(ids["mia"], f"breached: #{normal} now high")]
    assert engine(db, ESCALATE, now + timedelta(hours=3)).fired == []
    with db.read() as s:
        trail = s.execute(select(AuditEvent.actor, AuditEvent.field, AuditEvent.new_value).where(
            AuditEvent.entity == "case", AuditEvent.entity_id == normal, AuditEvent.field == "priority")).all()
    assert [tuple(t) for t in trail] == [("system:workflow/escalate", "priority", "high")]
    assert _get(db, case_id).priority == "low"


def test_a_breach_after_a_new_due_time_fires_again(db, actor, now):
    _setup(db, actor, now)
    rule = """
[[rule]]
name = "breach-note"
trigger = { type = "sla_breached" }
actions = [ { type = "raise_priority", to = "urgent" } ]
"""
    case_id = _case(db, actor, now)
    assert len(engine(db, rule, now + timedelta(hours=3)).fired) == 1  # normal -> urgent, due now+30m: breached
    case = _get(db, case_id)
    assert case.priority == "urgent" and case.sla_next_at == now + timedelta(minutes=30)
    report = engine(db, rule, now + timedelta(hours=3, minutes=5))
    assert [o.actions for o in report.fired] == [[f"case #{case_id} priority already urgent"]]
    assert engine(db, rule, now + timedelta(hours=4)).fired == []


ROUND_ROBIN = """
[[rule]]
name = "take-it"
trigger = { type = "sla_due", within_minutes = 120 }
conditions = [ { field = "owner", op = "set", value = false }, { field = "team", value = "desk" } ]
actions = [
    { type = "assign_team", how = "HOW" },
    { type = "notify", to = "owner", title = "#{case.id} is yours, {case.assignee}" },
]
"""


def test_assign_round_robin_within_the_team(db, actor, now):
    ids = _setup(db, actor, now)
    made = [_case(db, actor, now, team="Desk") for _ in range(3)]
    _case(db, actor, now, team="Other")  # another team's case: the condition leaves it
    report = engine(db, ROUND_ROBIN.replace("HOW", "round_robin"), now + timedelta(minutes=1))
    assert [o.entity_id for o in report.fired] == made
    assert [_get(db, c).assignee_id for c in made] == [ids["amy"], ids["ben"], ids["amy"]]
    assert _notes(db) == [(ids["amy"], f"#{made[0]} is yours, amy"), (ids["ben"], f"#{made[1]} is yours, ben"),
                          (ids["amy"], f"#{made[2]} is yours, amy")]
    with db.read() as s:
        who = s.scalars(select(AuditEvent.actor).where(AuditEvent.entity == "case", AuditEvent.field == "assignee_id"))
        assert set(who) == {"system:workflow/take-it"}


def test_assign_least_loaded_within_the_team(db, actor, now):
    ids = _setup(db, actor, now)
    for _ in range(2):
        _case(db, actor, now, team="Desk", assignee_id=ids["amy"])
    waiting = _case(db, actor, now, team="Desk")
    closed = _case(db, actor, now, team="Desk", assignee_id=ids["ben"])
    with db.write() as s:
        cases.close(s, closed, actor=actor, now=now)
        cases.set_status(s, waiting, "waiting", actor=actor, now=now)  # paused: not due, not fired
    fresh = [_case(db, actor, now, team="Desk") for _ in range(3)]
    report = engine(db, ROUND_ROBIN.replace("HOW", "least_loaded"), now + timedelta(minutes=1))
    assert [o.entity_id for o in report.fired] == fresh
    # ben 0 open, amy 2: ben, ben (1), then a tie at 2 each goes to the lower id (amy)
    assert [_get(db, c).assignee_id for c in fresh] == [ids["ben"], ids["ben"], ids["amy"]]


def test_a_dry_run_previews_and_writes_nothing(db, actor, now):
    _setup(db, actor, now)
    case_id = _case(db, actor, now, team="Desk")
    report = runner.run(db, rules=parse_rules(ROUND_ROBIN.replace("HOW", "round_robin")), now=now, zone=UTC,
                        dry_run=True)
    assert [p.actions[0] for p in report.previews] == [f"assign case #{case_id} to amy (round robin in Desk)"]
    assert _get(db, case_id).assignee_id is None
    assert report.fired == []


@pytest.mark.parametrize("text, says", [
    ('trigger = { type = "deal_won" }\nactions = [ { type = "raise_priority" } ]',
     "raise_priority changes a case, and a deal rule has none"),
    ('trigger = { type = "sla_breached" }\nactions = [ { type = "raise_priority", to = "asap" } ]',
     "unknown priority 'asap'"),
    ('trigger = { type = "sla_breached" }\nactions = [ { type = "assign_team", how = "random" } ]',
     "how must be round_robin or least_loaded"),
    ('trigger = { type = "sla_due" }\nactions = [ { type = "raise_priority" } ]', "sla_due needs within_minutes"),
    ('trigger = { type = "sla_due", within_minutes = -5 }\nactions = [ { type = "raise_priority" } ]',
     "within_minutes must be a whole number of minutes"),
    ('trigger = { type = "sla_breached" }\nactions = [ { type = "notify", title = "{case.titel}" } ]',
     "unknown field {case.titel}"),
    ('trigger = { type = "sla_breached" }\nconditions = [ { field = "stage", value = "x" } ]\n'
     'actions = [ { type = "raise_priority" } ]', "unknown field 'stage'"),
    ('trigger = { type = "deal_won" }\nactions = [ { type = "notify", to = "team", title = "x" } ]',
     "to = \"team\" is the case's team"),
])
def test_bad_sla_rules_are_named(text, says):
    rules = parse_rules(f'[[rule]]\nname = "r"\n{text}\n')
    assert len(rules.errors) == 1 and says in str(rules.errors[0]), rules.errors


def test_check_names_teams_nobody_is_in(db, actor, now):
    _setup(db, actor, now)
    rules = parse_rules("""
[[rule]]
name = "r"
trigger = { type = "sla_breached" }
actions = [ { type = "assign_team", team = "Nobody" }, { type = "notify", to = "team:desk", title = "x" },
            { type = "notify", to = "team:Ghosts", title = "x" }, { type = "raise_priority", to = "urgent" } ]
""")
    with db.read() as s:
        errors = [e.message for e in check_references(s, rules)]
    assert errors == ["assign_team: no active user is in the team 'Nobody'",
                      "notify: no active user is in the team 'Ghosts'"]


@pytest.mark.parametrize("rule", [ESCALATE, WARN])
def test_the_trigger_queries_read_one_index_range(db, actor, now, rule):
    """Nothing due among many cases: the trigger's query (with its bound time and LIMIT, as the
    engine sends it) walks the index range, never every case in id order."""
    from crm_tui.workflows.triggers import candidates

    from .test_sla import sqlite_plan

    rules = parse_rules(rule)
    with db.read() as s:
        if s.get_bind().dialect.name != "sqlite":
            pytest.skip("SQLite's EXPLAIN QUERY PLAN")
        r = rules.rules[0]
        plan = sqlite_plan(s, candidates(r.trigger, r.name, [c.sql(s) for c in r.conditions], now=now, zone=UTC,
                                         limit=1000))
    assert "SEARCH cases USING INDEX ix_cases_sla_next" in plan and "SCAN cases" not in plan, plan
