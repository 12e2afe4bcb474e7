"""The board's reads and the pipeline rules behind its keys: column pages by keyset with the next
task, header totals from one aggregate under every filter, stale deals, stepping between stages,
stage history, lost reasons, and deleting a stage that still has deals."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from sqlalchemy import event, func, select

from crm_tui.errors import InvalidInput, NotFound
from crm_tui.models import Activity, AuditEvent, Deal
from crm_tui.services import board, deals, pipelines, tasks, users
from crm_tui.services.board import BoardFilter

UTC = timezone.utc


def _stages(session) -> dict[str, int]:
    return {s.name: s.id for s in pipelines.default_pipeline(session).stages}


@pytest.fixture
def seeded(db, actor, now):
    """Five deals in the default pipeline: two in New (one stale), one in Proposal, one won, one of bob's."""
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob"}, actor=actor, now=now)
        st = _stages(s)
        old = now - timedelta(days=20)  # New rots after 14 days
        a = deals.create_deal(s, data={"title": "Anvils", "amount": "1000", "expected_close": "2026-11-30"},
                              actor=actor, now=old)
        b = deals.create_deal(s, data={"title": "Bolts", "amount": "500", "currency": "EUR"}, actor=actor, now=now)
        c = deals.create_deal(s, data={"title": "Cogs", "amount": "2000", "stage_id": st["Proposal"],
                                       "expected_close": "2026-12-15"}, actor=actor, now=now)
        d = deals.create_deal(s, data={"title": "Dynamo", "amount": "300"}, actor=actor, now=now)
        deals.mark_won(s, deal_id=d.id, actor=actor, now=now)
        e = deals.create_deal(s, data={"title": "Engines", "amount": "700", "owner_id": bob.id}, actor=actor,
                              now=now - timedelta(days=1))
        tasks.create_task(s, data={"title": "Later", "due_at": "2026-12-01 09:00", "deal_id": a.id}, actor=actor, now=now)
        tasks.create_task(s, data={"title": "Call Ann", "due_at": "2026-11-24 09:00", "deal_id": a.id}, actor=actor,
                          now=now)
        done = tasks.create_task(s, data={"title": "Done one", "due_at": "2026-11-20 09:00", "deal_id": b.id},
                                 actor=actor, now=now)
        tasks.complete_task(s, task_id=done.id, actor=actor, now=now)
    return {"st": st, "a": a, "b": b, "c": c, "d": d, "e": e, "bob": bob}


def _page(db, now, stage_id, filters=None, **kw):
    with db.read() as s:
        return board.column_page(s, stage_id=stage_id, filters=filters, now=now, zone=UTC, **kw)


def _totals(db, now, filters=None):
    with db.read() as s:
        pipeline_id = pipelines.default_pipeline(s).id
        return board.board_totals(s, pipeline_id=pipeline_id, filters=filters, now=now, zone=UTC)


def test_a_column_lists_the_longest_waiting_deal_first_with_its_next_open_task(db, now, seeded):
    page = _page(db, now, seeded["st"]["New"])
    assert [c.title for c in page.items] == ["Anvils", "Engines", "Bolts"]
    anvils, _, bolts = page.items
    assert (anvils.next_task, anvils.next_task_due) == ("Call Ann", now.replace(day=24, hour=9))
    assert bolts.next_task is None  # its only task is done
    assert board.is_stale(anvils.stage_entered_at, 14, now) and not board.is_stale(bolts.stage_entered_at, 14, now)
    won = _page(db, now, seeded["st"]["Won"])
    assert [c.title for c in won.items] == ["Dynamo"]


def test_a_column_pages_by_keyset(db, actor, now):
    with db.write() as s:
        new = _stages(s)["New"]
        for i in range(7):
            deals.create_deal(s, data={"title": f"D{i}"}, actor=actor, now=now + timedelta(minutes=i))
    first = _page(db, now, new, limit=3)
    second = _page(db, now, new, limit=3, after=first.next_cursor)
    last = _page(db, now, new, limit=3, before="end")
    assert [c.title for c in first.items + second.items] == [f"D{i}" for i in range(6)]
    assert [c.title for c in last.items] == ["D4", "D5", "D6"] and last.next_cursor is None


