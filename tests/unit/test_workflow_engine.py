"""The workflow engine against a real database: every trigger and action with a frozen clock,
conditions in SQL, atomic firings, retries, the audit's system actor, and ten runs in a row."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crm_tui.models import Activity, AuditEvent, Contact, Notification, Task, WorkflowFiring
from crm_tui.models.workflow import EmailOutbox
from crm_tui.services import activities, contacts, deals, tasks, users
from crm_tui.services import workflows as workflow_service
from crm_tui.services.common import system_actor
from crm_tui.workflows import runner
from crm_tui.workflows.rules import parse_rules
from crm_tui.workflows.triggers import MAX_ATTEMPTS

DAY = timedelta(days=1)


def seed_team(db, actor, now) -> dict:
    """bob and cara sell, mia manages; ann (the actor) is the admin."""
    out = {"ann": actor.user_id}
    with db.write() as s:
        for login, role in (("bob", "sales"), ("cara", "sales"), ("mia", "manager")):
            out[login] = users.create_user(s, data={"login": login, "name": login.title(), "role": role,
                                                    "email": f"{login}@example.com"}, actor=actor, now=now).id
    return out


def engine(db, text: str, now, **kwargs) -> runner.RunReport:
    rules = parse_rules(text)
    assert rules.errors == []
    return runner.run(db, rules=rules, now=now, zone=_utc(), **kwargs)


def _utc():
    from datetime import timezone

    return timezone.utc


def _tasks(db, **where) -> list[Task]:
    with db.read() as s:
        found = list(s.scalars(select(Task).where(*(getattr(Task, k) == v for k, v in where.items())).order_by(Task.id)))
        s.expunge_all()
        return found


def _count(db, model, *conds) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*conds))


def _deal(db, actor, at, title="Acme renewal", amount="5000", **data):
    with db.write() as s:
        # each deal with its own Ann, as before duplicates were refused: here they are on purpose
        ann = contacts.create_contact(s, data={"first_name": "Ann", "last_name": "Lee", "emails": ["ann@acme.com"]},
                                      actor=actor, now=at, allow_duplicate=True)
        return deals.create_deal(s, data={"title": title, "amount": amount, "contact_id": ann.id, **data},
                                 actor=actor, now=at)


STALE = """
[[rule]]
name = "stale"
trigger = { type = "deal_stale", days = 14, stage = "New" }
conditions = [ { field = "amount", op = ">=", value = 1000 } ]
actions = [ { type = "create_task", title = "Follow up with {contact.name} on {deal.title}", due = "tomorrow 9am" } ]
"""


def test_stale_deal_fires_once_per_stay_in_a_stage(db, actor, now):
    big = _deal(db, actor, now - 20 * DAY)
    _deal(db, actor, now - 20 * DAY, title="Tiny", amount="10")  # fails the amount condition
    fresh = _deal(db, actor, now - 3 * DAY, title="Fresh")       # not stale yet

    report = engine(db, STALE, now)
    assert [(f.rule, f.entity_id) for f in report.fired] == [("stale", big.id)]
    [task] = _tasks(db, rule_name="stale")
    assert task.title == "Follow up with Ann Lee on Acme renewal"
    assert task.due_at == (now + DAY).replace(hour=9)
    assert (task.assignee_id, task.deal_id, task.origin) == (actor.user_id, big.id, "rule")
    assert engine(db, STALE, now).fired == []

    # moved out and back: a new stay in New, stale again 14 days later, is a new occurrence
    with db.write() as s:
        deals.move_deal(s, deal_id=big.id, stage_id=2, actor=actor, now=now)
        deals.move_deal(s, deal_id=big.id, stage_id=1, actor=actor, now=now + DAY)
    assert engine(db, STALE, now + 10 * DAY).fired == []
    assert [f.entity_id for f in engine(db, STALE, now + 16 * DAY).fired] == [big.id, fresh.id]
    assert len(_tasks(db, rule_name="stale")) == 3


DEAL_EVENTS = """
[[rule]]
name = "proposal"
trigger = { type = "deal_entered_stage", stage = "proposal" }
actions = [ { type = "create_task", title = "Proposal read? {deal.title}", due = "+3d" } ]

[[rule]]
name = "won"
trigger = { type = "deal_won" }
actions = [
    { type = "create_task", title = "Kick-off with {contact.first_name}", due = "+2d", assignee = "user:bob" },
    { type = "set_field", field = "lifecycle", value = "customer" },
    { type = "set_field", field = "custom.won_deal", value = "{deal.title}" },
    { type = "add_tag", tag = "customer-{today}" },
    { type = "log_note", subject = "Won", body = "{deal.title} won for {deal.amount}" },
]

