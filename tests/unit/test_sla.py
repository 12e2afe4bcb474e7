"""SLA service (issue 23), on SQLite and PostgreSQL: stamping due times on a policy's business
calendar, pausing and resuming, the scan, describe, and the admin side (calendars, holidays from
.ics, policies) behind sla.admin with versions and audit."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm_tui.models import AuditEvent, Case, Holiday, SlaPolicy
from crm_tui.models.case import OPEN, RESOLVED, WAITING
from crm_tui.services import cases, sla, users

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
TARGETS = {"urgent": {"first": "30m", "resolve": "4h"}, "normal": {"first": "4h", "resolve": "2d"},
           "low": {"resolve": "5d"}}


def _setup(s, actor, now, zone="Europe/Berlin"):
    sla.set_hours(s, days="mon-fri", intervals=[("9:00", "17:00")], timezone=zone, actor=actor, now=now)
    return sla.add_policy(s, name="Standard", targets=TARGETS, actor=actor, now=now)


def _case(s, now, priority="normal", status=OPEN, **kw) -> Case:
    case = Case(subject="Printer on fire", priority=priority, status=status, created_at=now, updated_at=now, **kw)
    s.add(case)
    sla.stamp(s, case, now=now)
    s.flush()
    return case


def test_stamp_counts_the_targets_in_business_hours_from_creation(db, actor, now):
    # now: Monday 23 Nov 2026 10:00 UTC = 11:00 in Berlin
    with db.write() as s:
        policy = _setup(s, actor, now)
        normal = _case(s, now)
        urgent = _case(s, now, priority="urgent")
        low = _case(s, now, priority="low")
        high = _case(s, now, priority="high")
    assert policy.is_default and policy.calendar_name == "Business hours"
    local = lambda t: t.astimezone(BERLIN).replace(tzinfo=None)  # noqa: E731
    assert local(normal.first_response_due_at) == datetime(2026, 11, 23, 15, 0)
    assert local(normal.resolution_due_at) == datetime(2026, 11, 25, 11, 0)  # 2d = 16 business hours
    assert normal.sla_next_at == normal.first_response_due_at and normal.sla_policy_id == policy.id
    assert local(urgent.first_response_due_at) == datetime(2026, 11, 23, 11, 30)
    assert low.first_response_due_at is None and local(low.sla_next_at) == datetime(2026, 11, 30, 11, 0)
    assert (high.first_response_due_at, high.resolution_due_at, high.sla_next_at) == (None, None, None)


def test_without_a_policy_a_case_has_no_due_times(db, actor, now):
    with db.write() as s:
        case = _case(s, now)
        assert (case.first_response_due_at, case.resolution_due_at, case.sla_next_at) == (None, None, None)
        assert sla.describe(case, now=now) == "no SLA"


def test_a_case_opened_on_saturday_counts_from_monday_and_holidays_are_skipped(db, actor, now):
    saturday = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    with db.write() as s:
        _setup(s, actor, now)
        sla.add_holiday(s, day="2026-11-30", name="Staff day", actor=actor, now=now)
        case = _case(s, saturday, priority="urgent")
    # Monday 30th is a holiday: Tuesday 9:00 Berlin + 30 minutes
    assert case.first_response_due_at.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 12, 1, 9, 30)


def test_waiting_pauses_the_clock_and_the_wait_is_added_on_resume(db, actor, now):
    with db.write() as s:
        _setup(s, actor, now)
        case = _case(s, now)  # first response due 15:00 Berlin
        due = case.first_response_due_at
        case.status = WAITING
        sla.pause(s, case, now=now + timedelta(hours=1))  # 12:00 Berlin
        assert case.paused_at is not None and case.sla_next_at is None
        assert sla.describe(case, now=now) == "paused (waiting on customer)"
        # waits until Tuesday 10:00 Berlin: 5h Monday + 1h Tuesday = 6 business hours
        back = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
        case.status = OPEN
        sla.resume(s, case, now=back)
        assert case.paused_at is None and case.paused_minutes == 360
        assert case.first_response_due_at == due + timedelta(hours=6) + timedelta(hours=16)  # overnight closed
        assert case.first_response_due_at.astimezone(BERLIN).hour == 13
        assert case.sla_next_at == case.first_response_due_at


def test_refresh_moves_to_the_resolution_target_and_clears_when_resolved(db, actor, now):
    with db.write() as s:
        _setup(s, actor, now)
        case = _case(s, now)
        case.first_response_at = now + timedelta(minutes=5)
        sla.refresh(case)
        assert case.sla_next_at == case.resolution_due_at
        case.status, case.resolved_at = RESOLVED, now + timedelta(hours=1)
        sla.refresh(case)
        assert case.sla_next_at is None
        assert sla.describe(case, now=now + timedelta(days=9)) == "met"
        case.resolved_at = case.resolution_due_at + timedelta(minutes=90)
        assert sla.describe(case, now=now) == "resolution missed by 1h 30m"


def test_describe_says_how_long_is_left_or_since_when_breached(db, actor, now):
    with db.write() as s:
        _setup(s, actor, now)
        case = _case(s, now)  # first response due at now + 4h
        assert sla.describe(case, now=now + timedelta(hours=2, minutes=40)) == "first response due in 1h 20m"
        assert sla.describe(case, now=now + timedelta(hours=4, minutes=35)) == "first response breached 35m ago"
        case.first_response_at = now
        sla.refresh(case)
        assert sla.describe(case, now=now) == "resolution due in 2d"
        assert sla.describe(case, now=case.resolution_due_at + timedelta(days=1, hours=2)) == \
            "resolution breached 1d 2h ago"
        assert sla.describe(case, now=case.resolution_due_at - timedelta(seconds=20)) == \
            "resolution due in less than a minute"


def test_scan_finds_due_and_breached_cases_soonest_first(db, actor, now):
    with db.write() as s:
        _setup(s, actor, now)
        urgent = _case(s, now - timedelta(hours=1), priority="urgent")  # due 10:30 Berlin: breached
        normal = _case(s, now)  # due 15:00 Berlin, 4h from now
        _case(s, now, priority="high")  # no targets
        waiting = _case(s, now, priority="urgent", status=WAITING)
        sla.pause(s, waiting, now=now)
        urgent_id, normal_id = urgent.id, normal.id
    with db.read() as s:
        found = sla.scan(s, now=now)
        assert [(d.case_id, d.target, d.breached) for d in found] == [(urgent_id, "first", True)]
        found = sla.scan(s, now=now, within_minutes=240)
        assert [(d.case_id, d.breached) for d in found] == [(urgent_id, True), (normal_id, False)]
        assert sla.scan(s, now=now, within_minutes=239) == found[:1]
        assert len(sla.scan(s, now=now, within_minutes=240, limit=1)) == 1
        with pytest.raises(InvalidInput):
            sla.scan(s, now=now, within_minutes=-5)


def test_scan_names_the_target_as_the_case_and_the_engine_do(db, actor, now):
    """A low case has no first-response target (TARGETS): its running target is the resolution,
    in scan as in next_target and the engine's occurrence key, though it has no first response."""
    with db.write() as s:
        _setup(s, actor, now)
        low = _case(s, now - timedelta(days=10), priority="low")  # 5 business days: breached
        low_id = low.id
        assert sla.next_target(low)[0] == "resolution"
    with db.read() as s:
        assert [(d.case_id, d.target, d.breached) for d in sla.scan(s, now=now)] == [(low_id, "resolution", True)]


