"""What every area screen shares: the area bar on top, the footer below, and a way to ask the
app to refresh after a change."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from crm_tui.widgets.area_bar import AreaBar


class AreaScreen(Screen):
    """A screen that belongs to one of the app's areas (a mode)."""

    AREA = "contacts"

    def compose_frame_top(self) -> ComposeResult:
        yield AreaBar(self.AREA)

    def compose_frame_bottom(self) -> ComposeResult:
        yield Footer()

    def refresh_data(self) -> None:
        """Reload what the screen shows (after a save elsewhere). Screens override it."""
