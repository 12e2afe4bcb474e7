"""The paged window behind every long list and every kanban column: a few keyset pages held in
order, the page turns that keep it a window, and one fetch protocol. A new list is a fetch
function plus whatever draws the rows.

The window is not a widget: its host (a table, the board) draws its rows and receives its
messages. Pages are fetched in the host's Textual workers (tracked, cancelled on unmount); each
result comes back to the host as a typed message, `PageLoaded` or `PageFailed`, which the host
hands to `accept()` or `failed()`. Every ask carries the window's generation, so a late page of an
older ask (a search typed over, a card moved by hand) is dropped.

One page is not fetched by a worker: a screen's first, asked for while it composes, before any
worker could start. It is read on the spot from a local database (Database.local_reads), or on
the loop's executor, started at once and tracked by a worker (crm_tui/background.py), and waited
for at most PRELOAD_WAIT_S; a worker collects it if it is late (`fetch_in_worker(source=...)`).

The fetch protocol, for every list:

    fetch(*, after, before, limit, with_total) -> Page

It is called in a worker thread and opens its own session; a caller that already holds a session
(the board's owner, writing a move and fetching the pages in one transaction) binds it with
functools.partial and runs the same `PageAsk` with it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from textual.message import Message
from textual.widget import Widget

from crm_tui.shapes import END, Page

T = TypeVar("T")
Fetch = Callable[..., Page]  # fetch(*, after, before, limit, with_total) -> Page (opens its own session)
Anchor = tuple[str, str | None]
FIRST: Anchor = ("first", None)
LAST: Anchor = ("before", END)  # the last page: a list's End key, where a new deal lands

RESET, NEXT, PREV, COUNT = "reset", "next", "prev", "count"
PRELOAD_WAIT_S = 0.05  # as a screen composes, the most its first page is waited for before the first frame
PAINT_WAIT_S = 1.0  # the most a query held back until a screen's first frame is drawn waits for it
_GROUP_SUFFIX = {RESET: "", NEXT: "-turn", PREV: "-turn", COUNT: "-count"}


@dataclass
class PageAsk:
    """One page a window asked for: where from, how many rows, and for which generation. Any
    thread can run it (`run`); the page goes back to the window on the UI thread (`accept`)."""

    kind: str  # RESET (the whole window), NEXT or PREV (a page turn), COUNT (the total only)
    anchor: Anchor
    limit: int
    generation: int
    with_total: bool = False
    context: dict[str, Any] = field(default_factory=dict)  # what the host needs to place the page

    @property
    def after(self) -> str | None:
        return self.anchor[1] if self.anchor[0] == "after" else None

    @property
    def before(self) -> str | None:
        return self.anchor[1] if self.anchor[0] == "before" else None

    def run(self, fetch: Fetch) -> Page:
        """The page, fetched; it remembers how it was asked for, so a reload can ask again."""
        page = fetch(after=self.after, before=self.before, limit=self.limit, with_total=self.with_total)
        page.extra["anchor"] = self.anchor
        return page


@dataclass
class Marks:
    """The rows of a list a person marked: some ids, or (`every`) every row of the list but some.
    Marking a whole list of 100k rows holds no ids: its owner reads it as "every record matching
    the list's filter, minus these" (services.bulk_edit.Selection)."""

    every: bool = False
    ids: set = field(default_factory=set)  # the marked ids; with `every`, the unmarked ones

    def __bool__(self) -> bool:
        return self.every or bool(self.ids)

    def has(self, id_: Any) -> bool:
        return (id_ in self.ids) != self.every

    def toggle(self, id_: Any) -> None:
        self.ids.symmetric_difference_update({id_})

    def mark_every(self) -> None:
        self.every, self.ids = True, set()

    def clear(self) -> None:
        self.every, self.ids = False, set()

    def count(self, total: int | None) -> int | None:
        """How many are marked (None: every row of a list whose total is not known yet)."""
        if not self.every:
            return len(self.ids)
        return None if total is None else max(0, total - len(self.ids))


@dataclass
class PageLoaded(Message):
    """A page a window asked for has come (posted to the window's host)."""

    window: PagedWindow
    ask: PageAsk
    page: Page


@dataclass
class PageFailed(Message):
    """A page a window asked for could not be fetched (posted to the window's host)."""

    window: PagedWindow
    ask: PageAsk
    error: BaseException

    @property
    def text(self) -> str:
        return getattr(self.error, "message", None) or str(self.error)


