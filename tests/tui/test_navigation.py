"""Navigation through the app: a screen asks the app to open a record (app.open_record), a deal
opens in the full deal screen from everywhere, the detail screens share one set of tab keys, and the
areas come from the one registry (crm_tui/areas.py)."""

from __future__ import annotations

from textual.widgets import TabbedContent

from crm_tui.areas import AREAS
from crm_tui.screens.companies.detail import CompanyDetailScreen
from crm_tui.screens.contacts.detail import ContactDetailScreen
from crm_tui.screens.detail import DetailScreen
from crm_tui.screens.pipeline.deal import DealDetailScreen
from crm_tui.services import companies, contacts, deals
from crm_tui.widgets.area_bar import AreaBar
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle


def _seed(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "company": "Acme"}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Anvils", "amount": "100", "contact_id": ada.id,
                                          "company_id": acme.id}, actor=actor, now=now)
    return acme, ada, deal


async def test_a_contacts_deal_opens_the_full_deal_screen(sqlite_db, actor_sqlite, now):
    _acme, ada, deal = _seed(sqlite_db, actor_sqlite, now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        app.open_record("contact", ada.id)
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDetailScreen)
        await pilot.press("right_square_bracket")  # the Deals tab
        await settle(app, pilot)
        assert app.focused is app.screen.query_one("#deals", KeysetTable)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen) and app.screen.deal_id == deal.id
        await pilot.press("o")  # and from the deal, its company
        await settle(app, pilot)
        assert isinstance(app.screen, CompanyDetailScreen) and app.screen.company_id == _acme.id


async def test_opening_a_record_in_its_area(sqlite_db, actor_sqlite, now):
    acme, _ada, deal = _seed(sqlite_db, actor_sqlite, now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        app.open_record("company", acme.id, in_its_area=True)
        await settle(app, pilot)
        assert app.current_mode == "companies" and isinstance(app.screen, CompanyDetailScreen)
        assert app.screen.query_one(AreaBar).current == "companies"
        app.open_record("deal", deal.id, in_its_area=True)
        await settle(app, pilot)
        assert app.current_mode == "pipeline" and isinstance(app.screen, DealDetailScreen)


async def test_the_detail_screens_step_their_tabs_with_the_same_keys(sqlite_db, actor_sqlite, now):
    acme, ada, deal = _seed(sqlite_db, actor_sqlite, now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        for screen, last_pane, last_table in ((ContactDetailScreen(ada.id), "tab-history", "history"),
                                              (CompanyDetailScreen(acme.id), "company-tab-history", "company-history"),
                                              (DealDetailScreen(deal.id), "tab-deal-history", "deal-history")):
            assert isinstance(screen, DetailScreen)
            app.push_screen(screen)
            await settle(app, pilot)
            await pilot.press("left_square_bracket")  # back from the first tab: round to the last
            await settle(app, pilot)
            assert screen.query_one(TabbedContent).active == last_pane
            assert app.focused is screen.query_one(f"#{last_table}", KeysetTable)
            await pilot.press("right_square_bracket")
            await settle(app, pilot)
            assert screen.query_one(TabbedContent).active == screen.query_one(TabbedContent).query("TabPane").first().id
            app.pop_screen()
            await settle(app, pilot)


async def test_the_areas_come_from_the_registry(sqlite_db, actor_sqlite, now):
    app = make_app(sqlite_db, actor_sqlite, now)
    assert list(app.MODES) == [area.mode for area in AREAS]
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        bar = app.screen.query_one(AreaBar).text().plain
        assert [bar.index(f" {a.key} {a.title}") for a in AREAS] == sorted(bar.index(f" {a.key} {a.title}")
                                                                         for a in AREAS)
        for area in AREAS[1:]:
            await pilot.press(area.key)
            await settle(app, pilot)
            assert app.current_mode == area.mode


async def test_at_80_columns_the_bar_shows_every_area_and_who_is_signed_in(sqlite_db, actor_sqlite, now):
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        bar = app.screen.query_one(AreaBar)
        text = bar.text().plain
        assert all(f" {a.key} {a.title}" in text for a in AREAS if app.may_open(a.mode)), text
        assert text.rstrip().endswith(actor_sqlite.login) and len(text) <= 80, text
