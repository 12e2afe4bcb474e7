"""A widget one line high, drawn from a rich Text through Textual's line API."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
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
        return Strip(self.segments(width, base)).adjust_cell_length(width, base)

    def segments(self, width: int, base: Style) -> list[Segment]:
        """The line's segments over the widget's style `base` (cut or padded to `width` after)."""
        text = self.text()
        text.truncate(width, overflow="ellipsis")
        return list(Segment.apply_style(text.render(self.app.console), base))


class Line(TextLine):
    """A line of text that is given, not worked out: a rich Text, or a str taken as plain text
    (never as markup, so a name like "[/b]" shows as typed). A Static costs about twice as much
    to draw the first time (its content goes through Textual's general visual pipeline)."""

    DEFAULT_CSS = """
    Line {
        height: 1;
    }
    """

    def __init__(self, text: Text | str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = _as_text(text)

    def update(self, text: Text | str) -> None:
        """Show `text` instead (the line keeps its height: no layout pass)."""
        text = _as_text(text)
        if text != self._text:
            self._text = text
            self.refresh()

    def text(self) -> Text:
        return self._text.copy()  # the caller may crop it

    def render(self) -> Text:
        return self.text()


def _as_text(text: Text | str) -> Text:
    return text.copy() if isinstance(text, Text) else Text(text, no_wrap=True, end="")