[[rule]]
name = "lost"
trigger = { type = "deal_lost", within_days = 3 }
actions = [ { type = "create_task", title = "Win-back {deal.title} ({deal.lost_reason})", due = "+90d" } ]
"""


def test_deal_entered_stage_won_and_lost(db, actor, now):
    team = seed_team(db, actor, now)
    won = _deal(db, actor, now - 30 * DAY, title="Won deal")
    lost = _deal(db, actor, now - 30 * DAY, title="Lost deal")
    old_loss = _deal(db, actor, now - 30 * DAY, title="Long lost")
    proposed = _deal(db, actor, now - 30 * DAY, title="Proposed")
    with db.write() as s:
        deals.move_deal(s, deal_id=proposed.id, stage_id=3, actor=actor, now=now - 2 * DAY)
        deals.move_deal(s, deal_id=won.id, stage_id=3, actor=actor, now=now - 2 * DAY)
        deals.mark_won(s, deal_id=won.id, actor=actor, now=now - DAY)
        deals.mark_lost(s, deal_id=lost.id, reason="price", actor=actor, now=now - DAY)
        deals.mark_lost(s, deal_id=old_loss.id, reason="timing", actor=actor, now=now - 10 * DAY)

    report = engine(db, DEAL_EVENTS, now)
    # the won deal went through Proposal between two runs: that entry counts too
    assert sorted((f.rule, f.entity_id) for f in report.fired) == [("lost", lost.id), ("proposal", won.id),
                                                                    ("proposal", proposed.id), ("won", won.id)]
    assert [t.title for t in _tasks(db, rule_name="proposal")] == ["Proposal read? Won deal", "Proposal read? Proposed"]
    [kickoff] = _tasks(db, rule_name="won")
    assert (kickoff.title, kickoff.assignee_id, kickoff.due_at) == ("Kick-off with Ann", team["bob"], now + 2 * DAY)
    [winback] = _tasks(db, rule_name="lost")
    assert (winback.title, winback.due_at) == ("Win-back Lost deal (price)", now + 90 * DAY)
    with db.read() as s:
        customer = contacts.get_contact(s, contact_id=won.contact_id)
        note = s.scalars(select(Activity).where(Activity.kind == "note", Activity.deal_id == won.id)).one()
        s.expunge_all()
    assert customer.lifecycle == "customer"
    assert customer.custom == {"won_deal": "Won deal"}
    assert customer.tags == ["customer-2026-11-23"]
    assert (note.subject, note.body, note.user_id) == ("Won", "Won deal won for $5,000.00", None)
    assert engine(db, DEAL_EVENTS, now + DAY).fired == []


LEADS = """
[[rule]]
name = "new-lead"
trigger = { type = "lead_created", within_days = 2 }
conditions = [ { field = "owner", op = "set", value = false }, { field = "source", op = "in", value = ["web", "event"] } ]
actions = [
    { type = "assign_owner", to = "role:sales" },
    { type = "create_task", title = "Call {contact.name} within a day", due = "+1d", assignee = "owner" },
]
"""


def test_new_leads_go_round_robin_to_sales_with_a_call_task(db, actor, now):
    team = seed_team(db, actor, now)
    importer = system_actor("import")
    with db.write() as s:
        made = [contacts.create_contact(s, data={"first_name": f"Lead{i}", "source": source}, actor=importer,
                                        now=now - DAY) for i, source in enumerate(("web", "event", "web", "cold"))]
        contacts.create_contact(s, data={"first_name": "Old", "source": "web"}, actor=importer, now=now - 5 * DAY)
        contacts.create_contact(s, data={"first_name": "Owned", "source": "web"}, actor=actor, now=now - DAY)

    report = engine(db, LEADS, now)
    assert [f.entity_id for f in report.fired] == [c.id for c in made[:3]]
    with db.read() as s:
        owners = [s.get(Contact, c.id).owner_id for c in made]
    assert owners == [team["bob"], team["cara"], team["bob"], None]
    calls = _tasks(db, rule_name="new-lead")
    assert [(t.contact_id, t.assignee_id) for t in calls] == [(c.id, o) for c, o in zip(made[:3], owners[:3])]


INACTIVE_AND_DATES = """
[[rule]]
name = "check-in"
trigger = { type = "customer_inactive", days = 90 }
actions = [ { type = "create_task", title = "Check in with {contact.name}", due = "+1d" } ]