@pytest.mark.parametrize("filters", [None, BoardFilter(stale_only=True), BoardFilter(text="o"),
                                     BoardFilter(close="this_month")])
@pytest.mark.parametrize("limit", [1, 2, 50])
def test_first_pages_are_the_column_pages_in_one_query(db, actor, now, seeded, filters, limit):
    """The board's first pages, all columns at once: the same pages as column_page, in one
    statement (a statement per column cost more in Python than the database takes for all)."""
    with db.write() as s:  # more deals in New than the smallest pages hold, with equal times too
        for i in range(3):
            deals.create_deal(s, data={"title": f"Extra {i}"}, actor=actor, now=now - timedelta(days=i % 2))
    with db.read() as s:
        stages = pipelines.default_pipeline(s).stages
        statements = []
        event.listen(s.get_bind(), "before_cursor_execute", lambda *args: statements.append(args[2]))
        pages = board.first_pages(s, stages=stages, filters=filters, now=now, zone=UTC, limit=limit)
        assert len(statements) == 1
    expected = [_page(db, now, stage.id, filters, limit=limit) for stage in stages]
    assert pages == expected
    new = pages[[stage.name for stage in stages].index("New")]
    assert bool(new.next_cursor) == (filters is None and limit < 6)  # New holds 6 deals unfiltered
    if new.next_cursor:  # the cursor goes on where the page stopped
        after = _page(db, now, new.items[0].stage_id, filters, limit=50, after=new.next_cursor)
        assert [c.id for c in new.items + after.items] == [c.id for c in _page(db, now, new.items[0].stage_id,
                                                                                  filters, limit=50).items]


def test_totals_come_from_one_aggregate_per_stage_and_currency(db, now, seeded):
    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        totals = _totals(db, now)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    on_deals = [sql for sql in statements if "FROM deals" in sql]
    assert len(on_deals) == 1 and "GROUP BY deals.stage_id, deals.currency" in on_deals[0]
    new = totals.stage(seeded["st"]["New"])
    assert new.count == 3
    assert [(m.currency, m.amount_minor) for m in new.amounts] == [("USD", 170000), ("EUR", 50000)]
    assert [(m.currency, m.amount_minor) for m in new.weighted] == [("USD", 17000), ("EUR", 5000)]
    assert totals.stage(seeded["st"]["Won"]).count == 1
    assert totals.open_count == 4  # the won deal is not in the open pipeline
    assert [(m.currency, m.amount_minor) for m in totals.open_amounts] == [("USD", 370000), ("EUR", 50000)]
    # New 10% of 1,700, Proposal 50% of 2,000
    assert [(m.currency, m.amount_minor) for m in totals.forecast] == [("USD", 117000), ("EUR", 5000)]


def test_filters_combine_and_the_totals_follow_them(db, now, seeded):
    new = seeded["st"]["New"]
    mine = BoardFilter(owner_id=seeded["a"].owner_id)
    assert [c.title for c in _page(db, now, new, mine).items] == ["Anvils", "Bolts"]
    assert _totals(db, now, mine).open_count == 3
    bobs = BoardFilter(owner_id=seeded["bob"].id)
    assert [c.title for c in _page(db, now, new, bobs).items] == ["Engines"]
    text = BoardFilter(text="COG")
    assert _totals(db, now, text).open_count == 1
    stale = BoardFilter(stale_only=True)
    assert [c.title for c in _page(db, now, new, stale).items] == ["Anvils"]
    assert _totals(db, now, stale).open_count == 1
    this_month = BoardFilter(close="this_month")  # November 2026
    assert _totals(db, now, this_month).open_count == 1
    assert _totals(db, now, BoardFilter(close="next_month", text="cogs")).open_count == 1
    assert _totals(db, now, BoardFilter(close="none")).open_count == 2
    assert _totals(db, now, BoardFilter(close="none", stale_only=True)).open_count == 0
    with pytest.raises(InvalidInput, match="close period"):
        _totals(db, now, BoardFilter(close="someday"))


