"""The Inbox's Planned section (issue 17 #10): the calls, emails and meetings logged ahead of their
time, mine, a teammate's or the team's, soonest first by keyset, counted in SQL through the partial
index of activities logged ahead; each leaves the list when its time comes, as the engine counts it."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from sqlalchemy import event, func, select

from crm_tui.errors import InvalidInput
from crm_tui.models import Contact
from crm_tui.models.schemas import PlannedRead
from crm_tui.services import activities, companies, contacts, deals, inbox, tasks, users
from crm_tui.workflows import runner
from crm_tui.workflows.rules import RuleSet

UTC = timezone.utc


def _log(db, actor, now, **data):
    with db.write() as s:
        return activities.log_activity(s, data=data, actor=actor, now=now)[0]


def _planned(db, now, user_id, **kw) -> list[str]:
    with db.read() as s:
        return [a.subject for a in inbox.planned_page(s, user_id=user_id, now=now, **kw).items]


def _count(db, now, user_id) -> int:
    with db.read() as s:
        return inbox.planned_count(s, user_id=user_id, now=now)


@pytest.fixture
def team(db, actor, now):
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "role": "sales"}, actor=actor, now=now)
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace", "company_id": acme.id},
                                      actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Acme renewal", "amount": 100, "contact_id": ada.id},
                                 actor=actor, now=now)
        bob_actor = users.actor_for(s, login="bob", now=now)
    return {"bob": bob, "bob_actor": bob_actor, "acme": acme, "ada": ada, "deal": deal}


def test_planned_lists_what_was_logged_ahead_mine_a_teammates_and_the_teams(db, actor, now, team):
    ada, deal = team["ada"], team["deal"]
    _log(db, actor, now, kind="meeting", subject="Kick-off", occurred_at=now + timedelta(hours=2),
         contact_id=ada.id, deal_id=deal.id, duration_minutes=45)
    _log(db, actor, now, kind="call", subject="Check in", occurred_at="tomorrow 9am", contact_id=ada.id)
    _log(db, actor, now, kind="email", subject="Agenda", occurred_at=now + timedelta(days=3),
         company_id=team["acme"].id)
    _log(db, actor, now, kind="note", subject="A note dated ahead", occurred_at=now + timedelta(days=1),
         contact_id=ada.id)  # reaches nobody: not planned contact
    _log(db, actor, now, kind="call", subject="Yesterday's call", occurred_at=now - timedelta(days=1),
         contact_id=ada.id)
    _log(db, actor, now, kind="call", subject="Just now", contact_id=ada.id)  # logged as it happens
    _log(db, actor, now - timedelta(days=10), kind="meeting", subject="Came last week",
         occurred_at=now - timedelta(days=7), contact_id=ada.id)  # planned once; its time has come
    _log(db, team["bob_actor"], now, kind="meeting", subject="Bob's demo", occurred_at=now + timedelta(hours=1),
         contact_id=ada.id)

    mine, bob = actor.user_id, team["bob"].id
    assert _planned(db, now, mine) == ["Kick-off", "Check in", "Agenda"]
    assert _count(db, now, mine) == 3
    assert _planned(db, now, bob) == ["Bob's demo"] and _count(db, now, bob) == 1
    assert _planned(db, now, None) == ["Bob's demo", "Kick-off", "Check in", "Agenda"]
    assert _count(db, now, None) == 4

    with db.read() as s:
        page = inbox.inbox_page(s, section="planned", assignee_id=mine, zone=UTC, now=now)
    first = page.items[0]
    assert isinstance(first, PlannedRead)
    assert (first.kind, first.related, first.user_login, first.duration_minutes) == (
        "meeting", "deal: Acme renewal", "ann", 45)
    assert [a.related for a in page.items[1:]] == ["contact: Ada Lovelace", "company: Acme"]
    # the task sections read as before through the same entry
    with db.write() as s:
        tasks.create_task(s, data={"title": "Late", "due_at": now - timedelta(hours=1)}, actor=actor, now=now)
    with db.read() as s:
        overdue = inbox.inbox_page(s, section="overdue", assignee_id=mine, zone=UTC, now=now)
        assert [t.title for t in overdue.items] == ["Late"]
        assert tasks.inbox_counts(s, assignee_id=mine, zone=UTC, now=now)["overdue"] == 1
        with pytest.raises(InvalidInput, match="invalid inbox section 'soon'.*done, planned"):
            inbox.inbox_page(s, section="soon", assignee_id=mine, zone=UTC, now=now)


def test_a_seller_sees_their_own_planned_and_reads_the_teams_as_timelines_do(db, actor, now, team):
    """Reading activities takes no permission (every timeline shows everyone's): a seller's Inbox
    lists their own planned meetings, and the team's on asking, as it does tasks."""
    ada = team["ada"]
    _log(db, actor, now, kind="meeting", subject="Ann's", occurred_at=now + timedelta(hours=3), contact_id=ada.id)
    _log(db, team["bob_actor"], now, kind="call", subject="Bob's", occurred_at=now + timedelta(hours=4),
         contact_id=ada.id)
    bob = team["bob_actor"]
    assert _planned(db, now, bob.user_id) == ["Bob's"]
    assert _planned(db, now, None) == ["Ann's", "Bob's"]
    with db.read() as s:
        timeline = activities.timeline(s, contact_id=ada.id)
    assert {a.subject for a in timeline.items} == {"Ann's", "Bob's"}  # the same rule as the timeline's


def test_pages_by_keyset_soonest_first_with_names_from_joins(db, actor, now, team):
    ada = team["ada"]
    for i in range(12):  # two at each time: the id breaks the tie
        _log(db, actor, now, kind="call", subject=f"C{i:02}", occurred_at=now + timedelta(hours=1 + i // 2),
             contact_id=ada.id)
    with db.read() as s:
        statements = []
        event.listen(s.get_bind(), "before_cursor_execute", lambda *a: statements.append(a[2]))
        first = inbox.planned_page(s, user_id=actor.user_id, now=now, limit=5)
        assert len([q for q in statements if q.startswith("SELECT")]) == 1  # one query a page, names joined
        second = inbox.planned_page(s, user_id=actor.user_id, now=now, limit=5, after=first.next_cursor)
        third = inbox.planned_page(s, user_id=actor.user_id, now=now, limit=5, after=second.next_cursor)
        back = inbox.planned_page(s, user_id=actor.user_id, now=now, limit=5, before=second.prev_cursor)
    assert [a.subject for p in (first, second, third) for a in p.items] == [f"C{i:02}" for i in range(12)]
    assert third.next_cursor is None and [a.subject for a in back.items] == [a.subject for a in first.items]
    assert {a.related for a in first.items} == {"contact: Ada Lovelace"}


def test_a_meeting_leaves_planned_when_its_time_comes_and_the_engine_counts_it(db, actor, now, team):
    ada = team["ada"]
    soon = _log(db, actor, now, kind="meeting", subject="Soon", occurred_at=now + timedelta(minutes=30),
                contact_id=ada.id)
    _log(db, actor, now, kind="call", subject="Later", occurred_at=now + timedelta(days=2), contact_id=ada.id)
    assert _planned(db, now, actor.user_id) == ["Soon", "Later"]

    came = soon.occurred_at  # at its very time the engine counts it, and Planned no longer holds it
    with db.read() as s:
        assert activities.planned_arrived(s, now=came) is True
    report = runner.run(db, rules=RuleSet(), now=came)
    assert report.arrived and report.changed  # the app reloads what it shows on this
    with db.read() as s:
        assert s.get(Contact, ada.id).last_contacted_at == came
    assert _planned(db, came, actor.user_id) == ["Later"] and _count(db, came, actor.user_id) == 1
    assert not runner.run(db, rules=RuleSet(), now=came).changed  # nothing more to count


def test_the_planned_reads_walk_an_index_from_now_on(db, actor, now):
    """No whole-table read: SQLite and PostgreSQL read the range ahead of now from an index. On a
    large table (1M activities, analysed) both choose the partial index of activities logged
    ahead for the team's list and count, and SQLite a seller's (user_id, occurred_at) range for
    theirs; an empty test table has no statistics to choose between those, so either passes."""
    pages = [inbox._LABELLED.where(inbox.planned_condition(now, user)).order_by(
        inbox.Activity.occurred_at, inbox.Activity.id).limit(51) for user in (None, actor.user_id)]
    counts = [select(func.count()).select_from(inbox.Activity).where(inbox.planned_condition(now, user))
              for user in (None, actor.user_id)]
    with db.engine.connect() as conn:
        dialect = conn.dialect
        for stmt in (*pages, *counts):
            sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            if dialect.name == "sqlite":
                plan = [str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
            else:
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # as if large: an empty table is cheaper to scan
                plan = [r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}")]
            text = " | ".join(plan)
            assert "SCAN activities" not in text and "Seq Scan on activities" not in text, text
            on_activities = [i for i, line in enumerate(plan)
                             if " on activities" in line or "SEARCH activities" in line]
            assert on_activities, text
            # the index is entered at now: the range's bound is occurred_at > now
            bound = " ".join(plan[on_activities[0]:on_activities[0] + 2]).replace(" ", "")
            assert "occurred_at>" in bound, text
