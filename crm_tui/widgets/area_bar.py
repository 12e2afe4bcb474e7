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
        app = self.app
        text = Text(no_wrap=True, overflow="ellipsis")
        may_open = getattr(app, "may_open", None)
        for area in getattr(app, "AREAS", ()):
            mode, key, label = area.mode, area.key, area.title
            if may_open is not None and not may_open(mode):
                continue  # the role can't open it: not shown (the key says why)
            if mode == "inbox" and getattr(app, "inbox_due", 0):
                label = f"{label} {app.inbox_due}"
            style = "reverse bold" if mode == self.current else ""
            text.append(f" {key} ", style="bold" if mode != self.current else "reverse bold")
            text.append(f"{label} ", style=style)
        actor = getattr(app, "actor", None)
        who = f"{actor.login} " if actor is not None else ""
        room = self.size.width - text.cell_len
        if room > len(who) + 1:
            text.append(who.rjust(room), style="italic")
        return text
