"""Every screen and dialog of crm_tui/screens at 80x24 (over SSH) that no other snapshot shows,
opened as a person would (keys, on the demo data of 60 contacts, seed 7, and a frozen clock):
each one's snapshot, and before it a Pilot check that every field, label and button in it shows, none
under another, no one-line text cut without "…" (tests/tui/fit.py). Review every changed SVG
before accepting it with --snapshot-update."""

from __future__ import annotations

import pytest

from tests.snapshots.test_snapshots import settle
from tests.snapshots.fits import opened_and_fits

SIZE = (80, 24)


def _keys(*keys: str):
    async def run_before(pilot) -> None:
        await settle(pilot.app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot.app, pilot)

    return run_before


def _push(make_screen, *keys_before: str):
    """Keys first (an area), then a screen no key opens on the demo data (settings are opened
    from the palette)."""
    async def run_before(pilot) -> None:
        await _keys(*keys_before)(pilot)
        pilot.app.push_screen(make_screen(pilot.app))
        await settle(pilot.app, pilot)

    return run_before


def _welcome(app):
    from crm_tui.screens.welcome import WelcomeScreen

    return WelcomeScreen()


def _duplicates(app):
    from crm_tui.screens.settings.duplicates import DuplicatesScreen

    return DuplicatesScreen()


def _field_form(app):
    from crm_tui.screens.settings.fields import FieldForm

    return FieldForm()


def _user_form(app):
    from crm_tui.screens.settings.users import UserForm

    return UserForm()


def _duplicate_dialog(app):
    from crm_tui.errors import Duplicate
    from crm_tui.screens.forms import DuplicateScreen

    return DuplicateScreen(Duplicate("a contact with the email ada.lovelace@analytical.example exists: Ada Lovelace",
                                     entity="contact", existing_id=1, existing_label="Ada Lovelace"))


def _conflict_dialog(app):
    from crm_tui.screens.conflict import Clash, FieldConflictScreen

    return FieldConflictScreen([
        Clash("phone", "Phone", "+1 415 555 0100", "+1 415 555 0199", "+1 415 555 0142"),
        Clash("title", "Title", "Head of Operations", "VP Operations and Finance, North America", "COO"),
    ], "Someone changed this contact while you edited it.")


def _then(opened, *keys: str):
    async def run_before(pilot) -> None:
        await opened(pilot)
        await _keys(*keys)(pilot)

    return run_before


def _with(write, opened):
    """Add what the demo lacks for this screen (a task of one's own, a likely duplicate), then open it."""
    async def run_before(pilot) -> None:
        app = pilot.app
        with app.db.write() as session:
            write(session, app)
        await opened(pilot)

    return run_before


def _own_task(session, app) -> None:
    from crm_tui.services import contacts, tasks

    first = contacts.list_contacts(session, sort="name", limit=1, now=app.now()).items[0]
    tasks.create_task(session, data={"title": "Call back about the pilot's pricing", "due_at": "today 9am",
                                     "contact_id": first.id}, actor=app.actor, now=app.now())


def _twins(session, app) -> None:
    from crm_tui.services import companies, contacts

    company = companies.list_companies(session, limit=1).items[0].id
    for first, extra in (("Jon", {"emails": ["jon.smith@example.com"]}), ("John", {"title": "CEO"})):
        contacts.create_contact(session, data={"first_name": first, "last_name": "Smith", "company_id": company,
                                               **extra}, actor=app.actor, now=app.now())


def _catalog(session, app) -> None:
    from crm_tui.services import products

    for sku, name, unit, tax, prices in (
            ("CONS-H", "Consulting hour", "hour", "20%", ["150 USD", "140 EUR"]),
            ("LIC-PRO-12", "Pro licence, twelve months, per seat, with priority support", "seat", "20%",
             ["1,200 USD", "1,100 EUR", "950 GBP"]),
            ("TRAIN-D", "Training day", "day", "0", ["1,800 USD"]),
            ("SUP-M", "Support, monthly", "month", "7.5%", [])):
        products.create_product(session, sku=sku, name=name, unit=unit, tax_rate=tax, prices=prices, actor=app.actor,
                                now=app.now())


