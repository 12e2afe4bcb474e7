"""The footer: the keys of the focused screen on one line, drawn as text by one widget.

Textual's Footer mounts a widget per key and mounts them all again whenever the focus moves or the
bindings change; every one of those widgets gets its styles worked out twice on the way in. At
start-up that was most of the app's style work (the benchmark's 100k-contact start went from the
footer's 272 style applications to a few dozen). This draws the same keys, in the footer's
colours, as one line of text, and repaints it when the bindings change. A click on a key presses it.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen

from crm_tui.widgets.text_line import TextLine


class KeyBar(TextLine):
    ALLOW_SELECT = False
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    KeyBar > .key-bar--disabled {
        color: $text-disabled;
    }
    """
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._targets: list[tuple[int, int, str]] = []  # (from x, to x, key) of each key drawn

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if screen is self.screen:
            self.refresh()

    def shown(self) -> list[tuple[str, str, str, bool]]:
        """(key, key as shown, description, enabled) of each key the bar shows, one per action,
        the command palette's last."""
        app = self.app
        palette_key = app.COMMAND_PALETTE_BINDING if app.ENABLE_COMMAND_PALETTE else None
        keys, palette, actions = [], [], set()
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            if key == palette_key:
                palette = [(binding.key, app.get_key_display(binding), binding.description or "palette", enabled)]
            elif binding.show and binding.action not in actions:
                actions.add(binding.action)
                keys.append((binding.key, app.get_key_display(binding), binding.description, enabled))
        return keys + palette

    def _runs(self) -> list[tuple[str, Style]]:
        """The line as runs of (text, style): the keys from the left, the palette's key at the right
        edge (the keys that don't fit give way to it; `?` lists them all). Notes where each key is."""
        key_style = self.get_component_rich_style("key-bar--key")
        description_style = self.get_component_rich_style("key-bar--description")
        disabled = self.get_component_rich_style("key-bar--disabled")
        disabled_key = disabled + Style(bold=True)
        parts = []
        for key, display, description, enabled in self.shown():
            shown_key = key_style if enabled else disabled_key
            part = [(f" {display} ", shown_key)]
            if description:  # over the key's style (bold), as the line has always been drawn
                part.append((f"{description} ", shown_key + (description_style if enabled else disabled)))
            parts.append((key, part, sum(cell_len(text) for text, _ in part)))
        palette = parts.pop() if parts and parts[-1][0] == self.app.COMMAND_PALETTE_BINDING else None
        room = self.size.width - (palette[2] if palette else 0)
        runs: list[tuple[str, Style]] = []
        used = 0
        self._targets = []
        for key, part, length in parts:
            if used + length > room:
                break
            self._targets.append((used, used + length, key))
            runs += part
            used += length
        if palette is not None:
            if room > used:
                runs.append((" " * (room - used), Style()))
                used = room
            self._targets.append((used, used + palette[2], palette[0]))
            runs += palette[1]
        return runs

    def text(self) -> Text:
        text = Text(no_wrap=True, end="")
        for run, style in self._runs():
            text.append(run, style)
        return text

    def segments(self, width: int, base: Style) -> list[Segment]:
        """Drawn from the runs straight (no rich Text and console pass: a key bar is on every screen)."""
        return [Segment(run, base + style) for run, style in self._runs()]

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._targets:
            if start <= event.x < end:
                event.stop()
                self.app.simulate_key(key)
                return
