"""A widget one line high, drawn from a rich Text through Textual's line API."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input


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


class Paragraphs(Widget):
    """Paragraphs (each starts a line; a str is plain text, never read as markup, a Text keeps its
    styles) wrapped to the widget's width
    in at most `max_lines` lines. When they need more, the last line shown ends with "…", so a
    reader can tell something is cut (a report's notes at 80 columns)."""

    DEFAULT_CSS = """
    Paragraphs {
        height: auto;
    }
    """

    def __init__(self, max_lines: int = 2, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.max_lines = max_lines
        self._paragraphs: list[Text] = []
        self._wrapped: tuple[int, list[Text]] | None = None

    def update(self, paragraphs: list[str | Text] | str | Text) -> None:
        if isinstance(paragraphs, (str, Text)):
            paragraphs = [paragraphs]
        texts = [paragraph.copy() if isinstance(paragraph, Text) else Text(paragraph, end="")
                 for paragraph in paragraphs]
        for text in texts:
            text.no_wrap, text.end = False, ""
        if texts != self._paragraphs:
            self._paragraphs, self._wrapped = texts, None
            self.refresh(layout=True)

    def lines(self, width: int) -> list[Text]:
        """The lines shown at `width` cells: wrapped, at most `max_lines`, the last one cut with "…"."""
        if self._wrapped is not None and self._wrapped[0] == width:
            return self._wrapped[1]
        wrapped: list[Text] = []
        for paragraph in self._paragraphs:
            wrapped.extend(paragraph.wrap(self.app.console, max(1, width)))
        if len(wrapped) > self.max_lines:
            wrapped = wrapped[:self.max_lines]
            last = wrapped[-1]
            last.rstrip()
            if last.cell_len <= width - 2:
                last.append(" …")
            else:
                last.truncate(max(0, width - 1))
                last.rstrip()
                last.append("…")
        self._wrapped = (width, wrapped)
        return wrapped

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self.lines(width))

    def render_line(self, y: int) -> Strip:
        width, base = self.size.width, self.rich_style
        lines = self.lines(width)
        if y >= len(lines):
            return Strip.blank(width, base)
        text = lines[y].copy()
        text.truncate(width, overflow="ellipsis")
        return Strip(list(Segment.apply_style(text.render(self.app.console), base))).adjust_cell_length(width, base)

    def render(self) -> Text:
        return Text("\n").join(self.lines(self.size.width))


def late_input(screen, box_id: str, placeholder: str) -> Input:
    """The Input `#box_id` of `screen`, mounted in place of the Line `#box_id-wait` that stood for it
    (an Input is a screen's costliest widget to set up: a list shows its first rows with a line of
    text there, and the Input comes after the first frame, or at once when it is asked for)."""
    found = screen.query(f"#{box_id}")
    if found:
        return found.first(Input)
    box = Input(placeholder=placeholder, id=box_id)
    screen.mount(box, after=f"#{box_id}-wait")
    screen.query_one(f"#{box_id}-wait").remove()
    return box
