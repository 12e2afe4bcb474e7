"""The pipeline board driven by keys: move a deal forward and back (stage, time in stage, activity
and audit in the database; only the two columns fetched again), win and lose (with a reason from
the list and a typed one), filters and their totals, the stale mark, switching pipelines; pipeline
settings (reorder, delete a stage that has deals); and a board of 20k deals that fetches pages only
(where a click focuses a card, and a move the service refuses is rolled back)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from crm_tui.models import Activity, AuditEvent, Deal, Stage
from crm_tui.screens.pipeline.deal import DealDetailScreen, LostReasonScreen
from crm_tui.screens.pipeline.board import PipelineScreen
from crm_tui.screens.pipeline.board_dialogs import BoardFilterForm
from crm_tui.screens.pipeline.settings import PipelineSettingsScreen, StagePicker
from crm_tui.services import deals, pipelines
from crm_tui.widgets.kanban import CARD_HEIGHT, HEADER_HEIGHT, KanbanBoard

from .conftest import make_app, settle


def _seed(db, actor, now) -> dict:
    with db.write() as s:
        stages = {st.name: st.id for st in pipelines.default_pipeline(s).stages}
        ids = {
            "anvils": deals.create_deal(s, data={"title": "Anvils", "amount": "1000"}, actor=actor,
                                        now=now - timedelta(days=20)).id,  # New rots after 14 days
            "bolts": deals.create_deal(s, data={"title": "Bolts", "amount": "500"}, actor=actor, now=now).id,
            "cogs": deals.create_deal(s, data={"title": "Cogs", "amount": "2000", "stage_id": stages["Qualified"]},
                                      actor=actor, now=now).id,
            "dynamo": deals.create_deal(s, data={"title": "Dynamo", "amount": "4000", "stage_id": stages["Proposal"]},
                                        actor=actor, now=now).id,
        }
        renewals = pipelines.create_pipeline(s, name="Renewals", actor=actor, now=now,
                                             stages=[{"name": "Due"}, {"name": "Quoted", "probability": 60},
                                                     {"name": "Renewed", "kind": "won", "probability": 100},
                                                     {"name": "Churned", "kind": "lost"}])
        deals.create_deal(s, data={"title": "Acme renewal", "amount": "900", "pipeline_id": renewals.id}, actor=actor,
                          now=now)
    return {"stages": stages, **ids}


def _deal(db, deal_id):
    with db.read() as s:
        return deals.get_deal(s, deal_id=deal_id)


def _titles(column) -> list[str]:
    return [card.title for card in column.rows]


def _card_text(column, index: int) -> list[str]:
    """The lines a card is drawn with (it must be on screen)."""
    top = HEADER_HEIGHT + (index - column._top) * 5
    return [column.render_line(top + i).text for i in range(4)]


async def _open_board(app, pilot) -> KanbanBoard:
    await pilot.press("3")
    await settle(app, pilot)
    assert isinstance(app.screen, PipelineScreen)
    return app.screen.board


async def test_moving_winning_losing_filtering_and_switching_pipelines(sqlite_db, actor_sqlite, now, page_spy):
    db, ids = sqlite_db, _seed(sqlite_db, actor_sqlite, now)
    app = make_app(db, actor_sqlite, now)
    async with app.run_test(size=(120, 36)) as pilot:
        board = await _open_board(app, pilot)
        screen = app.screen
        assert [c.stage.name for c in board.columns] == ["New", "Qualified", "Proposal", "Negotiation"]
        new, qualified, proposal, negotiation = board.columns
        assert _titles(new) == ["Anvils", "Bolts"] and app.focused is board
        # the stale deal is marked: a red edge and its days in stage flagged
        anvils_lines, bolts_lines = _card_text(new, 0), _card_text(new, 1)
        assert anvils_lines[0].startswith("▌") and "20d stale" in anvils_lines[2]
        assert not bolts_lines[0].startswith("▌") and "stale" not in bolts_lines[2]
        assert "no next task" in anvils_lines[3]
        assert (new.totals.count, screen.totals.open_count) == (2, 4)

        # forward: only the two columns are fetched again, and the focus follows the card
        fetches = [page_spy.fetches(c) for c in board.columns]
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        moved = _deal(db, ids["anvils"])
        assert (moved.stage_name, moved.stage_entered_at) == ("Qualified", now)
        assert [page_spy.fetches(c) - f for c, f in zip(board.columns, fetches, strict=True)] == [1, 1, 0, 0]
        assert board.column is qualified and board.current_card.title == "Anvils"
        assert (new.totals.count, qualified.totals.count) == (1, 2)
        await pilot.press("shift+left")
        await settle(app, pilot)
        back = _deal(db, ids["anvils"])
        assert back.stage_name == "New" and board.column is new and board.current_card.title == "Anvils"
        with db.read() as s:
            changes = s.scalars(select(Activity.subject).where(Activity.deal_id == ids["anvils"],
                                                               Activity.kind == "stage_change")
                                .order_by(Activity.id)).all()
            moves = s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.entity == "deal", AuditEvent.entity_id == ids["anvils"], AuditEvent.field == "stage_id"))
        assert changes == ["New → Qualified", "Qualified → New"] and moves == 2

        # won, then lost with a reason from the list, then lost with a typed reason
        await pilot.press("w")
        await settle(app, pilot)
        assert _deal(db, ids["anvils"]).status == "won"
        assert _titles(new) == ["Bolts"] and board.current_card.title == "Bolts"
        await pilot.press("L")
        await settle(app, pilot)
        assert isinstance(app.screen, LostReasonScreen)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        bolts = _deal(db, ids["bolts"])
        assert (bolts.status, bolts.lost_reason) == ("lost", "Went with a competitor")
        await pilot.press("l", "L")
        await settle(app, pilot)
        await pilot.press("tab", *"Legal said no", "enter")
        await settle(app, pilot)
        cogs = _deal(db, ids["cogs"])
        assert (cogs.status, cogs.lost_reason) == ("lost", "Legal said no")
        assert screen.totals.open_count == 1 and _titles(qualified) == []

        # filters combine and the totals follow them
        with db.write() as s:
            deals.create_deal(s, data={"title": "Dynamo spares", "amount": "100", "expected_close": "2026-11-30"},
                              actor=actor_sqlite, now=now - timedelta(days=30))
        await pilot.press("slash")
        await settle(app, pilot)
        assert isinstance(app.screen, BoardFilterForm)
        await pilot.press(*"dynamo", "enter")
        await settle(app, pilot)
        assert screen.totals.open_count == 2 and _titles(new) == ["Dynamo spares"]
        await pilot.press("slash")
        await settle(app, pilot)
        app.screen.query_one("#filter-stale").value = True
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert screen.totals.open_count == 1 and _titles(proposal) == []
        assert [(m.currency, m.amount_minor) for m in screen.totals.open_amounts] == [("USD", 10000)]
        assert "stale only" in str(screen.query_one("#board-bar").render())
        await pilot.press("x")
        await settle(app, pilot)
        assert screen.totals.open_count == 2 and _titles(proposal) == ["Dynamo"]

        # Enter opens the deal detail
        await pilot.press("l", "enter")  # from Qualified to Proposal
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen) and app.screen.deal.title == "Dynamo"
        await pilot.press("escape")
        await settle(app, pilot)

        # switch to the Renewals pipeline
        await pilot.press("p")
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert [c.stage.name for c in board.columns] == ["Due", "Quoted"]
        assert _titles(board.columns[0]) == ["Acme renewal"] and screen.totals.open_count == 1
        await pilot.press("c")
        await settle(app, pilot)
        assert [c.stage.name for c in board.columns] == ["Due", "Quoted", "Renewed", "Churned"]


async def test_settings_reorder_stages_and_delete_one_that_has_deals(sqlite_db, actor_sqlite, now):
    db, ids = sqlite_db, _seed(sqlite_db, actor_sqlite, now)
    app = make_app(db, actor_sqlite, now)
    async with app.run_test(size=(100, 30)) as pilot:
        board = await _open_board(app, pilot)
        await pilot.press("S")
        await settle(app, pilot)
        assert isinstance(app.screen, PipelineSettingsScreen)
        await pilot.press("J")  # New goes after Qualified
        await settle(app, pilot)
        with db.read() as s:
            order = [st.name for st in pipelines.default_pipeline(s).stages]
        assert order == ["Qualified", "New", "Proposal", "Negotiation", "Won", "Lost"]
        # delete New (two deals): it asks where they go
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, StagePicker)
        await pilot.press("down", "enter")  # Proposal
        await settle(app, pilot)
        with db.read() as s:
            assert s.get(Stage, ids["stages"]["New"]) is None
            assert {d.stage_id for d in s.scalars(select(Deal).where(Deal.id.in_([ids["anvils"], ids["bolts"]])))} == {
                ids["stages"]["Proposal"]}
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, PipelineScreen)
        assert [c.stage.name for c in board.columns] == ["Qualified", "Proposal", "Negotiation"]
        assert sorted(_titles(board.columns[1])) == ["Anvils", "Bolts", "Dynamo"]


N = 20_000


def _fill(db) -> None:
    """20k open deals over the four open stages, in one INSERT ... SELECT."""
    with db.write() as session:
        stage_ids = [st.id for st in pipelines.default_pipeline(session).stages if st.kind == "open"]
        pipeline_id = pipelines.default_pipeline(session).id
        cases = " ".join(f"WHEN {i} THEN {sid}" for i, sid in enumerate(stage_ids))
        session.connection().exec_driver_sql(f"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {N})
            INSERT INTO deals (version, created_at, updated_at, title, title_key, pipeline_id, stage_id, amount_minor,
                               currency, status, stage_entered_at, archived)
            SELECT 1, '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', 'D' || i, 'd' || i, {pipeline_id},
                   CASE i % {len(stage_ids)} {cases} END, 100 * i, 'USD', 'open',
                   printf('2026-%02d-%02d 00:00:00.000000', 1 + i % 10, 1 + i % 28), 0
            FROM n""")


