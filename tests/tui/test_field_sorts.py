"""`s` in the contacts list and the deals list cycles on to the typed custom fields (issue 20):
the list sorted by the field, keyset-paged, and the filter line naming it. Frozen clock."""

from __future__ import annotations

from crm_tui.screens.contacts.screen import SORT_LABELS
from crm_tui.services import contacts, deal_list, deals, fields
from crm_tui.widgets.keyset_table import KeysetTable
from crm_tui.widgets.text_line import Line

from .conftest import make_app, settle
from .test_deals_list import open_list


def _line(screen, selector: str = "#filter-line") -> str:
    return str(screen.query_one(selector, Line).render())


async def test_contacts_sort_by_a_custom_field(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        fields.add_field(s, kind="contact", key="seats", type="number", label="Seats", actor=actor_sqlite, now=now)
        fields.add_field(s, kind="contact", key="langs", type="multi", options=["en,fr"], actor=actor_sqlite, now=now)
        for name, seats in (("Ann", 30), ("Bo", None), ("Cy", 10), ("Di", 20)):
            contacts.create_contact(s, data={"first_name": name, "custom": {"seats": seats} if seats else {}},
                                    actor=actor_sqlite, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        table = screen.query_one("#contact-list", KeysetTable)
        for _ in SORT_LABELS:  # past the list's own sorts
            await pilot.press("s")
            await settle(app, pilot)
        assert screen.sort == "custom.seats"
        assert [r.full_name for r in table.window.rows] == ["Cy", "Di", "Ann", "Bo"]  # empty last
        assert "sorted by Seats" in _line(screen)
        await pilot.press("s")  # a multi-choice field has no order: back to the first sort
        await settle(app, pilot)
        assert screen.sort == "name"


async def test_deals_sort_by_a_custom_field(db, actor, now):
    with db.write() as s:
        fields.add_field(s, kind="deal", key="arr", type="money", label="ARR", actor=actor, now=now)
        for title, arr in (("Anvils", "300"), ("Bolts", None), ("Cogs", "100")):
            deals.create_deal(s, data={"title": title}, custom={"arr": arr} if arr else {}, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(app, pilot)
        for _ in deal_list.SORTS:
            await pilot.press("s")
            await settle(app, pilot)
        assert screen.sort == "custom.arr"
        assert [r.title for r in screen.table.window.rows] == ["Cogs", "Anvils", "Bolts"]
        assert "sorted by ARR" in _line(screen, "#deal-filter-line")
