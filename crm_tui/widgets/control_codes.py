"""The last step of every line the app draws: no control character of people's text reaches the
terminal."""

from __future__ import annotations

from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from crm_tui.services.validation import printable


class StripControlCodes(LineFilter):
    """Removes C0/C1 control characters and DEL from the text of each line, after every widget
    has drawn it (the app adds it to its line filters). Values are cleaned when they are stored,
    but an older database or a direct SQL write can still hold ESC[2J or an OSC title or link,
    and neither Rich nor Textual removes ESC: it would reach the terminal as typed. Filtering the
    drawn lines covers every widget at once (tables, lines, toasts, inputs, border titles).
    The characters are zero-width, so each line keeps its width; Textual caches filtered lines."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        out: list[Segment] | None = None
        for index, segment in enumerate(segments):
            text = segment.text
            if segment.control or text.isprintable():
                continue
            clean = printable(text, layout=False)
            if clean != text:
                if out is None:
                    out = list(segments)
                out[index] = Segment(clean, segment.style, segment.control)
        return segments if out is None else out
