"""Quotes: made from a deal's items under a gapless per-year number, frozen once sent (a change is a
new revision), draft edits version-checked and audited, accept wins the deal at the quote's total in
one transaction, and the engine's pass expires quotes past their validity."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select

from crm_tui.errors import Conflict, InvalidInput, PermissionDenied
from crm_tui.models import Activity, AuditEvent, Deal, DealItem, Quote, QuoteCounter, QuoteItem
from crm_tui.services import deals, quotes, users
from crm_tui.workflows import runner
from crm_tui.workflows.rules import RuleSet
from tests.unit.quote_fixtures import add_items, deal_with_items


def _create(db, actor, now, deal_id, **kw):
    with db.write() as s:
        return quotes.create_quote(s, actor=actor, deal_id=deal_id, now=now, **kw)


def test_a_quote_copies_the_deals_items_and_totals_under_a_yearly_number(db, actor, now):
    deal, _lee = deal_with_items(db, actor, now, n=3, discount_bp=1000)
    q = _create(db, actor, now, deal.id, terms="Net 30", notes="Thanks")
    assert (q.number, q.revision, q.status, q.currency, q.locale) == ("Q-2026-0001", 1, "draft", "USD", "en_US")
    # 3 lines of 2 x 100.00, 10% off, 20% tax
    assert (q.subtotal_minor, q.discount_minor, q.tax_minor, q.total_minor) == (60_000, 6_000, 10_800, 64_800)
    assert [i.sku for i in q.items] == [f"SKU-{deal.id}-{n}" for n in (1, 2, 3)]
    assert q.valid_until == date(2026, 12, 23)  # 30 days by default
    assert (q.terms, q.notes, q.deal_title, q.contact_name) == ("Net 30", "Thanks", "Acme renewal", "Lee Park")
    second = _create(db, actor, now, deal.id, valid_until="+2w")
    assert second.number == "Q-2026-0002" and second.valid_until == date(2026, 12, 7)
    with db.read() as s:
        assert quotes.find_quote(s, ref="q-2026-0002") == second.id
        assert s.scalar(select(AuditEvent.action).where(AuditEvent.entity == "quote",
                                                         AuditEvent.entity_id == q.id)) == "create"


def test_a_deal_without_items_is_refused_and_takes_no_number(db, actor, now):
    with db.write() as s:
        deal = deals.create_deal(s, data={"title": "Empty"}, actor=actor, now=now)
    with pytest.raises(InvalidInput, match="has no items to quote"):
        _create(db, actor, now, deal.id)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Quote)) == 0
        assert s.scalar(select(QuoteCounter.last).where(QuoteCounter.year == 2026)) is None


def test_bad_validity_is_refused_with_nothing_written(db, actor, now):
    deal, _ = deal_with_items(db, actor, now)
    with pytest.raises(InvalidInput, match="in the past"):
        _create(db, actor, now, deal.id, valid_until="2026-01-01")
    with pytest.raises(InvalidInput):
        _create(db, actor, now, deal.id, valid_until="someday soonish")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Quote)) == 0


def test_a_rolled_back_quote_leaves_no_gap(db, actor, now):
    deal, _ = deal_with_items(db, actor, now)
    _create(db, actor, now, deal.id)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with db.write() as s:
            quotes.create_quote(s, actor=actor, deal_id=deal.id, now=now)
            raise Boom
    assert _create(db, actor, now, deal.id).number == "Q-2026-0002"


def test_a_draft_edit_is_version_checked_and_audited_and_a_sent_quote_is_frozen(db, actor, now):
    deal, _ = deal_with_items(db, actor, now)
    q = _create(db, actor, now, deal.id)
    with db.write() as s:
        edited = quotes.update_quote(s, actor=actor, quote_id=q.id, version=q.version, now=now,
                                     changes={"terms": "Net 15", "valid_until": "2026-12-31"})
    assert (edited.terms, edited.valid_until, edited.version) == ("Net 15", date(2026, 12, 31), q.version + 1)
    with pytest.raises(Conflict):
        with db.write() as s:
            quotes.update_quote(s, actor=actor, quote_id=q.id, version=q.version, changes={"notes": "x"}, now=now)
    with db.read() as s:
        fields = set(s.scalars(select(AuditEvent.field).where(AuditEvent.entity == "quote",
                                                              AuditEvent.action == "update")))
    assert fields == {"terms", "valid_until"}
    with db.write() as s:
        sent = quotes.mark_sent(s, actor=actor, quote_id=q.id, pdf=b"%PDF-fake", now=now)
    assert sent.status == "sent" and sent.has_pdf and sent.sent_at == now
    with pytest.raises(InvalidInput, match="frozen; revise it"):
        with db.write() as s:
            quotes.update_quote(s, actor=actor, quote_id=q.id, changes={"notes": "x"}, now=now)


def test_revise_makes_a_new_draft_revision_under_the_same_number_from_the_deals_items_now(db, actor, now):
    deal, _ = deal_with_items(db, actor, now, n=2)
    q = _create(db, actor, now, deal.id)
    with pytest.raises(InvalidInput, match="is a draft"):
        with db.write() as s:
            quotes.revise_quote(s, actor=actor, quote_id=q.id, now=now)
    with db.write() as s:
        quotes.mark_sent(s, actor=actor, quote_id=q.id, pdf=b"%PDF", now=now)
        add_items(s, deal.id, 1, prefix="NEW")
    with db.write() as s:
        r2 = quotes.revise_quote(s, actor=actor, quote_id=q.id, now=now)
    assert (r2.number, r2.revision, r2.status, len(r2.items), r2.label) == (q.number, 2, "draft", 3,
                                                                              f"{q.number} rev 2")
    with db.read() as s:
        assert quotes.find_quote(s, ref=q.number) == r2.id
        assert quotes.find_quote(s, ref=q.number, revision=1) == q.id
        assert not quotes.get_quote(s, quote_id=q.id).latest
        assert s.scalar(select(func.count()).select_from(QuoteItem).where(QuoteItem.quote_id == q.id)) == 2
        # the list never reads the PDF column
        page = quotes.list_quotes(s, deal_id=deal.id)
    assert [x.label for x in page.items] == [f"{q.number} rev 2", q.number]
    with pytest.raises(InvalidInput, match="newer revision"):
        with db.write() as s:
            quotes.revise_quote(s, actor=actor, quote_id=q.id, now=now)


def test_accept_wins_the_deal_at_the_quotes_total_in_one_transaction(db, actor, now):
    deal, _ = deal_with_items(db, actor, now, n=2)
    q = _create(db, actor, now, deal.id)
    with db.write() as s:
        accepted = quotes.accept_quote(s, actor=actor, quote_id=q.id, now=now)
    assert accepted.status == "accepted" and accepted.accepted_at == now
    with db.read() as s:
        d = deals.get_deal(s, deal_id=deal.id)
        assert (d.status, d.amount_minor) == ("won", q.total_minor)
        assert "won" in set(s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "deal",
                                                                      AuditEvent.entity_id == deal.id)))
        assert s.scalar(select(Activity.outcome).where(Activity.deal_id == deal.id)) == "won"


def test_a_deal_whose_items_changed_since_the_quote_is_not_won_at_a_stale_total(db, actor, now):
    deal, _ = deal_with_items(db, actor, now, n=2)
    q = _create(db, actor, now, deal.id)
    with db.write() as s:
        add_items(s, deal.id, 1, prefix="NEW")
    with pytest.raises(InvalidInput, match="items changed since; revise the quote"):
        with db.write() as s:
            quotes.accept_quote(s, actor=actor, quote_id=q.id, now=now)
    with db.read() as s:
        assert (s.get(Quote, q.id).status, s.get(Deal, deal.id).status) == ("draft", "open")


def test_a_deal_whose_items_went_gets_the_quotes_total(db, actor, now):
    deal, _ = deal_with_items(db, actor, now, n=2)
    q = _create(db, actor, now, deal.id)
    with db.write() as s:
        s.execute(delete(DealItem).where(DealItem.deal_id == deal.id))
        deals.update_deal(s, deal_id=deal.id, changes={"amount": "5"}, actor=actor, now=now)
    with db.write() as s:
        quotes.accept_quote(s, actor=actor, quote_id=q.id, now=now)
    with db.read() as s:
        assert (s.get(Deal, deal.id).status, s.get(Deal, deal.id).amount_minor) == ("won", q.total_minor)
        assert "update" in set(s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "deal",
                                                                         AuditEvent.entity_id == deal.id)))


def test_a_failed_win_rolls_the_acceptance_back(db, actor, now):
    deal, _ = deal_with_items(db, actor, now)
    q = _create(db, actor, now, deal.id)
    with db.write() as s:
        deals.mark_lost(s, deal_id=deal.id, reason="price", actor=actor, now=now)
    # winning a lost deal needs the person's confirmation: the accept fails with it, whole
    with pytest.raises(InvalidInput, match="needs your confirmation"):
        with db.write() as s:
            quotes.accept_quote(s, actor=actor, quote_id=q.id, now=now)
    with db.read() as s:
        assert s.get(Quote, q.id).status == "draft"
        assert s.get(Deal, deal.id).amount_minor == q.total_minor
    with db.write() as s:
        assert quotes.accept_quote(s, actor=actor, quote_id=q.id, now=now, mark_won=False).status == "accepted"
    with db.read() as s:
        assert s.get(Deal, deal.id).status == "lost"


def test_decline_and_statuses_that_cannot_change(db, actor, now):
    deal, _ = deal_with_items(db, actor, now)
    q = _create(db, actor, now, deal.id)
    with db.write() as s:
        assert quotes.decline_quote(s, actor=actor, quote_id=q.id, now=now).status == "declined"
    for call in (quotes.accept_quote, quotes.decline_quote):
        with pytest.raises(InvalidInput, match="is declined"):
            with db.write() as s:
                call(s, actor=actor, quote_id=q.id, now=now)


def test_per_record_permission_on_the_deal(db, actor, now):
    deal, _ = deal_with_items(db, actor, now)
    with db.write() as s:
        users.create_user(s, data={"login": "sam", "name": "Sam", "role": "sales"}, actor=actor, now=now)
        sam = users.actor_for(s, login="sam", now=now)
    with pytest.raises(PermissionDenied):
        _create(db, sam, now, deal.id)  # ann's deal
    q = _create(db, actor, now, deal.id)
    with pytest.raises(PermissionDenied):
        with db.write() as s:
            quotes.accept_quote(s, actor=sam, quote_id=q.id, now=now)


def test_the_engine_expires_drafts_and_sent_quotes_past_their_validity(db, actor, now):
    deal, _ = deal_with_items(db, actor, now)
    draft = _create(db, actor, now, deal.id, valid_until="2026-11-30")
    sent = _create(db, actor, now, deal.id, valid_until="2026-11-30")
    later = _create(db, actor, now, deal.id, valid_until="2026-12-31")
    accepted = _create(db, actor, now, deal.id, valid_until="2026-11-30")
    with db.write() as s:
        quotes.mark_sent(s, actor=actor, quote_id=sent.id, pdf=b"%PDF", now=now)
        quotes.accept_quote(s, actor=actor, quote_id=accepted.id, now=now, mark_won=False)
    assert runner.run(db, rules=RuleSet(), now=now + timedelta(days=7)).expired_quotes == 0  # the 30th is still valid
    report = runner.run(db, rules=RuleSet(), now=now + timedelta(days=8))
    assert report.expired_quotes == 2 and report.changed
    with db.read() as s:
        statuses = {q.id: (q.status, q.version) for q in s.scalars(select(Quote))}
        who = set(s.scalars(select(AuditEvent.actor).where(AuditEvent.action == "expired")))
        trail = {e.entity_id: (e.field, e.old_value, e.new_value)
                 for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "expired"))}
    assert trail == {draft.id: ("status", "draft", "expired"), sent.id: ("status", "sent", "expired")}
    assert statuses[draft.id] == ("expired", draft.version + 1) and statuses[sent.id][0] == "expired"
    assert statuses[later.id][0] == "draft" and statuses[accepted.id][0] == "accepted"
    assert who == {"system:workflow/quote-expiry"}
    assert runner.run(db, rules=RuleSet(), now=now + timedelta(days=9)).expired_quotes == 0