class PagedWindow(Generic[T]):
    """The pages held, in order, each keeping the cursors to the pages around it; `offset` is the
    position of the first row held in the whole list (it moves as pages are turned)."""

    def __init__(self, host: Widget, *, window_pages: int = 4) -> None:
        self.host = host
        self.window_pages = window_pages
        self.fetch: Fetch | None = None
        self.pages: list[Page] = []
        self.offset = 0
        self.loading: str | None = None  # RESET, NEXT or PREV while a page is on its way
        self.generation = 0  # bumps on every fresh ask, so a late page of an older one is dropped
        self._rows: list[T] | None = None

    # --- what is held ---------------------------------------------------------------------------

    @property
    def rows(self) -> list[T]:
        """The rows held, flattened once per change (a host draws from them for every line)."""
        if self._rows is None:
            self._rows = [row for page in self.pages for row in page.items]
        return self._rows

    def __len__(self) -> int:
        return len(self.rows)

    def changed(self) -> None:
        """The pages' items were changed in place (a card taken out by hand)."""
        self._rows = None

    def replace(self, page: Page, *, offset: int = 0) -> None:
        """Hold only `page` (shown by hand, without a fetch: what was on its way is dropped)."""
        self.drop_pending()
        self.pages, self.offset, self._rows = [page], offset, None

    @property
    def at_start(self) -> bool:
        return not self.pages or self.pages[0].prev_cursor is None

    @property
    def at_end(self) -> bool:
        return not self.pages or self.pages[-1].next_cursor is None

    # --- asking ---------------------------------------------------------------------------------

    def ask_fresh(self, anchor: Anchor = FIRST, *, limit: int, fetch: Fetch | None = None,
                  with_total: bool = False, **context: Any) -> PageAsk:
        """A fresh window from `anchor` (with `fetch`, from now on): what is on its way is dropped."""
        if fetch is not None:
            self.fetch = fetch
        self.generation += 1
        self.loading = RESET
        return PageAsk(RESET, anchor, limit, self.generation, with_total, context)

    def ask_turn(self, direction: str, *, limit: int) -> PageAsk | None:
        """The page after (NEXT) or before (PREV) the window, unless one is coming already or the
        window is at that end of the list."""
        if self.loading is not None or self.fetch is None or not self.pages:
            return None
        token = self.pages[-1].next_cursor if direction == NEXT else self.pages[0].prev_cursor
        if token is None:
            return None
        self.loading = direction
        return PageAsk(direction, ("after" if direction == NEXT else "before", token), limit, self.generation)

    def ask_count(self) -> PageAsk:
        """The total of the list the window holds (a COUNT costs more than a page: asked after it)."""
        return PageAsk(COUNT, FIRST, 1, self.generation, with_total=True)

    def is_current(self, ask: PageAsk) -> bool:
        return ask.generation == self.generation

    def drop_pending(self) -> None:
        """Whatever is on its way belongs to the window as it was: it will be dropped."""
        self.generation += 1
        self.loading = None

    # --- fetching -------------------------------------------------------------------------------

    def fetch_in_worker(self, ask: PageAsk, *, source: Future | None = None) -> None:
        """Run `ask` with the window's fetch in a worker thread of the host (or collect `source`, a
        page already being fetched), and post the outcome to the host as PageLoaded or PageFailed.
        A fresh window or a count replaces the one still running (exclusive); page turns don't."""
        host, fetch = self.host, self.fetch

        def work() -> None:
            try:
                page = source.result() if source is not None else ask.run(fetch)
            except Exception as error:
                _post(host, PageFailed(self, ask, error))
                raise  # the worker fails too, as it should: it is in the app's list of workers
            _post(host, PageLoaded(self, ask, page))

        host.run_worker(work, thread=True, group=f"paged-{id(self)}{_GROUP_SUFFIX[ask.kind]}",
                        exclusive=ask.kind in (RESET, COUNT), exit_on_error=False)

    # --- taking the outcome ---------------------------------------------------------------------

    def accept(self, ask: PageAsk, page: Page, *, offset: int = 0) -> bool:
        """Put `page` in the window: the whole of it (a fresh ask, its first row at `offset`), or at
        one end (a turn, dropping pages at the other end beyond `window_pages`). False, and nothing
        changes, for a page of an older ask. A count's page holds nothing: its total is the host's."""
        if not self.is_current(ask):
            return False
        if ask.kind == COUNT:
            return True
        self.loading = None
        pages = self.pages
        if ask.kind == RESET:
            self.pages, self.offset = [page], offset
        elif ask.kind == NEXT:
            pages.append(page)
            while len(pages) > self.window_pages:
                self.offset += len(pages.pop(0).items)
        else:
            pages.insert(0, page)
            self.offset -= len(page.items)
            while len(pages) > self.window_pages:
                pages.pop()
        self._rows = None
        return True

    def failed(self, ask: PageAsk) -> bool:
        """A page did not come: the window is not loading any more (if the ask was still current)."""
        if not self.is_current(ask):
            return False
        if ask.kind != COUNT:
            self.loading = None
        return True


def _post(host: Widget, message: Message) -> None:
    """Hand a worker's outcome to the host (thread-safe); a host closed meanwhile has no one to tell."""
    if host.is_attached:
        host.post_message(message)
