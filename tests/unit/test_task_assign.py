"""Giving a task to a teammate (tasks.assign_task): who may (a seller their own tasks, a manager
anyone's, marketing and support no one's), the version check, the audit row, and what is refused
writing nothing. The workflow engine's reassign action is the same function."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm_tui.models import AuditEvent, Task
from crm_tui.models.schemas import TaskRead
from crm_tui.services import tasks, users
from crm_tui.services.common import system_actor


@pytest.fixture
def team(db, actor, now):
    """ann (admin), mia (manager), sam and sid (sales), max (marketing), sue (support); a task each."""
    out = {"ann": actor}
    with db.write() as s:
        for login, role in (("mia", "manager"), ("sam", "sales"), ("sid", "sales"), ("max", "marketing"),
                            ("sue", "support")):
            users.create_user(s, data={"login": login, "role": role}, actor=actor, now=now)
    for login in ("mia", "sam", "sid", "max", "sue"):
        with db.write() as s:
            out[login] = users.actor_for(s, login=login, now=now)
    with db.write() as s:
        for login in ("mia", "sam", "sid", "max", "sue"):
            out[f"{login}_task"] = tasks.create_task(
                s, data={"title": f"Call for {login}", "due_at": "+1d", "assignee_id": out[login].user_id},
                actor=actor, now=now)
    return out


def _assign(db, task, assignee, by, now, **kwargs) -> TaskRead:
    with db.write() as s:
        return tasks.assign_task(s, task_id=task.id, assignee_id=assignee.user_id if assignee else None,
                                 actor=by, now=now, **kwargs)


def _rows(db) -> tuple[int, int]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Task, AuditEvent))


def _assignee(db, task_id) -> int | None:
    with db.read() as s:
        return s.get(Task, task_id).assignee_id


def _reassigns(db, task_id) -> list[tuple]:
    with db.read() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.entity == "task", AuditEvent.entity_id == task_id,
                                                  AuditEvent.action == "reassign").order_by(AuditEvent.id))
        return [(e.actor, e.field, e.old_value, e.new_value, e.at) for e in rows]


def test_a_seller_hands_on_their_own_task_and_it_is_audited(db, team, now):
    task, sam, sid = team["sam_task"], team["sam"], team["sid"]
    later = now + timedelta(hours=1)
    given = _assign(db, task, sid, sam, later, version=task.version)
    assert isinstance(given, TaskRead)
    assert (given.assignee_id, given.assignee_login, given.version) == (sid.user_id, "sid", task.version + 1)
    assert given.title == task.title
    assert _reassigns(db, task.id) == [("sam", "assignee_id", str(sam.user_id), str(sid.user_id), later)]


def test_a_seller_may_not_take_or_give_someone_elses_task(db, team, now):
    before = _rows(db)
    for task, to in ((team["mia_task"], team["sam"]), (team["sid_task"], team["mia"])):
        with pytest.raises(Forbidden) as refused:
            _assign(db, task, to, team["sam"], now)
        assert str(refused.value) == ("sam (sales) may not give other people's tasks to someone else: that needs "
                                      "the admin or manager role; you may on your own")
        assert _assignee(db, task.id) == task.assignee_id
    assert _rows(db) == before


def test_a_manager_gives_anyones_task_and_may_leave_it_with_nobody(db, team, now):
    task = team["sam_task"]
    given = _assign(db, task, team["sid"], team["mia"], now)
    assert given.assignee_login == "sid"
    nobody = _assign(db, given, None, team["mia"], now, version=given.version)
    assert (nobody.assignee_id, nobody.assignee_login) == (None, None)
    assert [e[:4] for e in _reassigns(db, task.id)] == [
        ("mia", "assignee_id", str(team["sam"].user_id), str(team["sid"].user_id)),
        ("mia", "assignee_id", str(team["sid"].user_id), None),
    ]


@pytest.mark.parametrize("login, role", [("max", "marketing"), ("sue", "support")])
def test_marketing_and_support_may_not_give_tasks_even_their_own(db, team, now, login, role):
    before = _rows(db)
    for task in (team[f"{login}_task"], team["sam_task"]):
        with pytest.raises(Forbidden, match=rf"^{login} \({role}\) may not give tasks to someone else: "
                                            r"that needs the admin or manager role$"):
            _assign(db, task, team["sid"], team[login], now)
    assert _rows(db) == before


def test_a_stale_version_is_refused_and_writes_nothing(db, team, now):
    task = team["sam_task"]
    with db.write() as s:  # someone snoozed it since the task was read
        tasks.snooze_task(s, task_id=task.id, until="+2d", actor=team["sam"], now=now)
    before = _rows(db)
    with pytest.raises(Conflict, match="since you opened it"):
        _assign(db, task, team["sid"], team["sam"], now, version=task.version)
    assert _rows(db) == before and _assignee(db, task.id) == team["sam"].user_id


def test_an_unknown_or_deactivated_assignee_is_refused(db, team, actor, now):
    task = team["sam_task"]
    with db.write() as s:
        users.update_user(s, user_id=team["sid"].user_id, changes={"active": False}, actor=actor, now=now)
    before = _rows(db)
    with pytest.raises(InvalidInput, match="^user 'sid' is deactivated; give the task to an active user$"):
        _assign(db, task, team["sid"], team["mia"], now)
    with pytest.raises(NotFound, match="no user with id 99999"):
        with db.write() as s:
            tasks.assign_task(s, task_id=task.id, assignee_id=99999, actor=team["mia"], now=now)
    with pytest.raises(NotFound, match="no task with id 99999"):
        with db.write() as s:
            tasks.assign_task(s, task_id=99999, assignee_id=team["mia"].user_id, actor=team["mia"], now=now)
    assert _rows(db) == before and _assignee(db, task.id) == team["sam"].user_id


def test_giving_a_task_to_whoever_has_it_changes_nothing(db, team, now):
    task = team["sam_task"]
    before = _rows(db)
    same = _assign(db, task, team["sam"], team["sam"], now, version=task.version)
    assert same.version == task.version and _rows(db) == before


def test_the_system_actor_reassigns_any_task(db, team, now):
    task = team["sam_task"]
    with db.write() as s:
        given = tasks.assign_task(s, task_id=task.id, assignee_id=team["sid"].user_id,
                                  actor=system_actor("workflows"), now=now)
    assert given.assignee_login == "sid"
    assert _reassigns(db, task.id) == [("system:workflows", "assignee_id", str(team["sam"].user_id),
                                        str(team["sid"].user_id), now)]
