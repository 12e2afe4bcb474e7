"""Issue 17 #14 in the app: `a` archives a deal (asked first) and `u` undoes it; the Lists sidebar
renames, updates and deletes a saved list; Enter on a timeline opens the activity (the whole note,
at 80x24 too) with `e` edit and `d` delete, and `u` brings a deleted activity back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from textual.widgets import Input, OptionList, Static

from crm_tui.models import Activity, Contact
from crm_tui.screens.activity import ActivityEditForm, ActivityScreen
from crm_tui.screens.companies.detail import CompanyDetailScreen
from crm_tui.screens.contacts.detail import ContactDetailScreen
from crm_tui.screens.contacts.screen import ContactsScreen
from crm_tui.screens.pipeline.deal import DealDetailScreen
from crm_tui.screens.contacts.filters import RenameViewForm
from crm_tui.screens.forms import ConfirmScreen
from crm_tui.screens.help import binding_rows
from crm_tui.services import activities, companies, contacts, deals, views

from .conftest import make_app, settle

NOTE = "\n".join(f"Line {i}: what was said on the call, word for word, and what was promised." for i in range(1, 41))


def _messages(app) -> list[str]:
    return [n.message for n in app._notifications]


def _activity(db, activity_id):
    with db.read() as s:
        found = s.get(Activity, activity_id)
        return activities.get_activity(s, activity_id=activity_id) if found is not None else None


def _seed(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "company_id": acme.id}, actor=actor, now=now)
        deal = deals.create_deal(s, data={"title": "Anvils", "contact_id": ada.id}, actor=actor, now=now)
        older, _ = activities.log_activity(s, data={"kind": "meeting", "contact_id": ada.id, "subject": "Kickoff",
                                                    "occurred_at": now - timedelta(days=5)}, actor=actor, now=now)
        call, _ = activities.log_activity(s, data={"kind": "call", "contact_id": ada.id, "deal_id": deal.id,
                                                   "subject": "Pricing", "body": NOTE,
                                                   "occurred_at": now - timedelta(days=1)}, actor=actor, now=now)
    return {"company": acme.id, "contact": ada.id, "deal": deal.id, "call": call.id, "older": older.id}


async def _open(app, pilot, screen):
    app.push_screen(screen)
    await settle(app, pilot)
    return app.screen


# --- deals: archive and undo -------------------------------------------------------------------


async def test_a_archives_a_deal_after_asking_and_u_undoes_it(db, actor, now):
    ids = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = await _open(app, pilot, DealDetailScreen(ids["deal"]))
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen) and "Archive Anvils?" in app.screen.question
        await pilot.press("n")
        await settle(app, pilot)
        assert screen.deal.archived is False
        await pilot.press("a", "y")
        await settle(app, pilot)
        assert screen.deal.archived is True and "Archived Anvils. Press u to undo." in _messages(app)
        assert "archived" in str(screen.query_one("#deal-card", Static).render())
        await pilot.press("u")
        await settle(app, pilot)
        assert screen.deal.archived is False
        await pilot.press("a", "y")
        await settle(app, pilot)
        await pilot.press("a")  # an archived deal comes back at once
        await settle(app, pilot)
        assert app.screen is screen and screen.deal.archived is False
        assert {"deal.archive", "deal.undo"} <= {row[3] for row in binding_rows(screen)}


# --- saved lists: rename, update, delete --------------------------------------------------------


async def test_the_lists_sidebar_renames_updates_and_deletes_a_saved_list(db, actor, now):
    with db.write() as s:
        views.create_view(s, data={"name": "Hot leads", "filters": {"tag": "hot"}}, actor=actor, now=now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ContactsScreen)
        sidebar = screen.query_one("#views", OptionList)

        def highlight(name: str) -> None:
            sidebar.focus()
            sidebar.highlighted = next(i for i in range(sidebar.option_count)
                                       if str(sidebar.get_option_at_index(i).prompt).startswith(name))

        assert {"contacts.rename_view", "contacts.update_view", "contacts.delete_view"} <= {
            row[3] for row in binding_rows(screen)}
        screen.table.focus()
        await pilot.press("D")  # the keys act on the Lists panel only while it has the focus
        await settle(app, pilot)
        assert app.screen is screen
        highlight("All contacts")  # a built-in list stays as it is
        await pilot.press("D")
        await settle(app, pilot)
        assert app.screen is screen and any("is built in" in m for m in _messages(app))

        highlight("Hot leads")
        await pilot.press("r")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, RenameViewForm)
        form.query_one("#name", Input).value = "Warm leads"
        await pilot.press("enter")
        await settle(app, pilot)
        with db.read() as s:
            (view,) = views.list_views(s, actor=actor)
        assert view.name == "Warm leads"

        screen.filters, screen.sort, screen.query_text = {"lifecycle": ["customer"]}, "created", "acme"
        highlight("Warm leads")
        await pilot.press("U")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        with db.read() as s:
            (view,) = views.list_views(s, actor=actor)
        assert (view.filters, view.sort, view.query) == ({"lifecycle": ["customer"]}, "created", "acme")

        highlight("Warm leads")
        await pilot.press("delete")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen) and "Warm leads" in app.screen.question
        await pilot.press("y")
        await settle(app, pilot)
        with db.read() as s:
            assert views.list_views(s, actor=actor) == []
        assert not any(str(sidebar.get_option_at_index(i).prompt).startswith("Warm")
                       for i in range(sidebar.option_count))


# --- activities: open, edit, delete, undo -------------------------------------------------------


async def test_enter_opens_the_whole_note_at_80x24_and_e_edits_it(db, actor, now):
    ids = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await _open(app, pilot, ContactDetailScreen(ids["contact"]))
        await pilot.press("enter")  # the newest first: the call
        await settle(app, pilot)
        modal = app.screen
        assert isinstance(modal, ActivityScreen) and modal.activity.id == ids["call"]
        dialog, body = modal.query_one("#activity-dialog"), modal.query_one("#activity-body")
        # it fits the terminal, the hint included, and the 40-line note scrolls inside it
        assert dialog.region.x >= 0 and dialog.region.right <= 80 and dialog.region.bottom <= 24
        assert modal.query_one("#activity-hint").region.bottom <= 24
        assert str(modal.query_one("#activity-notes", Static).render()).count("Line ") == 40
        assert body.max_scroll_y > 0 and body.scroll_y == 0
        await pilot.press("end")
        await settle(app, pilot)
        assert body.scroll_y == body.max_scroll_y

        await pilot.press("e")
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, ActivityEditForm)
        assert form.query_one("#form-dialog").region.bottom <= 24
        form.query_one("#subject", Input).value = "Pricing, corrected"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is modal and "Pricing, corrected" in str(modal.query_one("#activity-head", Static).render())
        assert _activity(db, ids["call"]).subject == "Pricing, corrected"
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDetailScreen)


async def test_d_deletes_an_activity_after_asking_and_u_brings_it_back(db, actor, now):
    ids = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = await _open(app, pilot, ContactDetailScreen(ids["contact"]))
        await pilot.press("enter", "d")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen) and "Delete the call “Pricing”?" in app.screen.question
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(app.screen, ActivityScreen) and _activity(db, ids["call"]) is not None
        await pilot.press("d", "y")
        await settle(app, pilot)
        assert app.screen is screen and _activity(db, ids["call"]) is None
        assert "Deleted the call “Pricing”. Press u to undo." in _messages(app)
        with db.read() as s:  # the meeting before it is the last contact now
            assert s.get(Contact, ids["contact"]).last_contacted_at == now - timedelta(days=5)
        await pilot.press("u")
        await settle(app, pilot)
        assert _activity(db, ids["call"]).body == NOTE
        assert [a.id for a in screen.query_one("#timeline").visible_rows()] == [ids["call"], ids["older"]]
        with db.read() as s:
            assert s.get(Contact, ids["contact"]).last_contacted_at == now - timedelta(days=1)
            assert s.get(Contact, ids["contact"]).archived is False


async def test_the_company_and_deal_timelines_open_activities_and_stage_changes_stay(db, actor, now):
    ids = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        company = await _open(app, pilot, CompanyDetailScreen(ids["company"]))
        await pilot.press("enter")  # the call, the company's newest
        await settle(app, pilot)
        assert isinstance(app.screen, ActivityScreen) and app.screen.activity.id == ids["call"]
        await pilot.press("d", "y")
        await settle(app, pilot)
        assert app.screen is company and _activity(db, ids["call"]) is None
        await pilot.press("u")
        await settle(app, pilot)
        assert _activity(db, ids["call"]) is not None

        await pilot.press("escape")
        await settle(app, pilot)
        with db.write() as s:
            deals.step_deal(s, deal_id=ids["deal"], step=1, actor=actor, now=now)
        deal = await _open(app, pilot, DealDetailScreen(ids["deal"]))
        rows = deal.query_one("#deal-activities").visible_rows()
        assert rows[0].kind == "stage_change"
        await pilot.press("enter")  # the stage change: history, neither edited nor deleted
        await settle(app, pilot)
        assert isinstance(app.screen, ActivityScreen)
        await pilot.press("e")
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, ActivityScreen)
        assert any("stage change is part of the record's history" in m for m in _messages(app))
        with db.read() as s:
            assert s.scalar(select(Activity.id).where(Activity.id == rows[0].id)) is not None
        await pilot.press("escape", "down", "enter", "d", "y")  # the call
        await settle(app, pilot)
        assert app.screen is deal and _activity(db, ids["call"]) is None
        await pilot.press("u")
        await settle(app, pilot)
        assert _activity(db, ids["call"]) is not None


async def test_a_on_a_board_card_archives_its_deal_after_asking_and_u_brings_it_back(db, actor, now):
    from .test_pipeline import _open_board, _seed as _board_seed, _titles

    ids = _board_seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=(80, 24)) as pilot:
        board = await _open_board(app, pilot)
        new = board.columns[0]
        assert _titles(new) == ["Anvils", "Bolts"] and board.current_card.title == "Anvils"
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen) and "Archive Anvils?" in app.screen.question
        await pilot.press("y")
        await settle(app, pilot)
        assert _titles(new) == ["Bolts"] and "Archived Anvils. Press u to undo." in _messages(app)
        with db.read() as s:
            assert deals.get_deal(s, deal_id=ids["anvils"]).archived is True
        await pilot.press("u")
        await settle(app, pilot)
        assert _titles(new) == ["Anvils", "Bolts"]
        with db.read() as s:
            assert deals.get_deal(s, deal_id=ids["anvils"]).archived is False
