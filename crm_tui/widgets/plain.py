"""Screens and containers that draw nothing of their own but their background.

Textual draws every widget in full, including a screen or a container whose area its children
cover: each of its lines goes through the general styled-line path (borders, padding, hatch,
tint, opacity), which costs as much for a blank line as for a line of text. An area's screen and
the Contacts body are 68 such lines of the first frame, about 2 ms of it. Drawn here as one blank
line in the widget's background, put through the app's line filters (as Textual's styled path
does), and repeated: the cells are the same.
"""

from __future__ import annotations

from textual.containers import Horizontal
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.style import Style


class PlainBackground:
    """Mix in before a Widget (a Screen or container) whose own drawing is its background alone.
    Anything more (a border, an outline, a hatch, a tint, opacity, keylines) goes Textual's way."""

    def _draws_background_only(self) -> bool:
        styles = self.styles  # type: ignore[attr-defined]
        return (
            not any(edge for edge, _color in styles.border)
            and not any(edge for edge, _color in styles.outline)
            and not (styles.has_rule("hatch") and styles.hatch != "none")
            and not styles.tint.a
            and self.opacity == 1.0  # type: ignore[attr-defined]
            and styles.text_opacity == 1.0
            and styles.keyline[0] == "none"
            # a see-through screen shows the one below it: Screen.render composes the two
            and not (isinstance(self, Screen) and styles.background.a < 1)
        )

    def render_lines(self, crop: Region) -> list[Strip]:
        if not self._draws_background_only():
            return super().render_lines(crop)  # type: ignore[misc]
        base_background, background = self.background_colors  # type: ignore[attr-defined]
        strip = Strip.blank(crop.width, Style(background=base_background + background).rich_style)
        for line_filter in self.get_line_filters():  # type: ignore[attr-defined]
            strip = strip.apply_filter(line_filter, background)
        return [strip] * crop.height


class PlainRow(PlainBackground, Horizontal):
    """A Horizontal that draws only its background (the Contacts list and its Lists sidebar)."""
