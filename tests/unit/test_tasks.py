"""Tasks service: natural due times, completion, recurrence (incl. across DST), snooze, lists, counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import AuditEvent, Task
from crm_tui.services import contacts, tasks, users

UTC = timezone.utc


def _counts(db) -> tuple[int, ...]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Task, AuditEvent))


def _task(db, actor, now, **data):
    with db.write() as s:
        return tasks.create_task(s, data={"title": "Call back", **data}, actor=actor, now=now)


def _complete(db, actor, now, task_id):
    with db.write() as s:
        return tasks.complete_task(s, task_id=task_id, actor=actor, now=now)


def _titles(page) -> list[str]:
    return [t.title for t in page.items]


def test_create_reads_natural_due_times_and_refuses_bad_input(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
    task = _task(db, actor, now, due_at="tomorrow 9am", contact_id=ada.id, notes="about pricing")
    assert task.due_at == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert (task.assignee_login, task.related, task.recurrence, task.origin) == ("ann", "contact: Ada", None, "manual")
    with db.read() as s:
        row = s.get(Task, task.id)
        assert (row.due_at, row.created_by_id, row.done_at) == (task.due_at, actor.user_id, None)
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "task")).one()
        assert event.new_value == "Call back (due 2026-11-24 09:00 UTC)"

    before = _counts(db)
    for data, error, message in (
        ({"due_at": "blorp"}, InvalidInput, "can't read 'blorp' as a date"),
        ({"due_at": "tomorrow", "recurrence": "every blue moon"}, InvalidInput, "can't read recurrence"),
        ({"due_at": "tomorrow", "recurrence": "FREQ=SOMETIMES"}, InvalidInput, "can't read recurrence"),
        ({"recurrence": "every monday"}, InvalidInput, "needs a due time"),
        ({"contact_id": 99999}, NotFound, "no contact with id 99999"),
        ({"title": ""}, InvalidInput, "task title is required"),
    ):
        with pytest.raises(error, match=message):
            with db.write() as s:
                tasks.create_task(s, data={"title": "Call back", **data}, actor=actor, now=now)
        assert _counts(db) == before, data


def test_complete_and_recurring_series(db, actor, now):
    plain = _task(db, actor, now, due_at="tomorrow 9am")
    done, following = _complete(db, actor, now, plain.id)
    assert (done.done_at, following) == (now, None)
    with pytest.raises(InvalidInput, match="already done"):
        _complete(db, actor, now, plain.id)

    weekly = _task(db, actor, now, title="Weekly review", due_at="next monday 9am", recurrence="every monday")
    assert weekly.recurrence == "FREQ=WEEKLY;BYDAY=MO"
    assert weekly.due_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    _, second = _complete(db, actor, now, weekly.id)
    assert second.due_at == weekly.due_at + timedelta(weeks=1)
    assert (second.title, second.recurrence, second.done_at, second.assignee_id) == (
        "Weekly review", "FREQ=WEEKLY;BYDAY=MO", None, actor.user_id)

    twice = _task(db, actor, now, title="Twice", due_at="tomorrow 9am", recurrence="FREQ=DAILY;COUNT=2")
    _, second = _complete(db, actor, now, twice.id)
    assert second.due_at == twice.due_at + timedelta(days=1)
    _, third = _complete(db, actor, now, second.id)
    assert third is None  # the series had two occurrences
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Task).where(Task.title == "Twice")) == 2
        assert s.scalar(select(func.count()).select_from(Task).where(Task.done_at.is_(None))) == 1  # weekly's next


def test_recurrence_keeps_wall_clock_time_across_dst(db, actor, now):
    with db.write() as s:
        users.create_user(s, data={"login": "pia", "timezone": "Europe/Paris"}, actor=actor, now=now)
    with db.write() as s:
        pia = users.actor_for(s, login="pia", now=now)
    assert pia.timezone == "Europe/Paris"
    # 9am in Paris is 07:00 UTC in summer time; clocks go back on 2026-10-25
    start = now.replace(year=2026, month=10, day=19)
    task = _task(db, pia, start, title="Standup", due_at="today 9am", recurrence="every monday")
    assert task.due_at == datetime(2026, 10, 19, 7, 0, tzinfo=UTC)
    _, second = _complete(db, pia, start, task.id)
    assert second.due_at == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # still 9am on the wall
    _, third = _complete(db, pia, start, second.id)
    assert third.due_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def test_snooze_and_reschedule(db, actor, now):
    late = _task(db, actor, now - timedelta(days=1), title="Late", due_at=now - timedelta(hours=1))
    with db.read() as s:
        assert _titles(tasks.list_tasks(s, status="overdue", now=now)) == ["Late"]

    before = _counts(db)
    for until, message in (("yesterday", "snooze until a time in the future"),
                            ("5 minutes ago", "in the future"), ("nonsense", "can't read")):
        with pytest.raises(InvalidInput, match=message):
            with db.write() as s:
                tasks.snooze_task(s, task_id=late.id, until=until, actor=actor, now=now)
        assert _counts(db) == before, until

    with db.write() as s:
        snoozed = tasks.snooze_task(s, task_id=late.id, until="tomorrow 9am", actor=actor, version=1, now=now)
    assert snoozed.snoozed_until == datetime(2026, 11, 24, 9, 0, tzinfo=UTC) and snoozed.version == 2
    with db.read() as s:
        for status in ("overdue", "today", "upcoming"):
            assert tasks.list_tasks(s, status=status, now=now).items == [], status
        assert _titles(tasks.list_tasks(s, status="snoozed", now=now)) == ["Late"]
        assert tasks.task_counts(s, assignee_id=actor.user_id, now=now) == {"overdue": 0, "today": 0}
        woken = now + timedelta(days=1, hours=1)  # the snooze has passed: overdue again
        assert _titles(tasks.list_tasks(s, status="overdue", now=woken)) == ["Late"]
        assert tasks.list_tasks(s, status="snoozed", now=woken).items == []

    with db.write() as s:
        moved = tasks.reschedule_task(s, task_id=late.id, due_at="+3d", actor=actor, now=now)
    assert (moved.due_at, moved.snoozed_until) == (now + timedelta(days=3), None)
    with db.read() as s:
        assert _titles(tasks.list_tasks(s, status="upcoming", now=now)) == ["Late"]
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "task", AuditEvent.entity_id == late.id)
                            .order_by(AuditEvent.id)).all()
        assert actions == ["create", "snooze", "reschedule", "reschedule"]  # due_at and snoozed_until


def test_list_statuses_and_counts_with_a_frozen_clock(db, actor, now):
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob"}, actor=actor, now=now)
    _task(db, actor, now, title="Overdue", due_at=now - timedelta(hours=2))
    _task(db, actor, now, title="Later today", due_at="today 1pm")
    _task(db, actor, now, title="Tonight", due_at="tonight")
    _task(db, actor, now, title="Tomorrow", due_at="tomorrow 9am")
    _task(db, actor, now, title="No due")
    _task(db, actor, now, title="Bob's", due_at=now - timedelta(days=3), assignee_id=bob.id)
    finished = _task(db, actor, now, title="Finished", due_at=now - timedelta(days=2))
    _complete(db, actor, now, finished.id)

    with db.read() as s:
        mine = {"assignee_id": actor.user_id, "now": now}
        assert _titles(tasks.list_tasks(s, status="overdue", **mine)) == ["Overdue"]
        assert _titles(tasks.list_tasks(s, status="today", **mine)) == ["Later today", "Tonight"]
        assert _titles(tasks.list_tasks(s, status="upcoming", **mine)) == ["Tomorrow"]
        assert _titles(tasks.list_tasks(s, status="done", **mine)) == ["Finished"]
        # open: by due time, tasks with no due time last
        assert _titles(tasks.list_tasks(s, status="open", **mine)) == ["Overdue", "Later today", "Tonight", "Tomorrow",
                                                                        "No due"]
        assert _titles(tasks.list_tasks(s, status="overdue", now=now)) == ["Bob's", "Overdue"]
        assert tasks.task_counts(s, assignee_id=actor.user_id, now=now) == {"overdue": 1, "today": 2}
        assert tasks.task_counts(s, assignee_id=bob.id, now=now) == {"overdue": 1, "today": 0}
        assert tasks.task_counts(s, assignee_id=None, now=now) == {"overdue": 2, "today": 2}
        # at 19:30 the 20:00 task is still due today and the 13:00 one overdue
        evening = now.replace(hour=19, minute=30)
        assert tasks.task_counts(s, assignee_id=actor.user_id, now=evening) == {"overdue": 2, "today": 1}
        assert _titles(tasks.list_tasks(s, status="upcoming", assignee_id=actor.user_id, now=evening)) == ["Tomorrow"]
        # "today" ends at the viewer's midnight: 15:00 UTC in Tokyo
        tokyo = {**mine, "zone": ZoneInfo("Asia/Tokyo")}
        assert _titles(tasks.list_tasks(s, status="today", **tokyo)) == ["Later today"]
        assert _titles(tasks.list_tasks(s, status="upcoming", **tokyo)) == ["Tonight", "Tomorrow"]
        with pytest.raises(InvalidInput, match="invalid task status 'soon'"):
            tasks.list_tasks(s, status="soon", now=now)


# --- issue 17 #11: recurrences people type, ambiguous due dates, due dates in the past -------------


def _recurrence_examples() -> list[str]:
    """The recurrences the task form's placeholder and `crm task add --repeat`'s help suggest."""
    import re
    import typer
    from pathlib import Path

    import crm_tui
    from crm_tui.cli.main import app

    source = (Path(crm_tui.__file__).parent / "screens" / "forms.py").read_text(encoding="utf-8")
    hint = re.search(r'_input\("recurrence", placeholder="([^"]+)"', source)[1]
    found = [p.strip() for p in hint.removeprefix("optional:").split(",") if p.strip() not in ("", "…")]
    add = typer.main.get_command(app).commands["task"].commands["add"]
    repeat = next(p for p in add.params if p.name == "repeat")
    return found + re.findall(r'"([^"]+)"', repeat.help)


@pytest.mark.parametrize("text, rule", [
    *[(example, None) for example in _recurrence_examples()],
    ("quarterly", "FREQ=MONTHLY;INTERVAL=3"),
    ("every quarter", "FREQ=MONTHLY;INTERVAL=3"),
    ("every 2 quarters", "FREQ=MONTHLY;INTERVAL=6"),
    ("fortnightly", "FREQ=WEEKLY;INTERVAL=2"),
])
def test_suggested_recurrences_parse(text, rule):
    parsed = tasks.parse_recurrence(text)
    assert parsed and (rule is None or parsed == rule)


def test_a_quarterly_task_comes_back_three_months_later(db, actor, now):
    task = _task(db, actor, now, title="QBR", due_at="2026-12-15 10:00", recurrence="quarterly")
    _, second = _complete(db, actor, now, task.id)
    assert second.due_at == datetime(2027, 3, 15, 10, 0, tzinfo=UTC)
    _, third = _complete(db, actor, now, second.id)
    assert third.due_at == datetime(2027, 6, 15, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("order, expected", [
    ("dmy", datetime(2027, 4, 3, 9, 0, tzinfo=UTC)),
    ("mdy", datetime(2027, 3, 4, 9, 0, tzinfo=UTC)),
])
def test_an_ambiguous_due_date_follows_the_users_date_order(db, actor, now, order, expected):
    task = _task(db, replace(actor, date_order=order), now, due_at="03/04/2027")
    assert task.due_at == expected


def test_an_ambiguous_due_date_without_a_date_order_is_refused_and_nothing_written(db, actor, now):
    before = _counts(db)
    with pytest.raises(InvalidInput, match=r"ambiguous date '03/04/2027'.*date_order"):
        _task(db, actor, now, due_at="03/04/2027")
    assert _counts(db) == before
    assert _task(db, actor, now, due_at="13/04/2027").due_at == datetime(2027, 4, 13, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("when, past", [
    (timedelta(days=-1), True), (timedelta(minutes=-5), True), (timedelta(seconds=-30), False),
    (timedelta(0), False), (timedelta(hours=1), False), (None, False),
])
def test_in_the_past(now, when, past):
    assert tasks.in_the_past(None if when is None else now + when, now=now) is past