def test_scan_reads_one_index_range(db, actor, now):
    with db.read() as s:
        if s.get_bind().dialect.name != "sqlite":
            pytest.skip("the plan is SQLite's EXPLAIN QUERY PLAN")
        stmt = (select(Case.id, Case.subject, Case.sla_next_at).where(Case.sla_next_at.is_not(None),
                                                                      Case.sla_next_at <= now)
                .order_by(Case.sla_next_at, Case.id).limit(sla.SCAN_LIMIT))
        plan = sqlite_plan(s, stmt)
    assert "SEARCH cases USING INDEX ix_cases_sla_next" in plan and "TEMP B-TREE" not in plan, plan


def test_a_scan_needs_every_case_in_sight(db, actor, now):
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "role": "sales"}, actor=actor, now=now)
        users.create_user(s, data={"login": "sue", "role": "support"}, actor=actor, now=now)
    with db.read() as s:
        sam = users.actor_for(s, login="sam", now=now)
        sue = users.actor_for(s, login="sue", now=now)
        assert sla.scan(s, now=now, actor=sue) == []
        with pytest.raises(Forbidden, match="sam .sales. may not see the cases of other people's accounts"):
            sla.scan(s, now=now, actor=sam)


def test_policies_version_audit_default_and_typed_targets(db, actor, now):
    with db.write() as s:
        first = _setup(s, actor, now)
        gold = sla.add_policy(s, name="Gold", targets={"urgent": {"first": "15m", "resolve": "1d 4h"}},
                              actor=actor, now=now)
    assert not gold.is_default and gold.targets["urgent"] == {"first": 15, "resolve": 720}
    assert gold.targets["low"] == {"first": None, "resolve": None}
    with db.write() as s:
        gold = sla.set_default_policy(s, policy_id=gold.id, version=gold.version, actor=actor, now=now)
        assert [p.name for p in sla.list_policies(s, actor=actor) if p.is_default] == ["Gold"]
        assert sla.default_calendar(s).name == "Business hours"
    with db.write() as s:
        with pytest.raises(Conflict, match="SLA policy Gold was changed"):
            sla.edit_policy(s, policy_id=gold.id, version=1, name="Platinum", actor=actor, now=now)
    with db.write() as s:
        edited = sla.edit_policy(s, policy_id=gold.id, version=gold.version, targets={"high": {"first": "2h"}},
                                 actor=actor, now=now)
        assert edited.targets["urgent"] == {"first": 15, "resolve": 720}
        assert edited.targets["high"] == {"first": 120, "resolve": None}
        with pytest.raises(InvalidInput, match="the default policy"):
            sla.edit_policy(s, policy_id=gold.id, archived=True, actor=actor, now=now)
    with db.read() as s:
        trail = s.execute(select(AuditEvent.entity_id, AuditEvent.field, AuditEvent.old_value, AuditEvent.new_value)
                          .where(AuditEvent.entity == "sla_policy", AuditEvent.field.is_not(None))
                          .order_by(AuditEvent.id)).all()
        assert (first.id, "is_default", "true", "false") in [tuple(t) for t in trail]
        assert (gold.id, "targets", "urgent 15m/1d 4h", "urgent 15m/1d 4h, high 2h/-") in [tuple(t) for t in trail]


