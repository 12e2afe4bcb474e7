"""Pickers for the small tables (issue 20): every owner, assignee, pipeline and stage field is a
picker that searches as you type (a login, a name or an email; active users, pipelines not
archived), shows the top matches under it, and links the one chosen by keys. Text that names
nothing (or several) is refused in one line and nothing is written. Frozen clock, both databases."""

from __future__ import annotations

from datetime import timezone
from types import SimpleNamespace

import pytest
from textual.widgets import Input, Label

from crm_tui.screens.bulk import NOBODY_ID, BulkActionScreen, request_changes
from crm_tui.screens.companies.form import CompanyForm
from crm_tui.screens.contacts.filters import ContactFilterForm
from crm_tui.screens.forms import ContactForm, DealForm, TaskForm
from crm_tui.screens.inbox.dialogs import AssignForm
from crm_tui.screens.pipeline.board_dialogs import BoardFilterForm
from crm_tui.screens.pipeline.deals import DealFilterForm
from crm_tui.screens.reports.screen import GoalForm
from crm_tui.services import board, companies, contacts, deals, goals, pipelines, tasks, users
from crm_tui.widgets.picker import NOBODY, Picker, PickerMatches
from tests.tui.test_forms import SIZE, Host, error_text, settle


@pytest.fixture
def team(db, actor, now):
    """bob (active, found by name and email), old (deactivated), a second pipeline "Projects" and
    an archived one "Retired"."""
    with db.write() as s:
        bob = users.create_user(s, data={"login": "bob", "name": "Bob Stone", "email": "bstone@example.com",
                                         "role": "sales"}, actor=actor, now=now)
        old = users.create_user(s, data={"login": "old", "name": "Olga Old", "role": "sales"}, actor=actor, now=now)
        users.update_user(s, user_id=old.id, changes={"active": False}, actor=actor, version=old.version, now=now)
        projects = pipelines.create_pipeline(s, name="Projects", actor=actor, now=now, stages=[
            {"name": "Scoping"}, {"name": "Build"}, {"name": "Delivered", "kind": "won"},
            {"name": "Dropped", "kind": "lost"}])
        retired = pipelines.create_pipeline(s, name="Retired", actor=actor, now=now)
        pipelines.set_pipeline_archived(s, pipeline_id=retired.id, archived=True, actor=actor, now=now)
    return {"bob": bob, "old": old, "projects": projects}


def shown(form, id_: str) -> list[str]:
    """The matches under the picker whose input is `#id_` (their labels), [] when closed."""
    if not form.query_one(f"#{id_}-picker", Picker).is_open:
        return []
    matches = form.query_one(f"#{id_}-matches", PickerMatches)
    return [str(matches.get_option_at_index(i).prompt).split("  ")[0] for i in range(matches.option_count)]


async def type_in(app, pilot, id_: str, text: str) -> None:
    """Focus the picker's input, clear it, type `text` key by key, and wait for the matches."""
    app.screen.query_one(f"#{id_}", Input).focus()
    await pilot.press("home", "ctrl+k", *text)
    await settle(app, pilot)


async def choose(app, pilot, id_: str, text: str, label: str) -> None:
    """Type `text`, then take `label` among the matches with down and enter."""
    await type_in(app, pilot, id_, text)
    found = shown(app.screen, id_)
    assert label in found, found
    await pilot.press(*["down"] * found.index(label), "enter")
    assert app.screen.query_one(f"#{id_}", Input).value == label
    assert shown(app.screen, id_) == []


# --- the deal form: owner, pipeline, and the chosen pipeline's stages --------------------------