def test_close_periods_follow_the_users_calendar(now):
    from datetime import date

    assert board.close_range("this_week", now, UTC) == (date(2026, 11, 23), date(2026, 11, 30))
    assert board.close_range("this_quarter", now, UTC) == (date(2026, 10, 1), date(2027, 1, 1))
    assert board.close_range("next_quarter", now, UTC) == (date(2027, 1, 1), date(2027, 4, 1))
    assert board.close_range("next_month", now.replace(month=12), UTC) == (date(2027, 1, 1), date(2027, 2, 1))


def test_stepping_a_deal_moves_it_between_open_stages_only(db, actor, now, seeded):
    a = seeded["a"]
    later = now + timedelta(hours=1)
    with db.write() as s:
        moved = deals.step_deal(s, deal_id=a.id, step=1, actor=actor, version=a.version, now=later)
        assert (moved.stage_name, moved.stage_entered_at) == ("Qualified", later)
        back = deals.step_deal(s, deal_id=a.id, step=-1, actor=actor, now=later + timedelta(hours=1))
        assert back.stage_name == "New"
        with pytest.raises(InvalidInput, match="first stage"):
            deals.step_deal(s, deal_id=a.id, step=-1, actor=actor, now=later)
    with db.write() as s, pytest.raises(InvalidInput, match="won"):
        deals.step_deal(s, deal_id=seeded["d"].id, step=1, actor=actor, now=later)
    with db.read() as s:
        history = board.stage_history(s, deal_id=a.id, now=later + timedelta(days=3, hours=1))
    assert [(h.stage_name, h.days) for h in history] == [("New", 20), ("Qualified", 0), ("New", 3)]
    assert history[0].left_at == later and history[-1].left_at is None


def test_lost_reasons_are_a_list_the_team_edits(db, actor, now):
    with db.write() as s:
        assert pipelines.list_lost_reasons(s)[:2] == ["Price too high", "Went with a competitor"]
        after = pipelines.add_lost_reason(s, name=" Legal blocked it ", actor=actor, now=now)
        assert after[-1] == "Legal blocked it"
        with pytest.raises(InvalidInput, match="already"):
            pipelines.add_lost_reason(s, name="legal blocked it", actor=actor, now=now)
        after = pipelines.remove_lost_reason(s, name="price too high", actor=actor, now=now)
        assert "Price too high" not in after
        with pytest.raises(NotFound):
            pipelines.remove_lost_reason(s, name="nope", actor=actor, now=now)
        assert pipelines.add_lost_reason(s, name="Price too high", actor=actor, now=now)[-1] == "Price too high"


def test_deleting_a_stage_with_deals_moves_them_and_logs_it(db, actor, now, seeded):
    st = seeded["st"]
    with db.write() as s:
        counts = pipelines.stage_deal_counts(s, pipeline_id=pipelines.default_pipeline(s).id)
        assert counts[st["New"]] == 3
        with pytest.raises(InvalidInput, match="choose a stage"):
            pipelines.delete_stage(s, stage_id=st["New"], actor=actor, now=now)
    with db.write() as s:
        assert pipelines.delete_stage(s, stage_id=st["New"], actor=actor, move_to_stage_id=st["Qualified"],
                                      now=now) == 3
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Deal).where(Deal.stage_id == st["Qualified"])) == 3
        assert s.scalar(select(func.count()).select_from(Activity).where(
            Activity.kind == "stage_change", Activity.subject.like("New → Qualified%"))) == 3
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity == "deal", AuditEvent.action == "move")) == 3
        history = board.stage_history(s, deal_id=seeded["b"].id, now=now)
    assert [h.stage_name for h in history] == ["(deleted stage)", "Qualified"]