@pytest.mark.parametrize("targets, message", [
    ({"critical": {"first": "1h"}}, "unknown priority 'critical'"),
    ({"urgent": {"first": "soon"}}, "not a duration"),
    ({"urgent": {"first": "1d", "resolve": "2h"}}, "comes after the resolution"),
    ({"urgent": {"reply": "1h"}}, "unknown target 'reply'"),
])
def test_bad_targets_are_one_line_and_write_nothing(db, actor, now, targets, message):
    with db.write() as s:
        with pytest.raises(InvalidInput, match=message):
            sla.add_policy(s, name="Bad", targets=targets, actor=actor, now=now)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(SlaPolicy)) == 0


def test_parse_targets_as_typed_on_the_command_line():
    assert sla.parse_targets(["urgent=30m/4h", "low=/5d", "normal=1h"]) == {
        "urgent": {"first": 30, "resolve": 240}, "low": {"first": None, "resolve": 2400},
        "normal": {"first": 60, "resolve": None}}
    with pytest.raises(InvalidInput, match="PRIORITY=FIRST/RESOLVE"):
        sla.parse_targets(["urgent 30m"])


def test_only_sla_admins_change_policies_hours_and_holidays(db, actor, now):
    with db.write() as s:
        users.create_user(s, data={"login": "sue", "role": "support"}, actor=actor, now=now)
        _setup(s, actor, now)
    with db.write() as s:
        sue = users.actor_for(s, login="sue", now=now)
        for call in (lambda: sla.add_policy(s, name="X", targets={}, actor=sue, now=now),
                     lambda: sla.set_hours(s, days="sat", intervals=[("9:00", "12:00")], actor=sue, now=now),
                     lambda: sla.add_holiday(s, day="2026-12-25", actor=sue, now=now)):
            with pytest.raises(Forbidden, match="may not change SLA policies"):
                call()
        assert [p.name for p in sla.list_policies(s, actor=sue)] == ["Standard"]


