"""The Import screen, from the palette: pick a file, see its mapping and first rows, change the
mapping, run a dry run (nothing written), then import the valid rows."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from textual.widgets import Checkbox, DataTable

from crm_tui.models import Contact, ContactTag
from crm_tui.screens.settings.imports import FieldPicker, ImportScreen
from crm_tui.widgets.text_line import Paragraphs
from tests.tui.conftest import make_app, settle

FILE = Path(__file__).parents[1] / "fixtures" / "import" / "contacts_messy.csv"


def _count(db, model) -> int:
    with db.read() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


async def test_pick_map_dry_run_and_import(sqlite_db, actor_sqlite, now):
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"Import a file")
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ImportScreen)
        await pilot.press(*str(FILE), "enter")
        await settle(app, pilot)
        mapping = screen.query_one("#import-mapping", DataTable)
        assert [str(cell) for cell in mapping.get_row_at(mapping.row_count - 1)[:2]] == ["Tags", "tags"]
        assert screen.query_one("#import-preview", DataTable).row_count == 5
        # change the mapping: Tags -> skipped
        await pilot.press("ctrl+o")
        assert mapping.has_focus
        mapping.move_cursor(row=mapping.row_count - 1)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, FieldPicker)
        await pilot.press("home", "enter")  # "(skip)" is the first choice
        await settle(app, pilot)
        assert "skipped" in str(mapping.get_row_at(mapping.row_count - 1)[1])
        # the dry run reports and writes nothing
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        summary = str(screen.query_one("#import-summary", Paragraphs).render())
        # line 4, Eve Adams, shares Dana White's phone, not her name: another person (issue 17 #5)
        assert "Dry run" in summary and "4 would be created" in summary and "3 invalid" in summary
        report = screen.query_one("#import-report", DataTable)
        assert [report.get_row_at(i)[0] for i in range(report.row_count)] == ["6", "7", "8", "3"]
        assert _count(sqlite_db, Contact) == 0
        # invalid rows: all or nothing, unless they are skipped
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        refused = str(screen.query_one("#import-summary", Paragraphs).render())
        # what it would have done, not "4 created" beside "Nothing imported"
        assert "Nothing imported" in refused and "4 would be created" in refused and " 4 created" not in refused
        assert _count(sqlite_db, Contact) == 0
        screen.query_one("#import-skip-invalid", Checkbox).value = True
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "Imported" in str(screen.query_one("#import-summary", Paragraphs).render())
        assert _count(sqlite_db, Contact) == 4 and _count(sqlite_db, ContactTag) == 0
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, ImportScreen)


async def test_values_are_rewritten_from_the_options(sqlite_db, actor_sqlite, now, tmp_path):
    """The rewrites box takes field:from=to (or a values file): shown in the mapping, applied
    before the rows are read (issue 17 #22)."""
    from crm_tui.models import Deal, Stage
    from textual.widgets import Input

    path = tmp_path / "deals.csv"
    path.write_text("Deal name,Stage\nAcme,Signed Contract\n", encoding="utf-8")
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.push_screen(ImportScreen(str(path), "deals"))
        await settle(app, pilot)
        screen = app.screen
        screen.query_one("#import-values", Input).focus()
        await pilot.press(*"stage:signed contract=Won", "enter")
        await settle(app, pilot)
        mapping = screen.query_one("#import-mapping", DataTable)
        assert [str(c) for c in mapping.get_row_at(mapping.row_count - 1)] == ["stage: signed contract", "→ Won"]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "Imported" in str(screen.query_one("#import-summary", Paragraphs).render())
    with sqlite_db.read() as session:
        assert session.execute(sa.select(Stage.name).join(Deal, Deal.stage_id == Stage.id)).scalars().all() == ["Won"]
