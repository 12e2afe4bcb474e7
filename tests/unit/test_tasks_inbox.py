"""The Inbox's services: sections and their counts (in the user's zone, mine or the team's), keyset
pages with the related names from joins, what fell due, snooze presets, due phrases, late recurring
tasks, and logging a call that completes a task in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from crm_tui.errors import Conflict, InvalidInput
from crm_tui.models import Activity, AuditEvent, Task
from crm_tui.models.schemas import TaskRead
from crm_tui.services import activities, companies, contacts, deals, tasks, users

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")


def _task(db, actor, now, **data) -> TaskRead:
    with db.write() as s:
        return tasks.create_task(s, data={"title": "Call back", **data}, actor=actor, now=now)


def _section(db, section, now, *, assignee_id, zone=UTC, **kw) -> list[str]:
    with db.read() as s:
        return [t.title for t in tasks.inbox_page(s, section=section, assignee_id=assignee_id, zone=zone, now=now,
                                                  **kw).items]


def _counts(db, now, *, assignee_id, zone=UTC) -> dict[str, int]:
    with db.read() as s:
        return tasks.inbox_counts(s, assignee_id=assignee_id, zone=zone, now=now)


def test_sections_and_counts_mine_and_the_teams(db, actor, now):
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob"}, actor=actor, now=now)
    _task(db, actor, now, title="Late", due_at=now - timedelta(days=2))
    _task(db, actor, now, title="Later today", due_at="today 1pm")
    _task(db, actor, now, title="Tomorrow", due_at="tomorrow 9am")
    _task(db, actor, now, title="In 6 days", due_at="+6d")
    _task(db, actor, now, title="In 3 weeks", due_at="+3w")  # beyond Upcoming: in no section
    _task(db, actor, now, title="Someday")  # no due time: at the end of Upcoming
    sleepy = _task(db, actor, now, title="Sleepy", due_at=now - timedelta(hours=1))
    finished = _task(db, actor, now, title="Finished", due_at=now - timedelta(days=1))
    long_done = _task(db, actor, now - timedelta(days=30), title="Long done", due_at=now - timedelta(days=30))
    _task(db, actor, now, title="Bob's", due_at=now - timedelta(days=3), assignee_id=bob.id)
    with db.write() as s:
        tasks.snooze_task(s, task_id=sleepy.id, until="tomorrow 8am", actor=actor, now=now)
        tasks.complete_task(s, task_id=finished.id, actor=actor, now=now - timedelta(hours=2))
        tasks.complete_task(s, task_id=long_done.id, actor=actor, now=now - timedelta(days=8))

    mine = actor.user_id
    assert _section(db, "overdue", now, assignee_id=mine) == ["Late"]
    assert _section(db, "today", now, assignee_id=mine) == ["Later today"]
    assert _section(db, "upcoming", now, assignee_id=mine) == ["Tomorrow", "In 6 days", "Someday"]
    assert _section(db, "snoozed", now, assignee_id=mine) == ["Sleepy"]
    assert _section(db, "done", now, assignee_id=mine) == ["Finished"]
    assert _counts(db, now, assignee_id=mine) == {"overdue": 1, "today": 1, "upcoming": 3, "snoozed": 1, "done": 1}
    assert _section(db, "overdue", now, assignee_id=None) == ["Bob's", "Late"]
    assert _counts(db, now, assignee_id=None)["overdue"] == 2
    assert _counts(db, now, assignee_id=bob.id) == {"overdue": 1, "today": 0, "upcoming": 0, "snoozed": 0,
                                                    "done": 0}
    # the snooze ends at 08:00 tomorrow: the task is overdue again, and no longer snoozed
    woken = now.replace(hour=8) + timedelta(days=1)
    assert _section(db, "overdue", woken, assignee_id=mine) == ["Late", "Sleepy", "Later today"]
    # "today" ends at the user's midnight: 13:00 UTC is 14:00 in Paris, still today; in Tokyo
    # (19:00 now) the day ends at 15:00 UTC, so 09:00 UTC tomorrow is upcoming there too
    assert _section(db, "today", now, assignee_id=mine, zone=PARIS) == ["Later today"]
    assert _counts(db, now, assignee_id=mine, zone=ZoneInfo("Asia/Tokyo"))["today"] == 1
    with db.read() as s, pytest.raises(InvalidInput, match="invalid inbox section 'soon'"):
        tasks.inbox_page(s, section="soon", assignee_id=mine, zone=UTC, now=now)


def test_pages_by_keyset_with_related_names_from_joins_not_a_query_per_row(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace"}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Acme renewal", "amount": 100, "contact_id": ada.id},
                                 actor=actor, now=now)
    links = [{"deal_id": deal.id, "contact_id": ada.id}, {"contact_id": ada.id}, {"company_id": acme.id}, {}]
    for i in range(12):
        _task(db, actor, now, title=f"T{i:02}", due_at=now - timedelta(hours=12 - i), **links[i % 4])

    with db.read() as s:
        statements = []
        event.listen(s.get_bind(), "before_cursor_execute", lambda *a: statements.append(a[2]))
        first = tasks.inbox_page(s, section="overdue", assignee_id=actor.user_id, zone=UTC, now=now, limit=5)
        assert len(statements) <= 2  # the rows (and the nulls part of the keyset): no query per row
        second = tasks.inbox_page(s, section="overdue", assignee_id=actor.user_id, zone=UTC, now=now, limit=5,
                                  after=first.next_cursor)
        third = tasks.inbox_page(s, section="overdue", assignee_id=actor.user_id, zone=UTC, now=now, limit=5,
                                 after=second.next_cursor)
        back = tasks.inbox_page(s, section="overdue", assignee_id=actor.user_id, zone=UTC, now=now, limit=5,
                                before=second.prev_cursor)
    titles = [t.title for page in (first, second, third) for t in page.items]
    assert titles == [f"T{i:02}" for i in range(12)] and third.next_cursor is None
    assert [t.title for t in back.items] == [t.title for t in first.items]
    assert [t.related for t in first.items] == ["deal: Acme renewal", "contact: Ada Lovelace", "company: Acme", None,
                                                "deal: Acme renewal"]
    assert {t.assignee_login for t in first.items} == {"ann"}


def test_what_fell_due_in_a_window(db, actor, now):
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob"}, actor=actor, now=now)
    before = now - timedelta(minutes=1)
    _task(db, actor, before, title="Already late", due_at=now - timedelta(hours=1))
    _task(db, actor, before, title="Due at 10:02", due_at=now + timedelta(minutes=2))
    _task(db, actor, before, title="Due at 10:04", due_at=now + timedelta(minutes=4))
    _task(db, actor, before, title="Bob's at 10:03", due_at=now + timedelta(minutes=3), assignee_id=bob.id)
    done = _task(db, actor, before, title="Done early", due_at=now + timedelta(minutes=3))
    woken = _task(db, actor, before, title="Snooze ends 10:05", due_at=now - timedelta(hours=2))
    held = _task(db, actor, before, title="Due 10:01, snoozed to noon", due_at=now + timedelta(minutes=1))
    with db.write() as s:
        tasks.complete_task(s, task_id=done.id, actor=actor, now=now)
        tasks.snooze_task(s, task_id=woken.id, until=now + timedelta(minutes=5), actor=actor, now=now)
        tasks.snooze_task(s, task_id=held.id, until=now + timedelta(hours=2), actor=actor, now=now)

    with db.read() as s:
        found, total = tasks.due_between(s, assignee_id=actor.user_id, since=now, until=now + timedelta(minutes=5))
        assert ([t.title for t in found], total) == (["Due at 10:02", "Due at 10:04", "Snooze ends 10:05"], 3)
        found, total = tasks.due_between(s, assignee_id=None, since=now, until=now + timedelta(minutes=5), limit=2)
        assert ([t.title for t in found], total) == (["Due at 10:02", "Bob's at 10:03"], 4)
        # the windows of consecutive looks do not overlap: nothing is named twice
        found, _ = tasks.due_between(s, assignee_id=actor.user_id, since=now + timedelta(minutes=5),
                                     until=now + timedelta(minutes=10))
        assert found == []
        found, _ = tasks.due_between(s, assignee_id=actor.user_id, since=now + timedelta(hours=1),
                                     until=now + timedelta(hours=3))
        assert [t.title for t in found] == ["Due 10:01, snoozed to noon"]


def test_snooze_presets_in_the_users_zone(db, actor, now):
    # FROZEN_NOW is Monday 10:00 UTC: 11:00 in Paris
    presets = dict(tasks.snooze_presets(now=now, zone=PARIS))
    assert presets == {
        "1 hour": datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
        "This evening": datetime(2026, 11, 23, 17, 0, tzinfo=UTC),  # 18:00 in Paris
        "Tomorrow 9am": datetime(2026, 11, 24, 8, 0, tzinfo=UTC),
        "Next Monday 9am": datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
    }
    late = dict(tasks.snooze_presets(now=now.replace(hour=19), zone=PARIS))  # 20:00 in Paris
    assert "This evening" not in late and late["Tomorrow 9am"] == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    # a typed time is read in the acting user's zone, as the snooze dialog reads it
    with db.write() as s:
        users.create_user(s, data={"login": "pia", "timezone": "Europe/Paris"}, actor=actor, now=now)
    with db.write() as s:
        pia = users.actor_for(s, login="pia", now=now)
    assert tasks.parse_due("fri 3pm", actor=pia, now=now) == datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    assert tasks.parse_due("2026-12-01 10:00", actor=pia, now=now) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with pytest.raises(InvalidInput, match="can't read 'blorp'"):
        tasks.parse_due("blorp", actor=pia, now=now)
    with pytest.raises(InvalidInput, match="type a time"):
        tasks.parse_due("  ", actor=pia, now=now)


@pytest.mark.parametrize(("due", "phrase"), [
    (timedelta(days=-2, hours=-3), "2 days overdue"), (timedelta(days=-1), "1 day overdue"),
    (timedelta(hours=-5), "5 h overdue"), (timedelta(minutes=-30), "30 min overdue"), (timedelta(seconds=20), "due now"),
    (timedelta(hours=3, minutes=10), "in 3 h"), (timedelta(minutes=45), "in 45 min"), (timedelta(days=3), "in 3 days"),
])
def test_due_phrase(now, due, phrase):
    assert tasks.due_phrase(now + due, now) == phrase


def test_due_phrase_without_a_due_time_and_origin(now):
    assert tasks.due_phrase(None, now) == "no due date"
    base = {"id": 1, "title": "t", "notes": None, "due_at": None, "assignee_id": None, "contact_id": None,
            "company_id": None, "deal_id": None, "done_at": None, "snoozed_until": None, "recurrence": None,
            "rule_name": None, "version": 1}
    assert tasks.origin_label(TaskRead(**base, origin="manual")) == "manual"
    assert tasks.origin_label(TaskRead(**{**base, "rule_name": "Stale deal"}, origin="rule")) == "Stale deal"


def test_a_late_recurring_task_comes_back_in_the_future(db, actor, now):
    weekly = _task(db, actor, now - timedelta(weeks=3), title="Weekly", due_at="today 9am", recurrence="every monday")
    assert weekly.due_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with db.write() as s:
        _, following = tasks.complete_task(s, task_id=weekly.id, actor=actor, now=now)  # three weeks late
    assert following.due_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # next Monday, not a past one
    monthly = _task(db, actor, now, title="Invoices", due_at="2026-12-01 9am", recurrence="monthly on the 1st")
    assert monthly.recurrence == "FREQ=MONTHLY;BYMONTHDAY=1"
    with db.write() as s:
        _, following = tasks.complete_task(s, task_id=monthly.id, actor=actor, now=now)  # done early
    assert following.due_at == datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


def _rows(db) -> tuple[int, int, int]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Activity, Task, AuditEvent))


def test_log_and_complete_is_one_transaction(db, actor, now):
    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada"}, actor=actor, now=now)
    task = _task(db, actor, now, title="Call Ada", due_at=now - timedelta(hours=1), contact_id=ada.id,
                 recurrence="every monday")
    before = _rows(db)
    with pytest.raises(InvalidInput, match="log a call, email, meeting or note"):
        with db.write() as s:
            activities.log_and_complete(s, task_id=task.id, activity={"kind": "stage_change"}, actor=actor, now=now)
    assert _rows(db) == before  # the completion (and its next occurrence) rolled back with the log
    with pytest.raises(Conflict):
        with db.write() as s:
            activities.log_and_complete(s, task_id=task.id, activity={"kind": "call"}, version=7, actor=actor, now=now)
    assert _rows(db) == before

    with db.write() as s:
        logged, follow, done, following = activities.log_and_complete(
            s, task_id=task.id, activity={"kind": "call", "subject": "Pricing"}, version=task.version,
            follow_up={"title": "Send the quote", "due_at": "+2d"}, actor=actor, now=now)
    assert (logged.kind, logged.contact_id, logged.subject) == ("call", ada.id, "Pricing")  # about the task's contact
    assert done.done_at == now and following.due_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert (follow.title, follow.contact_id, follow.due_at) == ("Send the quote", ada.id, now + timedelta(days=2))
    with db.read() as s:
        assert s.get(Task, task.id).done_at == now