# name: (how it is opened, the screen it opens)
SCREENS = {
    # Contacts: the dialogs of the list's keys (the list, its filter and the new-contact form have theirs)
    "contact_edit": (_keys("down", "e"), "ContactForm"),
    "contact_owner": (_keys("down", "o"), "OwnerForm"),
    "contact_tags": (_keys("down", "T"), "TagsForm"),
    "contact_log_call": (_keys("down", "l"), "LogActivityForm"),
    "contact_task": (_keys("down", "t"), "TaskForm"),
    "contact_new_deal": (_keys("down", "d"), "DealForm"),
    "contact_archive_confirm": (_keys("down", "a"), "ConfirmScreen"),
    "contact_save_list": (_keys("S"), "SaveViewForm"),
    "contact_duplicate": (_push(_duplicate_dialog), "DuplicateScreen"),
    "contact_conflict": (_push(_conflict_dialog), "FieldConflictScreen"),
    "contact_note_edit": (_keys("down", "enter", "enter", "e"), "ActivityEditForm"),
    # Companies
    "companies_list": (_keys("2"), "CompaniesScreen"),
    "company_new": (_keys("2", "n"), "CompanyForm"),
    "company_edit": (_keys("2", "down", "e"), "CompanyForm"),
    # Products: the empty catalog, a small one, its form and the archive question
    "products_empty": (_keys("6"), "ProductsScreen"),
    "products_list": (_with(_catalog, _keys("6")), "ProductsScreen"),
    "product_new": (_keys("6", "n"), "ProductForm"),
    "product_edit": (_with(_catalog, _keys("6", "down", "e")), "ProductForm"),
    "product_archive_confirm": (_with(_catalog, _keys("6", "a")), "ConfirmScreen"),
    # Pipeline: the board's dialogs, the deal's, the pipeline settings
    "pipeline_picker": (_keys("3", "p"), "PipelinePicker"),
    "board_new_deal": (_keys("3", "n"), "BoardDealForm"),
    "board_lost_reason": (_keys("3", "L"), "LostReasonScreen"),
    "deal_edit": (_keys("3", "enter", "e"), "DealEditForm"),
    "deal_stage_picker": (_keys("3", "enter", "s"), "StagePickerScreen"),
    "deal_log": (_keys("3", "enter", "l"), "LogActivityForm"),
    "deal_task": (_keys("3", "enter", "t"), "TaskForm"),
    "pipeline_settings": (_keys("3", "S"), "PipelineSettingsScreen"),
    "stage_form": (_keys("3", "S", "e"), "StageForm"),
    "pipeline_name_form": (_keys("3", "S", "N"), "PipelineNameForm"),
    "stage_delete_picker": (_keys("3", "S", "d"), "StagePicker"),
    # Inbox (with a task of ann's, due this morning)
    "inbox_new_task": (_keys("4", "n"), "TaskForm"),
    "inbox_assign": (_with(_own_task, _keys("4", "a")), "AssignForm"),
    "inbox_reschedule": (_with(_own_task, _keys("4", "r")), "WhenForm"),
    "inbox_call_and_done": (_with(_own_task, _keys("4", "c")), "LogAndCompleteForm"),
    "inbox_teammate": (_keys("4", "u"), "PersonPicker"),
    # Reports
    "reports_dates": (_keys("5", "d"), "RangeForm"),
    "reports_goal": (_keys("5", "g"), "GoalForm"),
    "reports_drill": (_keys("5", "enter"), "DrillScreen"),
    # Settings (opened from the palette) and the first start
    "duplicates": (_with(_twins, _push(_duplicates)), "DuplicatesScreen"),
    "duplicates_merge": (_with(_twins, _then(_push(_duplicates), "m")), "MergeForm"),
    "field_form": (_push(_field_form), "FieldForm"),
    "user_form": (_push(_user_form), "UserForm"),
    "welcome": (_push(_welcome), "WelcomeScreen"),
}


@pytest.mark.parametrize("name", list(SCREENS))
def test_screen_80x24(snap_compare, demo_app, name):
    assert snap_compare(demo_app, terminal_size=SIZE, run_before=opened_and_fits(*SCREENS[name]))


async def test_words_found_at_80x24(demo_app):
    """Wording the snapshots above showed wrong: "1 pairs"; a merge hint cut to "esc ca…"; the
    report period's hint said "apply" over a Save button; the user form named a CLI flag."""
    from textual.widgets import Button, Input, Label, Static

    async with demo_app.run_test(size=SIZE) as pilot:
        await SCREENS["duplicates_merge"][0](pilot)
        form = demo_app.screen
        hint = form.query_one("#form-hint", Label)
        assert str(hint.render()) == "a/b per field · ^s merge · esc cancel"
        assert len(str(hint.render())) <= hint.content_region.width
        await pilot.press("escape")
        await settle(demo_app, pilot)
        assert "Likely duplicate contacts: 1 pair ·" in str(demo_app.screen.query_one("#dupe-line", Static).render())

        await _keys("escape", "5", "d")(pilot)
        assert type(demo_app.screen).__name__ == "RangeForm"
        assert [str(b.label) for b in demo_app.screen.query(Button)] == ["Apply", "Cancel"]
        assert "ctrl+s apply" in str(demo_app.screen.query_one("#form-hint", Label).render())
        await pilot.press("escape")
        await settle(demo_app, pilot)

        demo_app.push_screen(_user_form(demo_app))
        await settle(demo_app, pilot)
        assert "--" not in demo_app.screen.query_one("#login", Input).placeholder