async def test_a_board_of_20k_deals_fetches_pages_not_rows(sqlite_db, actor_sqlite, now, page_spy):
    _fill(sqlite_db)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36)) as pilot:
        board = await _open_board(app, pilot)
        columns = board.columns
        assert sum(c.totals.count for c in columns) == N  # the headers come from the aggregate
        # each column opens with what it shows and one card more; the rest come a page ahead of the focus
        assert all(len(c.rows) == c.visible_cards + 1 for c in columns) and columns[0].visible_cards == 6
        assert sum(page_spy.rows_fetched(c) for c in columns) == 4 * 7
        await pilot.press("down")
        await settle(app, pilot)
        assert len(columns[0].rows) == 7 + columns[0].page_size and columns[0].cursor == 1
        assert len(columns) == 4 and not board.children  # one widget draws the board: none per stage or deal
        await pilot.press(*["pagedown"] * 15)  # about ten cards each (36 rows: six cards shown)
        await settle(app, pilot)
        first = columns[0]
        assert first.cursor > 0 and first.current is not None
        assert page_spy.rows_fetched(first) < 1_000 and len(first.rows) <= first.window_pages * first.page_size
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert board.column is columns[1] and columns[1].totals.count == N // 4 + 1
        assert sum(page_spy.rows_fetched(c) for c in columns) < 2_000, "the board never loaded the deals"

        # a click focuses the card under the mouse (the board is one widget: it finds the column)
        await pilot.click(KanbanBoard, offset=(1 + columns[2].x + 3, HEADER_HEIGHT + CARD_HEIGHT + 1))
        assert board.column is columns[2] and columns[2].cursor == columns[2]._top + 1
        await pilot.press("left")

        # a teammate changed another field of the deal meanwhile: the move applies on top of it
        card = board.current_card
        with sqlite_db.write() as s:
            s.execute(update(Deal).where(Deal.id == card.id).values(version=Deal.version + 1, amount_minor=777))
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert board.column is columns[2] and board.current_card.id == card.id
        moved = _deal(sqlite_db, card.id)
        assert (moved.stage_id, moved.amount_minor) == (columns[2].stage.id, 777)
        assert not any(n.title == "Changed by someone else" for n in app._notifications)
        await pilot.press("left_square_bracket")
        await settle(app, pilot)
        assert board.column is columns[1] and _deal(sqlite_db, card.id).stage_id == columns[1].stage.id

        # a move the service refuses (a teammate moved the deal meanwhile): the board is put back as
        # the database has it, and the person is told where the deal is now
        card = board.current_card
        with sqlite_db.write() as s:
            s.execute(update(Deal).where(Deal.id == card.id).values(version=Deal.version + 1,
                                                                    stage_id=columns[3].stage.id))
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        assert columns[2].index_of(card.id) is None and columns[1].index_of(card.id) is None
        assert _deal(sqlite_db, card.id).stage_id == columns[3].stage.id
        [told] = [n for n in app._notifications if n.title == "Changed by someone else"]
        assert f"(now in {columns[3].stage.name})" in told.message


