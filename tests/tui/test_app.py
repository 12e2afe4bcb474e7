"""The minimal app: it opens, loads the first page of contacts in a worker, and shows the count."""

from textual.widgets import DataTable, Static

from crm_tui.app import CrmApp
from crm_tui.services import contacts


async def test_app_lists_first_page_of_contacts(db, actor, now):
    with db.write() as session:
        for first in ("Ann", "Bob", "Cleo"):
            contacts.create_contact(session, data={"first_name": first, "last_name": "Lee",
                                                   "emails": [f"{first.lower()}@example.com"]}, actor=actor, now=now)
    app = CrmApp(db, actor)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one(DataTable)
        assert table.row_count == 3
        assert [table.get_row_at(i)[0] for i in range(3)] == ["Ann Lee", "Bob Lee", "Cleo Lee"]
        assert "3 contacts" in str(app.query_one("#status", Static).render())


async def test_app_on_empty_database_says_how_to_start(db, actor):
    app = CrmApp(db, actor)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.query_one(DataTable).row_count == 0
        assert "crm demo" in str(app.query_one("#status", Static).render())
