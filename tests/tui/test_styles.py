"""The app's stylesheets: a start parses each one once, and only what its first screen draws."""

from __future__ import annotations

from collections import Counter

import pytest
from textual.css import stylesheet
from textual.screen import Screen

from crm_tui.app import CrmApp
from crm_tui.screens.help import HelpScreen

from .conftest import settle


def _counting_parses(monkeypatch) -> Counter:
    """How many times each stylesheet source (a file, or a class's CSS) is parsed."""
    parsed: Counter = Counter()
    parse = stylesheet.parse

    def counted(scope, css, read_from, *args, **kwargs):
        parsed[read_from] += 1
        return parse(scope, css, read_from, *args, **kwargs)

    monkeypatch.setattr(stylesheet, "parse", counted)
    return parsed


@pytest.mark.parametrize("mode", ["contacts", "companies", "pipeline", "inbox", "reports"])
async def test_starting_in_an_area_parses_each_stylesheet_once(sqlite_db, actor_sqlite, now, monkeypatch, mode):
    """An area with its own stylesheet file used to make Textual parse every stylesheet again when
    its screen was first made (about a third of the Pipeline's and the Inbox's start)."""
    parsed = _counting_parses(monkeypatch)

    class StartIn(CrmApp):
        DEFAULT_MODE = mode

    app = StartIn(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert app.current_mode == mode
        files = {path.rsplit("/", 1)[-1] for path, _ in parsed if str(path).endswith(".tcss")}
        assert files == {f"{mode}.tcss"}  # the area's own file: no other's, and not shell.tcss yet
        assert [source for source, times in parsed.items() if times > 1] == []


async def test_a_screen_opened_over_an_area_brings_its_styles(sqlite_db, actor_sqlite, now, monkeypatch):
    parsed = _counting_parses(monkeypatch)
    app = CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        box = app.screen.query_one("#help")
        assert box.region.width == 108  # 90% of 120, from shell.tcss (a Vertical fills the width)
        assert [source for source, times in parsed.items() if times > 1] == []


async def test_the_theme_variables_are_worked_out_once_per_theme(sqlite_db, actor_sqlite, now, monkeypatch):
    """Textual asks for the CSS variables whenever an area's screen is first made; the app works
    them out once per theme, and a theme change still gets its own."""
    from textual.app import App
    from textual.design import ColorSystem

    made: list[str] = []
    generate = ColorSystem.generate
    monkeypatch.setattr(ColorSystem, "generate", lambda self: made.append("x") or generate(self))
    app = CrmApp(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        for key in "2345":  # every area's screen made
            await pilot.press(key)
            await settle(app, pilot)
        assert len(made) == 1
        assert app.get_css_variables() == App.get_css_variables(app)  # what Textual itself works out
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        assert app.theme == "textual-light" and len(made) == 3  # (and Textual's own, just above)
        assert app.get_css_variables() == App.get_css_variables(app)
        assert app.stylesheet._variables["background"] == app.get_css_variables()["background"]


@pytest.mark.parametrize("mode", ["contacts", "pipeline", "inbox"])
async def test_a_new_area_applies_the_styles_once(sqlite_db, actor_sqlite, now, monkeypatch, mode):
    """Its stylesheet file joins the sheet and the styles are applied once; Textual's refresh of a
    new mode's screen applied them all again (twice at start, three times on opening an area)."""
    updates: list[str] = []
    update = stylesheet.Stylesheet.update
    monkeypatch.setattr(stylesheet.Stylesheet, "update",
                        lambda self, root, animate=False: updates.append(root) or update(self, root, animate))

    class StartIn(CrmApp):
        DEFAULT_MODE = mode

    app = StartIn(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        assert updates == [app]
        updates.clear()
        await pilot.press("2")  # Companies: a new area, with its own file
        await settle(app, pilot)
        assert app.current_mode == "companies" and updates == [app]
        assert app.screen.query_one("#company-search-bar").styles.height.value == 1  # from companies.tcss


@pytest.mark.parametrize("mode, focused", [("contacts", "#contact-list"), ("inbox", "#inbox-list"),
                                           ("pipeline", "#board")])
async def test_the_widget_focused_at_start_is_styled_once_and_as_focused(sqlite_db, actor_sqlite, now, monkeypatch,
                                                                         mode, focused):
    """The widget AUTO_FOCUS focuses is marked focused before it mounts: Textual's focus came after
    the styles were worked out and applied the stylesheet to it once more."""
    from textual.dom import DOMNode

    restyled: list = []
    update = DOMNode.update_node_styles
    monkeypatch.setattr(DOMNode, "update_node_styles",
                        lambda self, animate=True: (restyled.append(self.id), update(self, animate))[-1])

    class StartIn(CrmApp):
        DEFAULT_MODE = mode

    app = StartIn(sqlite_db, actor_sqlite, clock=lambda: now, welcome=False, inbox_refresh_s=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(app, pilot)
        widget = app.screen.query_one(focused)
        assert app.focused is widget and widget.has_focus and widget.id not in restyled
        focus_styled = app.screen.query_one(focused).styles
        if mode != "pipeline":  # the lists' border is the theme's primary colour in full when focused
            assert focus_styled.border_top[1] == app.current_theme.to_color_system().primary
