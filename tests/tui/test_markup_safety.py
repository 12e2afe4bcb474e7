"""People's text is shown as typed wherever the app draws it. Textual reads a str as markup in a
Static, a Label, a toast, a form's title, an option, a Select and a border title (and a DataTable
reads a str cell as Rich markup): a name, a title, a search or an error quoting them that held
"[/b]" raised a MarkupError that ended the app, and "[red]x[/red]", "[link=x]" or "[Q3]" vanished
("[Q3]" even where the text was escaped with rich's `escape`, which leaves capitals alone), and
rich turned ":smile:" into an emoji."""

from __future__ import annotations

from datetime import timedelta

from textual.geometry import Region
from textual.widgets import DataTable, Input, Label, OptionList, Select, Static
from textual.widgets._toast import Toast

from crm_tui.app import CrmApp
from crm_tui.screens.companies.form import CompanyForm
from crm_tui.screens.companies.screen import CompaniesScreen
from crm_tui.screens.companies.detail import CompanyDetailScreen
from crm_tui.screens.conflict import FieldConflictScreen
from crm_tui.screens.contacts.detail import ContactDetailScreen
from crm_tui.screens.pipeline.deal import DealDetailScreen, DealEditForm, LostReasonScreen
from crm_tui.screens.settings.duplicates import MergeForm
from crm_tui.screens.contacts.filters import SaveViewForm
from crm_tui.screens.forms import ConfirmScreen, DealForm, TaskForm
from crm_tui.screens.settings.imports import FieldPicker, ImportScreen
from crm_tui.screens.inbox.dialogs import WhenForm
from crm_tui.screens.inbox.screen import InboxScreen, PersonPicker
from crm_tui.screens.pipeline.settings import PipelineSettingsScreen, StagePicker
from crm_tui.screens.reports.screen import DrillScreen, ReportsScreen
from crm_tui.services import companies, contacts, deals, merge, pipelines, tasks, users, views
from crm_tui.widgets.text_line import Paragraphs

from .conftest import make_app, settle

H = "[/b] [red]x[/red] [link=x] [Q3] :smile:"


def _text(widget) -> str:
    return str(widget.render())


def _toasts(app) -> list[str]:
    """What the toasts on screen show: "title\\nmessage"."""
    return [str(toast.render()) for toast in app.screen.query(Toast)]


def _prompts(options: OptionList) -> list[str]:
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


def _shown_value(select: Select) -> str:
    return _text(select.query_one("#label", Static))


def _top_border(widget) -> str:
    """The widget's top line as drawn, its border title in it."""
    [line] = widget.render_lines(Region(0, 0, widget.outer_size.width, 1))
    return line.text


async def _open_area(app, pilot, key: str):
    await settle(app, pilot)
    await pilot.press(key)
    await settle(app, pilot)
    return app.screen


def _pipeline_with_hostile_names(session, actor, now):
    """A pipeline and its first stage named with markup; returns (pipeline, that stage)."""
    pipeline = pipelines.create_pipeline(session, name=f"Sales {H}", actor=actor, now=now)
    first = pipeline.stages[0]
    stage = pipelines.update_stage(session, stage_id=first.id, name=f"New {H}", actor=actor, now=now,
                                   version=first.version)
    return pipeline, stage


