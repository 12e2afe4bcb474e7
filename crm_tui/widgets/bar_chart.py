"""A bar chart drawn with block characters: horizontal bars for categories (stages, sources),
columns for a series over time (months, weeks). It reads at 80x24 and renders the same every time."""

from __future__ import annotations

from decimal import Decimal

from rich.cells import cell_len, set_cell_size
from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

from crm_tui.services import validation as v

EIGHTHS_H = " ▏▎▍▌▋▊▉█"
EIGHTHS_V = " ▁▂▃▄▅▆▇█"
COLOURS = ("#4c9be8", "#e8a33d")
MIN_LABEL = 14  # a label's room: at least this (when it is that long), at most a third of the width


def compact(value: int, kind: str, currency: str) -> str:
    """1234567 -> "1.2M"; money in minor units -> "$12.3K" (as the board writes it); percent -> "66%"."""
    if kind == "percent":
        return f"{value}%"
    prefix = ""
    number = Decimal(value)
    if kind == "money":
        from babel.numbers import get_currency_symbol

        number = number.scaleb(-v.currency_digits(currency))
        prefix = get_currency_symbol(currency, locale="en_US")
    for size, suffix in ((Decimal(10**9), "B"), (Decimal(10**6), "M"), (Decimal(10**3), "K")):
        if abs(number) >= size:
            return f"{prefix}{number / size:.1f}{suffix}"
    return f"{prefix}{number:,.0f}"


def _label(label: str, width: int) -> str:
    """A label in `width` cells, cut with an ellipsis."""
    if cell_len(label) > width:
        return set_cell_size(label, max(0, width - 1)) + "…"
    return set_cell_size(label, width)


class BarChart(Widget):
    """Shows one `services.reports.Chart` (or a note when there is nothing to draw)."""

    DEFAULT_CSS = """
    BarChart {
        height: 1fr;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, classes=classes)
        self.chart = None
        self.currency = "USD"
        self.columns = False

    def show(self, chart, currency: str, *, columns: bool = False) -> None:
        self.chart, self.currency, self.columns = chart, currency, columns
        self.border_title = chart.title if chart is not None else ""
        self.refresh()

    def render(self) -> RenderableType:
        chart = self.chart
        width, height = self.content_size.width, self.content_size.height
        if chart is None or not chart.labels or width < 8 or height < 2:
            return Text("Nothing to chart.", style="dim")
        if not any(value for _, values in chart.series for value in values):
            return Text("Nothing to chart: every value is zero.", style="dim")
        return self._columns(width, height) if self.columns else self._bars(width, height)

    def _legend(self) -> Text:
        legend = Text()
        if len(self.chart.series) > 1:
            for i, (name, _) in enumerate(self.chart.series):
                legend.append("■ ", style=COLOURS[i % 2]).append(f"{name}  ")
        return legend

    def _fmt(self, value: int) -> str:
        return compact(value, self.chart.kind, self.currency)

    def _bars(self, width: int, height: int) -> Text:
        """One line per label. Two series where the second never exceeds the first (weighted within
        amount, customers within new contacts) share the line: the second drawn over the first."""
        chart = self.chart
        series = chart.series
        nested = len(series) == 2 and all(b <= a for a, b in zip(series[0][1], series[1][1], strict=True))
        top = max(max(values, default=0) for _, values in series) or 1
        if chart.kind == "percent":  # a share is drawn against the whole: 50% is half a bar
            top = max(top, 100)
        label_w = min(max(MIN_LABEL, width // 3), max(cell_len(label) for label in chart.labels))
        texts = [[self._fmt(values[i]) for _, values in series] for i in range(len(chart.labels))]
        value_w = max(cell_len(" / ".join(t)) if nested else max(cell_len(x) for x in t) for t in texts)
        bar_w = max(1, width - label_w - value_w - 2)
        lines: list[Text] = []
        legend = self._legend()
        if legend:
            lines.append(legend)
        for i, label in enumerate(chart.labels):
            if nested:
                # whole cells for the inner bar: a partial block there would notch the outer one
                outer, inner = _hbar(series[0][1][i], top, bar_w), "█" * round(series[1][1][i] * bar_w / top)
                line = Text(_label(label, label_w) + " ")
                line.append(inner, style=COLOURS[1]).append(outer[len(inner):], style=COLOURS[0])
                line.append(" " + " / ".join(texts[i]).rjust(value_w))
                lines.append(line)
                continue
            for s, (_, values) in enumerate(series):
                line = Text(_label(label if s == 0 else "", label_w) + " ")
                line.append(_hbar(values[i], top, bar_w), style=COLOURS[s % 2])
                line.append(" " + texts[i][s].rjust(value_w))
                lines.append(line)
        if len(lines) > height:
            lines = lines[:height - 1] + [Text(f"… {len(chart.labels)} in all; see the table", style="dim")]
        return Text("\n").join(lines)

    def _columns(self, width: int, height: int) -> Text:
        chart = self.chart
        n, s = len(chart.labels), len(chart.series)
        group = max(s + 1, min(4 * s + 1, width // max(1, n)))
        col_w = max(1, (group - 1) // s)
        shown = max(1, min(n, width // group))
        first = n - shown  # the latest ones when they do not all fit
        top = max(max(values[first:], default=0) for _, values in chart.series) or 1
        if chart.kind == "percent":
            top = max(top, 100)
        rows = max(1, height - 2)
        lines: list[Text] = []
        head = self._legend().append(f"max {self._fmt(top)}", style="dim")
        lines.append(head)
        for r in range(rows, 0, -1):
            line = Text()
            for i in range(first, n):
                for k, (_, values) in enumerate(chart.series):
                    line.append(_vcell(values[i], top, rows, r) * col_w, style=COLOURS[k % 2])
                line.append(" " * (group - col_w * s))
            lines.append(line)
        labels = Text()
        for i in range(first, n):
            labels.append(set_cell_size(chart.labels[i], group))
        lines.append(labels)
        return Text("\n").join(lines)


def _hbar(value: int, top: int, width: int) -> str:
    eighths = round(max(0, value) * width * 8 / top)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS_H[part] if part else "")).ljust(width)


def _vcell(value: int, top: int, rows: int, row: int) -> str:
    """The character of one column at `row` (1 is the bottom) for `value` scaled to `rows` rows."""
    eighths = round(max(0, value) * rows * 8 / top)
    filled = eighths - (row - 1) * 8
    if filled >= 8:
        return "█"
    if filled <= 0:
        return " "
    return EIGHTHS_V[filled]
