"""The account view of a company: deal totals per status and currency, the consolidated timeline
(the company's, its contacts' and its deals' activities), its open tasks, and contact counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_tui.errors import NotFound
from crm_tui.services import activities, companies, contacts, deals, tasks
from crm_tui.services.deals import DealSummary, DealTotal


def _company(s, actor, now, name: str) -> int:
    return companies.create_company(s, data={"name": name}, actor=actor, now=now).id


def test_deal_summary_counts_and_sums_per_status_and_currency(db, actor, now):
    with db.write() as s:
        acme, other = _company(s, actor, now, "Acme"), _company(s, actor, now, "Other")

        def deal(title: str, amount: str, currency: str, company_id: int = acme) -> int:
            return deals.create_deal(s, data={"title": title, "amount": amount, "currency": currency,
                                              "company_id": company_id}, actor=actor, now=now).id

        deal("Anvils", "1,000.00", "USD")
        deal("Rockets", "250.50", "USD")
        deal("Euro anvils", "400", "EUR")
        deals.mark_won(s, deal_id=deal("Big win", "5000", "USD"), actor=actor, now=now)
        deals.mark_won(s, deal_id=deal("Tokyo", "1200", "JPY"), actor=actor, now=now)
        deals.mark_lost(s, deal_id=deal("Gone", "300.25", "EUR"), reason="price", actor=actor, now=now)
        deals.set_deal_archived(s, deal_id=deal("Archived", "99", "USD"), archived=True, actor=actor, now=now)
        deal("Not theirs", "777", "USD", company_id=other)

    with db.read() as s:
        summary = deals.company_deal_summary(s, company_id=acme)
    assert summary.totals == (
        DealTotal("open", "EUR", 1, 40000),
        DealTotal("open", "USD", 2, 125050),
        DealTotal("won", "JPY", 1, 1200),
        DealTotal("won", "USD", 1, 500000),
        DealTotal("lost", "EUR", 1, 30025),
    )
    assert (summary.count(), summary.count("open"), summary.count("won"), summary.count("lost")) == (6, 3, 2, 1)
    assert summary.amounts("open") == {"EUR": 40000, "USD": 125050}
    assert summary.amounts("lost") == {"EUR": 30025}


def test_deal_summary_of_a_company_without_deals_is_empty_and_unknown_company_is_not_found(db, actor, now):
    with db.write() as s:
        acme = _company(s, actor, now, "Acme")
    with db.read() as s:
        assert deals.company_deal_summary(s, company_id=acme) == DealSummary(())
        with pytest.raises(NotFound, match="no company with id 4242"):
            deals.company_deal_summary(s, company_id=4242)


def _log(s, actor, now, minutes_ago: int, subject: str, **links):
    activity, _ = activities.log_activity(s, data={"kind": "call", "subject": subject,
                                                   "occurred_at": now - timedelta(minutes=minutes_ago), **links},
                                          actor=actor, now=now)
    return activity.id


def test_company_timeline_includes_its_contacts_and_deals_activities_newest_first(db, actor, now):
    with db.write() as s:
        acme, other = _company(s, actor, now, "Acme"), _company(s, actor, now, "Other")
        ada = contacts.create_contact(s, data={"first_name": "Ada", "company_id": acme}, actor=actor, now=now)
        bob = contacts.create_contact(s, data={"first_name": "Bob"}, actor=actor, now=now)
        eve = contacts.create_contact(s, data={"first_name": "Eve", "company_id": other}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Anvils"}, actor=actor, now=now)
        on_ada = _log(s, actor, now, 10, "Ada's call", contact_id=ada.id)
        on_bob = _log(s, actor, now, 20, "Bob before he joined", contact_id=bob.id)
        on_acme = _log(s, actor, now, 30, "Account note", company_id=acme)
        on_deal = _log(s, actor, now, 40, "Deal call before it was Acme's", deal_id=deal.id)
        _log(s, actor, now, 5, "Eve's call", contact_id=eve.id)
        # Bob joins Acme and the deal becomes Acme's after their activities were logged
        contacts.update_contact(s, contact_id=bob.id, changes={"company_id": acme}, actor=actor, now=now)
        deals.update_deal(s, deal_id=deal.id, changes={"company_id": acme}, actor=actor, now=now)

    with db.read() as s:
        # the stored company_id alone (activities.timeline) knows only what was true at log time
        assert [a.id for a in activities.timeline(s, company_id=acme).items] == [on_ada, on_acme]
        page = companies.company_timeline(s, company_id=acme, with_total=True)
        assert [a.id for a in page.items] == [on_ada, on_bob, on_acme, on_deal]
        assert [a.contact_name for a in page.items] == ["Ada", "Bob", None, None]
        assert page.total == 4 and page.next_cursor is None

        first = companies.company_timeline(s, company_id=acme, limit=3)
        rest = companies.company_timeline(s, company_id=acme, after=first.next_cursor, limit=3)
        assert [a.id for a in first.items] == [on_ada, on_bob, on_acme]
        assert [a.id for a in rest.items] == [on_deal] and rest.next_cursor is None
        with pytest.raises(NotFound):
            companies.company_timeline(s, company_id=4242)


def test_company_tasks_are_the_open_ones_of_the_company_its_contacts_and_deals_by_due(db, actor, now):
    with db.write() as s:
        acme, other = _company(s, actor, now, "Acme"), _company(s, actor, now, "Other")
        ada = contacts.create_contact(s, data={"first_name": "Ada", "company_id": acme}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Anvils", "company_id": acme}, actor=actor, now=now)

        def task(title: str, due: str | None, **links) -> int:
            return tasks.create_task(s, data={"title": title, "due_at": due, **links}, actor=actor, now=now).id

        undated = task("Someday", None, company_id=acme)
        later = task("Send quote", "+3d", deal_id=deal.id)
        soon = task("Call Ada back", "+1d", contact_id=ada.id)
        done = task("Done already", "+2d", company_id=acme)
        tasks.complete_task(s, task_id=done, actor=actor, now=now)
        task("Not theirs", "+1d", company_id=other)

    with db.read() as s:
        page = companies.company_tasks(s, company_id=acme, with_total=True)
    assert [t.id for t in page.items] == [soon, later, undated]
    assert [t.related for t in page.items] == ["contact: Ada", "deal: Anvils", "company: Acme"]
    assert [t.assignee_login for t in page.items] == ["ann", "ann", "ann"]
    assert page.total == 3


def test_contact_counts_of_a_page_of_companies(db, actor, now):
    with db.write() as s:
        acme, beta, empty = (_company(s, actor, now, n) for n in ("Acme", "Beta", "Empty"))
        for first, company_id in (("Ada", acme), ("Al", acme), ("Bo", beta), ("Gone", acme), ("Solo", None)):
            c = contacts.create_contact(s, data={"first_name": first, "company_id": company_id}, actor=actor, now=now)
            if first == "Gone":
                contacts.set_contact_archived(s, contact_id=c.id, archived=True, actor=actor, now=now)
    with db.read() as s:
        assert companies.contact_counts(s, company_ids=[acme, beta, empty]) == {acme: 2, beta: 1, empty: 0}
        assert companies.contact_counts(s, company_ids=[]) == {}
