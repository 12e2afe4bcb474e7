"""The deals list beside the board: v switches, sorting, filtering (won and lost and archived reachable),
the built-in and saved lists, Enter opening the deal, and the empty states. Frozen clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm_tui.models import SavedView
from crm_tui.screens.pipeline.board import PipelineScreen
from crm_tui.screens.pipeline.deal import DealDetailScreen
from crm_tui.screens.pipeline.deals import DealFilterForm, DealListsPicker, DealsListScreen
from crm_tui.screens.saved_lists import SaveViewForm
from crm_tui.services import companies, deals
from crm_tui.widgets.keyset_table import KeysetTable

from .conftest import make_app, settle


def seed(db, actor, now) -> dict[str, int]:
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now).id
        ids = {title: deals.create_deal(s, data={"title": title, "amount": amount, "company_id": company,
                                                 "expected_close": close},
                                        actor=actor, now=now - timedelta(days=i)).id
               for i, (title, amount, company, close) in enumerate([
                   ("Anvils", "1000", acme, "2027-01-10"), ("Bolts", "500", None, "2027-02-01"),
                   ("Cogs", "2000", acme, None), ("Dynamo", "4000", None, "2027-01-20")])}
        deals.mark_won(s, deal_id=ids["Cogs"], actor=actor, now=now)
        deals.mark_lost(s, deal_id=ids["Bolts"], reason="Price", actor=actor, now=now)
        deals.set_deal_archived(s, deal_id=ids["Dynamo"], archived=True, actor=actor, now=now)
    return ids


def titles(table: KeysetTable) -> list[str]:
    return [row.title for row in table.window.rows]


async def open_list(app, pilot) -> DealsListScreen:
    await pilot.press("3")
    await settle(app, pilot)
    assert isinstance(app.screen, PipelineScreen)
    await pilot.press("v")
    await settle(app, pilot)
    assert isinstance(app.screen, DealsListScreen)
    return app.screen


async def test_v_switches_and_lists_every_unarchived_deal(db, actor, now):
    seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(app, pilot)
        table = screen.table
        assert titles(table) == ["Anvils", "Bolts", "Cogs"]  # open, lost and won; not the archived one
        assert table.total == 3
        assert [row.status for row in table.window.rows] == ["open", "lost", "won"]
        await pilot.press("s")  # by amount, largest first
        await settle(app, pilot)
        assert titles(table) == ["Cogs", "Anvils", "Bolts"]
        assert "sorted by amount" in str(screen.query_one("#deal-filter-line").render())
        await pilot.press("v")
        await settle(app, pilot)
        assert isinstance(app.screen, PipelineScreen)


async def test_enter_opens_the_deal_and_back_returns_to_the_list(db, actor, now):
    ids = seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_list(app, pilot)
        await pilot.press("down", "enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DealDetailScreen)
        assert app.screen.deal_id == ids["Bolts"]
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, DealsListScreen)


async def test_filter_form_and_archived_and_clear(db, actor, now):
    seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(app, pilot)
        await pilot.press("f")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, DealFilterForm)
        form.query_one("#filter-company").value = "acme"
        form.query_one("#filter-amount_min").value = "1,500"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        assert titles(screen.table) == ["Cogs"]
        await pilot.press("f")
        await settle(app, pilot)
        app.screen.query_one("#filter-close_to").value = "nonsense date"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, DealFilterForm)  # refused in one line, the form stays
        assert str(app.screen.query_one("#form-error").render()).strip()
        await pilot.press("ctrl+r")  # reset: every filter off
        await settle(app, pilot)
        assert titles(screen.table) == ["Anvils", "Bolts", "Cogs"]
        await pilot.press("f")
        await settle(app, pilot)
        app.screen.query_one("#filter-archived").value = True
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert titles(screen.table) == ["Dynamo"]
        await pilot.press("x")
        await settle(app, pilot)
        assert titles(screen.table) == ["Anvils", "Bolts", "Cogs"]


async def test_builtin_lists_reach_won_lost_archived_and_a_saved_list_is_shared(db, actor, now):
    seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(app, pilot)
        for name, expected in (("Won", ["Cogs"]), ("Lost", ["Bolts"]), ("Archived deals", ["Dynamo"])):
            await pilot.press("l")
            await settle(app, pilot)
            picker = app.screen
            assert isinstance(picker, DealListsPicker)
            names = [v.name for v in picker.found]
            await pilot.press(*["down"] * names.index(name), "enter")
            await settle(app, pilot)
            assert titles(screen.table) == expected, name
        await pilot.press("S")
        await settle(app, pilot)
        assert isinstance(app.screen, SaveViewForm)
        app.screen.query_one("#name").value = "Old archive"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        with db.read() as s:
            saved = s.execute(select(SavedView.name, SavedView.filters, SavedView.sort, SavedView.shared)
                              .where(SavedView.entity == "deal")).one()
        assert tuple(saved) == ("Old archive", {"archived": True},
                                                                          "updated", True)


async def test_empty_states(db, actor, now):
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(app, pilot)
        assert "No deals yet" in screen.table.empty_text
        await pilot.press("slash", *"zzz", "enter")
        await settle(app, pilot)
        assert screen.table.window.rows == []
        assert "x clears" in screen.table.empty_text


async def test_help_lists_the_keys_and_the_palette_opens_the_list(db, actor, now):
    from crm_tui.commands import CrmCommands
    from crm_tui.screens.help import HelpScreen, binding_rows

    seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await settle(app, pilot)
        assert "pipeline.deals_table" in {row[3] for row in binding_rows(app.screen)}
        commands = {name: run for name, run, _help in CrmCommands(app.screen)._static()}
        await commands["Deals list"]()
        await settle(app, pilot)
        assert isinstance(app.screen, DealsListScreen)
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        ids = {row[3] for row in binding_rows(app.screen.for_screen)}
        assert {"deals.board", "deals.sort", "deals.filter", "deals.lists", "deals.save_view", "deals.clear",
                "deals.search", "list.open"} <= ids


async def test_a_role_that_may_not_edit_deals_has_no_new_key(db, actor, now):
    from crm_tui.services import users

    with db.write() as s:
        users.create_user(s, data={"login": "sue", "role": "support"}, actor=actor, now=now)
        support = users.actor_for(s, login="sue", now=now)
    app = make_app(db, support, now)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_list(app, pilot)
        assert screen.check_action("new_deal", ()) is False
        assert screen.check_action("filters", ()) is not False