async def test_the_deal_form_picks_its_owner_pipeline_and_a_stage_of_that_pipeline(db, actor, now, team):
    app = Host(db, actor, now, DealForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert form.query_one("#pipeline", Input).value == "Sales"  # the default, shown
        assert form.query_one("#owner", Input).value == actor.login  # you, shown
        form.query_one("#title", Input).value = "Bridge"
        await choose(app, pilot, "owner", "stone", "bob")  # by name
        await type_in(app, pilot, "pipeline", "r")
        assert "Retired" not in shown(form, "pipeline")  # archived: not offered
        await choose(app, pilot, "pipeline", "pro", "Projects")
        await type_in(app, pilot, "stage", "")
        await pilot.press("down")  # a short list: down shows it without typing
        await settle(app, pilot)
        assert shown(form, "stage") == ["Scoping", "Build"]  # that pipeline's open stages
        await pilot.press("down", "enter")
        assert form.query_one("#stage", Input).value == "Build"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    with db.read() as s:
        stored = deals.get_deal(s, deal_id=saved.id)
    build = next(st for st in team["projects"].stages if st.name == "Build")
    assert (stored.owner_id, stored.pipeline_id, stored.stage_id) == (team["bob"].id, team["projects"].id, build.id)


async def test_a_stage_of_the_other_pipeline_goes_when_the_pipeline_changes(db, actor, now, team):
    app = Host(db, actor, now, DealForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        form.query_one("#title", Input).value = "Bridge"
        await choose(app, pilot, "stage", "prop", "Proposal")  # a stage of Sales
        await choose(app, pilot, "pipeline", "proj", "Projects")
        assert form.query_one("#stage", Input).value == ""
        await pilot.press("ctrl+s")  # empty: the first stage of the pipeline chosen
        await settle(app, pilot)
    [saved] = app.results
    assert (saved.pipeline_name, saved.stage_name) == ("Projects", "Scoping")


REFUSED = [
    ("owner", "zed", "no user matches 'zed'"),
    ("owner", "old", "no user matches 'old'"),  # deactivated: not for new choices
    ("pipeline", "retired", "no pipeline matches 'retired'"),  # archived
    ("stage", "won", "no stage matches 'won'"),  # a new deal starts open
]


async def test_text_that_names_no_record_is_refused_in_one_line(db, actor, now, team):
    """Each case in a new deal form of its own, opened over the one before (one app start for the
    four: a refused form stays open and writes nothing, and no case sees another's text)."""
    app = Host(db, actor, now, DealForm())
    async with app.run_test(size=SIZE) as pilot:
        for i, (field, typed, message) in enumerate(REFUSED):
            if i:
                await app.push_screen(DealForm(), callback=app.results.append)
            await settle(app, pilot)
            form = app.screen
            assert isinstance(form, DealForm)
            form.query_one("#title", Input).value = "Bridge"
            await type_in(app, pilot, field, typed)
            assert shown(form, field) == [], field
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            assert app.screen is form and error_text(form) == message, (field, typed)
    assert app.results == []
    with db.read() as s:
        assert deals.list_deals(s, with_total=True).total == 0


async def test_typed_text_never_chosen_is_read_when_saving(db, actor, now, team):
    """An email typed in full names its one user: no guess, the one match."""
    app = Host(db, actor, now, DealForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        form.query_one("#title", Input).value = "Bridge"
        form.query_one("#owner", Input).value = "bstone@example.com"
        form.query_one("#stage", Input).value = "qualified"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert (saved.owner_login, saved.stage_name) == ("bob", "Qualified")


# --- owners and assignees: contact, company, task, assign, goal ---------------------------------


async def test_the_contact_form_picks_an_owner_and_keeps_a_deactivated_one(db, actor, now, team):
    app = Host(db, actor, now, ContactForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#first_name", Input).value = "Ada"
        await choose(app, pilot, "owner", "bo", "bob")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [ada] = app.results
    assert ada.owner_id == team["bob"].id
    with db.write() as s:  # given to old, who has left since
        ada = contacts.update_contact(s, contact_id=ada.id, changes={"owner_id": team["old"].id}, actor=actor,
                                      version=ada.version, now=now)
    app = Host(db, actor, now, ContactForm(ada))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert form.query_one("#owner", Input).value == "old"  # the stored owner still shows
        await type_in(app, pilot, "owner", "ol")
        assert shown(form, "owner") == []  # but is not offered
        form.query_one("#owner", Input).value = "old"  # as it was
        form.query_one("#title", Input).value = "Countess"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert (saved.title, saved.owner_id) == ("Countess", team["old"].id)


async def test_the_company_form_picks_an_owner(db, actor, now, team):
    app = Host(db, actor, now, CompanyForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        form.query_one("#company-name", Input).value = "Initech"
        await type_in(app, pilot, "company-owner", "zed")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and "no user matches 'zed'" in str(form.query_one("#company-form-error").render())
        with db.read() as s:
            assert companies.list_companies(s).items == []
        await choose(app, pilot, "company-owner", "bst", "bob")  # by email
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert saved.owner_id == team["bob"].id


async def test_the_task_form_picks_an_assignee(db, actor, now, team):
    app = Host(db, actor, now, TaskForm())
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.query_one("#title", Input).value = "Call back"
        await choose(app, pilot, "assignee", "b", "bob")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [saved] = app.results
    assert saved.assignee_id == team["bob"].id


async def test_the_assign_form_refuses_text_that_names_nobody(db, actor, now, team):
    with db.write() as s:
        task = tasks.create_task(s, data={"title": "Call Ada"}, actor=actor, now=now)
    app = Host(db, actor, now, AssignForm(task))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        await type_in(app, pilot, "assignee", "zed")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and error_text(form) == "no user matches 'zed'"
    assert app.results == []
    with db.read() as s:
        assert tasks.get_task(s, task_id=task.id).assignee_id == actor.user_id


async def test_the_goal_form_picks_whose_goal(db, actor, now, team):
    app = Host(db, actor, now, GoalForm("USD", timezone.utc, None))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        assert form.query_one("#goal-user", Input).value == actor.login
        await choose(app, pilot, "goal-user", "bob", "bob")
        form.query_one("#goal-amount", Input).value = "25,000"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    assert len(app.results) == 1
    with db.read() as s:
        [goal] = goals.list_goals(s)
    assert goal.user_id == team["bob"].id


# --- the bulk dialog --------------------------------------------------------------------------


async def test_the_bulk_dialog_moves_deals_to_a_stage_picked_by_keys(db, actor, now, team):
    app = Host(db, actor, now, BulkActionScreen("deal", 2))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "enter")  # Change owner, Move to stage, ...
        await settle(app, pilot)
        assert app.screen.focused.id == "bulk-stage"
        await choose(app, pilot, "bulk-stage", "bui", "Build")
        await pilot.press("enter")
        await settle(app, pilot)
    [request] = app.results
    build = next(st for st in team["projects"].stages if st.name == "Build")
    assert (request.what, request.pick) == ("stage", build.id)
    with db.read() as s:
        [change] = request_changes(s, "deal", request, actor, now)
    assert (change.field, change.value) == ("stage", build.id)


async def test_the_bulk_dialogs_owner_picker_offers_nobody(db, actor, now, team):
    app = Host(db, actor, now, BulkActionScreen("contact", 3))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")  # Change owner
        await settle(app, pilot)
        await choose(app, pilot, "bulk-owner", "no", "nobody")
        await pilot.press("enter")
        await settle(app, pilot)
    [request] = app.results
    assert request.pick == NOBODY.id == NOBODY_ID  # the bulk module names it without loading the picker
    with db.read() as s:
        [change] = request_changes(s, "contact", request, actor, now)
    assert (change.field, change.value) == ("owner", None)


# --- the list filters ---------------------------------------------------------------------------


async def test_the_contact_filter_picks_an_owner_and_refuses_a_name_of_nobody(db, actor, now, team):
    app = Host(db, actor, now, ContactFilterForm({}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        await type_in(app, pilot, "owner", "zed")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and str(form.query_one("#form-error", Label).render()) == "no user matches 'zed'"
        await type_in(app, pilot, "owner", "m")
        assert shown(form, "owner")[0] == "me"
        await choose(app, pilot, "owner", "bo", "bob")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    assert app.results == [{"owner_id": team["bob"].id}]


async def test_the_contact_filter_shows_the_owner_it_filters_on(db, actor, now, team):
    app = Host(db, actor, now, ContactFilterForm({"owner_id": team["bob"].id}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.screen.query_one("#owner", Input).value == "bob"
        await choose(app, pilot, "owner", "nob", "nobody")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    assert app.results == [{"unowned": True}]


async def test_the_board_filter_picks_an_owner(db, actor, now, team):
    app = Host(db, actor, now, BoardFilterForm(board.BoardFilter(), "everyone"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        form = app.screen
        await type_in(app, pilot, "filter-owner", "zed")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form and str(form.query_one("#form-error", Label).render()) == "no user matches 'zed'"
        await choose(app, pilot, "filter-owner", "bo", "bob")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [(filters, label)] = app.results
    assert (filters.owner_id, label) == (team["bob"].id, "bob")


async def test_the_deals_filter_picks_an_owner_and_a_stage(db, actor, now, team):
    app = Host(db, actor, now, DealFilterForm({}))
    app.settings = SimpleNamespace(currency="USD")  # the app's settings, as the filter reads amounts
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await choose(app, pilot, "filter-owner", "bo", "bob")
        await choose(app, pilot, "filter-pipeline", "proj", "Projects")
        await choose(app, pilot, "filter-stages", "sc", "Scoping")  # the pipeline's stages only
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    [(filters, texts)] = app.results
    scoping = next(st for st in team["projects"].stages if st.name == "Scoping")
    assert (filters["owner_id"], filters["pipeline_id"], filters["stage_ids"]) == (
        team["bob"].id, team["projects"].id, [scoping.id])
    assert (texts["owner"], texts["stages"]) == ("bob", "Scoping")
