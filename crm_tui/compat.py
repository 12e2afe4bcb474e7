"""Every use of a private Textual name, in one place, checked against the pinned Textual version
(pyproject: textual>=8.2,<8.3). tests/unit/test_compat.py fails when Textual changes any of them.

The one patch kept (StyleWorkOnce) saves style work at start-up: the whole-process benchmark
(bench/bench_process.py --also, an A/B with and without it) put it at 6-12% of the time from `crm`
to the first rows. It falls back to Textual's own path when its assumption does not hold. Patches
that won less than 5% of that start were removed."""

from __future__ import annotations

import textual
from textual.app import App, ScreenError
from textual.dom import DOMNode
from textual.screen import Screen

SUPPORTED = "8.2"  # the minor version these patches were written and measured against


def textual_supported() -> bool:
    return textual.__version__.startswith(SUPPORTED + ".")


def node_bindings(node: DOMNode):
    """A node's own bindings map (what `?` help lists)."""
    return node._bindings


def select_options(select) -> list[tuple[object, object]]:
    """A Select's (prompt, value) options, as given to it (Textual keeps them private)."""
    return list(select._options)


def is_exiting(app: App) -> bool:
    """Whether the app was told to exit (quit before the first frame was drawn)."""
    return app._exit


def table_measured(table) -> bool:
    """Whether a DataTable has measured the rows and cells it was given: it sizes its columns on
    its next idle, so until then a new row's cells are cut to the column labels' widths."""
    return not (table._require_update_dimensions or table._updated_cells)


def _mark_styles_current(screen: Screen, app: App) -> None:
    """The screen's nodes have the styles of the sheet as it is: Textual's next refresh of it
    would apply them all again."""
    screen._css_update_count = app._css_update_count


class StyleWorkOnce:
    """App mixin: the stylesheet's work done once, not two or three times (see each method)."""

    def refresh_css(self, animate: bool = True) -> None:
        """Textual refreshes the CSS when a mode's screen is first made (and on a theme change): it
        sets the variables, which empties the parse cache, and parses every stylesheet again. When
        the variables are the ones the rules were parsed with, that work gives the same rules, and
        the emptied cache makes the next widget type that mounts parse them all once more (about
        7 ms of a 50 ms start here). Then only the styles are applied again; a real change (a new
        theme) goes the whole way."""
        sheet = self.stylesheet
        if self.get_css_variables() != sheet._variables:
            super().refresh_css(animate)
            return
        sheet.update(self, animate=animate)
        try:
            if self.screen.is_mounted:
                self.screen._refresh_layout(self.size)
                _mark_styles_current(self.screen, self)
        except ScreenError:
            pass
        for screen in self.screen_stack:
            if screen != self.screen:
                sheet.update(screen, animate=animate)
                _mark_styles_current(screen, self)

    def _load_screen_css(self, screen: Screen) -> None:
        """A screen's own stylesheet files (CSS_PATH) join the app's. Textual adds them and then
        parses every stylesheet again in a new, empty sheet (its `reparse`), and the new file once
        more when the next widget type mounts: at the start of the Pipeline or the Inbox that was
        a third of the style work before the first frame. Added to the sheet in place, only the
        new file is parsed (the others' rules are kept in its cache), once, when the styles are
        applied; the rules are the same. A screen with inline CSS goes Textual's way."""
        sheet = self.stylesheet
        if screen.CSS or self.css_monitor is not None:
            super()._load_screen_css(screen)
            return
        new = [path for path in screen.css_path if not sheet.has_source(str(path), "")]
        for path in new:
            sheet.read(path)
        if new:
            sheet.update(self)
            # every node, this screen's too, now has the styles of the sheet as it is: Textual's
            # refresh of a new mode's screen, next, would apply them all over again
            _mark_styles_current(screen, self)
