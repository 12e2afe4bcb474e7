"""A closed deal can be corrected in the app (issue 17 #13): s moves it to any stage, r reopens it
in an open stage, and winning a lost deal (or losing a won one) asks first, on the deal screen
and on the board."""

from __future__ import annotations

from crm_tui.screens.pipeline.deal import DealDetailScreen, LostReasonScreen, StagePickerScreen
from crm_tui.screens.forms import ConfirmScreen
from crm_tui.services import deals

from .conftest import make_app, settle
from .test_pipeline import _deal, _open_board, _seed


async def _open_deal(app, pilot, deal_id) -> DealDetailScreen:
    app.push_screen(DealDetailScreen(deal_id))
    await settle(app, pilot)
    assert isinstance(app.screen, DealDetailScreen) and app.screen.deal is not None
    return app.screen


async def test_w_on_a_lost_deal_asks_and_r_reopens_it(sqlite_db, actor_sqlite, now):
    db, actor = sqlite_db, actor_sqlite
    ids = _seed(db, actor, now)
    with db.write() as s:
        deals.mark_lost(s, deal_id=ids["dynamo"], reason="Price", actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await _open_deal(app, pilot, ids["dynamo"])
        await pilot.press("w")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen) and "was lost" in app.screen.question
        await pilot.press("n")
        await settle(app, pilot)
        assert _deal(db, ids["dynamo"]).status == "lost"  # one keystroke no longer wins it

        await pilot.press("w")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert _deal(db, ids["dynamo"]).status == "won"

        await pilot.press("L")  # losing a won deal asks too, then asks why
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen) and "was won" in app.screen.question
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(app.screen, LostReasonScreen)
        await pilot.press("escape")
        await settle(app, pilot)
        assert _deal(db, ids["dynamo"]).status == "won"

        await pilot.press("r")  # reopen: the open stages only
        await settle(app, pilot)
        picker = app.screen
        assert isinstance(picker, StagePickerScreen)
        assert [s.name for s in picker.stages] == ["New", "Qualified", "Proposal", "Negotiation"]
        await pilot.press("down", "down", "enter")
        await settle(app, pilot)
        deal = _deal(db, ids["dynamo"])
        assert (deal.status, deal.stage_name) == ("open", "Proposal")

        await pilot.press("s")  # any other stage: here Won, with no question (it was open)
        await settle(app, pilot)
        assert [s.name for s in app.screen.stages] == ["New", "Qualified", "Negotiation", "Won", "Lost"]
        await pilot.press("end", "up", "enter")
        await settle(app, pilot)
        assert _deal(db, ids["dynamo"]).status == "won"


async def test_the_board_asks_before_winning_a_lost_card(sqlite_db, actor_sqlite, now):
    db, actor = sqlite_db, actor_sqlite
    ids = _seed(db, actor, now)
    with db.write() as s:
        deals.mark_lost(s, deal_id=ids["dynamo"], reason="Price", actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        board = await _open_board(app, pilot)
        await pilot.press("c")  # show Won and Lost
        await settle(app, pilot)
        lost = next(i for i, c in enumerate(board.columns) if c.stage.kind == "lost")
        board.focus_column(lost)
        await settle(app, pilot)
        await pilot.press("w")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(app, pilot)
        assert _deal(db, ids["dynamo"]).status == "lost"
        await pilot.press("w")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        assert _deal(db, ids["dynamo"]).status == "won"
