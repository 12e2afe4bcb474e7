"""Checks that a dialog holds up at 80x24: every field, label and button it has is on screen, not
scrolled out of sight nor drawn under another widget, and every one-line text is shown whole or
ends with "…"."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.errors import NoWidget
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, SelectionList, Static

from crm_tui.widgets.text_line import Paragraphs

SHOWN_KINDS = (Button, Checkbox, Input, Label, Select, SelectionList, Static, Paragraphs)


def hidden(screen, widget: Widget) -> str | None:
    """Why `widget` is not fully seen (None when every line of it is): each of its lines is checked
    at its first cell, which must be the widget's own (or one of its children's)."""
    region = widget.region
    if not region.area:
        return "it has no room"
    for y in range(region.y, region.bottom):
        try:
            under, _ = screen.get_widget_at(region.x, y)
        except NoWidget:
            return f"line {y - region.y} is off screen"
        if under is not widget and widget not in under.ancestors:
            return f"line {y - region.y} is under {under!r}"
    return None


def text_cut(widget: Widget) -> str | None:
    """A text cut without "…" (None when it shows whole, wrapped or not, or ends with the ellipsis)."""
    if isinstance(widget, Paragraphs):
        width = widget.content_region.width
        lines = [line.plain for line in widget.lines(width)]
        whole = sum(len(p.wrap(widget.app.console, width)) for p in widget._paragraphs)
        if any(cell_len(line) > width for line in lines) or (whole > len(lines) and not lines[-1].endswith("…")):
            return f"{[p.plain for p in widget._paragraphs]!r} is cut at {width} cells without an ellipsis"
        return None
    text = str(widget.render()) if isinstance(widget, (Label, Static)) else None
    if not text or "\n" in text:
        return None
    width, height = widget.content_region.width, widget.content_region.height
    if cell_len(text) <= width:
        return None
    if height > 1 and len(Text(text).wrap(widget.app.console, width)) <= height:
        return None  # wrapped, and every line of it shows
    drawn = "".join(segment.text for segment in widget.render_line(height - 1)).rstrip()
    return None if drawn.endswith("…") else f"{text!r} is cut at {width}x{height} cells without an ellipsis"


def scrolled_out(widget: Widget) -> bool:
    """Whether `widget` is out of its scrolling container's view (reachable by scrolling, so fine)."""
    for node in widget.ancestors:
        if isinstance(node, Widget) and (node.max_scroll_y > 0 or node.max_scroll_x > 0):
            view = node.scrollable_content_region
            return view.intersection(widget.region) != widget.region
    return False


def assert_fits(screen, root: Widget | None = None) -> None:
    """Every displayed field, label, checkbox and button under `root` (the screen) is fully seen,
    and no one-line text in it is cut without an ellipsis."""
    problems = []
    for widget in (root or screen).query("*"):
        if not isinstance(widget, SHOWN_KINDS) or not widget.display or not widget.visible:
            continue
        if not all(node.display for node in widget.ancestors if isinstance(node, Widget)):
            continue
        if isinstance(widget, (Label, Static, Paragraphs)) and not str(widget.render()).strip():
            continue  # an empty line (an error line with no error)
        if scrolled_out(widget):
            continue
        if why := hidden(screen, widget):
            problems.append(f"{widget!r}: {why}")
        elif why := text_cut(widget):
            problems.append(f"{widget!r}: {why}")
    assert not problems, "\n".join(problems)
