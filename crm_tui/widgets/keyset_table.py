"""A table over a query of any size: it holds a window of a few keyset pages and draws only the
lines that fit (Line API), fetching the next or previous page in a thread as the cursor nears an
edge of the window. 100k rows cost what 100 do.

The table knows nothing of the database: its owner hands it a `fetch` callable that returns one
`Page` (it is called in a worker thread, and opens its own session). The window, its page turns
and its fetching are the paged-window engine's (widgets/paged_window.py); the table draws it.

With `marking=True`, space marks a row, * marks every row of the list (held as "all but these",
never as 100k ids: paged_window.Marks) and esc clears; b and u ask the owner for a bulk change and
its undo (BulkAsked, UndoAsked: screens/bulk.BulkEditing answers them).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from crm_tui import background
from crm_tui.shapes import MAX_PAGE, Page
from crm_tui.widgets.paged_window import (
    COUNT, FIRST, LAST, NEXT, PRELOAD_WAIT_S, PREV, RESET, Fetch, Marks, PageAsk, PagedWindow, PageFailed, PageLoaded,
)

SLOW_LOAD_S = 0.25  # a load that takes longer than this shows "loading…" under the list


@dataclass(frozen=True)
class Column:
    """One column: a title, how to turn a row into text, and a width (fixed, or a share of the
    room left when `width` is None)."""

    title: str
    text: Callable[[Any], str]
    width: int | None = None
    ratio: int = 1
    min_width: int = 6
    align: str = "left"
    hide_below: int | None = None  # hide the column when the table is narrower than this


class KeysetTable(Widget, can_focus=True):
    """A keyboard-driven, windowed table of rows fetched page by page."""

    COUNT_DELAY_S: ClassVar[float] = 0.2  # a list that replaced another's rows counts after this pause

    DEFAULT_CSS = """
    KeysetTable {
        height: 1fr;
        border: round $primary 40%;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
    }
    KeysetTable:focus {
        border: round $primary;
    }
    KeysetTable > .keyset-table--header {
        text-style: bold;
        color: $text-muted;
    }
    KeysetTable > .keyset-table--cursor {
        background: $block-cursor-blurred-background;
    }
    KeysetTable:focus > .keyset-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    KeysetTable > .keyset-table--message {
        color: $text-muted;
    }
    KeysetTable > .keyset-table--marked {
        color: $accent;
        text-style: bold;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keyset-table--header", "keyset-table--cursor", "keyset-table--message", "keyset-table--marked",
    }
    MARK = "● "  # the gutter of a marked row, while any row is marked
    BINDINGS: ClassVar = [
        Binding("up,k", "cursor_up", "Up", show=False, id="list.up"),
        Binding("down,j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("pageup", "page_up", "Page up", show=False, id="list.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="list.page_down"),
        Binding("home,g", "first", "First", show=False, id="list.first"),
        Binding("end,G", "last", "Last", show=False, id="list.last"),
        Binding("enter", "select", "Open", id="list.open"),
        # marking rows for a bulk change (a list whose owner handles BulkAsked: `marking=True`)
        Binding("space", "toggle_mark", "Mark or unmark the row", show=False, id="list.mark"),
        Binding("asterisk", "mark_every", "Mark all matching", show=False, id="list.mark_all"),
        Binding("escape", "clear_marks", "Clear marks", id="list.clear_marks"),
        Binding("b", "bulk", "Bulk change", id="list.bulk"),
        Binding("u", "undo_bulk", "Undo bulk change", id="list.undo_bulk"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, layout=False)

    @dataclass
    class Highlighted(Message):
        table: KeysetTable
        row: Any

        @property
        def control(self) -> KeysetTable:
            return self.table

    @dataclass
    class Selected(Message):
        table: KeysetTable
        row: Any

        @property
        def control(self) -> KeysetTable:
            return self.table

    @dataclass
    class MarksChanged(Message):
        """Rows were marked or unmarked (`table.marks`)."""

        table: KeysetTable

        @property
        def control(self) -> KeysetTable:
            return self.table

    @dataclass
    class BulkAsked(Message):
        """`b` on a list with marks: the owner offers the bulk changes for `table.marks`."""

        table: KeysetTable

        @property
        def control(self) -> KeysetTable:
            return self.table

    @dataclass
    class UndoAsked(Message):
        """`u` while the owner offers to undo a bulk change (`table.undo_hint`)."""

        table: KeysetTable

        @property
        def control(self) -> KeysetTable:
            return self.table

    @dataclass
    class RowsShown(Message):
        """The first rows of a fresh load (a search, a sort) are on screen; the total may follow."""

        table: KeysetTable

        @property
        def control(self) -> KeysetTable:
            return self.table

    @dataclass
    class Loaded(Message):
        """A fresh load finished (not a page turn): the total is known."""

        table: KeysetTable
        total: int

        @property
        def control(self) -> KeysetTable:
            return self.table

    def __init__(self, columns: list[Column], *, noun: str = "rows", empty_text: str = "Nothing here yet.",
                 window_pages: int = 4, counted: bool = True, marking: bool = False, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = columns
        self.noun = noun
        self.empty_text = empty_text
        self.window: PagedWindow = PagedWindow(self, window_pages=window_pages)
        self.counted = counted  # ask for the total after the first page (False: the source has none)
        self.marking = marking  # space, * and esc mark rows (each row needs an `id`)
        self.marks = Marks()
        self.undo_hint: str | None = None  # set by the owner while `u` undoes its last bulk change
        self._counting = False
        self._count_timer: Timer | None = None
        self._top = 0  # the absolute position of the first row drawn
        self._total: int | None = None
        self._pending_end = False
        self._preload: tuple[Fetch, int, Future] | None = None
        self._texts: dict[int, str] = {}  # the line of each row held, by id(row): see _row_text
        self._texts_for: tuple[int, list, list] | None = None  # (width, the window's rows, columns) they fit

    # --- the owner's side -------------------------------------------------------------------

    @property
    def window_pages(self) -> int:
        return self.window.window_pages

    @property
    def page_size(self) -> int:
        return max(50, 2 * self._body_height())

    @property
    def total(self) -> int | None:
        return self._total

    @property
    def fetching(self) -> bool:
        return self.window.loading is not None

    @property
    def reloading(self) -> bool:
        """A fresh load (a search, a sort) is being fetched; RowsShown follows it. A page turn is not."""
        return self.window.loading == RESET

    @property
    def counting(self) -> bool:
        return self._counting

    @property
    def held_rows(self) -> int:
        return len(self.window)

    @property
    def current_row(self) -> Any | None:
        index = self.cursor - self.window.offset
        rows = self.window.rows
        return rows[index] if 0 <= index < len(rows) else None

    def visible_rows(self) -> list:
        start = self._top - self.window.offset
        return self.window.rows[max(0, start):max(0, start) + self._body_height()]

    def preload(self, fetch: Fetch, *, here: bool = False) -> None:
        """Fetch the first page of `fetch` now, before the table is mounted (its screen calls this
        while composing), so that when `load(fetch)` follows at mount the rows are there and go
        into the first frame.

        With `here` (a local database: see Database.local_reads) the page is read on the spot.
        Otherwise it is read in a thread and waited for at most PRELOAD_WAIT_S; a slower database
        goes on in the background and the page lands after the first frame (a worker collects
        it: one cannot start before the screen has mounted, which is what this saves). The wait
        comes as soon as the page is asked for: the query's thread and the mount would share the
        one interpreter lock anyway, and taking turns with the mount cost the first frame more
        (1.5 ms of the Inbox's start) than letting the query run through first."""
        limit = self.page_size
        ask = PageAsk(RESET, FIRST, limit, 0)

        def job() -> Page:
            return ask.run(fetch)

        if here:
            future = background.run_now(job)
        else:
            future = background.start(self, job, name="keyset-preload")
            wait([future], timeout=PRELOAD_WAIT_S)
        self._preload = (fetch, limit, future)

    def _take_preload(self, fetch: Fetch, limit: int) -> Future | None:
        preload, self._preload = self._preload, None
        if preload is not None and preload[0] is fetch and preload[1] == limit:
            return preload[2]
        return None

    def load(self, fetch: Fetch, *, keep_position: bool = False) -> None:
        """Show the rows of `fetch` from the top (or, with keep_position, from the page on screen)."""
        window = self.window
        keep = keep_position and bool(window.pages)
        if not keep and fetch is not window.fetch and self.marks:
            self.clear_marks()  # marks of another search or filter: "every match" would change meaning
        anchor, offset, limit = self._reload_from() if keep else (FIRST, 0, self.page_size)
        # the limit is sized here: the thread can't ask the screen
        ask = window.ask_fresh(anchor, limit=limit, fetch=fetch, offset=offset, keep_at=self.cursor if keep else 0)
        self._pending_end = False
        self._counting = False
        if self._count_timer is not None:
            self._count_timer.stop()  # the count of the rows being replaced: not wanted any more
            self._count_timer = None
        if window.pages:
            # the rows on screen stay until the new ones come (a search usually takes a few ms, and a
            # repaint now would only compete with it); a slow one says so after a moment
            self.set_timer(SLOW_LOAD_S, lambda generation=ask.generation: self._show_slow(generation))
        else:
            self.refresh()  # "Loading…" in the empty list
        # the screen's first page, fetched (and waited for, a moment) as it composed: usually
        # here already, so the first frame has rows; a slow one lands through the worker below
        preloaded = self._take_preload(fetch, limit) if anchor == FIRST else None
        if preloaded is not None and preloaded.done() and preloaded.exception() is None:
            self._take_fresh(ask, preloaded.result())
            return
        # the rows first, the total after: a COUNT over a big match costs more than the page
        window.fetch_in_worker(ask, source=preloaded)

    def _reload_from(self) -> tuple[tuple[str, str | None], int, int]:
        """Where a reload in place fetches from, the absolute position of its first row, and how
        many rows: from the start of the page the screen's top row is in, through the screen and
        the cursor, so neither moves (the held pages beyond are dropped, and fetched again as the
        cursor goes on). A page after another starts right after that page's last row; the first
        page held is asked for as it was the first time."""
        pages, start = self.window.pages, self.window.offset
        index = 0
        while index + 1 < len(pages) and start + len(pages[index].items) <= self._top:
            start += len(pages[index].items)
            index += 1
        if index and pages[index - 1].next_cursor is not None:
            anchor = ("after", pages[index - 1].next_cursor)
        else:
            anchor = pages[index].extra.get("anchor", FIRST)
        if anchor[0] == "before":
            # asked for backwards, it ends where it ended: only as many rows as it had keep the offsets
            return anchor, start, len(pages[index].items) or self.page_size
        need = max(self.cursor, self._top + self._body_height()) - start + 1
        return anchor, start, min(MAX_PAGE, max(self.page_size, need))

    def _show_slow(self, generation: int) -> None:
        if generation == self.window.generation and self.reloading:
            self.border_subtitle = "loading…"

    def reload(self) -> None:
        """Fetch again where the user is (after an edit), keeping the cursor's place."""
        if self.window.fetch is not None:
            self.load(self.window.fetch, keep_position=True)

    # --- what the window's fetches bring -----------------------------------------------------

    def on_page_loaded(self, message: PageLoaded) -> None:
        if message.window is not self.window:
            return
        message.stop()
        ask = message.ask
        if ask.kind == RESET:
            self._take_fresh(ask, message.page)
        elif ask.kind == COUNT:
            self._set_total(ask, message.page.total)
        else:
            self._take_turn(ask, message.page)

    def on_page_failed(self, message: PageFailed) -> None:
        if message.window is not self.window:
            return
        message.stop()
        if self.window.failed(message.ask):
            if self._counting and message.ask.kind == COUNT:
                self._total = None  # the rows shown are this list's; the total left is an older one's
            self._counting = False
            self._update_titles()  # no "loading…" left under the list
            self.refresh()
        self.notify(message.text, title=f"Could not load {self.noun}", severity="error")

    def _take_fresh(self, ask: PageAsk, page: Page) -> None:
        """Make `page` the whole window. An offset of None means "the last page": it ends at the total."""
        window = self.window
        replaced = bool(window.pages)  # another list's rows (a search typed over, a sort)
        if not window.accept(ask, page):
            return
        self._total = page.total if page.total is not None else self._total
        held = len(page.items)
        offset = ask.context["offset"]
        if offset is None:
            offset = max(0, (self._total or held) - held)
        window.offset = offset
        self.cursor = min(max(ask.context["keep_at"], offset), offset + held - 1) if held else 0
        if not offset <= self._top < offset + held:
            self._top = offset
        count_later = page.total is None and self.counted
        if count_later:
            self._counting = True  # the title shows no total until this list's own is in
        self._scroll_to_cursor()
        self._update_titles()
        self.post_message(self.RowsShown(self))
        if count_later:
            # after the rows are painted: a count running meanwhile would slow the paint down; and
            # a list that replaced another's waits a moment more, so a count for text the person
            # is still typing over never runs (it would slow the next keystroke's query down)
            if replaced and self.COUNT_DELAY_S:
                self._count_timer = self.set_timer(self.COUNT_DELAY_S, lambda: self._start_count(ask.generation))
            else:
                self.call_after_refresh(self._start_count, ask.generation)
        else:
            self.post_message(self.Loaded(self, self._total or 0))
        self._announce()
        if self._pending_end:
            self._pending_end = False
            self.action_last()

    def _start_count(self, generation: int) -> None:
        if generation != self.window.generation:
            return  # a newer load replaced these rows before the count began: it counts its own
        self._counting = True
        self.window.fetch_in_worker(self.window.ask_count())

    def _set_total(self, ask: PageAsk, total: int | None) -> None:
        if not self.window.accept(ask, Page([])):
            return
        self._counting = False
        self._total = total
        self._update_titles()
        self.post_message(self.Loaded(self, total or 0))

    def _turn(self, direction: str) -> None:
        """Fetch the page after (or before) the window, unless one is already coming."""
        ask = self.window.ask_turn(direction, limit=self.page_size)
        if ask is not None:
            self.window.fetch_in_worker(ask)

    def _take_turn(self, ask: PageAsk, page: Page) -> None:
        window = self.window
        if not window.accept(ask, page):
            return
        if window.offset < 0:
            # the position was a guess (no total): shift what we hold, cursor and view with it
            shift = -window.offset
            window.offset, self.cursor, self._top = 0, self.cursor + shift, self._top + shift
        self.cursor = min(max(self.cursor, window.offset), window.offset + len(window) - 1)
        self._scroll_to_cursor()
        self.refresh()

    # --- moving -----------------------------------------------------------------------------

    def _move_to(self, position: int) -> None:
        window = self.window
        if not len(window):
            return
        last = window.offset + len(window) - 1
        self.cursor = min(max(position, window.offset), last)
        margin = self.page_size  # ask a page ahead, so the rows are there before the cursor is
        if last - self.cursor < margin:
            self._turn(NEXT)
        if self.cursor - window.offset < margin:  # not elif: a short window can be near both ends
            self._turn(PREV)
        self._scroll_to_cursor()
        self._announce()

    def action_cursor_down(self) -> None:
        self._move_to(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self._move_to(self.cursor - 1)

    def action_page_down(self) -> None:
        self._move_to(self.cursor + max(1, self._body_height() - 1))

    def action_page_up(self) -> None:
        self._move_to(self.cursor - max(1, self._body_height() - 1))

    def action_first(self) -> None:
        if self.window.offset == 0 and self.window.at_start:
            self._move_to(0)
        elif self.window.fetch is not None:
            self.load(self.window.fetch)

    def action_last(self) -> None:
        window = self.window
        if self.reloading:
            self._pending_end = True
            return
        if window.pages and window.at_end:
            self._move_to(window.offset + len(window) - 1)
            return
        if window.fetch is None:
            return
        ask = window.ask_fresh(LAST, limit=self.page_size, with_total=True, offset=None, keep_at=10**12)
        window.fetch_in_worker(ask)

    def action_select(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.Selected(self, row))

    # --- marking ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_mark", "mark_every"):
            return self.marking
        if action in ("clear_marks", "bulk"):
            return self.marking and bool(self.marks)
        if action == "undo_bulk":
            return self.marking and self.undo_hint is not None
        return True

    def help_when(self, action: str) -> str | None:
        """When a marking key that does nothing yet will apply (help lists it with this), or None."""
        if not self.marking:
            return None
        return {"clear_marks": "once rows are marked", "bulk": "once rows are marked",
                "undo_bulk": "after a bulk change"}.get(action)

    def action_toggle_mark(self) -> None:
        row = self.current_row
        if row is None:
            return
        self.marks.toggle(row.id)
        self._marks_changed()
        self._move_to(self.cursor + 1)  # marking down a list is space, space, space

    def action_mark_every(self) -> None:
        self.marks.mark_every()
        self._marks_changed()

    def action_clear_marks(self) -> None:
        self.clear_marks()

    def clear_marks(self) -> None:
        if self.marks:
            self.marks.clear()
            self._marks_changed()

    def action_bulk(self) -> None:
        self.post_message(self.BulkAsked(self))

    def action_undo_bulk(self) -> None:
        self.post_message(self.UndoAsked(self))

    @property
    def marked_count(self) -> int | None:
        return self.marks.count(self._total)

    def _marks_changed(self) -> None:
        self._paint = None  # the gutter comes or goes: the columns' widths change
        self._update_titles()
        self.refresh()
        self.refresh_bindings()
        self.post_message(self.MarksChanged(self))

    def _announce(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.Highlighted(self, row))
        self._update_titles()

    async def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self._move_to(self._top + event.y - 1)
            if event.chain >= 2:
                self.action_select()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._move_to(self.cursor + 3)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._move_to(self.cursor - 3)

    # --- drawing ----------------------------------------------------------------------------

    def _body_height(self) -> int:
        return max(1, self.content_region.height - 1) if self.is_mounted else 20

    def _scroll_to_cursor(self) -> None:
        height = self._body_height()
        if self.cursor < self._top:
            self._top = self.cursor
        elif self.cursor >= self._top + height:
            self._top = self.cursor - height + 1
        self._top = max(self._top, self.window.offset)
        self.refresh()

    def _update_titles(self) -> None:
        noun = self.noun.capitalize()
        if self._counting:  # the total shown would be the previous list's
            self.border_title, self.border_subtitle = f"{noun} · …", ""
            return
        total = self._total
        self.border_title = f"{noun} · {total:,}" if total is not None else noun
        if self.marks:
            marked = self.marks.count(total)
            self.border_title += f" · {marked:,} marked" if marked is not None else " · all marked"
        self.border_subtitle = f"{self.cursor + 1:,} of {total:,}" if total else ""

    def on_resize(self, event: events.Resize) -> None:
        self._scroll_to_cursor()

    def on_focus(self) -> None:
        self._paint = None
        self.refresh()

    def on_blur(self) -> None:
        self._paint = None
        self.refresh()

    def notify_style_update(self) -> None:
        self._paint = None
        super().notify_style_update()

    def _paint_info(self, width: int) -> tuple:
        """Styles and column widths, worked out once per width and style change rather than for
        every line drawn (reading a widget's rich style costs a fraction of a millisecond)."""
        paint = getattr(self, "_paint", None)
        if paint is None or paint[0] != width:
            base = self.rich_style
            gutter = len(self.MARK) if self.marks else 0
            columns = self._shown(width - gutter)
            paint = (width, base, columns, self._widths(columns, width - gutter),
                     base + self.get_component_rich_style("keyset-table--header"),
                     base + self.get_component_rich_style("keyset-table--cursor"),
                     base + self.get_component_rich_style("keyset-table--message"))
            self._paint = paint
        return paint

    def _shown(self, width: int) -> list[Column]:
        return [c for c in self.columns if c.hide_below is None or width >= c.hide_below]

    def _widths(self, columns: list[Column], width: int) -> list[int]:
        gaps = len(columns) - 1
        fixed = sum(c.width for c in columns if c.width is not None)
        flexible = [c for c in columns if c.width is None]
        room = max(0, width - fixed - gaps)
        shares = sum(c.ratio for c in flexible) or 1
        widths = []
        for column in columns:
            if column.width is not None:
                widths.append(column.width)
            else:
                widths.append(max(column.min_width, room * column.ratio // shares))
        return widths

    @staticmethod
    def _line_text(columns: list[Column], cells: list[str], widths: list[int], width: int) -> str:
        """A row's cells fitted to their columns, as one line of exactly `width` cells."""
        text = " ".join(_fit(cell, cell_width, column.align)
                        for cell, cell_width, column in zip(cells, widths, columns, strict=True))
        return set_cell_size(text, width)

    def _row_text(self, row: Any, columns: list[Column], widths: list[int], width: int) -> str:
        """The line of a row held in the window, worked out once per row and width (a repaint of
        the list, a cursor move, reuses it: formatting the cells costs more than drawing them)."""
        held = self.window.rows
        made_for = self._texts_for
        if made_for is None or made_for[0] != width or made_for[1] is not held or made_for[2] is not self.columns:
            # kept, the list keeps its rows alive: no id in the cache can be a new row's
            self._texts_for, self._texts = (width, held, self.columns), {}
        text = self._texts.get(id(row))
        if text is None:
            text = self._texts[id(row)] = self._line_text(columns, [_text(c, row) for c in columns], widths, width)
        return text

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width
        _, base, columns, widths, header, cursor_style, message_style = self._paint_info(width)
        gutter = len(self.MARK) if self.marks else 0
        if y == 0:
            return Strip([Segment(" " * gutter + self._line_text(columns, [c.title for c in columns], widths,
                                                                 width - gutter), header)], width)
        index = self._top + y - 1 - self.window.offset
        rows = self.window.rows
        if not rows:
            if y == 2:
                message = "Loading…" if self.window.loading else self.empty_text
                return Strip([Segment(_fit(" " + message, width, "left"), message_style)])
            return Strip.blank(width, base)
        if not 0 <= index < len(rows):
            if index == len(rows) and self.window.loading == NEXT:
                return Strip([Segment(_fit(" Loading…", width, "left"), message_style)])
            return Strip.blank(width, base)
        row = rows[index]
        style = cursor_style if self._top + y - 1 == self.cursor else base
        if not gutter:
            return Strip([Segment(self._row_text(row, columns, widths, width), style)], width)
        marked = self.marks.has(getattr(row, "id", None))
        mark_style = style + self.get_component_rich_style("keyset-table--marked") if marked else style
        return Strip([Segment(self.MARK if marked else " " * gutter, mark_style),
                      Segment(self._row_text(row, columns, widths, width - gutter), style)], width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return container.height


def _text(column: Column, row: Any) -> str:
    value = column.text(row)
    return "" if value is None else str(value).replace("\n", " ")


def _fit(text: str, width: int, align: str) -> str:
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return text.rjust(width) if align == "right" else set_cell_size(text, width)
