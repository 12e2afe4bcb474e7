"""The app at 80x24: the board (a moved card among its new column's cards at once, End and G,
titles and companies each with their own space, the ‹ n › indicator), and the words (plurals,
help without class names or Textual's generic keys, no version in the deal header, role reset
asks first)."""

from __future__ import annotations

from datetime import timedelta

from crm_tui.screens.forms import ConfirmScreen
from crm_tui.screens.help import HelpScreen, binding_rows
from crm_tui.screens.pipeline.deal import DealDetailScreen
from crm_tui.services import companies, deals, permissions, pipelines
from crm_tui.widgets.kanban import HEADER_HEIGHT, KanbanBoard, own_title

from .conftest import make_app, settle

SIZE = (80, 24)


def _many(db, actor, now, stage: str, n: int, *, company_id=None, title="Deal") -> list[int]:
    with db.write() as s:
        stage_id = next(st.id for st in pipelines.default_pipeline(s).stages if st.name == stage)
        return [deals.create_deal(s, data={"title": f"{title} {i:02}", "amount": "100", "stage_id": stage_id,
                                           "company_id": company_id},
                                  actor=actor, now=now - timedelta(days=60 - i)).id for i in range(n)]


async def _board(app, pilot) -> KanbanBoard:
    await settle(app, pilot)
    await pilot.press("3")
    await settle(app, pilot)
    return app.screen.board


async def test_a_moved_card_shows_among_its_new_columns_cards_at_once(db, actor, now):
    _many(db, actor, now, "New", 2)
    held = _many(db, actor, now, "Qualified", 12, title="Held")
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        board = await _board(app, pilot)
        new, qualified = board.columns[0], board.columns[1]
        card = board.current_card
        await pilot.press("right_square_bracket")
        # before the move is written: the card is focused, and the cards the column held are there
        assert board.column is qualified and board.current_card.id == card.id
        assert len(qualified.visible_rows()) > 1
        await settle(app, pilot)
        assert board.column is qualified and board.current_card.id == card.id
        shown = [c.id for c in qualified.visible_rows()]
        assert shown[-1] == card.id and set(shown[:-1]) <= set(held) and len(shown) == qualified.visible_cards
        assert new.totals.count == 1


async def test_end_and_G_go_to_the_last_card_of_a_long_column(db, actor, now):
    ids = _many(db, actor, now, "New", 40)
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        board = await _board(app, pilot)
        assert board.current_card.id == ids[0]
        await pilot.press("end")
        await settle(app, pilot)
        assert board.current_card.id == ids[-1]
        await pilot.press("g")
        await settle(app, pilot)
        assert board.current_card.id == ids[0]
        await pilot.press("G")
        await settle(app, pilot)
        assert board.current_card.id == ids[-1]


async def test_the_board_at_80_columns_shows_title_then_company_and_follows_the_hidden_columns(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme Industries International"}, actor=actor, now=now)
    _many(db, actor, now, "New", 2, company_id=acme.id, title="Acme Industries International – Renewal")
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        board = await _board(app, pilot)
        first = board.columns[0]
        title, company = (first.render_line(HEADER_HEIGHT + i).text for i in range(2))
        assert title.strip("▌ ").startswith("Renewal 00") and company.strip("▌ ").startswith("Acme Industries")
        shown = [c for c in board.columns if c.display]
        assert len(shown) == 3 and all(c.width >= 24 for c in shown)  # readable; the fourth scrolls
        bar = lambda: str(app.screen.query_one("#board-bar").render())  # noqa: E731
        assert "1 ›" in bar() and "‹" not in bar()
        await pilot.press("right", "right", "right")
        await settle(app, pilot)
        assert board.hidden == (1, 0) and "‹ 1" in bar() and "›" not in bar()
        assert "Open 2 deals" in str(app.screen.query_one("#board-summary").render())


def test_a_title_keeps_what_tells_it_apart_from_its_company():
    assert own_title("Acme – Renewal", "Acme") == "Renewal"
    assert own_title("Acme", "Acme") == "Acme"
    assert own_title("Acme2 upgrade", "Acme") == "Acme2 upgrade"
    assert own_title("Renewal", None) == "Renewal"


async def test_help_names_no_widget_class_and_lists_only_the_apps_keys(db, actor, now):
    _many(db, actor, now, "New", 1)
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        await _board(app, pilot)
        rows = binding_rows(app.screen)
        assert all(row[3] for row in rows)  # Textual's generic keys have no id: not listed
        wheres = {row[0] for row in rows}
        assert "Board" in wheres and not any("Kanban" in w or "Widget" in w for w in wheres)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


async def test_the_deal_header_shows_no_version_and_one_deal_is_singular(db, actor, now):
    [deal_id] = _many(db, actor, now, "New", 1)
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        await _board(app, pilot)
        assert "Open 1 deal " in str(app.screen.query_one("#board-summary").render())
        app.open_record("deal", deal_id)
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert " v1" not in text and "created" in text


async def test_role_reset_asks_first(db, actor, now):
    from crm_tui.screens.settings.roles import RoleSettingsScreen

    with db.write() as s:
        permissions.revoke(s, role="sales", action="deal.edit", actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        app.push_screen(RoleSettingsScreen())
        await settle(app, pilot)
        table = app.screen.query_one("#roles-table")
        table.move_cursor(column=1 + list(permissions.ROLES).index("sales"))
        await pilot.press("R")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen) and "1 change" in app.screen.question
        await pilot.press("n")
        await settle(app, pilot)
        with db.read() as s:
            assert any("sales" in row.changed for row in permissions.matrix(s))
        await pilot.press("R")
        await settle(app, pilot)
        await pilot.press("y")
        await settle(app, pilot)
        with db.read() as s:
            assert not any("sales" in row.changed for row in permissions.matrix(s))


async def test_the_areas_own_key_leaves_the_import_screen(db, actor, now):
    from crm_tui.screens.contacts.screen import ContactsScreen
    from crm_tui.screens.settings.imports import ImportScreen

    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(ImportScreen())
        await settle(app, pilot)
        app.screen.query_one("#import-mapping").focus()
        await pilot.press("1")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        app.push_screen(ImportScreen())
        await settle(app, pilot)
        app.screen.query_one("#import-mapping").focus()
        await pilot.press("3")
        await settle(app, pilot)
        assert app.current_mode == "pipeline"


async def test_an_empty_database_says_how_to_add_a_contact_not_how_to_clear_a_search(db, actor, now):
    from crm_tui.widgets.keyset_table import KeysetTable

    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(KeysetTable)
        text = " ".join(table.render_line(y).text for y in range(4))
        assert "No contacts yet" in text and "clear the search" not in text
        await pilot.press("slash", *"zzqx", "enter")
        await settle(app, pilot)
        text = " ".join(table.render_line(y).text for y in range(4))
        assert "No contacts match" in text and "x to clear the search" in text
