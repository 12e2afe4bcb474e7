"""Sequences: settings (versioned, audited, permission-checked), enrolling set-based (a list, at most
one active enrolment), the funnel, pages, and the stops (manual, unsubscribe, a deal won or lost).
The engine's own tests are in test_sequences_engine.py. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, Forbidden, InvalidInput, NotFound
from crm_tui.models import AuditEvent, Contact
from crm_tui.models.sequence import SequenceEnrollment
from crm_tui.services import contacts, deals, email_templates as templates, sequences, users, views


@pytest.fixture
def seq(db, actor, now):
    """A sequence of two steps (an email, then a task) and three contacts: Lee and Kim with an
    address, Max without one, Dee who asked not to be emailed."""
    with db.write() as s:
        users.update_user(s, user_id=actor.user_id, changes={"name": "Ann Admin", "email": "ann@team.example"},
                          actor=actor, now=now)
        templates.add_template(s, name="Intro", subject="Hi {{ contact.first_name }}",
                               body="Hello {{ contact.first_name | default('there') }}. {{ me.name }}",
                               actor=actor, now=now, shared=True)
        made = {}
        for first, email, lifecycle in (("Lee", "lee@acme.com", "lead"), ("Kim", "kim@acme.com", "lead"),
                                        ("Max", None, "lead"), ("Dee", "dee@acme.com", "lead")):
            made[first] = contacts.create_contact(
                s, data={"first_name": first, "last_name": "Park", "emails": [email] if email else [],
                         "lifecycle": lifecycle}, actor=actor, now=now).id
        s.execute(Contact.__table__.update().where(Contact.id == made["Dee"]).values(do_not_email=True))
        sq = sequences.create_sequence(s, actor, name="Welcome  Leads", window="09:00-17:00", daily_cap=50, now=now)
        sequences.add_step(s, actor, sq.id, kind="email", delay_days=0, template="intro", now=now)
        sequences.add_step(s, actor, sq.id, kind="task", delay_days=2, task_title="Call them", now=now)
    return sq, made


def test_a_sequence_is_found_by_any_spelling_and_its_steps_are_in_order(db, actor, now, seq):
    sq, _ = seq
    with db.read() as s:
        found = sequences.get_sequence(s, actor, "welcome leads")
        assert (found.id, found.window, found.daily_cap, found.steps) == (sq.id, "09:00-17:00", 50, 2)
        assert sequences.get_sequence(s, actor, str(sq.id)).name == "Welcome  Leads"
        assert [(x.position, x.kind, x.template, x.task_title, x.delay_days) for x in sequences.steps(s, sq.id)] == [
            (1, "email", "Intro", None, 0), (2, "task", None, "Call them", 2)]
        with pytest.raises(NotFound):
            sequences.get_sequence(s, actor, "nope")


@pytest.mark.parametrize("kwargs, message", [
    ({"window": "17:00-09:00"}, "end after"), ({"window": "9-5"}, "09:00-17:00"), ({"daily_cap": 0}, "daily cap"),
    ({"name": "WELCOME LEADS"}, "exists already"),
])
def test_bad_settings_are_one_line_errors_and_write_nothing(db, actor, now, seq, kwargs, message):
    with db.write() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
        with pytest.raises(InvalidInput, match=message):
            sequences.create_sequence(s, actor, **{"name": "Other", **kwargs}, now=now)
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_steps_refuse_an_unknown_template_and_a_bad_delay(db, actor, now, seq):
    sq, _ = seq
    with db.write() as s:
        with pytest.raises(NotFound, match="no template"):
            sequences.add_step(s, actor, sq.id, kind="email", delay_days=1, template="Nope", now=now)
        with pytest.raises(InvalidInput, match="delay"):
            sequences.add_step(s, actor, sq.id, kind="task", delay_days=-1, task_title="x", now=now)
        with pytest.raises(InvalidInput, match="email or task"):
            sequences.add_step(s, actor, sq.id, kind="sms", delay_days=1, now=now)


def test_edits_are_version_checked_and_audited(db, actor, now, seq):
    sq, _ = seq
    with db.write() as s:
        changed = sequences.update_sequence(s, actor, sq.id, version=sq.version, daily_cap=10, window="08:30-12:00",
                                            now=now)
        assert (changed.daily_cap, changed.window, changed.version) == (10, "08:30-12:00", sq.version + 1)
        with pytest.raises(Conflict):
            sequences.update_sequence(s, actor, sq.id, version=sq.version, daily_cap=5, now=now)
        fields = set(s.scalars(select(AuditEvent.field).where(AuditEvent.entity == "sequence",
                                                              AuditEvent.action == "update")))
        assert {"daily_cap", "window_start", "window_end"} <= fields


def test_a_sales_user_edits_only_their_own_sequences(db, actor, now, seq):
    sq, _ = seq
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "role": "sales"}, actor=actor, now=now)
        as_bob = users.actor_for(s, login="bob", now=now)
        with pytest.raises(Forbidden):
            sequences.update_sequence(s, as_bob, sq.id, daily_cap=5, now=now)  # the team's
        own = sequences.create_sequence(s, as_bob, name="Bob's", owner_id=bob.id, now=now)
        assert sequences.update_sequence(s, as_bob, own.id, daily_cap=5, now=now).daily_cap == 5


def test_inserting_and_removing_a_step_keeps_each_enrolment_on_the_same_step(db, actor, now, seq):
    sq, made = seq
    with db.write() as s:
        sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"]], now=now)
        s.execute(SequenceEnrollment.__table__.update().values(next_position=2))  # waiting for "Call them"
        sequences.add_step(s, actor, sq.id, kind="task", delay_days=1, task_title="First", position=1, now=now)
        assert [x.task_title for x in sequences.steps(s, sq.id)] == ["First", None, "Call them"]
        assert s.scalar(select(SequenceEnrollment.next_position)) == 3
        first = sequences.steps(s, sq.id)[0]
        sequences.remove_step(s, actor, sq.id, first.id, now=now)
        assert s.scalar(select(SequenceEnrollment.next_position)) == 2
        assert [x.position for x in sequences.steps(s, sq.id)] == [1, 2]


def test_enrolling_a_list_is_set_based_and_skips_who_may_not_or_cannot_be_emailed(db, actor, now, seq):
    sq, made = seq
    with db.write() as s:
        result = sequences.enroll(s, actor, sq.id, view="New leads", now=now)
        assert (result.enrolled, result.already_active, result.do_not_email, result.no_email) == (2, 0, 1, 1)
        again = sequences.enroll(s, actor, sq.id, view="new leads", now=now)
        assert (again.enrolled, again.already_active) == (0, 2)
        saved = views.create_view(s, data={"name": "Kims", "entity": "contact", "query": "kim", "filters": {},
                                           "sort": "name", "shared": True}, actor=actor, now=now)
        assert sequences.enroll(s, actor, sq.id, view=saved.name, now=now).already_active == 1
        rows = s.execute(select(SequenceEnrollment.contact_id, SequenceEnrollment.next_due_at,
                                SequenceEnrollment.sender_id)).all()
    assert sorted(r.contact_id for r in rows) == sorted([made["Lee"], made["Kim"]])
    assert {r.next_due_at for r in rows} == {now} and {r.sender_id for r in rows} == {actor.user_id}


def test_at_most_one_active_enrolment_but_a_stopped_one_may_enrol_again(db, actor, now, seq):
    sq, made = seq
    with db.write() as s:
        assert sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"]], now=now).enrolled == 1
        assert sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"]], now=now).already_active == 1
        row = sequences.active_enrollment(s, sq.id, made["Lee"])
        stopped = sequences.stop(s, actor, row.id, now=now)
        assert (stopped.status, stopped.stop_reason, stopped.next_position) == ("stopped", "manual", None)
        assert sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"]], now=now).enrolled == 1
        with pytest.raises(InvalidInput, match="stopped already"):
            sequences.stop(s, actor, row.id, now=now)
        with pytest.raises(NotFound):
            sequences.enroll(s, actor, sq.id, contact_ids=[987654], now=now)


def test_enrolling_needs_steps_and_an_unarchived_sequence(db, actor, now, seq):
    _, made = seq
    with db.write() as s:
        empty = sequences.create_sequence(s, actor, name="Empty", now=now)
        with pytest.raises(InvalidInput, match="no steps"):
            sequences.enroll(s, actor, empty.id, contact_ids=[made["Lee"]], now=now)


def test_archiving_stops_the_active_enrolments(db, actor, now, seq):
    sq, made = seq
    with db.write() as s:
        sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"], made["Kim"]], now=now)
        sequences.archive_sequence(s, actor, sq.id, now=now)
        assert set(s.scalars(select(SequenceEnrollment.stop_reason))) == {"archived"}
        with pytest.raises(InvalidInput, match="archived"):
            sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"]], now=now)
        assert [x.name for x in sequences.list_sequences(s, actor)] == []
        assert sequences.unarchive_sequence(s, actor, sq.id, now=now).archived is False


def test_unsubscribe_marks_do_not_email_audited_and_stops_every_sequence(db, actor, now, seq):
    sq, made = seq
    with db.write() as s:
        other = sequences.create_sequence(s, actor, name="Other", now=now)
        sequences.add_step(s, actor, other.id, kind="task", delay_days=1, task_title="x", now=now)
        for sequence_id in (sq.id, other.id):
            sequences.enroll(s, actor, sequence_id, contact_ids=[made["Lee"], made["Kim"]], now=now)
        assert sequences.unsubscribe(s, actor, made["Lee"], now=now) == 2
        assert s.get(Contact, made["Lee"]).do_not_email is True
        assert s.scalar(select(AuditEvent.new_value).where(AuditEvent.entity == "contact",
                                                           AuditEvent.field == "do_not_email")) == "true"
        mine = sequences.contact_sequences(s, actor, made["Lee"])
        assert {(r.sequence, r.status, r.stop_reason) for r in mine} == {("Welcome  Leads", "stopped", "unsubscribed"),
                                                                        ("Other", "stopped", "unsubscribed")}
        assert {r.status for r in sequences.contact_sequences(s, actor, made["Kim"])} == {"active"}
        assert sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"]], now=now).do_not_email == 1


@pytest.mark.parametrize("how", ["won", "lost"])
def test_a_deal_won_or_lost_stops_its_contacts_sequences(db, actor, now, seq, how):
    sq, made = seq
    with db.write() as s:
        sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"], made["Kim"]], now=now)
        deal = deals.create_deal(s, data={"title": "Lee's deal", "amount": "10", "contact_id": made["Lee"]},
                                 actor=actor, now=now)
        if how == "won":
            deals.mark_won(s, deal_id=deal.id, actor=actor, now=now)
        else:
            deals.mark_lost(s, deal_id=deal.id, reason="price", actor=actor, now=now)
        stops = dict(s.execute(select(SequenceEnrollment.contact_id, SequenceEnrollment.stop_reason)).all())
    assert stops == {made["Lee"]: f"deal_{how}", made["Kim"]: None}


def test_the_funnel_and_the_list_count_in_sql(db, actor, now, seq):
    sq, made = seq
    with db.write() as s:
        sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"], made["Kim"]], now=now)
        sequences.stop(s, actor, sequences.active_enrollment(s, sq.id, made["Kim"]).id, now=now)
        empty = sequences.create_sequence(s, actor, name="Empty", now=now)
        listed = {x.name: x for x in sequences.list_sequences(s, actor)}
        funnel = sequences.funnel(s, sq.id)
    assert (funnel.enrolled, funnel.active, funnel.stopped, funnel.sent, funnel.replied) == (2, 1, 1, 0, 0)
    assert listed["Welcome  Leads"].funnel == funnel and listed["Welcome  Leads"].steps == 2
    assert listed[empty.name].funnel == sequences.Funnel() and listed[empty.name].steps == 0


def test_enrolments_page_by_keyset(db, actor, now, seq):
    sq, made = seq
    with db.write() as s:
        sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"], made["Kim"]], now=now)
        first = sequences.enrollments_page(s, actor, sq.id, limit=1)
        second = sequences.enrollments_page(s, actor, sq.id, after=first.next_cursor, limit=1)
        assert len(first.items) == len(second.items) == 1 and second.next_cursor is None
        assert {first.items[0].contact, second.items[0].contact} == {"Lee Park", "Kim Park"}
        assert first.items[0].next_position == 1 and first.items[0].next_due_at == now
        assert sequences.enrollments_page(s, actor, sq.id, status="stopped").items == []


def test_merging_two_contacts_in_one_sequence_keeps_one_active_enrolment(db, actor, now, seq):
    """Both in the sequence: b's enrolment stops ("merged") instead of colliding with a's on the
    one-active-enrolment index; b's enrolments in other sequences move to a."""
    from crm_tui.services import merge

    sq, made = seq
    with db.write() as s:
        other = sequences.create_sequence(s, actor, name="Other", now=now)
        sequences.add_step(s, actor, other.id, kind="task", delay_days=1, task_title="Ring", now=now)
        sequences.enroll(s, actor, sq.id, contact_ids=[made["Lee"], made["Kim"]], now=now)
        sequences.enroll(s, actor, other.id, contact_ids=[made["Kim"]], now=now)
    with db.write() as s:
        merge.merge_records(s, kind="contact", a_id=made["Lee"], b_id=made["Kim"], actor=actor, now=now)
    with db.read() as s:
        rows = s.execute(select(SequenceEnrollment.sequence_id, SequenceEnrollment.contact_id,
                                SequenceEnrollment.status, SequenceEnrollment.stop_reason)
                         .order_by(SequenceEnrollment.id)).all()
    # enroll inserts its rows set-based, in no promised order: compare without the ids' order
    assert sorted((tuple(r) for r in rows), key=repr) == sorted([(sq.id, made["Lee"], "active", None),
                                                                 (sq.id, made["Lee"], "stopped", "merged"),
                                                                 (other.id, made["Lee"], "active", None)], key=repr)
