"""A widget one line high, drawn from a rich Text through Textual's line API."""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget


class TextLine(Widget):
    """Subclasses say what the line holds in `text()`. Drawn as segments straight from the Text,
    the line skips the general rendering a `render()` result goes through (a rich Console pass,
    then Textual's own), which cost the area bar and the key bar about half a millisecond each of
    every app start; the look is the same."""

    def text(self) -> Text:
        raise NotImplementedError

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        if y:
            return Strip.blank(width, base)
        text = self.text()
        text.truncate(width, overflow="ellipsis")
        return Strip(Segment.apply_style(text.render(self.app.console), base)).adjust_cell_length(width, base)
