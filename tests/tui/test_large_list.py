"""The contact list on 100k contacts: it opens with the rows that fit and a few pages behind them,
never the whole table, and End/Home jump by keyset without walking the rows in between."""

from __future__ import annotations

import pytest

from crm_tui.screens.contacts.screen import ContactsScreen
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle

N = 100_000


def _fill(db) -> None:
    """100k minimal contacts in one INSERT ... SELECT (the search index fills through its trigger)."""
    with db.write() as session:
        session.connection().exec_driver_sql(f"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {N})
            INSERT INTO contacts (version, created_at, updated_at, first_name, last_name, full_name, sort_name,
                                  email, lifecycle, custom, archived, search_text)
            SELECT 1, '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', 'P' || i, 'Q', 'P' || i || ' Q',
                   'p' || printf('%06d', i) || ' q', 'p' || i || '@example.com', 'lead', '{{}}', 0,
                   'p' || i || ' q p' || i || '@example.com'
            FROM n""")


@pytest.mark.slow  # builds 100k contacts: it starts with the suite's other long tests (tests/conftest.py)
async def test_contacts_open_on_100k_without_loading_them(sqlite_db, actor_sqlite, now, page_spy):
    _fill(sqlite_db)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, ContactsScreen)
        table = app.screen.query_one("#contact-list", KeysetTable)
        assert table.total == N
        assert [r.full_name for r in table.visible_rows()[:2]] == ["P1 Q", "P2 Q"]
        assert page_spy.rows_fetched(table) <= 2 * table.page_size
        assert page_spy.fetches(table) == 1

        for _ in range(20):  # page down through ~600 rows: pages come in as the cursor nears them
            await pilot.press("pagedown")
            await settle(app, pilot)
        assert table.cursor > 500
        assert table.current_row.full_name == f"P{table.cursor + 1} Q"
        assert table.held_rows <= table.window_pages * table.page_size
        assert page_spy.rows_fetched(table) < 1_000

        # a reload in place (an edit saved, a teammate's change) keeps the cursor's row and the scroll,
        # though the cursor is pages into the rows held (and, after End, in a page asked for backwards)
        await _reloads_in_place(app, pilot, table)

        await pilot.press("end")
        await settle(app, pilot)
        assert table.current_row.full_name == f"P{N} Q"
        assert f"{N:,} of {N:,}" in str(table.border_subtitle)
        await pilot.press("up")
        await settle(app, pilot)
        assert table.current_row.full_name == f"P{N - 1} Q"
        await _reloads_in_place(app, pilot, table)
        await pilot.press("home")
        await settle(app, pilot)
        assert table.current_row.full_name == "P1 Q"
        assert page_spy.rows_fetched(table) < 2_000, "the whole table was never loaded"


async def _reloads_in_place(app, pilot, table) -> None:
    where = (table.cursor, table._top, table.current_row.id)
    table.reload()
    await settle(app, pilot)
    assert (table.cursor, table._top, table.current_row.id) == where
    assert all(row is not None for row in table.visible_rows())


async def test_walking_back_from_the_end_of_a_list_without_a_total_moves_one_row_at_a_time(sqlite_db, actor_sqlite, now):
    """The timeline's source gives no total, so End guesses position 0; earlier pages arriving must
    not make the cursor jump."""
    from datetime import timedelta

    from crm_tui.screens.contacts.detail import ContactDetailScreen
    from crm_tui.services import activities, contacts

    with sqlite_db.write() as session:
        ada = contacts.create_contact(session, data={"first_name": "Ada"}, actor=actor_sqlite, now=now)
        for i in range(300):
            activities.log_activity(session, actor=actor_sqlite, now=now, data={
                "kind": "note", "contact_id": ada.id, "subject": f"n{i}", "occurred_at": now - timedelta(minutes=i)})
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.push_screen(ContactDetailScreen(ada.id))
        await settle(app, pilot)
        timeline = app.screen.query_one("#timeline", KeysetTable)
        await pilot.press("end")
        await settle(app, pilot)
        assert timeline.current_row.subject == "n299"
        for _ in range(60):
            await pilot.press("up")
            await settle(app, pilot)
        assert timeline.current_row.subject == "n239"


async def test_a_rows_line_is_made_again_for_new_columns_a_new_width_and_new_rows(db, actor, now):
    """The table keeps each row's formatted line; a change of columns, of width or of the rows held
    must never show a line made for the old ones."""
    from crm_tui.services import contacts

    with db.write() as session:
        for first, email in (("Ada", "ada@example.com"), ("Bob", "bob@example.com")):
            contacts.create_contact(session, data={"first_name": first, "emails": [email]}, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#contact-list", KeysetTable)
        assert "ada@example.com" in table.render_line(1).text
        table.columns = [c for c in table.columns if c.title != "Email"]
        table.notify_style_update()
        assert "Ada" in table.render_line(1).text and "ada@example.com" not in table.render_line(1).text
        await pilot.resize_terminal(80, 24)
        await settle(app, pilot)
        assert len(table.render_line(1).text) == table.content_region.width
        with db.write() as session:
            contacts.create_contact(session, data={"first_name": "Aaron"}, actor=actor, now=now)
        table.reload()
        await settle(app, pilot)
        assert "Aaron" in table.render_line(1).text