@pytest.mark.parametrize("local", [True, False], ids=["local", "server"])
async def test_the_header_totals_wait_until_the_first_board_is_painted(sqlite_db, actor_sqlite, now, monkeypatch,
                                                                       local):
    """The cards first, the totals after: the totals' aggregate, run alongside the first frame,
    slows it down, so the preload reads them once the board has been drawn. A local database's
    first pages are read on the spot and the totals by a worker; a server's (as PostgreSQL: the
    same code on SQLite here) in one thread, pages then totals."""
    import threading

    from crm_tui.db import Database
    from crm_tui.services import board as board_service  # the screen imports it when it first reads

    monkeypatch.setattr(Database, "local_reads", property(lambda self: local))
    read_in = []
    real_pages = board_service.first_pages

    def first_pages(session, **kw):
        read_in.append(threading.get_ident())
        return real_pages(session, **kw)

    monkeypatch.setattr(board_service, "first_pages", first_pages)

    _seed(sqlite_db, actor_sqlite, now)
    painted, asked = [False], []
    real_totals, real_line = board_service.board_totals, KanbanBoard.render_line

    def render_line(self, y):
        if any(column.rows for column in self.columns):
            painted[0] = True
        return real_line(self, y)

    def board_totals(session, **kw):
        asked.append(painted[0])
        return real_totals(session, **kw)

    monkeypatch.setattr(KanbanBoard, "render_line", render_line)
    monkeypatch.setattr(board_service, "board_totals", board_totals)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36)) as pilot:
        board = await _open_board(app, pilot)
        assert asked == [True]
        assert board.columns[0].rows and app.screen.totals.stage  # the totals did come
        assert (read_in == [threading.get_ident()]) is local
