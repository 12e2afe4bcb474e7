"""The dialogs issue 20 found cut at 80x24 (over SSH), opened as a person would: every field,
label and button shows, none under another, and no one-line text is cut without "…" (tests/tui/fit.py)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from crm_tui.db import open_database
from crm_tui.screens.contacts.filters import ContactFilterForm
from crm_tui.screens.pipeline.board_dialogs import BoardFilterForm
from crm_tui.screens.pipeline.deals import DealFilterForm
from crm_tui.services import demo

from .conftest import make_app, settle
from .fit import assert_fits

SIZE = (80, 24)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory, sqlite_template):
    """The demo set loaded once for the module into a copy of the template (in an environment
    isolated as a test's), as the tests' `demo_db` loaded it each; each test gets a copy."""
    from crm_tui.services import users
    from tests.conftest import FROZEN_NOW, _isolate

    folder = tmp_path_factory.mktemp("demo")
    path = folder / "demo.db"
    shutil.copy(sqlite_template, path)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _isolate(folder, monkeypatch)
        database = open_database(f"sqlite:///{path}")
        try:
            with database.write() as session:
                actor = users.actor_for(session, login="ann", now=FROZEN_NOW)
                demo.load_demo(session, contacts=60, seed=7, actor=actor, now=FROZEN_NOW)
        finally:
            database.dispose()
    time.tzset()  # the TZ the isolation set is gone again
    return path


@pytest.fixture
def demo_db(sqlite_db, demo_file):
    """sqlite_db (the file the test's actor_sqlite reads) with the module's demo set in it: a file
    copy, not a demo load per test. Its connections are closed first and no WAL of the file it
    replaces is left beside it."""
    path = Path(make_url(sqlite_db.url).database)
    sqlite_db.dispose()
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copy(demo_file, path)
    return sqlite_db


async def _open(app, pilot, *keys: str):
    await settle(app, pilot)
    for key in keys:
        await pilot.press(key)
        await settle(app, pilot)
    return app.screen


@pytest.mark.parametrize("keys, dialog", [
    pytest.param(("f",), ContactFilterForm, id="contacts"),
    pytest.param(("3", "v", "f"), DealFilterForm, id="deals"),
    pytest.param(("3", "slash"), BoardFilterForm, id="board"),
])
async def test_a_filter_dialog_shows_every_field_and_its_buttons(demo_db, actor_sqlite, now, keys, dialog):
    app = make_app(demo_db, actor_sqlite, now)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, *keys)
        assert isinstance(screen, dialog)
        assert_fits(screen)
        assert len(screen.query("Button")) == 2


MARKING = {"list.mark": ("space", "Mark or unmark the row"), "list.mark_all": ("*", "Mark all matching"),
           "list.clear_marks": ("esc", "Clear marks (once rows are marked)"),
           "list.bulk": ("b", "Bulk change (once rows are marked)"),
           "list.undo_bulk": ("u", "Undo bulk change (after a bulk change)")}


@pytest.mark.parametrize("keys", [pytest.param(("1",), id="contacts"), pytest.param(("2",), id="companies"),
                                  pytest.param(("3", "v"), id="deals")])
async def test_help_lists_the_marking_keys_before_they_apply(demo_db, actor_sqlite, now, keys):
    """`?` on a list that marks rows names space, *, esc, b and u, and says when the last three
    apply (they were left out until a row was marked, so nobody could learn them from help)."""
    from crm_tui.screens.help import HelpScreen, binding_rows

    app = make_app(demo_db, actor_sqlite, now)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, *keys)
        rows = {row[3]: (row[1], row[2]) for row in binding_rows(screen) if row[3] in MARKING}
        assert rows == MARKING
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)

        await pilot.press("escape", "space")  # a row marked: esc and b apply now, said plainly
        await settle(app, pilot)
        rows = {row[3]: row[2] for row in binding_rows(screen)}
        assert (rows["list.clear_marks"], rows["list.bulk"]) == ("Clear marks", "Bulk change")
        assert rows["list.undo_bulk"] == "Undo bulk change (after a bulk change)"


@pytest.mark.parametrize("keys, dialog", [
    pytest.param(("n",), "#form-dialog", id="new-contact"),
    pytest.param(("3", "n"), "#form-dialog", id="new-deal"),
    pytest.param(("2", "n"), "#company-form-dialog", id="new-company"),
])
async def test_a_form_with_a_custom_fields_section_is_as_tall_as_its_fields(demo_db, actor_sqlite, now, keys,
                                                                             dialog):
    """No custom field defined: the section takes no line, and the dialog ends under its last field
    (the section's container filled what was left, so the form took the whole screen, blank)."""
    app = make_app(demo_db, actor_sqlite, now)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, *keys)
        assert screen.query_one("#custom-fields").outer_size.height == 0
        body = screen.query_one(dialog.replace("dialog", "body"))
        assert body.virtual_size.height == sum(child.outer_size.height for child in body.children if child.display)
        assert screen.query_one(dialog).outer_size.height < SIZE[1]
        assert_fits(screen)


async def test_the_roles_table_shows_every_permission_whole_from_the_first_frame(sqlite_db, actor_sqlite, now):
    """The permission column's width was measured from its rows when the table was next idle: a
    frame drawn before that (a snapshot, now and then) cut "contact.edit" to "contact.ed". Its
    width is set when the column is made, to the longest permission's."""
    from crm_tui.screens.settings.roles import RoleSettingsScreen
    from crm_tui.services import permissions
    from textual.widgets import DataTable

    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(RoleSettingsScreen())
        await pilot.pause()
        column = app.screen.query_one(DataTable).columns["action"]
        assert not column.auto_width and column.width == max(map(len, permissions.ACTIONS))
        await settle(app, pilot)
        assert_fits(app.screen)


async def test_pipeline_settings_words(demo_db, actor_sqlite, now):
    """The stage form's label fits its column ("Probability10" ran into its value), and deleting a
    stage with deals counts them in words ("2 deal(s)")."""
    from textual.widgets import Label

    app = make_app(demo_db, actor_sqlite, now)
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot, "3", "S", "e")
        labels = [str(label.render()) for label in app.screen.query(".field-label")]
        assert labels == ["Name", "Win chance", "Rots after"]
        assert all(len(text) < label.content_region.width for text, label in
                   zip(labels, app.screen.query(".field-label"), strict=True))
        await pilot.press("escape", "d")
        await settle(app, pilot)
        assert str(app.screen.query_one("#picker-title", Label).render()) == "New has 2 deals. Move them to:"


@pytest.mark.parametrize("width", [80, 120, 160])
async def test_the_board_totals_take_one_form_at_every_width(demo_db, actor_sqlite, now, width):
    """Each open column's totals line reads "<amount> · w <weighted>" at every width (it was
    "$1.5M · w $149.3K" in one column and "$930.4K w$232.6K" in another), cut with "…" if at all."""
    import re

    from crm_tui.widgets.kanban import KanbanBoard

    app = make_app(demo_db, actor_sqlite, now)
    async with app.run_test(size=(width, 24)) as pilot:
        await _open(app, pilot, "3")
        board = app.screen.query_one(KanbanBoard)
        lines = [column.render_line(1).text.strip() for column in board.columns
                 if column.display and column.stage.kind == "open"]
        assert lines
        form = re.compile(r"^[$€£]\d[\d.,]*[KMB]? · w [$€£]\d[\d.,]*[KMB]?$")
        assert all(form.match(line) or line.endswith("…") for line in lines), lines


async def test_the_import_screen_at_80x24_cuts_nothing_without_an_ellipsis(sqlite_db, actor_sqlite, now, tmp_path):
    """A long file name, then a dry run and an import the file's bad rows refuse: the file line, the
    summary and the keys show whole or end with "…" (the import screen cut text without one)."""
    import shutil
    from pathlib import Path

    from crm_tui.screens.settings.imports import ImportScreen

    source = Path(__file__).parents[1] / "fixtures" / "import" / "contacts_messy.csv"
    path = tmp_path / ("exported from the old crm on a friday afternoon " * 2 + "contacts.csv")
    shutil.copy(source, path)
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(ImportScreen(str(path)))
        await settle(app, pilot)
        assert isinstance(app.screen, ImportScreen)
        assert_fits(app.screen)
        for key in ("ctrl+r", "ctrl+s"):  # a dry run, then the import (refused: invalid rows)
            await pilot.press(key)
            await settle(app, pilot)
            assert_fits(app.screen)


async def test_an_empty_inbox_points_nowhere_empty(sqlite_db, actor_sqlite, now):
    """With no task at all, the Inbox said "Nothing overdue. → shows what is due today." over an
    empty Today: it says there is nothing due, and how to add a task."""
    from crm_tui.screens.inbox.screen import NOTHING_DUE
    from crm_tui.widgets.keyset_table import KeysetTable

    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=SIZE) as pilot:
        await _open(app, pilot, "4")
        table = app.screen.query_one(KeysetTable)
        assert app.screen.section == "overdue" and table.empty_text == NOTHING_DUE
        assert NOTHING_DUE in table.render_line(2).text + table.render_line(1).text