def test_hours_set_changes_the_days_given_and_keeps_the_others(db, actor, now):
    with db.write() as s:
        made = sla.set_hours(s, days="mon-fri", intervals=[("9:00", "17:00")], timezone="America/New_York",
                             actor=actor, now=now)
        assert made.name == "Business hours" and made.hours["sat"] == [] and made.timezone == "America/New_York"
        after = sla.set_hours(s, days="fri", intervals=[("9:00", "12:00"), ("13:00", "15:30")], actor=actor,
                              version=made.version, now=now)
        assert after.hours["fri"] == [["09:00", "12:00"], ["13:00", "15:30"]]
        assert after.hours["mon"] == [["09:00", "17:00"]] and after.version == made.version + 1
        closed = sla.set_hours(s, days="fri", intervals=[], actor=actor, now=now)
        assert closed.hours["fri"] == []
        with pytest.raises(InvalidInput, match="unknown time zone"):
            sla.set_hours(s, days="mon", intervals=[("9:00", "17:00")], timezone="Nowhere/Land", actor=actor,
                          now=now)
        with pytest.raises(Conflict):
            sla.set_hours(s, days="mon", intervals=[("9:00", "17:00")], version=made.version, actor=actor, now=now)
        events = s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "business_calendar", AuditEvent.entity_id == made.id))
        assert events == 3  # created, two updates


ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:1
SUMMARY:Christmas
DTSTART;VALUE=DATE:20201225
DTEND;VALUE=DATE:20201227
RRULE:FREQ=YEARLY
END:VEVENT
BEGIN:VEVENT
UID:2
SUMMARY:Thanksgiving
DTSTART;VALUE=DATE:20201126
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH
END:VEVENT
BEGIN:VEVENT
UID:3
SUMMARY:Company day
DTSTART;VALUE=DATE:20270312
DTEND;VALUE=DATE:20270313
END:VEVENT
BEGIN:VEVENT
UID:4
SUMMARY:Standup
DTSTART:20270104T090000Z
DTEND:20270104T091500Z
END:VEVENT
BEGIN:VEVENT
UID:5
SUMMARY:Payday
DTSTART;VALUE=DATE:20270101
RRULE:FREQ=MONTHLY
END:VEVENT
END:VCALENDAR
"""


def test_holidays_import_from_ics_all_day_events_and_yearly_ones_expanded(db, actor, now):
    with db.write() as s:
        _setup(s, actor, now)
        sla.add_holiday(s, day="2026-12-25", name="Xmas", actor=actor, now=now)
        result = sla.import_holidays(s, data=ICS, years=[2026, 2027], actor=actor, now=now)
    assert [(h.day, h.name) for h in result.added] == [
        (date(2026, 11, 26), "Thanksgiving"), (date(2026, 12, 26), "Christmas"), (date(2027, 3, 12), "Company day"),
        (date(2027, 11, 25), "Thanksgiving"), (date(2027, 12, 25), "Christmas"), (date(2027, 12, 26), "Christmas")]
    assert result.already == 1
    assert result.skipped == ["Standup: not an all-day event", "Payday: repeats other than yearly"]
    with db.read() as s:
        assert [h.day for h in sla.list_holidays(s, year=2026, actor=actor)] == [
            date(2026, 11, 26), date(2026, 12, 25), date(2026, 12, 26)]
        assert s.scalar(select(func.count()).select_from(Holiday)) == 7
    with db.write() as s:
        again = sla.import_holidays(s, data=ICS, years=[2026, 2027], actor=actor, now=now)
        assert (again.added, again.already) == ([], 7)
        with pytest.raises(InvalidInput, match="not an iCalendar"):
            sla.import_holidays(s, data=b"hello", actor=actor, now=now)
        gone = sla.remove_holiday(s, day="2026-11-26", actor=actor, now=now)
        assert gone.name == "Thanksgiving"
        with pytest.raises(NotFound, match="2026-11-26 is not a holiday"):
            sla.remove_holiday(s, day="2026-11-26", actor=actor, now=now)
        with pytest.raises(InvalidInput, match="already a holiday"):
            sla.add_holiday(s, day="2026-12-25", actor=actor, now=now)


def test_holidays_are_read_only_for_the_years_a_computation_reaches(db, actor, now):
    from sqlalchemy import event

    with db.write() as s:
        _setup(s, actor, now)
        for year in range(2000, 2040):
            s.add(Holiday(calendar_id=sla.default_calendar(s).id, day=date(year, 12, 24), name="Eve"))
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    with db.write() as s:
        engine = s.get_bind().engine
        event.listen(engine, "before_cursor_execute", seen)
        try:
            case = _case(s, now, priority="low")  # 5 business days: within 2026
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    holiday_reads = [q for q in statements if "FROM holidays" in q]
    assert len(holiday_reads) == 1 and case.resolution_due_at is not None


def test_the_case_service_moves_the_clock_through_waiting_and_a_priority_change(db, actor, now):
    with db.write() as s:
        _setup(s, actor, now)
        case = cases.create_case(s, actor=actor, subject="Printer on fire", now=now)
        assert case.first_response_due_at == now + timedelta(hours=4)  # 11:00 Berlin + 4h
        cases.set_status(s, case.id, "waiting", actor=actor, now=now + timedelta(hours=1))
        assert case.paused_at == now + timedelta(hours=1) and case.sla_next_at is None
        # back on Tuesday 10:00 Berlin: 5 business hours on Monday, 1 on Tuesday
        cases.set_status(s, case.id, "open", actor=actor, now=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
        assert case.paused_minutes == 360 and case.paused_at is None
        assert case.first_response_due_at.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 11, 24, 13, 0)
        cases.set_priority(s, case.id, "urgent", actor=actor, now=now)
        # urgent: 30m + the 6h waited from Monday 11:00 Berlin: 6h on Monday, 30m on Tuesday
        assert case.first_response_due_at.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 11, 24, 9, 30)
        assert case.sla_next_at == case.first_response_due_at


def test_picking_a_teammate_round_robin_or_least_loaded(db, actor, now):
    with db.write() as s:
        a = users.create_user(s, data={"login": "amy", "role": "support", "team": "Desk"}, actor=actor, now=now)
        b = users.create_user(s, data={"login": "ben", "role": "support", "team": "desk"}, actor=actor, now=now)
        users.create_user(s, data={"login": "cat", "role": "support", "team": "Other"}, actor=actor, now=now)
        assert [sla.pick_in_team(s, "Desk", "round_robin").login for _ in range(3)] == ["amy", "ben", "amy"]
        assert sla.pick_in_team(s, "DESK", "round_robin", advance=False).login == "ben"
        for _ in range(2):
            _case(s, now, assignee_id=a.id)
        _case(s, now, assignee_id=b.id)
        _case(s, now, assignee_id=b.id, status="closed")
        _case(s, now, assignee_id=b.id, status="resolved")
        assert sla.pick_in_team(s, "desk", "least_loaded").login == "ben"
        _case(s, now, assignee_id=b.id)
        assert sla.pick_in_team(s, "desk", "least_loaded").login == "amy"  # a tie: the lower id
        with pytest.raises(InvalidInput, match="no active user is in the team 'Nobody'"):
            sla.pick_in_team(s, "Nobody", "round_robin")
    assert sla.raised("normal") == "high" and sla.raised("urgent") == "urgent"
    assert sla.raised("low", "high") == "high" and sla.raised("urgent", "high") == "urgent"


def sqlite_plan(session, stmt) -> str:
    """SQLite's plan of a statement as the service sends it: with bound parameters, which the
    planner cannot read as it reads literals."""
    compiled = stmt.compile(dialect=session.get_bind().dialect)
    params = compiled.construct_params()
    values = tuple(params[k] for k in compiled.positiontup)
    rows = session.connection().connection.driver_connection.execute("EXPLAIN QUERY PLAN " + str(compiled), values)
    return " | ".join(r[-1] for r in rows)


def test_describe_reads_any_row_with_the_sla_fields():
    from types import SimpleNamespace

    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    row = SimpleNamespace(status="open", first_response_at=None, first_response_due_at=now + timedelta(minutes=80),
                          resolution_due_at=now + timedelta(days=2))
    assert sla.describe(row, now=now) == "first response due in 1h 20m"
    assert sla.describe(SimpleNamespace(status="new"), now=now) == "no SLA"
    assert sla.describe(SimpleNamespace(status="waiting", resolution_due_at=now), now=now) == \
        "paused (waiting on customer)"
