"""The pipeline board: one Line-API widget that draws a row of stage columns, each showing only the
cards that fit from a small window of keyset pages, fetched in a thread as the focus nears an edge.
20k deals cost what 100 do: the board mounts no widget per card, and none per column either.

A column (`KanbanColumn`) is a plain object: its stage, header totals, window of pages and cursor,
and the lines it last drew (kept until it changes, so a focus or card move redraws one or two
columns, and the board joins the others' kept lines). One widget rather than one per column
matters: Textual's per-widget, per-line work (styles, compositing) would be paid six times over
on every frame, and mounting and styling six widgets delayed the first board.

The board knows nothing of the database and opens no session. Each column is a paged window
(widgets/paged_window.py) over its owner's `fetch(*, after, before, limit, with_total) ->
Page[Card]`; its page turns run in the board's workers and come back as PageLoaded or PageFailed.
The owner can also fetch a column's pages in its own worker (`KanbanColumn.ask()`, then
`KanbanBoard.show_pages()`), and gives the header totals.

The board owns its keys. A card move (`move_card`) is shown at once from the cards in hand, before
the service has written it, and the board posts `MoveRequested`; the owner writes it and confirms
it with fresh pages, or rolls it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from crm_tui.clock import in_zone
from crm_tui.shapes import MAX_PAGE, Card, Money, Page, StageTotal, days_in_stage, is_stale
from crm_tui.widgets import fmt
from crm_tui.widgets.paged_window import (
    FIRST, LAST, NEXT, PREV, RESET, Fetch, PageAsk, PagedWindow, PageFailed, PageLoaded,
)

if TYPE_CHECKING:  # a StageRead, or the StageRow of the first frame (before the ORM has loaded)
    from crm_tui.models.schemas import StageRead

CARD_HEIGHT = 5  # title, company and owner, amount and days, next task, a gap
HEADER_HEIGHT = 2  # stage and count, totals
MIN_COLUMN_WIDTH = 24  # a title and a company readable at 80 columns (three columns; the rest scroll)
GAP = 1  # cells between two columns (and after the last)


@lru_cache(maxsize=4096)
def compact_money(amount_minor: int, currency: str) -> str:
    from babel.numbers import format_compact_currency

    from crm_tui.services.validation import currency_digits

    value = Decimal(amount_minor).scaleb(-currency_digits(currency))
    return format_compact_currency(value, currency, locale="en_US", fraction_digits=1)


@lru_cache(maxsize=4096)
def _money(amount_minor: int, currency: str) -> str:
    return fmt.money(amount_minor, currency)
def compact_sums(values: tuple[Money, ...], *, plus: bool = True) -> str:
    """The largest currency's sum, and a "+" when others are there too (they never add up)."""
    if not values:
        return compact_money(0, "USD")
    first = compact_money(values[0].amount_minor, values[0].currency)
    return first + ("+" if plus and len(values) > 1 else "")


