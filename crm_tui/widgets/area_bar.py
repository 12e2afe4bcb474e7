"""The top line of every area: where you are, the keys to the other areas (the app's AREAS, from
crm_tui/areas.py), the Inbox count and who is signed in."""

from __future__ import annotations

from rich.text import Text

from crm_tui.widgets.text_line import TextLine

class AreaBar(TextLine):
    DEFAULT_CSS = """
    AreaBar {
        height: 1;
        background: $panel;
        color: $text-muted;
    }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def on_mount(self) -> None:
        self.watch(self.app, "inbox_due", lambda _: self.refresh(), init=False)

    def text(self) -> Text:
        """The areas' keys and titles, then the signed-in login at the right; where the room is short
        (80 columns), the areas closer together so that the login still shows, and no title is cut."""
        app = self.app
        actor = getattr(app, "actor", None)
        who = f"{actor.login} " if actor is not None else ""
        areas = self._areas()
        text = self._line(areas, compact=False)
        if self.size.width - text.cell_len <= len(who) + 1:
            text = self._line(areas, compact=True)
        room = self.size.width - text.cell_len
        if room > len(who) + 1:
            text.append(who.rjust(room), style="italic")
        return text

    def _areas(self) -> list[tuple[str, str, str]]:
        """(mode, key, label) of each area the role may open (the Inbox with its count)."""
        app = self.app
        may_open = getattr(app, "may_open", None)
        shown = []
        for area in getattr(app, "AREAS", ()):
            mode, label = area.mode, area.title
            if may_open is not None and not may_open(mode):
                continue  # the role can't open it: not shown (the key says why)
            if mode == "inbox" and getattr(app, "inbox_due", 0):
                label = f"{label} {app.inbox_due}"
            shown.append((mode, area.key, label))
        return shown

    def _line(self, areas: list[tuple[str, str, str]], *, compact: bool) -> Text:
        """" 1 Contacts  2 Companies " (each key in its own cell), or compact " 1 Contacts 2 Companies"
        (a count, as the Inbox's, kept apart from the next key)."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if compact:
            text.append(" ")
        for n, (mode, key, label) in enumerate(areas):
            current = mode == self.current
            if compact:
                if n:
                    text.append("  " if areas[n - 1][2][-1:].isdigit() else " ")  # "4 Inbox 5  5 Reports"
                text.append(key, style="reverse bold" if current else "bold")
                text.append(f" {label}", style="reverse bold" if current else "")
            else:
                text.append(f" {key} ", style="reverse bold" if current else "bold")
                text.append(f"{label} ", style="reverse bold" if current else "")
        return text
