"""The Pipeline area: a keyboard kanban of the selected pipeline's stages that stays instant at 20k
deals. Cards move with one key through the service layer; a move repaints only the two columns
it touches (and the header totals, one aggregate).

The board's first frame is drawn before SQLAlchemy and the models have loaded: services/start.py
reads the default pipeline and its first columns on the start's plain connection. The services,
the forms and the dialogs (board_dialogs.py) are imported where they are first used, after it;
every read or write here waits for the ORM (`_session`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message

from crm_tui import background
from crm_tui.clock import get_zone
from crm_tui.errors import Conflict, CrmError
from crm_tui.screens.base import AreaScreen
from crm_tui.services import start
from crm_tui.services.words import plural
from crm_tui.shapes import CLOSE_PERIODS, EVERYONE, BoardFilter, BoardTotals, PipelineRow
from crm_tui.widgets.kanban import KanbanBoard, KanbanColumn, compact_money, compact_sums, first_page_size_for
from crm_tui.widgets.paged_window import FIRST, PAINT_WAIT_S, PRELOAD_WAIT_S, PageAsk, PageLoaded
from crm_tui.widgets.text_line import Line

if TYPE_CHECKING:
    from crm_tui.models.schemas import DealRead, PipelineRead, StageRead

FRAME_ROWS = 4  # the area bar, the board's bar and summary, the key bar: the rest is the board's
ColumnAsk = tuple[KanbanColumn, PageAsk]  # a page a column asked for, fetched by one of the screen's workers


def _session(db, *, write: bool = False) -> AbstractContextManager:
    """A read (or write) session, once the ORM has loaded (services/start.py load_orm: one thread
    at a time imports it; the board's first frame is drawn before)."""
    start.load_orm()
    return db.write() if write else db.read()


def _deals():
    """services.deals, for the card keys (with the ORM, if it has not loaded yet)."""
    start.load_orm()
    from crm_tui.services import deals

    return deals


# --- what the screen's workers hand back (posted from their threads) --------------------------------


@dataclass
class PipelineFound(Message, bubble=False):
    pipeline: PipelineRead | PipelineRow  # a PipelineRow from the start's plain read
    pages: list | None = None  # the first pages of its shown stages, when the preload read them


@dataclass
class ColumnsRead(Message, bubble=False):
    pages: list[PageLoaded]
    focus_deal: int | None = None


@dataclass
class TotalsRead(Message, bubble=False):
    totals: BoardTotals
    preload: bool = False  # the preload's: shown only if no load has come since


@dataclass
class ChangeWritten(Message, bubble=False):
    deal: DealRead
    pages: list[PageLoaded]
    focus: tuple[int, int] | None


@dataclass
class ChangeRefused(Message, bubble=False):
    error: Exception
    asks: list[ColumnAsk]
    rollback: tuple[int, int] | None


class PipelineScreen(AreaScreen):
    AREA = "pipeline"
    CSS_PATH = "pipeline.tcss"  # the dialogs add forms.tcss when they open
    AUTO_FOCUS = "#board"
    BINDINGS = [
        Binding("shift+left,left_square_bracket", "move_card(-1)", "◀ Move", id="pipeline.move_back"),
        Binding("shift+right,right_square_bracket", "move_card(1)", "Move ▶", id="pipeline.move_forward"),
        Binding("w", "won", "Won", id="pipeline.won"),
        Binding("L", "lost", "Lost", id="pipeline.lost"),
        Binding("n", "new_deal", "New", id="pipeline.new_deal"),
        Binding("slash", "filters", "Filter", id="pipeline.filter"),
        Binding("p", "pick_pipeline", "Pipeline", id="pipeline.pick"),
        Binding("v", "deals_table", "Table", id="pipeline.deals_table"),
        Binding("c", "toggle_closed", "Won/Lost", show=False, id="pipeline.closed"),
        Binding("dollar_sign", "toggle_convert", "Convert", show=False, id="pipeline.convert"),
        Binding("x", "clear_filters", "Clear filter", show=False, id="pipeline.clear"),
        Binding("S", "settings", "Settings", show=False, id="pipeline.settings"),
        Binding("a", "archive", "Archive", show=False, id="pipeline.archive"),
        Binding("u", "unarchive", "Undo archive", show=False, id="pipeline.unarchive"),
    ]
    NEEDS = {"move_card": "deal.edit", "won": "deal.edit", "lost": "deal.edit", "new_deal": "deal.edit",
             "settings": "pipeline.admin", "archive": "deal.edit", "unarchive": "deal.edit"}
    _last_archived: tuple[int, int] | None = None  # (deal id, stage id): what u brings back

    def __init__(self) -> None:
        super().__init__()
        self.pipeline: PipelineRead | PipelineRow | None = None
        self.pipeline_id: int | None = None
        self.filters = BoardFilter()
        self.owner_label = EVERYONE
        self.show_closed = False
        self.totals: BoardTotals | None = None  # read after the first frame
        # $ converts every currency into the team's for the headers (services/conversion.py)
        self.convert = False
        self._busy = False  # a card change is being written: further moves wait for it
        self._loads = 0  # board loads after the first: a late preload must not paint over them
        self._described: tuple[str, str] | None = None
        # the board's data is read from here on, while the app loads this screen's styles and mounts it
        self._height = max(1, self.app.size.height - FRAME_ROWS)
        self._painted = threading.Event()  # set after the first frame: the totals' query waits for it
        start.hold_orm()  # a worker loading the ORM meanwhile would slow the first frame (released on mount)
        self._preload: tuple[Future, Future | None] | None = self._start_preload(first_page_size_for(self._height))

    def compose(self) -> ComposeResult:
        yield from self.compose_frame_top()
        yield Line(id="board-bar")
        yield Line(id="board-summary")
        yield self.focused_at_start(KanbanBoard(clock=self.app.now, zone=get_zone(self.app.actor.timezone),
                                                expected_height=self._height, id="board"))
        yield from self.compose_frame_bottom()

    def on_mount(self) -> None:
        pages, totals = self._preload
        self._preload = None
        # a moment for the preload to land, so the first frame has the board (the wait lets its
        # thread run instead of the mount; a slow database stays async)
        wait([pages], timeout=PRELOAD_WAIT_S)
        shown = pages.done() and pages.exception() is None
        if shown:  # usually: the first board goes into the first frame
            self._show_preloaded(*pages.result())
        self.call_after_refresh(self._painted.set)
        self.call_after_refresh(start.release_orm)
        if totals is None and shown:
            # read here: the totals' worker starts after the first frame (starting a thread, and the
            # worker's messages, would come before it)
            self.call_after_refresh(self._finish_preload, pages, totals, shown)
        else:
            self._finish_preload(pages, totals, shown)

    def _start_preload(self, limit: int) -> tuple[Future, Future | None]:
        """The pipeline and each shown column's first page, then the header totals. The totals'
        aggregate waits until the first frame is drawn: run alongside, it slows that down.

        From a local database (Database.local_reads) the pages are read here and now, and the
        totals by on_mount's worker once the frame is drawn. From a server they are read on the
        loop's executor, starting now (crm_tui/background.py; a thread worker would start only once
        the screen has mounted), totals and all, in one session."""
        db, pipeline_id, filters, show_closed = self.app.db, self.pipeline_id, self.filters, self.show_closed
        now, zone = self.app.now(), get_zone(self.app.actor.timezone)
        plain = pipeline_id is None and filters == BoardFilter() and not show_closed

        def read_pages() -> tuple[PipelineRead | PipelineRow, list]:
            # as the app opens: the start's plain read, before the ORM (None once the start is over)
            found = start.first_board(db, limit=limit) if plain else None
            if found is None:
                with _session(db) as session:
                    from crm_tui.services import board, pipelines

                    pipeline = (pipelines.get_pipeline(session, pipeline_id=pipeline_id) if pipeline_id
                                else pipelines.default_pipeline(session))
                    shown = [stage for stage in pipeline.stages if show_closed or stage.kind == "open"]
                    found = pipeline, board.first_pages(session, stages=shown, filters=filters, now=now, zone=zone,
                                                        limit=limit)
            for page in found[1]:
                page.extra["anchor"] = FIRST
            return found

        if db.local_reads:
            return background.run_now(read_pages), None

        painted = self._painted
        pages: Future = Future()
        totals: Future = Future()

        def work() -> None:
            try:
                pipeline, first = read_pages()
                pages.set_result((pipeline, first))
                painted.wait(PAINT_WAIT_S)
                with _session(db) as session:
                    from crm_tui.services import board

                    totals.set_result(board.board_totals(session, pipeline_id=pipeline.id, filters=filters,
                                                         now=now, zone=zone))
            except BaseException as exc:  # noqa: BLE001 - handed to the worker of on_mount, which reports it
                for future in (pages, totals):
                    if not future.done():
                        future.set_exception(exc)

        background.start(self, work, name="board-preload-read")  # a thread worker would start after the mount
        return pages, totals

    @work(thread=True, exclusive=True, group="board-preload", exit_on_error=False)
    def _finish_preload(self, pages: Future, totals: Future | None, shown: bool) -> None:
        if not shown:
            self.post_message(PipelineFound(*pages.result()))
        if totals is None:  # the pages were read on the spot, and this runs after the first frame
            with _session(self.app.db) as session:
                found = self.totals_reader()(session)
        else:
            found = totals.result()
        compact_money(0, "USD")  # babel's locale data loads here, in the thread, not as the totals are drawn
        self.post_message(TotalsRead(found, preload=True))

    def _show_preloaded(self, pipeline: PipelineRead | PipelineRow, pages: list) -> None:
        if self._loads:
            return
        self.pipeline, self.pipeline_id = pipeline, pipeline.id
        columns = self.board.set_stages(self._shown_stages(pipeline))
        for column, page in zip(columns, pages, strict=True):
            column.take_page(column.ask(self.fetcher(column.stage.id)), page)
        self._describe()

    @property
    def board(self) -> KanbanBoard:
        return self.query_one("#board", KanbanBoard)

    # --- loading -------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="board-pipeline", exit_on_error=False)
    def load_pipeline(self) -> None:
        with _session(self.app.db) as session:
            from crm_tui.services import pipelines

            found = (pipelines.get_pipeline(session, pipeline_id=self.pipeline_id) if self.pipeline_id
                     else pipelines.default_pipeline(session))
        self.post_message(PipelineFound(found))

    @on(PipelineFound)
    def _pipeline_found(self, message: PipelineFound) -> None:
        if message.pages is not None:
            self._show_preloaded(message.pipeline, message.pages)
        else:
            self._show_pipeline(message.pipeline)

    def _show_pipeline(self, pipeline: PipelineRead | PipelineRow) -> None:
        same = self.pipeline is not None and self._shown_stages(self.pipeline) == self._shown_stages(pipeline)
        self.pipeline, self.pipeline_id = pipeline, pipeline.id
        if not same:
            self.board.set_stages(self._shown_stages(pipeline))
        self.load_columns(keep_position=same)
        self._describe()

    def _shown_stages(self, pipeline: PipelineRead | PipelineRow) -> list[StageRead]:
        return [s for s in pipeline.stages if self.show_closed or s.kind == "open"]

    def page_reader(self) -> Callable[..., Any]:
        """One page of a stage in a session: `read(session, stage_id, *, after, before, limit,
        with_total)`. Bound to a session and a stage, it is a paged window's fetch."""
        filters, now, zone = self.filters, self.app.now(), get_zone(self.app.actor.timezone)

        def read(session, stage_id: int, *, after, before, limit, with_total=False):
            from crm_tui.services import board  # loaded with the session's ORM

            return board.column_page(session, stage_id=stage_id, filters=filters, now=now, zone=zone,
                                     after=after, before=before, limit=limit)
        return read

    def fetcher(self, stage_id: int) -> Callable[..., Any]:
        """What a column's window calls (in a worker thread) for one page of its stage: it opens
        its own session, so the board opens none."""
        db, read = self.app.db, self.page_reader()

        def fetch(**ask):
            with _session(db) as session:
                return read(session, stage_id, **ask)
        return fetch

    @staticmethod
    def _read_pages(session, asks: list[ColumnAsk], read) -> list[PageLoaded]:
        """The pages `asks` asked for, read by `read` (a page_reader) in one session (a worker's),
        as the board takes them in."""
        return [PageLoaded(column.window, ask, ask.run(partial(read, session, column.stage.id)))
                for column, ask in asks]

    def totals_reader(self) -> Callable[[Any], BoardTotals]:
        pipeline_id, filters, now = self.pipeline_id, self.filters, self.app.now()
        zone = get_zone(self.app.actor.timezone)
        convert_to = self.app.settings.currency if getattr(self, "convert", False) else None

        def read(session) -> BoardTotals:
            from crm_tui.services import board  # loaded with the session's ORM

            return board.board_totals(session, pipeline_id=pipeline_id, filters=filters, now=now, zone=zone,
                                      convert_to=convert_to)
        return read

    def load_columns(self, *, keep_position: bool = False) -> None:
        """Every column's first page in one worker and one session, then the header totals."""
        self._loads += 1
        asks = [(column, column.ask(self.fetcher(column.stage.id), keep_position=keep_position))
                for column in self.board.columns]
        self._load_columns(asks, self.page_reader(), self.totals_reader())

    @work(thread=True, exclusive=True, group="board-load", exit_on_error=False)
    def _load_columns(self, asks: list[ColumnAsk], read, read_totals) -> None:
        with _session(self.app.db) as session:
            self.post_message(ColumnsRead(self._read_pages(session, asks, read)))
            totals = read_totals(session)
        self.post_message(TotalsRead(totals))

    @on(ColumnsRead)
    def _columns_read(self, message: ColumnsRead) -> None:
        self.board.show_pages(message.pages, focus_deal=message.focus_deal)

    @on(TotalsRead)
    def _totals_read(self, message: TotalsRead) -> None:
        if not (message.preload and self._loads):
            self._show_totals(message.totals)

    def _show_totals(self, totals: BoardTotals) -> None:
        self.totals = totals
        self.board.set_totals(totals.stage)
        self._describe()

    def refresh_data(self) -> None:
        """Something was saved elsewhere: read the pipeline again (its stages may have changed)."""
        if self.is_mounted:
            self.load_pipeline()

    def _describe(self) -> None:
        if self.pipeline is None:
            return
        f = self.filters
        parts = [f"[b]{escape(self.pipeline.name)}[/b] [dim](p)[/dim]"]
        if self.owner_label != EVERYONE:
            parts.append(escape(self.owner_label))
        if f.text:
            parts.append(f"“{escape(f.text)}”")
        if f.close != "any":
            parts.append(f"closing {CLOSE_PERIODS[f.close]}")
        if f.stale_only:
            parts.append("[b]stale only[/b]")
        left, right = self.board.hidden
        more = ("  " + (f"‹ {left} " if left else "") + (f"{right} ›" if right else "")) if left or right else ""
        t = self.totals
        bar = " · ".join(parts) + more
        summary = "" if t is None else (
            f"Open {plural(t.open_count, 'deal')}  {compact_sums(t.open_amounts)}  ·  weighted forecast "
            f"[b]{compact_sums(t.forecast)}[/b]" + ("" if self.show_closed else "  [dim]· c shows Won/Lost[/dim]"))
        if t is not None and t.converted_to:
            summary += f"  [dim]· converted to {t.converted_to}[/dim]" + (
                f" [b]· {plural(t.unconverted, 'deal')} with no rate[/b]" if t.unconverted else "")
        if (bar, summary) != self._described:  # both are one line high: no layout pass
            old = self._described or ("", "")
            self._described = (bar, summary)
            if bar != old[0]:
                self.query_one("#board-bar", Line).update(Text.from_markup(bar, emoji=False))  # names escaped above
            if summary != old[1]:
                self.query_one("#board-summary", Line).update(Text.from_markup(summary, emoji=False))

    @on(KanbanBoard.Highlighted)
    @on(KanbanBoard.ColumnsShown)
    def _highlighted(self) -> None:
        self._describe()

    # --- opening --------------------------------------------------------------------------------

    @on(KanbanBoard.Selected)
    def open_deal(self, event: KanbanBoard.Selected) -> None:
        self.app.open_record("deal", event.card.id)

    # --- changing cards -------------------------------------------------------------------------

    def _focused_open_card(self):
        column, card = self.board.column, self.board.current_card
        if card is None or self._busy:
            return None, None
        return column, card

    def action_move_card(self, step: int) -> None:
        """The board moves the card at once and asks for the move to be written (MoveRequested);
        a move waits while a change is being written."""
        if not self._busy and self.board.move_card(step):
            self._busy = True  # until the move is written: the next waits for it

    @on(KanbanBoard.MoveRequested)
    def _move_requested(self, event: KanbanBoard.MoveRequested) -> None:
        """The service writes the move in a worker, which then fetches both columns again (and the
        board is rolled back if the move was refused)."""
        columns = self.board.columns
        column, target = self.board.column_for(event.from_stage), self.board.column_for(event.to_stage)
        if column is None or target is None:
            self._busy = False
            return
        asks = [(column, column.ask(keep_position=True)), (target, target.ask(at_end=True))]
        deals = _deals()
        self._change(lambda session, actor, now: deals.move_deal(
            session, deal_id=event.deal_id, stage_id=event.to_stage, actor=actor, version=event.version, now=now,
            from_stage_id=event.from_stage),
            asks, focus=(columns.index(target), event.deal_id), rollback=(columns.index(column), event.deal_id))

    def action_won(self) -> None:
        column, card = self._focused_open_card()
        if card is None:
            return
        deals = _deals()
        overturn = deals.overturns(column.stage.kind, "won")

        def go(confirmed: bool = True) -> None:
            if not confirmed or column not in self.board.columns:
                return
            rollback = (self.board.columns.index(column), card.id)
            column.take(card.id)  # gone from the board at once; the worker writes it and confirms
            self._change(lambda session, actor, now: deals.mark_won(
                session, deal_id=card.id, actor=actor, version=card.version, now=now, from_stage_id=column.stage.id,
                overturn=overturn),
                self._closing_asks(column),
                rollback=rollback)

        self._confirm_overturn(card.title, column.stage.kind, "won", go) if overturn else go()

    def action_lost(self) -> None:
        column, card = self._focused_open_card()
        if card is None:
            return
        deals = _deals()
        overturn = deals.overturns(column.stage.kind, "lost")

        def chosen(reason: str | None) -> None:
            if reason and column in self.board.columns:
                rollback = (self.board.columns.index(column), card.id)
                column.take(card.id)
                self._change(lambda session, actor, now: deals.mark_lost(
                    session, deal_id=card.id, reason=reason, actor=actor, version=card.version, now=now,
                    from_stage_id=column.stage.id, overturn=overturn),
                    self._closing_asks(column), rollback=rollback)

        def ask(confirmed: bool = True) -> None:
            if confirmed:
                from crm_tui.screens.pipeline.deal import LostReasonScreen

                self.app.push_screen(LostReasonScreen(card.title), chosen)

        self._confirm_overturn(card.title, column.stage.kind, "lost", ask) if overturn else ask()

    def action_archive(self) -> None:
        """a archives the card's deal (asked first): it leaves the board and the lists; u undoes it."""
        column, card = self._focused_open_card()
        if card is None:
            return
        deals = _deals()
        from crm_tui.screens.forms import ConfirmScreen

        def go(yes: bool | None) -> None:
            if not yes or column not in self.board.columns:
                return
            rollback = (self.board.columns.index(column), card.id)
            column.take(card.id)
            self._last_archived = (card.id, column.stage.id)
            self._change(lambda session, actor, now: deals.set_deal_archived(
                session, deal_id=card.id, archived=True, actor=actor, version=card.version, now=now),
                [(column, column.ask(keep_position=True))], rollback=rollback)

        self.app.push_screen(ConfirmScreen(f"Archive {card.title}? It leaves the board and the lists "
                                           "(nothing is deleted); u undoes it.", "Archive"), go)

    def action_unarchive(self) -> None:
        if self._last_archived is None:
            self.notify("Nothing to undo: archive a deal first.", severity="warning")
            return
        if self._busy:
            return
        (deal_id, stage_id), self._last_archived = self._last_archived, None
        column = self.board.column_for(stage_id)
        deals = _deals()
        self._change(lambda session, actor, now: deals.set_deal_archived(
            session, deal_id=deal_id, archived=False, actor=actor, now=now),
            [(column, column.ask(keep_position=True))] if column is not None else [])

    def _confirm_overturn(self, title: str, was: str, kind: str, then) -> None:
        """Winning a lost deal or losing a won one is asked about first."""
        from crm_tui.screens.forms import ConfirmScreen

        self.app.push_screen(ConfirmScreen(f"{title} was {was}. Mark it {kind} instead?", f"Mark {kind}"), then)

    def _closing_asks(self, column: KanbanColumn) -> list[ColumnAsk]:
        """The column the deal leaves, and the Won and Lost columns when they are shown."""
        closing = [c for c in self.board.columns if c.stage.kind != "open" and c is not column]
        return [(c, c.ask(keep_position=True)) for c in (column, *closing)]

    def _change(self, change, asks: list[ColumnAsk], *, focus: tuple[int, int] | None = None,
                rollback: tuple[int, int] | None = None) -> None:
        self._busy = True
        # written once the board shows the change: the worker's thread would slow that paint down
        self.call_after_refresh(self._write, change, asks, self.page_reader(), self.totals_reader(), focus, rollback)

    @work(thread=True, exclusive=False, group="board-change", exit_on_error=False)
    def _write(self, change, asks: list[ColumnAsk], read, read_totals, focus, rollback) -> None:
        app = self.app
        try:
            with _session(app.db, write=True) as session:  # the change and the two columns' pages in one transaction
                deal = change(session, app.actor, app.now())  # a moved deal ends its new column's last page
                pages = self._read_pages(session, asks, read)
        except Exception as exc:  # noqa: BLE001 - a refused change is reported, and the columns reloaded
            self.post_message(ChangeRefused(exc, asks, rollback))
            return
        self.post_message(ChangeWritten(deal, pages, focus))
        # the headers follow: one aggregate over the pipeline costs more than both pages together
        with _session(app.db) as session:
            totals = read_totals(session)
        self.post_message(TotalsRead(totals))

    @on(ChangeWritten)
    def _changed(self, message: ChangeWritten) -> None:
        deal, focus = message.deal, message.focus
        self._busy = False
        self.board.show_pages(message.pages, focus_deal=focus[1] if focus else None)
        if focus is not None:
            self.board.focus_column(focus[0])
        if deal.archived:
            self.notify(f"Archived {deal.title}. Press u to undo.")
        elif deal.status != "open":
            self.notify(f"{deal.title}: {deal.status}" + (f" ({deal.lost_reason})" if deal.lost_reason else ""))

    @on(ChangeRefused)
    def _change_failed(self, message: ChangeRefused) -> None:
        """The change was refused: the board shows again what the database holds, the focus back on
        the card where it was."""
        error, rollback = message.error, message.rollback
        self._busy = False
        columns = [column for column, _ask in message.asks if column in self.board.columns]
        if rollback is not None:
            index, deal_id = rollback
            self.board.focus_column(index)
            # the column the card left keeps its place; a stage it was shown entering starts at the top
            fresh = [(columns[0], columns[0].ask(keep_position=True)),
                     *((c, c.ask(keep_position=c.stage.kind != "open")) for c in columns[1:])]
            self._reload(fresh, self.page_reader(), deal_id)
        else:
            for column in columns:
                column.load(keep_position=True)
        message = error.message if isinstance(error, CrmError) else f"{type(error).__name__}: {error}"
        title = "Changed by someone else" if isinstance(error, Conflict) else "Not done"
        self.notify(message, title=title, severity="error")
        self.load_totals()

    @work(thread=True, exclusive=False, group="board-reload", exit_on_error=False)
    def _reload(self, asks: list[ColumnAsk], read, focus_deal: int) -> None:
        with _session(self.app.db) as session:
            self.post_message(ColumnsRead(self._read_pages(session, asks, read), focus_deal))

    @work(thread=True, exclusive=True, group="board-totals", exit_on_error=False)
    def load_totals(self) -> None:
        read = self.totals_reader()
        with _session(self.app.db) as session:
            totals = read(session)
        self.post_message(TotalsRead(totals))

    def action_new_deal(self) -> None:
        column = self.board.column
        if self.pipeline is None or column is None:
            return
        stage = column.stage if column.stage.kind == "open" else next(
            s for s in self.pipeline.stages if s.kind == "open")

        def created(deal: DealRead | None) -> None:
            if deal is None:
                return
            target = self.board.column_for(deal.stage_id)
            if target is None:
                self.notify(f"Added {deal.title} in {deal.pipeline_name} › {deal.stage_name}.")
                return
            self._after_new((target, target.ask(at_end=True)), self.page_reader(), self.totals_reader(), deal.id)
            self.board.focus_column(self.board.columns.index(target))

        start.load_orm()
        from crm_tui.screens.pipeline.board_dialogs import BoardDealForm

        self.app.push_screen(BoardDealForm(pipeline_id=self.pipeline.id, stage_id=stage.id), created)

    @work(thread=True, exclusive=False, group="board-new", exit_on_error=False)
    def _after_new(self, ask: ColumnAsk, read, read_totals, deal_id: int) -> None:
        with _session(self.app.db) as session:
            pages = self._read_pages(session, [ask], read)
            totals = read_totals(session)
        self.post_message(ColumnsRead(pages, deal_id))
        self.post_message(TotalsRead(totals))

    # --- filters, pipelines, settings -------------------------------------------------------------

    def action_filters(self) -> None:
        def apply(result: tuple[BoardFilter, str] | None) -> None:
            if result is not None:
                self.filters, self.owner_label = result
                self.load_columns()
                self._describe()

        start.load_orm()
        from crm_tui.screens.pipeline.board_dialogs import BoardFilterForm

        self.app.push_screen(BoardFilterForm(self.filters, self.owner_label), apply)

    def action_clear_filters(self) -> None:
        self.filters, self.owner_label = BoardFilter(), EVERYONE
        self.load_columns()
        self._describe()

    def action_pick_pipeline(self) -> None:
        def picked(pipeline_id: int | None) -> None:
            if pipeline_id is not None and pipeline_id != self.pipeline_id:
                self.pipeline_id = pipeline_id
                self.board.active = 0
                self.load_pipeline()

        start.load_orm()
        from crm_tui.screens.pipeline.board_dialogs import PipelinePicker

        self.app.push_screen(PipelinePicker(self.pipeline_id), picked)

    def action_toggle_closed(self) -> None:
        self.show_closed = not self.show_closed
        if self.pipeline is not None:
            self.board.set_stages(self._shown_stages(self.pipeline))
            self.load_columns()
            self._describe()

    def action_toggle_convert(self) -> None:
        """Header totals in the team's currency (each deal at its close day's rate, open ones at
        today's), or per currency as they are."""
        self.convert = not self.convert
        self.load_totals()

    def action_settings(self) -> None:
        start.load_orm()
        from crm_tui.screens.pipeline.settings import PipelineSettingsScreen

        self.app.push_screen(PipelineSettingsScreen(self.pipeline_id), lambda _: self.refresh_data())

    def action_deals_table(self) -> None:
        """v: the deals list (every deal, won, lost and archived too) over the board; v comes back."""
        start.load_orm()
        from crm_tui.screens.pipeline.deals import DealsListScreen  # noqa: PLC0415 - loaded when first asked for

        self.app.push_screen(DealsListScreen())
