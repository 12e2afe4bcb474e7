"""Deals service: create in minor units, move between stages (activity + audit), win, lose, reopen."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from crm_tui.errors import Conflict, InvalidInput, NotFound
from crm_tui.models import Activity, AuditEvent, Deal
from crm_tui.services import companies, contacts, deals, pipelines


def _counts(db) -> tuple[int, ...]:
    with db.read() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Deal, Activity, AuditEvent))


def _stage(session, name: str) -> int:
    return next(st.id for st in pipelines.default_pipeline(session).stages if st.name == name)


def _deal(db, actor, now, **data):
    with db.write() as s:
        return deals.create_deal(s, data={"title": "Big deal", "amount": "1000", **data}, actor=actor, now=now)


def test_create_in_the_default_pipelines_first_stage_in_minor_units(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "company_id": acme.id}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": " Anvils ", "amount": "12,500.50", "contact_id": ada.id,
                                          "expected_close": "2026-12-15"}, actor=actor, now=now)
        yen = deals.create_deal(s, data={"title": "Yen deal", "amount": "1200", "currency": "jpy",
                                         "expected_close": "next fri"}, actor=actor, now=now)
        default = pipelines.default_pipeline(s)
    assert (deal.title, deal.amount_minor, deal.currency) == ("Anvils", 1250050, "USD")
    assert (deal.pipeline_id, deal.stage_id, deal.stage_name) == (default.id, default.stages[0].id, "New")
    assert (deal.status, deal.stage_entered_at, deal.closed_at) == ("open", now, None)
    assert (deal.contact_id, deal.company_id, deal.company_name) == (ada.id, acme.id, "Acme")  # company via contact
    assert deal.expected_close == date(2026, 12, 15) and deal.owner_login == "ann"
    assert (yen.amount_minor, yen.currency, yen.expected_close) == (1200, "JPY", date(2026, 11, 27))
    with db.read() as s:
        row = s.get(Deal, deal.id)
        assert (row.amount_minor, row.title_key, row.version) == (1250050, "anvils", 1)
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "deal", AuditEvent.entity_id == deal.id)).one()
        assert event.action == "create" and event.new_value == "Anvils ($12,500.50) in New"


BAD_DEALS = [
    ({"amount": "-5"}, InvalidInput, "must not be negative"),
    ({"amount": "10.001"}, InvalidInput, "at most 2 decimal places"),
    ({"amount": "10.5", "currency": "JPY"}, InvalidInput, "at most 0 decimal places"),
    ({"currency": "XYZ"}, InvalidInput, "unknown currency 'XYZ'"),
    ({"amount": "lots"}, InvalidInput, "invalid amount 'lots'"),
    ({"expected_close": "when pigs fly"}, InvalidInput, "can't read 'when pigs fly' as a date"),
    ({"contact_id": 99999}, NotFound, "no contact with id 99999"),
    ({"company_id": 99999}, NotFound, "no company with id 99999"),
    ({"title": "  "}, InvalidInput, "deal title is required"),
]


def test_bad_deal_input_raises_and_writes_nothing(db, actor, now):
    deal = _deal(db, actor, now)
    before = _counts(db)
    for data, error, message in BAD_DEALS:
        with pytest.raises(error, match=message) as caught:
            with db.write() as s:
                deals.create_deal(s, data={"title": "Bad deal", **data}, actor=actor, now=now)
        assert "\n" not in caught.value.message
        assert _counts(db) == before, data
    for changes in ({"amount": "-1"}, {"currency": "XYZ"}, {"expected_close": "someday"}, {"contact_id": 99999}):
        with pytest.raises((InvalidInput, NotFound)):
            with db.write() as s:
                deals.update_deal(s, deal_id=deal.id, changes=changes, actor=actor, now=now)
        assert _counts(db) == before, changes
    with db.read() as s:
        row = s.get(Deal, deal.id)
        assert (row.amount_minor, row.currency, row.version) == (100000, "USD", 1)


def test_move_sets_stage_and_time_and_logs_an_activity_and_audit(db, actor, now):
    deal = _deal(db, actor, now)
    later = now + timedelta(days=2)
    with db.write() as s:
        moved = deals.move_deal(s, deal_id=deal.id, stage_id=_stage(s, "Qualified"), actor=actor, version=1, now=later)
    assert (moved.stage_name, moved.stage_entered_at, moved.status, moved.version) == ("Qualified", later, "open", 2)
    with db.read() as s:
        activity = s.scalars(select(Activity).where(Activity.deal_id == deal.id)).one()
        assert (activity.kind, activity.subject, activity.occurred_at) == ("stage_change", "New → Qualified", later)
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "deal", AuditEvent.action == "move")).one()
        assert (event.field, event.old_value, event.new_value) == ("stage_id", str(deal.stage_id),
                                                                   str(moved.stage_id))

    with db.write() as s:
        other = pipelines.create_pipeline(s, name="Partners", actor=actor, now=now)
    before = _counts(db)
    with pytest.raises(InvalidInput, match="stage 'New' is not in this deal's pipeline"):
        with db.write() as s:
            deals.move_deal(s, deal_id=deal.id, stage_id=other.stages[0].id, actor=actor, now=later)
    assert _counts(db) == before
    with db.read() as s:
        assert s.get(Deal, deal.id).stage_id == moved.stage_id


def test_won_lost_and_reopen(db, actor, now):
    deal = _deal(db, actor, now)
    t1, t2, t3 = (now + timedelta(days=d) for d in (1, 2, 3))
    with db.write() as s:
        won = deals.mark_won(s, deal_id=deal.id, actor=actor, now=t1)
    assert (won.status, won.stage_name, won.closed_at, won.stage_entered_at) == ("won", "Won", t1, t1)
    with pytest.raises(InvalidInput, match="already won"):
        with db.write() as s:
            deals.mark_won(s, deal_id=deal.id, actor=actor, now=t1)

    with db.write() as s:  # out of won: open again
        reopened = deals.move_deal(s, deal_id=deal.id, stage_id=_stage(s, "Negotiation"), actor=actor, now=t2)
    assert (reopened.status, reopened.closed_at, reopened.stage_name) == ("open", None, "Negotiation")

    before = _counts(db)
    for reason in (None, "   "):
        with pytest.raises(InvalidInput, match="lost reason is required"):
            with db.write() as s:
                deals.mark_lost(s, deal_id=deal.id, reason=reason, actor=actor, now=t3)
        assert _counts(db) == before
    with db.write() as s:
        lost = deals.mark_lost(s, deal_id=deal.id, reason="went with a rival", actor=actor, now=t3)
    assert (lost.status, lost.lost_reason, lost.closed_at) == ("lost", "went with a rival", t3)

    with db.read() as s:
        events = s.execute(select(AuditEvent.action, AuditEvent.field, AuditEvent.new_value)
                           .where(AuditEvent.entity == "deal").order_by(AuditEvent.id)).all()
        by_action = {}
        for action, field, new_value in events:
            by_action.setdefault(action, {})[field] = new_value
        assert list(by_action) == ["create", "won", "reopen", "lost"]
        assert by_action["won"]["status"] == "won" and by_action["won"]["closed_at"] == t1.isoformat()
        assert by_action["reopen"]["status"] == "open" and by_action["reopen"]["closed_at"] is None
        assert by_action["lost"]["lost_reason"] == "went with a rival"
        subjects = list(s.scalars(select(Activity.subject).where(Activity.deal_id == deal.id).order_by(Activity.id)))
        assert subjects == ["New → Won", "Won → Negotiation", "Negotiation → Lost"]
        assert s.scalars(select(Activity.body).where(Activity.subject == "Negotiation → Lost")).one() == \
            "went with a rival"
        assert [d.title for d in deals.list_deals(s, status="lost").items] == ["Big deal"]
        assert deals.list_deals(s, status="open").items == []


def test_stale_version_is_a_conflict_and_writes_nothing(db, actor, now):
    deal = _deal(db, actor, now)
    with db.write() as s:
        deals.update_deal(s, deal_id=deal.id, changes={"amount": "2,000"}, actor=actor, version=1, now=now)
    before = _counts(db)
    with pytest.raises(Conflict, match="deal 'Big deal' was changed by ann .*version 1, it is now version 2"):
        with db.write() as s:
            deals.move_deal(s, deal_id=deal.id, stage_id=_stage(s, "Proposal"), actor=actor, version=1, now=now)
    with pytest.raises(Conflict):
        with db.write() as s:
            deals.update_deal(s, deal_id=deal.id, changes={"title": "Mine"}, actor=actor, version=1, now=now)
    assert _counts(db) == before
    with db.read() as s:
        row = s.get(Deal, deal.id)
        assert (row.title, row.amount_minor, row.stage_id, row.version) == ("Big deal", 200000, deal.stage_id, 2)
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "update")).one()
        assert (event.field, event.old_value, event.new_value) == ("amount_minor", "100000", "200000")
