"""What every area screen shares: the area bar on top, the footer below, and a way to ask the
app to refresh after a change."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from crm_tui.widgets.area_bar import AreaBar
from crm_tui.widgets.key_bar import KeyBar


class ReportsWorkerErrors:
    """Textual posts a worker's state changes only to the screen or widget that started it, and
    they don't bubble: a failed save in a screen's own worker (a refusal, a conflict) would go
    unseen. Screens with this mixin hand every failure to the app's one handler, which shows it."""

    def on_worker_state_changed(self, event) -> None:
        report = getattr(self.app, "report_worker_failure", None)
        if report is not None:
            report(event)


class AreaScreen(ReportsWorkerErrors, Screen):
    """A screen that belongs to one of the app's areas (a mode)."""

    AREA = "contacts"
    LIVE_REFRESH = True  # refresh_data() when a teammate saves something (app.live_changed)

    def compose_frame_top(self) -> ComposeResult:
        # a screen opened over an area (a contact's detail from Companies, say) stays in that area
        stack = self.app.screen_stack
        base = stack[0] if stack and stack[0] is not self else self
        yield AreaBar(getattr(base, "AREA", self.AREA))

    def compose_frame_bottom(self) -> ComposeResult:
        yield KeyBar()

    def refresh_data(self) -> None:
        """Reload what the screen shows (after a save elsewhere). Screens override it."""


SEARCH_DEBOUNCE_S = 0.15


class SearchableList:
    """Search as you type for a list screen: keystrokes wait SEARCH_DEBOUNCE_S before a search
    (a newer keystroke restarts the wait; the list's own worker drops a stale result), and Enter
    searches at once. The screen keeps `query_text`, and defines `reload()` and `action_focus_list()`."""

    query_text: str = ""
    _debounce = None

    def debounce_search(self, value: str) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(SEARCH_DEBOUNCE_S, lambda: self.search_now(value))

    def search_now(self, value: str) -> None:
        text = value.strip()
        if text != self.query_text:
            self.query_text = text
            self.reload()

    def flush_search(self, value: str) -> None:
        """Search now for what waits on the debounce (moving into the list shows it at once)."""
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
            self.search_now(value)

    def submit_search(self, value: str) -> None:
        if self._debounce is not None:
            self._debounce.stop()
            self._debounce = None
        self.search_now(value)
        self.action_focus_list()