async def test_a_company_name_and_a_search_in_companies(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        acme = companies.create_company(s, data={"name": f"Acme {H}", "industry": H, "notes": H},
                                        actor=actor_sqlite, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        screen = await _open_area(app, pilot, "2")
        assert isinstance(screen, CompaniesScreen)
        await pilot.press("slash", *"[/b]")
        await settle(app, pilot)
        assert app.is_running and "matching “[/b]”" in _text(screen.query_one("#company-list-line", Static))
        await pilot.press(*["backspace"] * 4, "escape")
        await settle(app, pilot)

        await pilot.press("a")  # archive: the question names the company
        await settle(app, pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert f"Archive Acme {H}?" in _text(app.screen.query_one("#dialog-question", Label))
        await pilot.press("y")
        await settle(app, pilot)
        assert f"Archived Acme {H}. Press u to undo." in _toasts(app)
        await pilot.press("u")
        await settle(app, pilot)
        assert f"Acme {H} is back in the list." in _toasts(app)

        await pilot.press("enter")  # the account view's card
        await settle(app, pilot)
        assert isinstance(app.screen, CompanyDetailScreen)
        card = _text(app.screen.query_one("#company-card", Static)).splitlines()
        assert card[0] == f"Acme {H}  {H}"
        assert card[2] == f"Notes {H}"

        await pilot.press("e")  # the edit form's title
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, CompanyForm)
        assert _text(form.query_one("#company-form-title", Label)) == f"Edit company · Acme {H}"
        with sqlite_db.write() as s:  # a teammate renames it meanwhile: the clash names the company
            companies.update_company(s, company_id=acme.id, changes={"name": f"Acme {H} 2"}, actor=actor_sqlite,
                                     now=now)
        form.query_one("#company-name", Input).value = f"Acme {H} 3"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldConflictScreen)
        assert _text(app.screen.query_one("#clash-message", Label)).startswith(f"company 'Acme {H} 2' was changed")
        await pilot.press("escape")  # back to the form, nothing saved: said under it and in a toast
        await settle(app, pilot)
        assert app.screen is form
        assert _text(form.query_one("#company-form-error", Label)).startswith(f"Not saved: company 'Acme {H} 2'")
        assert any(toast.startswith(f"Changed by someone else\nnot saved: company 'Acme {H} 2'")
                   for toast in _toasts(app))


async def test_a_deal_its_pipeline_stage_company_and_lost_reason(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        pipeline, stage = _pipeline_with_hostile_names(s, actor_sqlite, now)
        company = companies.create_company(s, data={"name": f"Acme {H}"}, actor=actor_sqlite, now=now)
        deal = deals.create_deal(s, data={"title": f"Anvils {H}", "amount": "100", "pipeline_id": pipeline.id,
                                          "company_id": company.id}, actor=actor_sqlite, now=now)
        pipelines.add_lost_reason(s, name=f"Too dear {H}", actor=actor_sqlite, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        await app.push_screen(DealDetailScreen(deal.id))
        await settle(app, pilot)
        card = _text(app.screen.query_one("#deal-card", Static))
        assert card.startswith(f"Anvils {H}  open")
        assert f"Stage Sales {H} › New {H} (" in card and f"Company Acme {H} (o)" in card

        await pilot.press("L")  # lost: the picker names the deal and lists the team's reasons
        await settle(app, pilot)
        assert isinstance(app.screen, LostReasonScreen)
        assert _text(app.screen.query_one("#picker-title", Label)) == f"Why was Anvils {H} lost?"
        assert f"Too dear {H}" in _prompts(app.screen.query_one("#lost-reasons", OptionList))
        await pilot.press("escape")
        await settle(app, pilot)

        await pilot.press("e")
        await settle(app, pilot)
        assert isinstance(app.screen, DealEditForm)
        assert _text(app.screen.query_one("#form-title", Label)) == f"Edit deal · Anvils {H}"
        await pilot.press("escape")
        await settle(app, pilot)

        await app.push_screen(DealForm())  # a new deal: the pipeline and stage pickers
        await settle(app, pilot)
        form = app.screen
        form.query_one("#pipeline", Input).focus()
        await pilot.press("home", "ctrl+k", *"sales")
        await settle(app, pilot)
        shown = [p.split("  ")[0] for p in _prompts(form.query_one("#pipeline-matches", OptionList))]
        assert f"Sales {H}" in shown
        await pilot.press(*["down"] * shown.index(f"Sales {H}"), "enter")
        assert form.query_one("#pipeline", Input).value == f"Sales {H}"
        await pilot.press("tab", "down")  # the stage picker lists that pipeline's stages
        await settle(app, pilot)
        assert [p.split("  ")[0] for p in _prompts(form.query_one("#stage-matches", OptionList))][0] == f"New {H}"
        assert stage.name == f"New {H}"


async def test_pipeline_settings_show_pipeline_and_stage_names(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        pipeline, stage = _pipeline_with_hostile_names(s, actor_sqlite, now)
        deals.create_deal(s, data={"title": "Anvils", "amount": "100", "pipeline_id": pipeline.id},
                          actor=actor_sqlite, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        await app.push_screen(PipelineSettingsScreen(pipeline.id))
        await settle(app, pilot)
        screen = app.screen
        assert f"Sales {H}" in _prompts(screen.query_one("#settings-pipelines", OptionList))
        table = screen.query_one("#settings-stages", DataTable)
        assert str(table.get_row_at(0)[1]) == f"New {H}"
        assert f"Stages · Sales {H}" in _top_border(table)

        await pilot.press("d")  # the stage has a deal: where to move it, naming the stage
        await settle(app, pilot)
        assert isinstance(app.screen, StagePicker)
        assert _text(app.screen.query_one("#picker-title", Label)) == f"New {H} has 1 deal. Move it to:"
        await pilot.press("escape")
        await settle(app, pilot)

        await pilot.press("e")  # the stage form's title
        await settle(app, pilot)
        assert _text(app.screen.query_one("#form-title", Label)) == f"Edit stage · New {H}"
        assert app.is_running


async def test_a_task_title_in_the_inbox_its_toasts_and_forms(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        tasks.create_task(s, data={"title": f"Call {H}", "due_at": now - timedelta(hours=1)}, actor=actor_sqlite,
                          now=now)
        users.create_user(s, data={"login": "bob", "name": f"Bob {H}", "role": "sales"}, actor=actor_sqlite, now=now)
    clock = [now]
    app = CrmApp(sqlite_db, actor_sqlite, clock=lambda: clock[0], welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        with sqlite_db.write() as s:  # a task falls due: the "Task due" toast names it
            ring = tasks.create_task(s, data={"title": f"Ring {H}", "due_at": now + timedelta(minutes=5)},
                                     actor=actor_sqlite, now=now)
        clock[0] = now + timedelta(minutes=6)
        app.refresh_inbox_count()
        await settle(app, pilot)
        assert f"Task due\nRing {H}" in _toasts(app)

        await pilot.press("4")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, InboxScreen)
        assert [t.title for t in screen.table.visible_rows()] == [f"Call {H}", f"Ring {H}"]

        await pilot.press("z")  # the snooze form's title
        await settle(app, pilot)
        assert isinstance(app.screen, WhenForm)
        assert _text(app.screen.query_one("#form-title", Label)) == f"Snooze · Call {H}"
        await pilot.press("escape")
        await settle(app, pilot)

        await pilot.press("x")
        await settle(app, pilot)
        assert f"Done: “Call {H}”." in _toasts(app)

        await pilot.press("u")  # whose tasks: a teammate by login and name
        await settle(app, pilot)
        assert isinstance(app.screen, PersonPicker)
        assert f"bob (Bob {H})" in _prompts(app.screen.query_one(OptionList))
        await pilot.press("escape")
        await settle(app, pilot)

        await pilot.press("n")  # a new task whose repeat can't be read: the error quotes it
        await settle(app, pilot)
        form = app.screen
        assert isinstance(form, TaskForm)
        form.query_one("#title", Input).value = "Follow up"
        form.query_one("#recurrence", Input).value = f"every {H}"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is form
        assert _text(form.query_one("#form-error", Label)).startswith(f"can't read recurrence 'every {H}'")
        await pilot.press("escape")
        await settle(app, pilot)

        with sqlite_db.write() as s:  # changed meanwhile: the refusal quotes the title
            tasks.reschedule_task(s, task_id=ring.id, due_at=now - timedelta(minutes=30), version=ring.version,
                                  actor=actor_sqlite, now=clock[0])
        assert screen.table.current_row.title == f"Ring {H}"
        await pilot.press("x")
        await settle(app, pilot)
        [told] = [t for t in _toasts(app) if t.startswith("Changed by someone else")]
        assert f"'Ring {H}'" in told


async def test_a_saved_list_name_quoted_in_an_error(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        users.create_user(s, data={"login": "bob", "name": "Bob", "role": "sales"}, actor=actor_sqlite, now=now)
        bob = users.actor_for(s, login="bob", now=now)
    with sqlite_db.write() as s:  # bob's own list: not in ann's sidebar, but the name is taken
        views.create_view(s, data={"name": f"Hot {H}", "shared": False}, actor=bob, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        await app.push_screen(SaveViewForm({"query": "", "filters": {}, "sort": "name"}))
        await settle(app, pilot)
        form = app.screen
        form.query_one("#name", Input).value = f"Hot {H}"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is form
        assert _text(form.query_one("#form-error", Label)) == f"a contact view named 'Hot {H}' already exists"


async def test_reports_name_the_pipeline_and_the_stage_drilled_into(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        default = pipelines.default_pipeline(s)
        pipelines.rename_pipeline(s, pipeline_id=default.id, name=f"Sales {H}", actor=actor_sqlite, now=now,
                                  version=default.version)
        first = default.stages[0]
        pipelines.update_stage(s, stage_id=first.id, name=f"New {H}", actor=actor_sqlite, now=now,
                               version=first.version)
        deals.create_deal(s, data={"title": "Anvils", "amount": "100"}, actor=actor_sqlite, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        screen = await _open_area(app, pilot, "5")
        assert isinstance(screen, ReportsScreen) and screen.report.name == "pipeline"
        assert f" · Sales {H}" in _text(screen.query_one("#report-heading", Static))
        assert f"Open deals as of now in Sales {H};" in _text(screen.query_one("#report-notes", Paragraphs))

        await pilot.press("enter")  # the first stage's open deals
        await settle(app, pilot)
        assert isinstance(app.screen, DrillScreen)
        assert _text(app.screen.query_one("#drill-title", Static)) == f"New {H}: open deals"


async def test_a_contact_found_in_the_palette_and_its_card(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        contacts.create_contact(s, data={"first_name": "Zed", "last_name": H, "title": H, "custom": {H: H}},
                                actor=actor_sqlite, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p", *"Zed")
        await settle(app, pilot)
        for _ in range(50):  # the palette gathers its hits in a task of its own
            found = [p for p in _prompts(app.screen.query_one(OptionList)) if p.startswith("Contact: ")]
            if found:
                break
            await pilot.pause(0.02)
        assert found == [f"Contact: Zed {H}"]
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ContactDetailScreen)
        card = _text(app.screen.query_one("#contact-card", Static)).splitlines()
        assert card[0] == f"Zed {H}  {H}"
        assert card[3].endswith(f"   {H} {H}")  # the custom field: its name and value

        await pilot.press("a")  # archive: the question and the toast name the contact
        await settle(app, pilot)
        assert _text(app.screen.query_one("#dialog-question", Label)).startswith(f"Archive Zed {H}?")
        await pilot.press("y")
        await settle(app, pilot)
        assert f"Archived Zed {H}. Press u to undo." in _toasts(app)


async def test_an_import_file_with_markup_in_its_headers_and_cells(sqlite_db, actor_sqlite, now, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(f'First name,Email,Notes {H}\nAda,"bad {H}","{H}"\n', encoding="utf-8")
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        await app.push_screen(ImportScreen(str(path)))
        await settle(app, pilot)
        screen = app.screen
        preview = screen.query_one("#import-preview", DataTable)
        assert [column.label.plain for column in preview.columns.values()] == ["First name", "Email", f"Notes {H}"]
        assert [str(cell) for cell in preview.get_row_at(0)] == ["Ada", f"bad {H}"[:30], H[:30]]  # cut at 30
        mapping = screen.query_one("#import-mapping", DataTable)
        assert str(mapping.get_row_at(2)[0]) == f"Notes {H}"

        await pilot.press("ctrl+o")
        mapping.move_cursor(row=2)
        await pilot.press("enter")  # map the column: the picker names it, and offers it as a custom field
        await settle(app, pilot)
        assert isinstance(app.screen, FieldPicker)
        assert _text(app.screen.query_one(Static)) == f"Map column Notes {H} to:"
        assert f"custom.Notes {H} (custom field)" in _prompts(app.screen.query_one(OptionList))
        await pilot.press("escape")
        await settle(app, pilot)

        await pilot.press("ctrl+r")  # the dry run's problem quotes the bad email
        await settle(app, pilot)
        report = screen.query_one("#import-report", DataTable)
        assert any(f"bad {H}" in str(report.get_row_at(i)[2]) for i in range(report.row_count))
        assert app.is_running


async def test_merging_duplicates_shows_both_names(sqlite_db, actor_sqlite, now):
    with sqlite_db.write() as s:
        a = companies.create_company(s, data={"name": f"Acme {H}", "domain": "acme.com"}, actor=actor_sqlite,
                                     now=now)
        b = companies.create_company(s, data={"name": f"ACME {H} Inc"}, actor=actor_sqlite, now=now,
                                     allow_duplicate=True)  # a duplicate on purpose
        plan = merge.plan_merge(s, kind="company", a_id=a.id, b_id=b.id)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        await app.push_screen(MergeForm(plan))
        await settle(app, pilot)
        form = app.screen
        assert _text(form.query_one("#form-title", Label)) == (
            f"Merge company #{b.id} ACME {H} Inc (b) into #{a.id} Acme {H} (a)")
        assert _shown_value(form.query_one("#keep-name", Select)) == f"a: Acme {H}"


async def test_a_saved_list_in_the_sidebar_and_its_toast(sqlite_db, actor_sqlite, now):
    """A team list named with markup: the Contacts area (where the app opens) lists it as named,
    and saving one says its name as typed."""
    with sqlite_db.write() as s:
        views.create_view(s, data={"name": f"Hot {H}", "shared": True}, actor=actor_sqlite, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        assert app.is_running
        assert any(prompt.startswith(f"Hot {H}  ") for prompt in _prompts(app.screen.query_one("#views", OptionList)))
        await pilot.press("S")
        await settle(app, pilot)
        assert isinstance(app.screen, SaveViewForm)
        app.screen.query_one("#name", Input).value = f"Cold {H}"
        await pilot.press("enter")
        await settle(app, pilot)
        assert any(f"Saved the list “Cold {H}” for the team." in toast for toast in _toasts(app))


async def test_the_board_names_deals_and_pipelines_as_typed(sqlite_db, actor_sqlite, now):
    """The pipeline picker, and the toast of a deal won on the board."""
    with sqlite_db.write() as s:
        pipeline, _stage = _pipeline_with_hostile_names(s, actor_sqlite, now)
        deals.create_deal(s, data={"title": f"Anvils {H}", "amount": "100", "pipeline_id": pipeline.id},
                          actor=actor_sqlite, now=now)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await settle(app, pilot)
        await pilot.press("3", "p")
        await settle(app, pilot)
        prompts = _prompts(app.screen.query_one("#pipeline-list", OptionList))
        assert any(prompt.startswith(f"Sales {H}  ") for prompt in prompts)
        chosen = next(i for i, prompt in enumerate(prompts) if prompt.startswith(f"Sales {H}"))
        app.screen.query_one("#pipeline-list", OptionList).highlighted = chosen
        await pilot.press("enter")
        await settle(app, pilot)
        assert [len(column.rows) for column in app.screen.board.columns][:1] == [1]
        assert str(app.screen.query_one("#board-bar").render()).startswith(f"Sales {H} (p)")
        await pilot.press("w")  # the focused card: the only deal
        await settle(app, pilot)
        assert any(f"Anvils {H}: won" in toast for toast in _toasts(app))
