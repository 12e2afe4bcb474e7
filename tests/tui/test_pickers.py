"""Pickers (issue 20): every form field that names a record searches as you type, shows the top
matches under it, and links the chosen record; nobody types an id or an email. Frozen clock."""

from __future__ import annotations

from textual.widgets import Input, Label

from crm_tui.screens.forms import ContactForm, DealForm, TaskForm
from crm_tui.services import companies, contacts, deals, tasks
from crm_tui.widgets.picker import Picker, PickerMatches
from tests.tui.test_forms import SIZE, Host, error_text, settle


def _seed(db, actor, now):
    with db.write() as s:
        acme = companies.create_company(s, data={"name": "Acme Corp"}, actor=actor, now=now)
        acorn = companies.create_company(s, data={"name": "Acorn Labs"}, actor=actor, now=now)
        ada = contacts.create_contact(s, data={"first_name": "Ada", "last_name": "Lovelace",
                                               "emails": ["ada@example.com"]}, actor=actor, now=now)
        grace = contacts.create_contact(s, data={"first_name": "Grace", "last_name": "Hopper"}, actor=actor, now=now)
    return acme, acorn, ada, grace


def _shown(form, kind: str) -> list[str]:
    matches = form.query_one(f"#{kind}-matches", PickerMatches)
    if not form.query_one(f"#{kind}-picker", Picker).is_open:
        return []
    return [str(matches.get_option_at_index(i).prompt).split("  ")[0] for i in range(matches.option_count)]


async def test_typing_in_a_picker_shows_matches_and_enter_links_the_one_chosen(db, actor, now):
    acme, acorn, *_ = _seed(db, actor, now)
    app = Host(db, actor, now, ContactForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        await pilot.press(*"Wile")
        form.query_one("#company", Input).focus()
        await pilot.press(*"ac")  # two letters: names that start with them
        await settle(app, pilot)
        assert _shown(form, "company") == ["Acme Corp", "Acorn Labs"]
        await pilot.press("down", "enter")  # enter takes the match; it does not save
        await settle(app, pilot)
        assert form.query_one("#company", Input).value == "Acorn Labs" and app.results == []
        assert _shown(form, "company") == []
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert (saved.first_name, saved.company_id) == ("Wile", acorn.id)


async def test_keys_typed_in_a_burst_stay_where_they_were_typed(db, actor, now):
    *_, ada, grace = _seed(db, actor, now)
    app = Host(db, actor, now, TaskForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        form.query_one("#contact", Input).focus()
        # no pause between keys: the search answers arrive after the tab, and change nothing
        await pilot.press(*"grace hop", "tab", *"acm")
        await settle(app, pilot)
        assert form.query_one("#contact", Input).value == "grace hop"
        assert form.query_one("#company", Input).value == "acm"
        form.query_one("#title", Input).value = "Call back"
        form.query_one("#company", Input).value = ""
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results  # the only match of the typed text: no guess among several
    assert (saved.title, saved.contact_id) == ("Call back", grace.id)


async def test_a_form_opened_for_a_record_names_it_and_lets_you_change_it(db, actor, now):
    acme, acorn, ada, grace = _seed(db, actor, now)
    app = Host(db, actor, now, DealForm(contact_id=ada.id, company_id=acme.id))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert str(form.query_one("#form-title", Label).render()) == "New deal · Ada Lovelace"
        assert form.query_one("#contact", Input).value == "Ada Lovelace"
        assert form.query_one("#company", Input).value == "Acme Corp"
        form.query_one("#title", Input).value = "Fleet"
        contact = form.query_one("#contact", Input)
        contact.focus()
        contact.value = ""
        await pilot.press(*"grace")
        await settle(app, pilot)
        assert _shown(form, "contact") == ["Grace Hopper"]
        await pilot.press("enter", "ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert (saved.contact_id, saved.company_id) == (grace.id, acme.id)


async def test_typed_text_that_names_several_records_is_refused_and_nothing_is_written(db, actor, now):
    _seed(db, actor, now)
    app = Host(db, actor, now, DealForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        form.query_one("#title", Input).value = "Fleet"
        form.query_one("#company", Input).value = "ac"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, DealForm)
        assert error_text(form) == "'ac' matches several: Acme Corp, Acorn Labs; choose one from the list"
    assert app.results == []
    with db.read() as s:
        assert deals.list_deals(s, with_total=True).total == 0
        assert tasks.list_tasks(s).items == []


async def test_the_contact_form_edits_the_profile_fields(db, actor, now):
    from textual.widgets import TextArea

    with db.write() as s:
        ada = contacts.create_contact(s, data={"first_name": "Ada", "address": "1 Elm St"}, actor=actor, now=now)
    app = Host(db, actor, now, ContactForm(ada))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert form.query_one("#address", Input).value == "1 Elm St"
        form.query_one("#birthday", Input).value = "1985-13-01"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert error_text(form).startswith("invalid birthday '1985-13-01'") and app.results == []
        form.query_one("#birthday", Input).value = "1985-12-10"
        form.query_one("#social_urls", Input).value = "linkedin.com/in/ada, github.com/ada"
        form.query_one("#description", TextArea).text = "Met at the Analytical Society."
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert (str(saved.birthday), saved.social_urls, saved.description, saved.address) == (
        "1985-12-10", ["https://linkedin.com/in/ada", "https://github.com/ada"], "Met at the Analytical Society.",
        "1 Elm St")


async def test_the_boards_new_deal_form_links_a_contact_and_a_company_by_picker(db, actor, now):
    from crm_tui.screens.pipeline.board import PipelineScreen
    from crm_tui.screens.pipeline.board_dialogs import BoardDealForm
    from tests.tui.conftest import make_app
    from tests.tui.conftest import settle as settle_app

    acme, _acorn, ada, _grace = _seed(db, actor, now)
    app = make_app(db, actor, now)
    async with app.run_test(size=SIZE) as pilot:
        await settle_app(app, pilot)
        await pilot.press("3")
        await settle_app(app, pilot)
        assert isinstance(app.screen, PipelineScreen)
        await pilot.press("n")
        await settle_app(app, pilot)
        form = app.screen
        assert isinstance(form, BoardDealForm)
        await pilot.press(*"Anvils")
        form.query_one("#contact", Input).focus()
        await pilot.press(*"lovel")
        await settle_app(app, pilot)
        await pilot.press("enter", "tab", *"acme")
        await settle_app(app, pilot)
        assert _shown(form, "company") == ["Acme Corp"]
        await pilot.press("enter", "ctrl+s")
        await settle_app(app, pilot)
        assert app.screen is not form
    with db.read() as s:
        [deal] = deals.list_deals(s, query="anvils").items
        stored = deals.get_deal(s, deal_id=deal.id)
    assert (stored.contact_id, stored.company_id) == (ada.id, acme.id)


async def test_a_log_form_opened_for_a_contact_names_it_and_the_contact_can_change(db, actor, now):
    from crm_tui.screens.forms import LogActivityForm

    _acme, _acorn, ada, grace = _seed(db, actor, now)
    app = Host(db, actor, now, LogActivityForm(contact_id=ada.id))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert str(form.query_one("#form-title", Label).render()) == "Log activity · Ada Lovelace"
        form.query_one("#subject", Input).value = "Intro"
        form.query_one("#contact", Input).value = "Grace Hopper"  # typed in full, never chosen: resolved
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [(activity, _follow)] = app.results
    assert activity.contact_id == grace.id
