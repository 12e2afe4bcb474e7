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
