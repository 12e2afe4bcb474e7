"""deal_entered_stage fires for every entry into the stage within the window, also one the deal
has left again before the engine ran (the audit trail of stage moves has it)."""

from __future__ import annotations

from datetime import timedelta, timezone

from sqlalchemy import func, select, update

from crm_tui.models import Deal, Stage, WorkflowFiring
from crm_tui.services import contacts, deals
from crm_tui.workflows import runner
from crm_tui.workflows.rules import parse_rules

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

QUALIFIED = """
[[rule]]
name = "qualified"
trigger = { type = "deal_entered_stage", stage = "Qualified" }
actions = [ { type = "create_task", title = "Qualified: {deal.title}", due = "+1d" } ]
"""


def engine(db, now) -> list[tuple[int, object]]:
    rules = parse_rules(QUALIFIED)
    assert rules.errors == []
    report = runner.run(db, rules=rules, now=now, zone=timezone.utc)
    assert report.failed == []
    return [(f.rule, f.entity_id) for f in report.fired]


def stage(db, name: str) -> int:
    with db.read() as s:
        return s.scalar(select(Stage.id).where(Stage.name == name).order_by(Stage.id))


def new_deal(db, actor, at, title: str, **data):
    with db.write() as s:
        c = contacts.create_contact(s, data={"first_name": "Ann", "last_name": title}, actor=actor, now=at)
        return deals.create_deal(s, data={"title": title, "amount": "100", "contact_id": c.id, **data},
                                 actor=actor, now=at)


def move(db, actor, deal_id: int, stage_name: str, at) -> None:
    with db.write() as s:
        deals.move_deal(s, deal_id=deal_id, stage_id=stage(db, stage_name), actor=actor, now=at)


def firings(db, deal_id: int) -> list:
    with db.read() as s:
        return list(s.scalars(select(WorkflowFiring.occurrence_at).where(
            WorkflowFiring.rule == "qualified", WorkflowFiring.entity_id == deal_id,
            WorkflowFiring.status == "done").order_by(WorkflowFiring.occurrence_at)))


def test_a_deal_passing_through_the_stage_between_two_runs_fires_once(db, actor, now):
    deal = new_deal(db, actor, now - 5 * DAY, "Passing")
    assert engine(db, now - 4 * DAY) == []
    move(db, actor, deal.id, "Qualified", now - 3 * DAY)
    move(db, actor, deal.id, "Proposal", now - 3 * DAY + HOUR)

    assert engine(db, now) == [("qualified", deal.id)]
    assert firings(db, deal.id) == [now - 3 * DAY]
    assert engine(db, now) == []
    assert engine(db, now + HOUR) == []
    assert firings(db, deal.id) == [now - 3 * DAY]


def test_an_entry_fired_while_in_the_stage_does_not_fire_again_after_leaving(db, actor, now):
    deal = new_deal(db, actor, now - 5 * DAY, "Stayed")
    move(db, actor, deal.id, "Qualified", now - 3 * DAY)
    assert engine(db, now - 2 * DAY) == [("qualified", deal.id)]   # the current-stay path
    move(db, actor, deal.id, "Proposal", now - DAY)
    assert engine(db, now) == []                                    # the audit path: same occurrence


def test_a_deal_created_in_the_stage_fires_and_again_on_each_new_entry(db, actor, now):
    deal = new_deal(db, actor, now - 2 * DAY, "Born qualified", stage_id=stage(db, "Qualified"))
    with db.read() as s:
        assert deals.get_deal(s, deal_id=deal.id).stage_id == stage(db, "Qualified")
    assert engine(db, now - DAY) == [("qualified", deal.id)]
    assert engine(db, now - DAY) == []

    # out and back in: a new entry
    move(db, actor, deal.id, "Proposal", now - DAY + HOUR)
    move(db, actor, deal.id, "Qualified", now - DAY + 2 * HOUR)
    assert engine(db, now) == [("qualified", deal.id)]
    assert firings(db, deal.id) == [now - 2 * DAY, now - DAY + 2 * HOUR]

    # in and out again between two runs: fires for that entry too, once
    move(db, actor, deal.id, "Proposal", now + HOUR)
    move(db, actor, deal.id, "Qualified", now + 2 * HOUR)
    move(db, actor, deal.id, "New", now + 3 * HOUR)
    assert engine(db, now + 4 * HOUR) == [("qualified", deal.id)]
    assert engine(db, now + 5 * HOUR) == []
    assert firings(db, deal.id) == [now - 2 * DAY, now - DAY + 2 * HOUR, now + 2 * HOUR]


def test_a_deal_created_in_the_stage_and_moved_out_before_the_run_fires(db, actor, now):
    deal = new_deal(db, actor, now - 2 * DAY, "Quick", stage_id=stage(db, "Qualified"))
    move(db, actor, deal.id, "Proposal", now - DAY)
    assert engine(db, now) == [("qualified", deal.id)]
    assert firings(db, deal.id) == [now - 2 * DAY]
    assert engine(db, now) == []


def test_entries_outside_the_window_do_not_fire(db, actor, now):
    deal = new_deal(db, actor, now - 30 * DAY, "Old")
    move(db, actor, deal.id, "Qualified", now - 20 * DAY)
    move(db, actor, deal.id, "Proposal", now - 19 * DAY)
    other = new_deal(db, actor, now - 30 * DAY, "Old born", stage_id=stage(db, "Qualified"))
    move(db, actor, other.id, "Proposal", now - 2 * DAY)
    assert engine(db, now) == []
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(WorkflowFiring)) == 0


def test_two_entries_between_two_runs_fire_twice(db, actor, now):
    deal = new_deal(db, actor, now - 5 * DAY, "Back and forth")
    for hours, name in ((1, "Qualified"), (2, "Proposal"), (3, "Qualified"), (4, "New")):
        move(db, actor, deal.id, name, now - DAY + hours * HOUR)
    assert engine(db, now) == [("qualified", deal.id), ("qualified", deal.id)]
    assert firings(db, deal.id) == [now - DAY + HOUR, now - DAY + 3 * HOUR]
    assert engine(db, now) == []


def test_a_seeded_deal_entered_after_its_creation_fires_once(db, actor, now):
    """Demo and imported deals may enter their first stage after created_at; once fired at that
    entry, leaving the stage must not fire the same stay again at created_at."""
    deal = new_deal(db, actor, now - 3 * DAY, "Seeded", stage_id=stage(db, "Qualified"))
    with db.write() as s:
        s.execute(update(Deal).where(Deal.id == deal.id).values(stage_entered_at=now - 2 * DAY))
    assert engine(db, now - DAY) == [("qualified", deal.id)]
    move(db, actor, deal.id, "Proposal", now - DAY + HOUR)
    assert engine(db, now) == []
    assert firings(db, deal.id) == [now - 2 * DAY]