def short_when(value: datetime, now: datetime, zone: tzinfo) -> str:
    """A due date in a few cells: "today", "tmrw", "3d ago", "in 5d", "Dec 27"."""
    days = (in_zone(value, zone).date() - now.astimezone(zone).date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tmrw"
    if -30 < days < 0:
        return f"{-days}d ago"
    if 0 < days < 30:
        return f"in {days}d"
    return f"{in_zone(value, zone):%b %d}"


def own_title(title: str, company: str | None) -> str:
    """A deal's title without its company's name in front ("Acme Corp – Renewal": "Renewal"), as
    the company has a line of its own on the card: two deals of one company read apart in a
    narrow column. A title that is only the company's name stays as it is."""
    if company and title.casefold().startswith(company.casefold()):
        rest = title[len(company):].lstrip(" -–—:·|/")
        if rest and rest != title[len(company):]:
            return rest
    return title


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


class KanbanColumn:
    """One stage: a header (name, count, amount and weighted amount) over a window of cards. Not a
    widget: the board draws it, in the cells the board gives it (`x`, `width`; `display` False
    when it is scrolled out of view)."""

    def __init__(self, board: KanbanBoard, stage: StageRead, *, window_pages: int = 4) -> None:
        self.board = board
        self.stage = stage
        self.window: PagedWindow[Card] = PagedWindow(board, window_pages=window_pages)
        # None until the owner hands them over (after the first frame: the figures need babel's
        # locale data, which takes longer to load than the rest of the board to draw)
        self.totals: StageTotal | None = None
        self.display = True
        self.x = 0
        self.width = MIN_COLUMN_WIDTH
        self.active = False
        self.cursor = 0  # index into the rows held
        self._top = 0  # the first row drawn
        self._lines: dict[int, list[Segment]] = {}  # y -> the line last drawn, until the column changes

    def __repr__(self) -> str:
        return f"KanbanColumn({self.stage.name!r})"

    # --- what the board and its owner read --------------------------------------------------

    @property
    def rows(self) -> list[Card]:
        return self.window.rows

    @property
    def window_pages(self) -> int:
        return self.window.window_pages

    @property
    def current(self) -> Card | None:
        rows = self.rows
        return rows[self.cursor] if 0 <= self.cursor < len(rows) else None

    @property
    def fetching(self) -> bool:
        return self.window.loading is not None

    @property
    def height(self) -> int:
        return self.board.size.height or self.board.expected_height

    @property
    def visible_cards(self) -> int:
        return max(1, (self.height - HEADER_HEIGHT) // CARD_HEIGHT)

    @property
    def page_size(self) -> int:
        return page_size_for(self.height)

    def visible_rows(self) -> list[Card]:
        return self.rows[self._top:self._top + self.visible_cards]

    def index_of(self, deal_id: int) -> int | None:
        return next((i for i, card in enumerate(self.rows) if card.id == deal_id), None)

    def refresh(self) -> None:
        """Draw this column again (its kept lines are dropped; the other columns keep theirs)."""
        self._lines.clear()
        self.board.refresh_column(self)

    def refresh_lines(self, start: int, end: int) -> None:
        """Draw lines start..end-1 of this column again."""
        for y in range(start, end):
            self._lines.pop(y, None)
        self.board.refresh_column(self, start, end)

    def _card_lines(self, index: int) -> tuple[int, int]:
        """The lines the card at `index` is drawn on (while `_top` stays)."""
        start = HEADER_HEIGHT + (index - self._top) * CARD_HEIGHT
        return start, start + CARD_HEIGHT - 1

    # --- loading ------------------------------------------------------------------------------

    def ask(self, fetch: Fetch | None = None, *, keep_position: bool = False, at_end: bool = False) -> PageAsk:
        """Ask for a fresh window (with `fetch`, from now on): from the top, from the page on
        screen, or the last page. Whoever runs the ask hands its page to `take_page()`."""
        window = self.window
        keep = keep_position and bool(window.pages)
        anchor = LAST if at_end else (window.pages[0].extra.get("anchor", FIRST) if keep else FIRST)
        if window.loading is None and not self.rows:
            self.refresh()  # "Loading…" in place of "No deals"
        # a reload in place asks for as many cards as are held, so the focus keeps its card
        limit = min(MAX_PAGE, max(self.page_size, len(self.rows))) if keep else self.page_size
        return window.ask_fresh(anchor, limit=limit, fetch=fetch, keep_cursor=self.cursor if keep else None)

    def load(self, fetch: Fetch | None = None, *, keep_position: bool = False) -> None:
        """Fetch a fresh window in one of the board's workers (the fetch opens its own session)."""
        self.window.fetch_in_worker(self.ask(fetch, keep_position=keep_position))

    def reload(self) -> None:
        if self.window.fetch is not None:
            self.load(keep_position=True)

    def take_page(self, ask: PageAsk, page: Page, *, focus_deal: int | None = None) -> None:
        """A page this column asked for (a late page of an older ask is dropped)."""
        if ask.kind == RESET:
            self._take_fresh(ask, page, focus_deal)
        else:
            self._take_turn(ask, page)

    def _take_fresh(self, ask: PageAsk, page: Page, focus_deal: int | None) -> None:
        """Make `page` the whole window; the focus on `focus_deal` if it is there."""
        if not self.window.accept(ask, page):
            return
        held = len(page.items)
        keep_cursor = ask.context.get("keep_cursor")
        cursor = keep_cursor if keep_cursor is not None else (held - 1 if ask.anchor == LAST else 0)
        if focus_deal is not None:
            found = self.index_of(focus_deal)
            cursor = found if found is not None else (held - 1 if ask.anchor == LAST else 0)
        self.cursor = min(max(cursor, 0), max(held - 1, 0))
        self._top = min(self._top, self.cursor) if keep_cursor is not None else 0
        self._scroll_to_cursor()
        self.refresh()
        self.board.column_loaded(self)

    def _turn(self, direction: str) -> None:
        """Fetch the page after (or before) the window, unless one is coming already."""
        ask = self.window.ask_turn(direction, limit=self.page_size)
        if ask is not None:
            self.window.fetch_in_worker(ask)

    def _take_turn(self, ask: PageAsk, page: Page) -> None:
        window = self.window
        offset = window.offset
        if not window.accept(ask, page):
            return
        shift = window.offset - offset  # the rows dropped at the start (a page before: added, < 0)
        self.cursor, self._top = self.cursor - shift, max(0, self._top - shift)
        self.cursor = min(max(self.cursor, 0), max(len(self.rows) - 1, 0))
        self._scroll_to_cursor()
        self.refresh()

    # --- a card moved from the cards in hand (the owner confirms or rolls it back) ----------------

    def take(self, deal_id: int) -> Card | None:
        """Drop a card from the window (it moved away); the cursor stays on the same place."""
        for page in self.window.pages:
            for i, card in enumerate(page.items):
                if card.id == deal_id:
                    self.window.drop_pending()  # a page on its way belongs to the window before
                    page.items = page.items[:i] + page.items[i + 1:]
                    self.window.changed()
                    self.cursor = min(self.cursor, max(len(self.rows) - 1, 0))
                    self._scroll_to_cursor()
                    self.refresh()
                    return card
        return None

    def put(self, card: Card) -> None:
        """Show a card that just entered this stage, focused, after the cards the column holds (it
        entered last: an oldest-first column ends with it). The cards stay on screen while the
        confirming ask (the column's last page) is on its way."""
        window = self.window
        held = [c for c in self.rows if c.id != card.id]
        before = window.pages[0].prev_cursor if window.pages else None
        window.replace(Page([*held, card], next_cursor=None, prev_cursor=before,
                            extra=dict(window.pages[0].extra) if window.pages else {}), offset=window.offset)
        self.cursor = len(held)
        self._scroll_to_cursor()
        self.refresh()

    # --- moving -------------------------------------------------------------------------------

    def move_to(self, index: int) -> None:
        rows = self.rows
        if not rows:
            return
        cursor, top = self.cursor, self._top
        self.cursor = min(max(index, 0), len(rows) - 1)
        margin = self.page_size // 2  # ask a page ahead, so the cards are there before the focus is
        if len(rows) - 1 - self.cursor < margin:
            self._turn(NEXT)
        if self.cursor < margin:
            self._turn(PREV)
        self._scroll_to_cursor()
        if self._top != top:
            self.refresh()
        elif self.cursor != cursor:  # the same cards on screen: only the two the cursor left and entered
            self.refresh_lines(*self._card_lines(cursor))
            self.refresh_lines(*self._card_lines(self.cursor))

    def _scroll_to_cursor(self) -> None:
        fit = self.visible_cards
        if self.cursor < self._top:
            self._top = self.cursor
        elif self.cursor >= self._top + fit:
            self._top = self.cursor - fit + 1
        self._top = max(0, min(self._top, max(0, len(self.rows) - fit)))

    def set_totals(self, totals: StageTotal) -> None:
        if totals != self.totals:
            self.totals = totals
            self.refresh_lines(0, HEADER_HEIGHT)

    def set_active(self, active: bool) -> None:
        """The focused column: its header and its cursor's card change colour."""
        if active != self.active:
            self.active = active
            self.refresh_lines(0, 1)
            if self.current is not None:
                self.refresh_lines(*self._card_lines(self.cursor))

    def refresh_cursor(self) -> None:
        if self.current is not None:
            self.refresh_lines(*self._card_lines(self.cursor))

    def card_at(self, y: int) -> int | None:
        if y < HEADER_HEIGHT:
            return None
        index = self._top + (y - HEADER_HEIGHT) // CARD_HEIGHT
        return index if index < len(self.rows) else None

    # --- drawing -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Line y of this column, `width` cells, as a Strip (the board joins `segments(y)`)."""
        return Strip(self.segments(y), self.width)

    def segments(self, y: int) -> list[Segment]:
        """Line y of this column, exactly `width` cells (kept until the column changes: a Strip
        costs more to make than the segments, so the board makes one per line, not per column)."""
        line = self._lines.get(y)
        if line is None:
            line = self._lines[y] = self._draw(y, self.width, self.board.paint_styles())
        return line

    def _draw(self, y: int, width: int, styles: dict[str, Style]) -> list[Segment]:
        if y == 0:
            header = styles["header-active" if self.active else "header"]
            count = "" if self.totals is None else f"{self.totals.count:,}"
            name = _fit(f" {self.stage.name}", max(1, width - len(count) - 1))
            return _exact([Segment(name, header), Segment(f"{count} ".rjust(width - cell_len(name)), header)],
                          width, header)
        if y == 1:
            if self.totals is None:
                return [Segment(" " * width, styles["totals"])]
            text = f" {compact_sums(self.totals.amounts, plus=False)}"
            if self.stage.kind == "open":
                weighted = compact_sums(self.totals.weighted, plus=False)
                text = f"{text} · w {weighted}"  # one form at every width (cut with an ellipsis)
            return [Segment(_fit(text, width), styles["totals"])]
        rows = self.rows
        body = y - HEADER_HEIGHT
        index, line = self._top + body // CARD_HEIGHT, body % CARD_HEIGHT
        if not rows:
            if body == 1:
                message = "Loading…" if self.window.loading else "No deals"
                return [Segment(_fit(f" {message}", width), styles["message"])]
            return [Segment(" " * width, styles["base"])]
        if index >= len(rows) or line == CARD_HEIGHT - 1:
            if index == len(rows) and line == 0 and self.window.loading == NEXT:
                return [Segment(_fit(" Loading…", width), styles["message"])]
            return [Segment(" " * width, styles["base"])]
        card = rows[index]
        bg = ("cursor" if self.board.has_focus else "cursor-blurred") if index == self.cursor and self.active else "card"
        return _exact(self._card_line(card, line, width, styles, bg), width, styles[bg])

    def _card_line(self, card: Card, line: int, width: int, styles: dict[str, Style], bg: str) -> list[Segment]:
        now = self.board.clock()
        zone = self.board.zone
        stale = self.stage.kind == "open" and is_stale(card.stage_entered_at, self.stage.rotting_days, now)
        edge = Segment("▌" if stale else " ", styles[f"{bg}-stale"] if stale else styles[bg])
        room = width - 1
        if line == 0:
            return [edge, Segment(_fit(own_title(card.title, card.company_name), room), styles[f"{bg}-title"])]
        if line == 1:  # the company with its own space; the owner after it where both fit
            company, owner = card.company_name or "", card.owner_login or ""
            if company and owner and cell_len(company) + len(owner) + 3 <= room:
                who = f"{company} · {owner}"
            else:
                who = company or owner or "—"
            return [edge, Segment(_fit(who, room), styles[f"{bg}-muted"])]
        if line == 2:
            days = days_in_stage(card.stage_entered_at, now)
            right = f"{days}d stale" if stale and room >= 24 else (f"{days}d!" if stale else f"{days}d")
            amount = _money(card.amount_minor, card.currency)
            if cell_len(amount) > room - len(right) - 1:
                amount = compact_money(card.amount_minor, card.currency)
            amount = _fit(amount, max(1, room - len(right) - 1))
            gap = " " * max(1, room - cell_len(amount) - len(right))
            return [edge, Segment(amount, styles[bg]), Segment(gap, styles[bg]),
                    Segment(right, styles[f"{bg}-stale"] if stale else styles[f"{bg}-muted"])]
        if self.stage.kind != "open":
            closed = f"{card.status} {fmt.when(card.stage_entered_at, now, zone)}"
            return [edge, Segment(_fit(closed, room), styles[f"{bg}-muted"])]
        if card.next_task is None:
            return [edge, Segment(_fit("! no next task", room), styles[f"{bg}-warn"])]
        due = short_when(card.next_task_due, now, zone) if card.next_task_due else "no date"
        overdue = card.next_task_due is not None and card.next_task_due < now
        due_style = styles[f"{bg}-warn"] if overdue else styles[f"{bg}-muted"]
        title = _fit(f"▸ {card.next_task}", max(1, room - len(due) - 1))
        gap = " " * max(1, room - cell_len(title) - len(due))
        return [edge, Segment(title, styles[bg]), Segment(gap, styles[bg]), Segment(due, due_style)]


def _exact(segments: list[Segment], width: int, style: Style) -> list[Segment]:
    """The segments cropped or padded to exactly `width` cells."""
    length = sum(cell_len(segment.text) for segment in segments)
    if length == width:
        return segments
    return Segment.adjust_line_length(segments, width, style)


def page_size_for(height: int) -> int:
    """Cards a column asks for at a time: two screenfuls, at least 20."""
    return max(20, 2 * max(1, (height - HEADER_HEIGHT) // CARD_HEIGHT))


def first_page_size_for(height: int) -> int:
    """Cards a column asks for when the board opens: what it shows, and one more. The rest come a
    page at a time as the focus goes down (a page ahead); reading two screenfuls of every column
    first took a fifth of the time to the first board."""
    return max(1, (height - HEADER_HEIGHT) // CARD_HEIGHT) + 1


CARD_PARTS = ("title", "muted", "stale", "warn")


class KanbanBoard(Widget, can_focus=True):
    """The columns side by side, drawn by this one widget; the ones that fit are shown, and the
    view follows the focus."""

    DEFAULT_CSS = """
    KanbanBoard {
        height: 1fr;
        width: 1fr;
    }
    KanbanBoard > .kanban--header { background: $panel; text-style: bold; }
    KanbanBoard > .kanban--header-active { background: $primary 40%; text-style: bold; }
    KanbanBoard > .kanban--totals { color: $text-muted; }
    KanbanBoard > .kanban--card { background: $boost; }
    KanbanBoard > .kanban--cursor-blurred { background: $block-cursor-blurred-background; }
    KanbanBoard > .kanban--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    KanbanBoard > .kanban--title { text-style: bold; }
    KanbanBoard > .kanban--muted { color: $text-muted; }
    KanbanBoard > .kanban--stale { color: $error; text-style: bold; }
    KanbanBoard > .kanban--warn { color: $warning; }
    KanbanBoard > .kanban--message { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "kanban--header", "kanban--header-active", "kanban--totals", "kanban--card", "kanban--cursor",
        "kanban--cursor-blurred", "kanban--title", "kanban--muted", "kanban--stale", "kanban--warn",
        "kanban--message",
    }
    BINDINGS: ClassVar = [
        Binding("left,h", "column(-1)", "Prev stage", show=False, id="board.left"),
        Binding("right,l", "column(1)", "Next stage", show=False, id="board.right"),
        Binding("up,k", "card(-1)", "Up", show=False, id="board.up"),
        Binding("down,j", "card(1)", "Down", show=False, id="board.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="board.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="board.page_down"),
        Binding("home,g", "first", "First card", show=False, id="board.first"),
        Binding("end,G", "last", "Last card", show=False, id="board.last"),
        Binding("enter", "select", "Open", id="board.open"),
    ]

    @dataclass
    class Highlighted(Message):
        board: KanbanBoard
        column: KanbanColumn
        card: Card | None

    @dataclass
    class Selected(Message):
        board: KanbanBoard
        column: KanbanColumn
        card: Card

    @dataclass
    class MoveRequested(Message):
        """A card was moved to the next or previous open stage, and is shown there already: the
        owner writes the move and confirms it with the two columns' pages (or rolls it back)."""

        deal_id: int
        from_stage: int
        to_stage: int
        version: int

    @dataclass
    class ColumnsShown(Message):
        """The columns shown changed (the focus scrolled the board, or its width changed): how many
        are hidden to the left and to the right now."""

        left: int
        right: int

    def __init__(self, *, clock: Callable[[], datetime], zone: tzinfo, expected_height: int = 24,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.zone = zone
        self.expected_height = expected_height  # the page size before the board has a size
        self.active = 0
        self._first_shown = 0
        self._columns: list[KanbanColumn] = []
        self._paint: dict[str, Style] | None = None
        self._hidden_told: tuple[int, int] | None = None

    @property
    def columns(self) -> list[KanbanColumn]:
        return list(self._columns)

    @property
    def column(self) -> KanbanColumn | None:
        columns = self._columns
        return columns[self.active] if 0 <= self.active < len(columns) else None

    @property
    def current_card(self) -> Card | None:
        column = self.column
        return column.current if column is not None else None

    def column_for(self, stage_id: int) -> KanbanColumn | None:
        return next((c for c in self._columns if c.stage.id == stage_id), None)

    def set_stages(self, stages: list[StageRead]) -> list[KanbanColumn]:
        """One column per stage (plain objects: nothing is mounted, whatever the number of deals)."""
        self._columns = [KanbanColumn(self, stage) for stage in stages]
        self.active = min(self.active, max(0, len(self._columns) - 1))
        self._layout_columns(force=True)
        return self.columns

    def set_totals(self, totals_for: Callable[[int], StageTotal]) -> None:
        for column in self._columns:
            column.set_totals(totals_for(column.stage.id))

    def focus_column(self, index: int, *, card: int | None = None) -> None:
        columns = self._columns
        if not columns:
            return
        self.active = min(max(index, 0), len(columns) - 1)
        if card is not None:
            columns[self.active].move_to(card)
        self._layout_columns()
        self._announce()

    # --- keys ---------------------------------------------------------------------------------

    def action_column(self, step: int) -> None:
        self.focus_column(self.active + step)

    def action_card(self, step: int) -> None:
        if (column := self.column) is not None:
            column.move_to(column.cursor + step)
            self._announce()

    def action_page(self, step: int) -> None:
        if (column := self.column) is not None:
            column.move_to(column.cursor + step * max(1, column.visible_cards - 1))
            self._announce()

    def action_first(self) -> None:
        if (column := self.column) is not None:
            if not column.window.at_start:
                column.load()
            else:
                column.move_to(0)
            self._announce()

    def action_last(self) -> None:
        """The column's last card (its last page is fetched when the window does not hold it)."""
        if (column := self.column) is not None:
            if not column.window.at_end:
                column.window.fetch_in_worker(column.ask(at_end=True))
            else:
                column.move_to(len(column.rows) - 1)
            self._announce()

    def action_select(self) -> None:
        column = self.column
        if column is not None and column.current is not None:
            self.post_message(self.Selected(self, column, column.current))

    def move_card(self, step: int) -> bool:
        """Move the focused card to the next (step 1) or previous (-1) open stage. It is shown
        there at once, from the cards in hand, and focused; MoveRequested asks the owner to write
        it. False when there was nothing to move (the person is told why)."""
        column, card = self.column, self.current_card
        if column is None or card is None:
            return False
        if column.stage.kind != "open":
            self.notify("That deal is closed; open it (Enter) to move it back.", severity="warning")
            return False
        columns = self._columns
        index = columns.index(column) + step
        if not 0 <= index < len(columns) or columns[index].stage.kind != "open":
            self.notify("Already in the first stage." if step < 0 else
                        "Already in the last open stage: w marks it won, L lost.", severity="warning")
            return False
        target = columns[index]
        column.take(card.id)
        target.put(replace(card, stage_id=target.stage.id, stage_entered_at=self.clock()))
        self.focus_column(index)
        self.post_message(self.MoveRequested(card.id, column.stage.id, target.stage.id, card.version))
        return True

    def column_loaded(self, column: KanbanColumn) -> None:
        if column is self.column:
            self._announce()

    def _announce(self) -> None:
        column = self.column
        if column is not None:
            self.post_message(self.Highlighted(self, column, column.current))

    # --- mouse -----------------------------------------------------------------------------------

    def _column_at(self, x: int) -> KanbanColumn | None:
        return next((c for c in self._columns if c.display and c.x <= x < c.x + c.width + GAP), None)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        column = self._column_at(offset.x) if offset is not None else None
        if column is None:
            return
        event.stop()
        self.focus()
        self.focus_column(self._columns.index(column), card=column.card_at(offset.y))
        if event.chain >= 2:
            self.action_select()

    def _scroll(self, event: events.MouseEvent, step: int) -> None:
        offset = event.get_content_offset(self)
        column = self._column_at(offset.x) if offset is not None else None
        if column is not None:
            event.stop()
            column.move_to(column.cursor + step)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._scroll(event, 1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._scroll(event, -1)

    # --- which columns fit ------------------------------------------------------------------------

    def on_focus(self) -> None:
        self._refresh_cursor_column()

    def on_blur(self) -> None:
        self._refresh_cursor_column()

    def _refresh_cursor_column(self) -> None:
        if (column := self.column) is not None:
            column.refresh_cursor()

    def on_resize(self) -> None:
        self._layout_columns(force=True)

    def _layout_columns(self, *, force: bool = False) -> None:
        """Show as many whole columns as fit (at least MIN_COLUMN_WIDTH each), keeping the focused
        one; they share the width, a GAP after each."""
        columns = self._columns
        if not columns:
            self.refresh()
            return
        width = self.size.width or 80
        fit = max(1, width // MIN_COLUMN_WIDTH)
        first = self._first_shown
        if self.active < first:
            first = self.active
        elif self.active >= first + fit:
            first = self.active - fit + 1
        first = max(0, min(first, len(columns) - fit))
        shown = columns[first:first + fit]
        share, extra = divmod(max(0, width - GAP * len(shown)), len(shown))
        if force or first != self._first_shown:
            self._first_shown = first
            x = 0
            for i, column in enumerate(columns):
                column.display = column in shown
                if column.display:
                    column.width = max(1, share + (1 if i - first >= len(shown) - extra else 0))  # as fr units share
                    column.x, x = x, x + column.width + GAP
                column._lines.clear()
                column._scroll_to_cursor()
            self.refresh()
        for i, column in enumerate(columns):
            column.set_active(i == self.active)
        if (hidden := self.hidden) != self._hidden_told:
            self._hidden_told = hidden
            self.post_message(self.ColumnsShown(*hidden))

    @property
    def hidden(self) -> tuple[int, int]:
        """How many columns are off screen to the left and to the right."""
        shown = [i for i, c in enumerate(self._columns) if c.display]
        if not shown:
            return 0, 0
        return shown[0], len(self._columns) - 1 - shown[-1]

    # --- drawing -------------------------------------------------------------------------------

    def refresh_column(self, column: KanbanColumn, start: int = 0, end: int | None = None) -> None:
        if column.display and self.is_mounted:
            end = self.size.height if end is None else min(end, self.size.height)
            if end > start:
                self.refresh(Region(column.x, start, column.width, end - start))

    def notify_style_update(self) -> None:
        self._paint = None
        for column in self._columns:
            column._lines.clear()
        super().notify_style_update()

    def paint_styles(self) -> dict[str, Style]:
        """Rich styles, worked out once per style change rather than for every line drawn."""
        if self._paint is None:
            base = self.rich_style
            part = {name: self.get_component_rich_style(f"kanban--{name}", partial=True)
                    for name in ("header", "header-active", "totals", "card", "cursor", "cursor-blurred",
                                 *CARD_PARTS, "message")}
            paint = {"base": base, "header": base + part["header"], "header-active": base + part["header-active"],
                     "totals": base + part["totals"], "message": base + part["message"]}
            for bg, style in (("card", base + part["card"]), ("cursor", base + part["card"] + part["cursor"]),
                              ("cursor-blurred", base + part["card"] + part["cursor-blurred"])):
                paint[bg] = style
                for name in CARD_PARTS:
                    paint[f"{bg}-{name}"] = style + part[name]
            self._paint = paint
        return self._paint

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.paint_styles()["base"]
        segments: list[Segment] = []
        used = 0
        gap = Segment(" " * GAP, base)
        for column in self._columns:
            if column.display:
                segments += column.segments(y)
                segments.append(gap)
                used += column.width + GAP
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        elif used > width:
            return Strip(segments, used).crop(0, width)
        return Strip(segments, width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height

    # --- pages -----------------------------------------------------------------------------------

    def _column_of(self, window: PagedWindow) -> KanbanColumn | None:
        return next((c for c in self._columns if c.window is window), None)

    def on_page_loaded(self, message: PageLoaded) -> None:
        column = self._column_of(message.window)
        if column is not None:
            message.stop()
            column.take_page(message.ask, message.page)

    def on_page_failed(self, message: PageFailed) -> None:
        column = self._column_of(message.window)
        if column is None:
            return
        message.stop()
        if message.window.failed(message.ask):
            column.refresh()
        self.notify(message.text, title=f"Could not load {column.stage.name}", severity="error")

    def show_pages(self, loaded: list[PageLoaded], *, focus_deal: int | None = None) -> None:
        """Pages the owner fetched in its own worker (a move written and its columns read in one
        transaction), taken in as the board's own are; the focus on `focus_deal` where it is."""
        for message in loaded:
            column = self._column_of(message.window)
            if column is not None:
                column.take_page(message.ask, message.page, focus_deal=focus_deal)