[[rule]]
name = "renewal"
trigger = { type = "date_field", field = "contact.custom.renewal_date", days_before = 30 }
actions = [ { type = "create_task", title = "Renewal on {date} for {contact.name}", due = "+1d" } ]
"""


def test_inactive_customers_and_a_date_field_coming_round(db, actor, now):
    with db.write() as s:
        quiet = contacts.create_contact(s, data={"first_name": "Quiet", "lifecycle": "customer"}, actor=actor,
                                        now=now - 200 * DAY)
        called = contacts.create_contact(s, data={"first_name": "Called", "lifecycle": "customer"}, actor=actor,
                                         now=now - 200 * DAY)
        activities.log_activity(s, data={"kind": "call", "contact_id": called.id, "occurred_at": now - 5 * DAY},
                                actor=actor, now=now - 5 * DAY)
        contacts.create_contact(s, data={"first_name": "Lead", "lifecycle": "lead"}, actor=actor, now=now - 200 * DAY)
        soon = contacts.create_contact(s, data={"first_name": "Soon", "custom": {"renewal_date": "2026-12-13"}},
                                       actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Later", "custom": {"renewal_date": "2027-01-30"}},
                                actor=actor, now=now)
        contacts.create_contact(s, data={"first_name": "Junk", "custom": {"renewal_date": "soon"}}, actor=actor, now=now)

    report = engine(db, INACTIVE_AND_DATES, now)
    assert sorted((f.rule, f.entity_id) for f in report.fired) == [("check-in", quiet.id), ("renewal", soon.id)]
    assert [t.title for t in _tasks(db, rule_name="renewal")] == ["Renewal on 2026-12-13 for Soon"]
    # a call resets the clock: the next check-in is a new occurrence, 90 days after it
    with db.write() as s:
        activities.log_activity(s, data={"kind": "call", "contact_id": quiet.id, "occurred_at": now},
                                actor=actor, now=now)
    assert engine(db, INACTIVE_AND_DATES, now + 30 * DAY).fired == []
    later = engine(db, INACTIVE_AND_DATES, now + 91 * DAY).fired
    assert sorted(f.entity_id for f in later if f.rule == "check-in") == [quiet.id, called.id]
    # the renewal date moved a year on: it comes round again
    with db.write() as s:
        contacts.update_contact(s, contact_id=soon.id, changes={"custom": {"renewal_date": "2027-12-13"}}, actor=actor,
                                now=now)
    assert [f.entity_id for f in engine(db, INACTIVE_AND_DATES, now + 366 * DAY).fired if f.rule == "renewal"] == [
        soon.id]


OVERDUE = """
[[rule]]
name = "escalate"
trigger = { type = "task_overdue", days = 7 }
conditions = [ { field = "task.origin", op = "=", value = "manual" } ]
actions = [
    { type = "notify", to = "role:manager", title = "{task.days_overdue} days overdue: {task.title}", body = "{owner.name}" },
    { type = "assign_owner", to = "user:cara" },
]
"""


def test_overdue_task_notifies_managers_once_and_is_reassigned(db, actor, now):
    team = seed_team(db, actor, now)
    with db.write() as s:
        late = tasks.create_task(s, data={"title": "Send contract", "due_at": now - 10 * DAY,
                                          "assignee_id": team["bob"]}, actor=actor, now=now - 20 * DAY)
        tasks.create_task(s, data={"title": "Recent", "due_at": now - 2 * DAY}, actor=actor, now=now - 20 * DAY)
        snoozed = tasks.create_task(s, data={"title": "Snoozed", "due_at": now - 10 * DAY}, actor=actor,
                                    now=now - 20 * DAY)
        tasks.snooze_task(s, task_id=snoozed.id, until=now + DAY, actor=actor, now=now)

    assert [f.entity_id for f in engine(db, OVERDUE, now).fired] == [late.id]
    assert _tasks(db, id=late.id)[0].assignee_id == team["cara"]
    with db.write() as s:
        first = workflow_service.deliver_notifications(s, user_id=team["mia"], now=now)
        again = workflow_service.deliver_notifications(s, user_id=team["mia"], now=now)
    assert [(n.title, n.body, n.entity, n.entity_id) for n in first] == [
        ("10 days overdue: Send contract", "Bob", "task", late.id)]
    assert again == []
    assert engine(db, OVERDUE, now + timedelta(hours=1)).fired == []
    with db.read() as s:
        who = set(s.scalars(select(AuditEvent.actor).where(AuditEvent.entity == "task", AuditEvent.entity_id == late.id,
                                                           AuditEvent.action == "reassign")))
    assert who == {"system:workflow/escalate"}


def test_dry_run_shows_what_would_fire_and_writes_nothing(db, actor, now):
    deal = _deal(db, actor, now - 20 * DAY)
    text = STALE.replace("actions = [", 'actions = [ { type = "send_email", to = "contact", subject = "Hi '
                                        '{contact.first_name}", body = "About {deal.title}" },')
    report = engine(db, text, now, dry_run=True)
    [preview] = report.previews
    assert preview.entity_id == deal.id and "in its stage since" in preview.why
    assert preview.actions[0].startswith("email to ann@acme.com (SMTP is not configured")
    assert "Subject: Hi Ann" in preview.actions[0] and "About Acme renewal" in preview.actions[0]
    assert preview.actions[1].startswith("create task 'Follow up with Ann Lee on Acme renewal'")
    assert _count(db, WorkflowFiring) == _count(db, Task) == 0
    # for real, with SMTP off: the task is made, the email is not queued
    [fired] = engine(db, text, now).fired
    assert "not sent: SMTP is not configured" in fired.actions[0]
    assert _count(db, EmailOutbox) == 0 and _count(db, Task) == 1


FAILING = """
[[rule]]
name = "half"
trigger = { type = "deal_stale", days = 14 }
actions = [
    { type = "create_task", title = "First {deal.title}" },
    { type = "create_task", title = "Second", assignee = "user:nobody" },
]
"""


def test_a_failing_action_rolls_back_the_whole_firing_and_is_retried_a_few_times(db, actor, now):
    deal = _deal(db, actor, now - 20 * DAY)
    for attempt in range(1, MAX_ATTEMPTS + 2):
        report = engine(db, FAILING, now + attempt * timedelta(minutes=5))
        if attempt <= MAX_ATTEMPTS:
            assert [f.error for f in report.failed] == ["no active user 'nobody'"]
        else:
            assert report.failed == []  # gave up: it stays in the log as an error
    assert _count(db, Task) == 0  # the first action never committed
    with db.read() as s:
        [firing] = workflow_service.list_firings(s).items
    assert (firing.entity_id, firing.status, firing.attempts, firing.actions) == (deal.id, "error", MAX_ATTEMPTS, [])
    # the user exists now: a fixed rule (new name) fires
    with db.write() as s:
        users.create_user(s, data={"login": "nobody"}, actor=actor, now=now)
    assert len(engine(db, FAILING.replace('"half"', '"half-2"'), now).fired) == 1
    assert _count(db, Task) == 2


def test_ten_runs_in_a_row_fire_each_occurrence_once(db, actor, now):
    seed_team(db, actor, now)
    _deal(db, actor, now - 20 * DAY)
    won = _deal(db, actor, now - 20 * DAY, title="Won")
    with db.write() as s:
        deals.mark_won(s, deal_id=won.id, actor=actor, now=now - DAY)
    text = STALE.replace(', stage = "New"', "") + DEAL_EVENTS + OVERDUE
    with db.write() as s:
        tasks.create_task(s, data={"title": "Late", "due_at": now - 9 * DAY}, actor=actor, now=now - 10 * DAY)
    counts = []
    for i in range(10):
        engine(db, text, now + i * timedelta(minutes=1))
        counts.append((_count(db, Task), _count(db, WorkflowFiring), _count(db, Notification), _count(db, Activity)))
    assert len(set(counts)) == 1, counts
    assert counts[0][1] == 3  # the stale deal, the won deal, the late task
    with db.read() as s:
        per_key = s.execute(select(WorkflowFiring.rule, WorkflowFiring.entity_id, func.count())
                            .group_by(WorkflowFiring.rule, WorkflowFiring.entity_id)).all()
    assert all(n == 1 for *_, n in per_key)


def test_conditions_filter_in_sql(db, actor, now):
    seed_team(db, actor, now)
    deal = _deal(db, actor, now - 20 * DAY)
    with db.write() as s:
        contacts.update_contact(s, contact_id=deal.contact_id, changes={"custom": {"tier": "gold"}, "tags": ["vip"]},
                                actor=actor, now=now)
        pipeline = deals.get_deal(s, deal_id=deal.id).pipeline_name
    good = {"owner": "ann", "stage": "new", "pipeline": pipeline, "contact.custom.tier": "Gold", "tag": "vip"}
    for bad in good:
        conds = [f'{{ field = "{k}", op = "=", value = "{v if k != bad else "zzz"}" }}' for k, v in good.items()]
        text = STALE.replace('conditions = [', "conditions = [" + ", ".join(conds) + ", ")
        text = text.replace('"stale"', f'"stale-{bad}"')
        assert engine(db, text, now).fired == [], bad
        assert len(engine(db, text.replace('"zzz"', f'"{good[bad]}"'), now).fired) == 1, bad
