"""The private Textual names crm_tui/compat.py relies on exist in the installed Textual, which is
the minor version the patches were measured on: this fails loudly when Textual changes under them."""

from __future__ import annotations

import inspect

import textual
from textual.app import App
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode
from textual.screen import Screen

from crm_tui import compat


def test_textual_is_the_pinned_minor_version():
    assert compat.textual_supported(), f"crm_tui/compat.py is for Textual {compat.SUPPORTED}.x, not {textual.__version__}"


def test_the_private_names_the_patches_use_are_there():
    assert callable(App._load_screen_css) and "screen" in inspect.signature(App._load_screen_css).parameters
    assert callable(Screen._refresh_layout)
    assert "_variables" in inspect.getsource(Stylesheet.__init__)
    assert "_css_update_count" in inspect.getsource(App.__init__)
    assert "_css_update_count" in inspect.getsource(Screen)
    assert "_exit" in inspect.getsource(App.__init__)
    assert "_bindings" in inspect.getsource(DOMNode)
    from textual.widgets import DataTable
    assert compat.table_measured(DataTable())
    assert "_require_update_dimensions = True" in inspect.getsource(DataTable.add_row)
    assert "self._updated_cells.add" in inspect.getsource(DataTable.update_cell)
    from textual.widgets import Select

    assert compat.select_options(Select([("a", 1)], value=1, allow_blank=False)) == [("a", 1)]


def test_textual_still_calls_the_hooks_the_mixins_override():
    """The app loads a screen's stylesheet files through _load_screen_css."""
    assert "_load_screen_css" in inspect.getsource(App)


async def test_a_screens_stylesheet_reaches_the_other_screens_nodes_it_names(tmp_path):
    """A screen's CSS file, added to the sheet in place (StyleWorkOnce._load_screen_css), restyles a
    widget of the screen below that its rules name, and the others keep their styles."""
    from textual.app import ComposeResult
    from textual.color import Color
    from textual.widgets import Label

    sheet = tmp_path / "second.tcss"
    sheet.write_text("#named { color: #ff0000; }\n#second-label { color: #00ff00; }\n")

    class First(Screen):
        def compose(self) -> ComposeResult:
            yield Label("named", id="named")
            yield Label("other", id="other")

    class Second(Screen):
        CSS_PATH = str(sheet)

        def compose(self) -> ComposeResult:
            yield Label("second", id="second-label")

    class TwoModes(compat.StyleWorkOnce, App[None]):
        MODES = {"first": First, "second": Second}
        DEFAULT_MODE = "first"

    app = TwoModes()
    async with app.run_test() as pilot:
        first = app.screen
        other = first.query_one("#other", Label).styles.color
        app.switch_mode("second")
        await pilot.pause()
        assert first.query_one("#named", Label).styles.color == Color(255, 0, 0)
        assert first.query_one("#other", Label).styles.color == other
        assert app.screen.query_one("#second-label", Label).styles.color == Color(0, 255, 0)
