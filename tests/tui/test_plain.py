"""PlainBackground: screens and containers that draw only their background skip Textual's styled
line path, and the cells they draw are the same as that path's."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.filter import Monochrome
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Static

from crm_tui.screens.contacts.screen import ContactsScreen
from crm_tui.widgets.plain import PlainRow

from .conftest import make_app, settle


def _cells(strips) -> list[list[tuple[str, object]]]:
    return [[(segment.text[i:i + 1], segment.style) for segment in strip for i in range(len(segment.text))]
            for strip in strips]


def _textual_way(widget: Widget, crop: Region):
    widget._styles_cache.clear()
    return Widget.render_lines(widget, crop)


class Rows(App[None]):
    CSS = """
    #plain { height: 6; background: $primary 40%; }
    #bordered { height: 6; border: round red; background: $panel; }
    Static { width: 10; }
    """

    def compose(self) -> ComposeResult:
        with PlainRow(id="plain"):
            yield Static("left")
        with PlainRow(id="bordered"):
            yield Static("right")


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
async def test_a_plain_row_draws_the_cells_textual_draws(theme):
    app = Rows()
    async with app.run_test(size=(40, 14)) as pilot:
        app.theme = theme
        await pilot.pause()
        for row in app.query(PlainRow):
            crop = Region(0, 0, row.size.width, row.size.height)
            assert _cells(row.render_lines(crop)) == _cells(_textual_way(row, crop)), row.id
            part = Region(3, 1, 20, 4)  # a crop, as when a child covers the rest
            assert _cells(row.render_lines(part)) == _cells(_textual_way(row, part)), row.id
        plain, bordered = app.query_one("#plain"), app.query_one("#bordered")
        assert plain._draws_background_only() and not bordered._draws_background_only()


async def test_the_line_filters_still_apply(monkeypatch):
    """NO_COLOR's monochrome filter greys the background drawn here as it does Textual's."""
    app = Rows()
    async with app.run_test(size=(40, 14)) as pilot:
        app._filters.append(Monochrome())
        await pilot.pause()
        row = app.query_one("#plain", PlainRow)
        crop = Region(0, 0, row.size.width, row.size.height)
        drawn = row.render_lines(crop)
        assert _cells(drawn) == _cells(_textual_way(row, crop))
        color = list(drawn[0])[0].style.bgcolor.triplet
        assert color.red == color.green == color.blue


async def test_an_area_screen_draws_the_cells_textual_draws(sqlite_db, actor_sqlite, now):
    app = make_app(sqlite_db, actor_sqlite, now)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ContactsScreen) and screen._draws_background_only()
        for crop in (Region(0, 0, 80, 24), Region(0, 2, 80, 1), Region(79, 0, 1, 24)):
            assert _cells(screen.render_lines(crop)) == _cells(_textual_way(screen, crop))
