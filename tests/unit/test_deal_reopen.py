"""Reopening and overturning closed deals (issue 17 #13), on both databases."""

from __future__ import annotations

import pytest

from crm_tui.errors import InvalidInput
from crm_tui.services import deals, pipelines


@pytest.fixture
def lost_deal(db, actor, now):
    with db.write() as s:
        deal = deals.create_deal(s, data={"title": "Orbit", "amount": "100"}, actor=actor, now=now)
        return deals.mark_lost(s, deal_id=deal.id, reason="Price", actor=actor, now=now)


def test_a_lost_deal_is_won_only_when_confirmed(db, actor, now, lost_deal):
    with db.write() as s, pytest.raises(InvalidInput, match="was lost; marking it won needs your confirmation"):
        deals.mark_won(s, deal_id=lost_deal.id, actor=actor, now=now)
    with db.write() as s:
        won = deals.mark_won(s, deal_id=lost_deal.id, actor=actor, now=now, overturn=True)
    assert (won.status, won.lost_reason) == ("won", None)
    with db.write() as s, pytest.raises(InvalidInput, match="was won; marking it lost"):
        deals.mark_lost(s, deal_id=won.id, reason="Oops", actor=actor, now=now)


def test_reopen_puts_a_closed_deal_in_an_open_stage(db, actor, now, lost_deal):
    with db.read() as s:
        stages = {st.name: st.id for st in pipelines.default_pipeline(s).stages}
    with db.write() as s, pytest.raises(InvalidInput, match="open stage"):
        deals.reopen_deal(s, deal_id=lost_deal.id, stage_id=stages["Won"], actor=actor, now=now)
    with db.write() as s:
        first = deals.reopen_deal(s, deal_id=lost_deal.id, actor=actor, now=now)
    assert (first.status, first.stage_name, first.closed_at, first.lost_reason) == ("open", "New", None, None)
    with db.write() as s, pytest.raises(InvalidInput, match="open already"):
        deals.reopen_deal(s, deal_id=lost_deal.id, actor=actor, now=now)
    with db.write() as s:
        deals.mark_won(s, deal_id=lost_deal.id, actor=actor, now=now)  # open -> won: no question
        again = deals.reopen_deal(s, deal_id=lost_deal.id, stage_id=stages["Proposal"], actor=actor, now=now)
    assert (again.status, again.stage_name) == ("open", "Proposal")


def test_the_cli_reopens_and_asks_for_yes(crm_runner):
    crm = crm_runner
    crm.ok("deal", "add", "Orbit", "--amount", "100")
    crm.ok("deal", "lost", "1", "--reason", "Price")
    refused = crm.fails("deal", "won", "1")
    assert "--yes" in refused.stderr
    assert crm.json("deal", "show", "1")["status"] == "lost"
    crm.ok("deal", "won", "1", "--yes")
    crm.ok("deal", "reopen", "1", "--stage", "Negotiation")
    shown = crm.json("deal", "show", "1")
    assert (shown["status"], shown["stage_name"]) == ("open", "Negotiation")
    crm.fails("deal", "reopen", "1")


@pytest.fixture
def crm_runner(db_url):
    from tests.cli.conftest import Crm

    return Crm(db_url)
